"""SDXL trainers: LoRA, full fine-tuning, textual inversion.

Text encoders: strategy_sdxl.SdxlTokenizeStrategy tokenizes every caption twice, with CLIP-L and
with CLIP-ViT-bigG (padding token '!'), both cut at the same limit; --max_token_length applies to
both."""

from .base import (CACHE_LATENTS, CACHE_TE, DB_FT, DEBUG, NO_DATA, SDXL_ARGS, TE_UNET_ONLY, RegWeight, TrainerFacts,
                   bucket_steps)
from .encoders import CLIP_L, ClipTokenizer, EncoderSet

CLIP_G = ClipTokenizer("clip_g", "laion/CLIP-ViT-bigG-14-laion2B-39B-b160k", True)
SDXL = EncoderSet("SDXL", (CLIP_L, CLIP_G), True)

SDXL_TRAIN_NETWORK = TrainerFacts(
    "sdxl_train_network", DB_FT, "_sdxl.npz", True, RegWeight.PRIOR_LOSS_WEIGHT, SDXL,
    before_build=(),
    after_build=(DEBUG, NO_DATA, CACHE_LATENTS, SDXL_ARGS, CACHE_TE, TE_UNET_ONLY, bucket_steps(32)),
    model="SDXL")

# Checks the SDXL arguments before the build; registers and balances reg images, but its loss never
# reads their weight (and it has no --prior_loss_weight).
SDXL_TRAIN = TrainerFacts(
    "sdxl_train", DB_FT, "_sdxl.npz", False, RegWeight.IGNORED, SDXL,
    before_build=(SDXL_ARGS,), after_build=(bucket_steps(32), DEBUG, NO_DATA, CACHE_LATENTS, CACHE_TE),
    model="SDXL")

SDXL_TRAIN_TEXTUAL_INVERSION = TrainerFacts(
    "sdxl_train_textual_inversion", DB_FT, "_sdxl.npz", True, RegWeight.PRIOR_LOSS_WEIGHT, SDXL,
    before_build=(), after_build=(SDXL_ARGS, bucket_steps(32), DEBUG, NO_DATA, CACHE_LATENTS), model="SDXL")

TRAINERS = (SDXL_TRAIN_NETWORK, SDXL_TRAIN, SDXL_TRAIN_TEXTUAL_INVERSION)
