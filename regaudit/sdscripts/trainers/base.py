"""What one sd-scripts trainer script does differently with a dataset (spec: trainers.md)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


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


# Checks a trainer makes after the dataset is built, in its order (names used by simulate.py):
#   ("steps", N)  every bucketed dataset's bucket_reso_steps must be a multiple of N
#   ("debug",)    with --debug_dataset the trainer shows the dataset and returns: no training, no steps
#   ("empty",)    "No data found": the trainer returns (a clean stop)
#   ("cl",)       with cache_latents: no kept subset may use color_aug or random_crop
#   ("te",)       with cache_text_encoder_outputs: no subset may shuffle/drop captions or warm up tokens
#   ("te_unet_only",) sdxl_train_network: caching text encoder outputs needs --network_train_unet_only
#   ("sdxl_args",) verify_sdxl_training_args: --v2 is refused
#   ("to_disk_te",) --cache_text_encoder_outputs_to_disk turns --cache_text_encoder_outputs on (no stop)
Check = tuple


@dataclass(frozen=True)
class TrainerFacts:
    name: str
    kinds: frozenset[Kind]
    cache_suffix: str  # latent cache file suffix whose names set image sizes
    cache_names_always: bool  # True: read whatever the options; False: only with cache_latents(_to_disk)
    reg_weight: RegWeight
    before_build: tuple[Check, ...]  # checks made before the dataset is built
    after_build: tuple[Check, ...]  # in order; ("empty",) marks where "No data found" stops
    empty_guard: bool = True  # False: an empty dataset reaches the DataLoader, which raises ValueError
    model: str = "SD 1.x/2.x"

    @property
    def takes_dreambooth(self) -> bool:
        return Kind.DREAMBOOTH in self.kinds

    @property
    def bucket_steps_multiples(self) -> tuple[int, ...]:
        return tuple(c[1] for c in self.after_build if c[0] == "steps")

    @property
    def required_multiple(self) -> int | None:
        """The multiple a bucket_reso_steps must be to pass every check (their lcm), None if none."""
        import math

        out = None
        for m in self.bucket_steps_multiples:
            out = m if out is None else out * m // math.gcd(out, m)
        return out


DB_FT = frozenset({Kind.DREAMBOOTH, Kind.FINE_TUNING})
