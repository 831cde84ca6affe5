"""SD3 trainers: LoRA and full fine-tuning."""

from .base import DB_FT, RegWeight, TrainerFacts

SD3_TRAIN_NETWORK = TrainerFacts(
    "sd3_train_network", DB_FT, "_sd3.npz", True, RegWeight.PRIOR_LOSS_WEIGHT,
    before_build=(), after_build=(("debug",), ("empty",), ("cl",), ("te",), ("steps", 32)), model="SD3")

SD3_TRAIN = TrainerFacts(
    "sd3_train", DB_FT, "_sd3.npz", False, RegWeight.ONE,
    before_build=(), after_build=(("steps", 8), ("debug",), ("empty",), ("cl",), ("te",)), model="SD3")

TRAINERS = (SD3_TRAIN_NETWORK, SD3_TRAIN)
