"""ControlNet trainers: one subset is --train_data_dir itself, paired with --conditioning_data_dir;
'<repeats>_<tokens>' folders are not read. The bucket check passes for any value (the dataset keeps
no bucket_reso_steps of its own). Their captions go to the SD or SDXL text encoders."""

from .base import CACHE_LATENTS, CACHE_TE, DEBUG, NO_DATA, SDXL_ARGS, Kind, RegWeight, TrainerFacts
from .sd import SD1
from .sdxl import SDXL

TRAIN_CONTROL_NET = TrainerFacts(
    "train_control_net", frozenset({Kind.CONTROLNET}), "_sd.npz", True, RegWeight.NONE, SD1,
    before_build=(), after_build=(DEBUG, NO_DATA, CACHE_LATENTS))

SDXL_TRAIN_CONTROL_NET = TrainerFacts(
    "sdxl_train_control_net", frozenset({Kind.CONTROLNET}), "_sdxl.npz", True, RegWeight.NONE, SDXL,
    before_build=(SDXL_ARGS,), after_build=(DEBUG, NO_DATA, CACHE_LATENTS, CACHE_TE), model="SDXL")

TRAINERS = (TRAIN_CONTROL_NET, SDXL_TRAIN_CONTROL_NET)
