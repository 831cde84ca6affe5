"""Lumina trainers. The LoRA trainer runs train_network's bucket check (64) before its own (16) and
has no text-encoder-cache check."""

from .base import DB_FT, RegWeight, TrainerFacts

LUMINA_TRAIN_NETWORK = TrainerFacts(
    "lumina_train_network", DB_FT, "_lumina.npz", True, RegWeight.PRIOR_LOSS_WEIGHT,
    before_build=(), after_build=(("debug",), ("empty",), ("cl",), ("steps", 64), ("steps", 16)), model="Lumina")

LUMINA_TRAIN = TrainerFacts(
    "lumina_train", DB_FT, "_lumina.npz", False, RegWeight.ONE,
    before_build=(), after_build=(("steps", 16), ("debug",), ("empty",), ("cl",), ("te",)), model="Lumina")

TRAINERS = (LUMINA_TRAIN_NETWORK, LUMINA_TRAIN)
