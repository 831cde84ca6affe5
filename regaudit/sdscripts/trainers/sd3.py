"""SD3 trainers: LoRA and full fine-tuning.

Text encoders: strategy_sd3.Sd3TokenizeStrategy cuts CLIP-L and CLIP-G at 77 (75 content tokens)
whatever --max_token_length says (it is ignored with a warning); T5-XXL takes
--t5xxl_max_token_length (default 256) and is not counted here."""

from .base import CACHE_LATENTS, CACHE_TE, DB_FT, DEBUG, NO_DATA, RegWeight, TrainerFacts, bucket_steps
from .encoders import CLIP_L, EncoderSet
from .sdxl import CLIP_G

SD3 = EncoderSet("SD3", (CLIP_L, CLIP_G), False, ("T5-XXL (--t5xxl_max_token_length, default 256)",))

SD3_TRAIN_NETWORK = TrainerFacts(
    "sd3_train_network", DB_FT, "_sd3.npz", True, RegWeight.PRIOR_LOSS_WEIGHT, SD3,
    before_build=(), after_build=(DEBUG, NO_DATA, CACHE_LATENTS, CACHE_TE, bucket_steps(32)), model="SD3")

SD3_TRAIN = TrainerFacts(
    "sd3_train", DB_FT, "_sd3.npz", False, RegWeight.ONE, SD3,
    before_build=(), after_build=(bucket_steps(8), DEBUG, NO_DATA, CACHE_LATENTS, CACHE_TE), model="SD3")

TRAINERS = (SD3_TRAIN_NETWORK, SD3_TRAIN)
