"""FLUX.1 trainers. The LoRA trainer runs train_network's bucket check (64) before its own (32)."""

from .base import DB_FT, RegWeight, TrainerFacts

FLUX_TRAIN_NETWORK = TrainerFacts(
    "flux_train_network", DB_FT, "_flux.npz", True, RegWeight.PRIOR_LOSS_WEIGHT,
    before_build=(), after_build=(("debug",), ("empty",), ("cl",), ("steps", 64), ("te",), ("steps", 32)), model="FLUX.1")

FLUX_TRAIN = TrainerFacts(
    "flux_train", DB_FT, "_flux.npz", False, RegWeight.ONE,
    before_build=(), after_build=(("steps", 16), ("debug",), ("empty",), ("cl",), ("te",)), model="FLUX.1")

TRAINERS = (FLUX_TRAIN_NETWORK, FLUX_TRAIN)
