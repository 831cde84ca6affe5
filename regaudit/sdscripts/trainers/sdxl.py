"""SDXL trainers: LoRA, full fine-tuning, textual inversion."""

from .base import DB_FT, RegWeight, TrainerFacts

SDXL_TRAIN_NETWORK = TrainerFacts(
    "sdxl_train_network", DB_FT, "_sdxl.npz", True, RegWeight.PRIOR_LOSS_WEIGHT,
    before_build=(),
    after_build=(("debug",), ("empty",), ("cl",), ("sdxl_args",), ("te",), ("te_unet_only",), ("steps", 32)),
    model="SDXL")

# Checks the SDXL arguments before the build; registers and balances reg images, but its loss never
# reads their weight (and it has no --prior_loss_weight).
SDXL_TRAIN = TrainerFacts(
    "sdxl_train", DB_FT, "_sdxl.npz", False, RegWeight.IGNORED,
    before_build=(("sdxl_args",),), after_build=(("steps", 32), ("debug",), ("empty",), ("cl",), ("te",)), model="SDXL")

SDXL_TRAIN_TEXTUAL_INVERSION = TrainerFacts(
    "sdxl_train_textual_inversion", DB_FT, "_sdxl.npz", True, RegWeight.PRIOR_LOSS_WEIGHT,
    before_build=(), after_build=(("sdxl_args",), ("steps", 32), ("debug",), ("empty",), ("cl",)), model="SDXL")

TRAINERS = (SDXL_TRAIN_NETWORK, SDXL_TRAIN, SDXL_TRAIN_TEXTUAL_INVERSION)
