"""Text encoders per model family, a pluggable axis: one module per family, one explicit registry
from sd-scripts' trainer scripts to the encoders they tokenize captions for."""

from __future__ import annotations

from . import flux, lumina, sd, sd3, sdxl
from .interface import CLIP_CONTEXT, ClipTokenizer, EncoderSet

# DreamBooth-capable trainer script -> its family's encoders (SD 1.x/2.x decided by --v2)
REGISTRY: dict[str, EncoderSet] = {
    "train_network": sd.SD1, "train_db": sd.SD1, "train_textual_inversion": sd.SD1,
    "sdxl_train_network": sdxl.SDXL, "sdxl_train": sdxl.SDXL, "sdxl_train_textual_inversion": sdxl.SDXL,
    "sd3_train_network": sd3.SD3, "sd3_train": sd3.SD3,
    "flux_train_network": flux.FLUX, "flux_train": flux.FLUX,
    "lumina_train_network": lumina.LUMINA, "lumina_train": lumina.LUMINA,
    # fine-tuning and ControlNet trainers caption their images with the same text encoders
    "fine_tune": sd.SD1, "train_control_net": sd.SD1, "sdxl_train_control_net": sdxl.SDXL,
}
DEFAULT = "train_network"


def for_trainer(trainer: str, v2: bool = False) -> EncoderSet:
    """The encoders ``trainer`` tokenizes captions for; KeyError for an unknown trainer."""
    found = REGISTRY[trainer]
    return sd.SD2 if v2 and found is sd.SD1 else found


__all__ = ["CLIP_CONTEXT", "ClipTokenizer", "EncoderSet", "REGISTRY", "DEFAULT", "for_trainer"]
