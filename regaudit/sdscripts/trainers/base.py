"""What one sd-scripts trainer script does differently with a dataset (spec: trainers.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum
from typing import NamedTuple

from .encoders import EncoderSet


class Kind(str, Enum):
    """Dataset kinds a trainer's config sanitizer accepts."""

    DREAMBOOTH = "dreambooth"  # '<repeats>_<tokens>' folders or a DreamBooth TOML
    FINE_TUNING = "fine_tuning"  # --in_json / metadata_file
    CONTROLNET = "controlnet"  # conditioning_data_dir


class RegWeight(str, Enum):
    PRIOR_LOSS_WEIGHT = "prior_loss_weight"  # reg samples weigh --prior_loss_weight
    ONE = "one"  # reg images are registered and balanced, but weigh 1.0 (no option)
    IGNORED = "ignored"  # sdxl_train: registered, the loss never reads the weight
    NONE = "none"  # the trainer has no reg images


class Check(Enum):
    """A check a trainer makes before or after building the dataset (sdscripts/startup.py runs
    each; a test proves every member has a handler there)."""

    BUCKET_STEPS = "steps"  # every bucketed dataset's bucket_reso_steps must be a multiple of N
    DEBUG_DATASET = "debug"  # with --debug_dataset the trainer shows the dataset and returns
    NO_DATA = "empty"  # "No data found": the trainer returns (a clean stop)
    CACHE_LATENTS = "cl"  # with cache_latents: no kept subset may use color_aug or random_crop
    CACHE_TEXT_ENCODER = "te"  # with cached text encoder outputs: no caption shuffling, dropout, warm-up
    TE_UNET_ONLY = "te_unet_only"  # sdxl_train_network: caching text encoder outputs needs unet-only
    SDXL_ARGS = "sdxl_args"  # verify_sdxl_training_args: --v2 is refused


class Step(NamedTuple):
    """One check in a trainer's order; ``multiple`` is Check.BUCKET_STEPS' N."""

    check: Check
    multiple: int = 0


DEBUG = Step(Check.DEBUG_DATASET)
NO_DATA = Step(Check.NO_DATA)
CACHE_LATENTS = Step(Check.CACHE_LATENTS)
CACHE_TE = Step(Check.CACHE_TEXT_ENCODER)
TE_UNET_ONLY = Step(Check.TE_UNET_ONLY)
SDXL_ARGS = Step(Check.SDXL_ARGS)


def bucket_steps(multiple: int) -> Step:
    return Step(Check.BUCKET_STEPS, multiple)


@dataclass(frozen=True)
class TrainerFacts:
    name: str
    kinds: frozenset[Kind]
    cache_suffix: str  # latent cache file suffix whose names set image sizes
    cache_names_always: bool  # True: read whatever the options; False: only with cache_latents(_to_disk)
    reg_weight: RegWeight
    encoders: EncoderSet  # the text encoders it tokenizes captions for
    before_build: tuple[Step, ...]  # checks made before the dataset is built
    after_build: tuple[Step, ...]  # in order; NO_DATA marks where "No data found" stops
    empty_guard: bool = True  # False: an empty dataset reaches the DataLoader, which raises ValueError
    model: str = "SD 1.x/2.x"

    @property
    def takes_dreambooth(self) -> bool:
        return Kind.DREAMBOOTH in self.kinds

    @property
    def bucket_steps_multiples(self) -> tuple[int, ...]:
        return tuple(s.multiple for s in self.after_build if s.check is Check.BUCKET_STEPS)

    @property
    def required_multiple(self) -> int | None:
        """The multiple a bucket_reso_steps must be to pass every check (their lcm), None if none."""
        out = None
        for m in self.bucket_steps_multiples:
            out = m if out is None else out * m // math.gcd(out, m)
        return out

    def text_encoders(self, v2: bool = False) -> EncoderSet:
        """The encoders it tokenizes captions for; --v2 loads SD 2.x's tokenizer where it applies."""
        return self.encoders.with_v2 if v2 and self.encoders.with_v2 is not None else self.encoders


DB_FT = frozenset({Kind.DREAMBOOTH, Kind.FINE_TUNING})
