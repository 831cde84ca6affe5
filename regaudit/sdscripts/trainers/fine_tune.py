"""fine_tune.py: SD 1.x full fine-tuning from --in_json metadata; DreamBooth folders are refused."""

from .base import Kind, RegWeight, TrainerFacts

FINE_TUNE = TrainerFacts(
    "fine_tune", frozenset({Kind.FINE_TUNING}), "_sdxl.npz", False, RegWeight.NONE,
    before_build=(), after_build=(("steps", 64), ("debug",), ("empty",), ("cl",)))

TRAINERS = (FINE_TUNE,)
