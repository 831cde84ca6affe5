"""ControlNet trainers: one subset is --train_data_dir itself, paired with --conditioning_data_dir;
'<repeats>_<tokens>' folders are not read. The bucket check passes for any value (the dataset keeps
no bucket_reso_steps of its own)."""

from .base import Kind, RegWeight, TrainerFacts

TRAIN_CONTROL_NET = TrainerFacts(
    "train_control_net", frozenset({Kind.CONTROLNET}), "_sd.npz", True, RegWeight.NONE,
    before_build=(), after_build=(("debug",), ("empty",), ("cl",)))

SDXL_TRAIN_CONTROL_NET = TrainerFacts(
    "sdxl_train_control_net", frozenset({Kind.CONTROLNET}), "_sdxl.npz", True, RegWeight.NONE,
    before_build=(("sdxl_args",),), after_build=(("debug",), ("empty",), ("cl",), ("te",)), model="SDXL")

TRAINERS = (TRAIN_CONTROL_NET, SDXL_TRAIN_CONTROL_NET)
