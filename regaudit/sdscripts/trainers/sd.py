"""SD 1.x/2.x trainers: LoRA (train_network), DreamBooth (train_db), textual inversion."""

from .base import DB_FT, Kind, RegWeight, TrainerFacts

TRAIN_NETWORK = TrainerFacts(
    "train_network", DB_FT, "_sd.npz", True, RegWeight.PRIOR_LOSS_WEIGHT,
    before_build=(), after_build=(("debug",), ("empty",), ("cl",), ("steps", 64)))

# No empty-data guard: an empty dataset reaches its shuffled DataLoader, which raises ValueError.
# It reads SDXL-named cache files (its strategy is built with sd=False).
TRAIN_DB = TrainerFacts(
    "train_db", frozenset({Kind.DREAMBOOTH}), "_sdxl.npz", True, RegWeight.PRIOR_LOSS_WEIGHT,
    before_build=(), after_build=(("steps", 64), ("debug",), ("cl",)), empty_guard=False)

# Loads its models first, then builds the dataset; the bucket check runs before "No data found".
TRAIN_TEXTUAL_INVERSION = TrainerFacts(
    "train_textual_inversion", DB_FT, "_sd.npz", True, RegWeight.PRIOR_LOSS_WEIGHT,
    before_build=(), after_build=(("steps", 64), ("debug",), ("empty",), ("cl",)))

TRAINERS = (TRAIN_NETWORK, TRAIN_DB, TRAIN_TEXTUAL_INVERSION)
