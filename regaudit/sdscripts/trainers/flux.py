"""FLUX.1 trainers. The LoRA trainer runs train_network's bucket check (64) before its own (32).

Text encoders: strategy_flux.FluxTokenizeStrategy cuts CLIP-L at 77 (75 content tokens;
--max_token_length is ignored with a warning); T5-XXL takes --t5xxl_max_token_length (512 for dev,
256 for schnell) and is not counted here."""

from .base import CACHE_LATENTS, CACHE_TE, DB_FT, DEBUG, NO_DATA, RegWeight, TrainerFacts, bucket_steps
from .encoders import CLIP_L, EncoderSet

FLUX = EncoderSet("FLUX.1", (CLIP_L,), False, ("T5-XXL (--t5xxl_max_token_length, 512 for dev, 256 for schnell)",))

FLUX_TRAIN_NETWORK = TrainerFacts(
    "flux_train_network", DB_FT, "_flux.npz", True, RegWeight.PRIOR_LOSS_WEIGHT, FLUX,
    before_build=(),
    after_build=(DEBUG, NO_DATA, CACHE_LATENTS, bucket_steps(64), CACHE_TE, bucket_steps(32)), model="FLUX.1")

FLUX_TRAIN = TrainerFacts(
    "flux_train", DB_FT, "_flux.npz", False, RegWeight.ONE, FLUX,
    before_build=(), after_build=(bucket_steps(16), DEBUG, NO_DATA, CACHE_LATENTS, CACHE_TE), model="FLUX.1")

TRAINERS = (FLUX_TRAIN_NETWORK, FLUX_TRAIN)
