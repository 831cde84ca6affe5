"""musubi-tuner's architectures, one small module per family: the short name that suffixes every
cache file (``_{arch}.safetensors``, ``_{arch}_te.safetensors``), the bucket step
(``BucketSelector.ARCHITECTURE_STEPS_MAP``), how many control images an image dataset pairs with
each image (``ImageDataset.__init__``), whether a video dataset may use it (``VideoDataset.__init__``'s
target-fps table), and which scripts train or cache it (from each script's ``architecture``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Callable, Optional

from . import flux, framepack, hidream, hunyuan, ideogram, kandinsky, krea, qwen, wan, zimage


@dataclass(frozen=True)
class Arch:
    short: str  # ARCHITECTURE_*: the cache-name suffix
    full: str  # ARCHITECTURE_*_FULL
    reso_steps: int  # BucketSelector.ARCHITECTURE_STEPS_MAP
    video: bool  # VideoDataset accepts it (its target-fps table)
    latent_factor: Optional[int]  # pixels per latent cell in the cache's key shape (None: not known)
    control_count: Optional[int] | str  # ImageDataset's control_count_per_image (1, None = any, "fp1f")
    family: str


FAMILIES = (hunyuan, wan, framepack, flux, qwen, kandinsky, zimage, hidream, ideogram, krea)

ARCHS: dict[str, Arch] = {}
FULL: dict[str, str] = {}
# script stem (without _train_network / _cache_latents / _cache_text_encoder_outputs) -> resolver
SCRIPTS: dict[str, Callable[[dict], str]] = {}
for _family in FAMILIES:
    for _a in _family.ARCHS:
        ARCHS[_a[0]] = Arch(*_a, family=_family.__name__.rsplit(".", 1)[-1])
        FULL[_a[1]] = _a[0]
    SCRIPTS.update(_family.SCRIPTS)

ROLES = ("_train_network", "_cache_latents", "_cache_text_encoder_outputs", "_cache_pixel")
# the family-less scripts: src/musubi_tuner/cache_latents.py and cache_text_encoder_outputs.py are HunyuanVideo's
_BARE = {"cache_latents": "hv", "cache_text_encoder_outputs": "hv"}


def script_role(path: str) -> tuple[str, str] | None:
    """(family stem, role) of a musubi script path (``.../qwen_image_train_network.py``), or None."""
    name = os.path.basename(path)
    if not name.endswith(".py"):
        return None
    stem = name[:-3]
    if stem in _BARE:
        return "", stem
    for role in ROLES:
        if stem.endswith(role) and stem[: -len(role)] in SCRIPTS:
            return stem[: -len(role)], role[1:]
    return None


def resolve(stem: str, options: dict) -> str:
    """The short architecture a script runs with its model options (``--model_version`` ...)."""
    if stem == "":
        return "hv"
    return SCRIPTS[stem](options)


def lookup(name: str) -> Arch | None:
    """An architecture by short (``qi``) or full (``qwen_image``) name."""
    short = name if name in ARCHS else FULL.get(name)
    return ARCHS.get(short) if short else None
