"""fine_tune.py: SD 1.x full fine-tuning from --in_json metadata; DreamBooth folders are refused.
It captions its images with the SD text encoders."""

from .base import CACHE_LATENTS, DEBUG, NO_DATA, Kind, RegWeight, TrainerFacts, bucket_steps
from .sd import SD1

FINE_TUNE = TrainerFacts(
    "fine_tune", frozenset({Kind.FINE_TUNING}), "_sdxl.npz", False, RegWeight.NONE, SD1,
    before_build=(), after_build=(bucket_steps(64), DEBUG, NO_DATA, CACHE_LATENTS))

TRAINERS = (FINE_TUNE,)
