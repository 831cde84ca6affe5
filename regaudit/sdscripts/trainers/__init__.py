"""The sd-scripts trainer scripts as a pluggable axis: one module per family, one explicit registry.

Each member is a ``TrainerFacts`` value: which dataset kinds it accepts, its latent cache suffix
and when cache names set sizes, the checks it makes before and after building the dataset (in its
order, as ``Check`` steps), how it weighs reg images, and the text encoders it tokenizes captions
for. Options each script's argparse knows are in ``sd_options.json`` (from
../shared/spec/sd-scripts-options.json, sd-scripts 48d368f).
"""

from __future__ import annotations

from . import controlnet, fine_tune, flux, lumina, sd, sd3, sdxl
from .base import Check, Kind, RegWeight, Step, TrainerFacts
from .encoders import CLIP_CONTEXT, ClipTokenizer, EncoderSet

REGISTRY: dict[str, TrainerFacts] = {
    t.name: t
    for module in (sd, sdxl, sd3, flux, lumina, fine_tune, controlnet)
    for t in module.TRAINERS
}
DEFAULT = "train_network"


def get(name: str) -> TrainerFacts:
    return REGISTRY[name]


__all__ = ["CLIP_CONTEXT", "DEFAULT", "REGISTRY", "Check", "ClipTokenizer", "EncoderSet", "Kind", "RegWeight", "Step",
           "TrainerFacts", "get"]
