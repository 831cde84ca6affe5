"""Lumina trainers. The LoRA trainer runs train_network's bucket check (64) before its own (16) and
has no text-encoder-cache check.

Text encoders: Gemma 2 with its own tokenizer (--gemma2_max_token_length); no CLIP, so no CLIP
limit, and Gemma 2 tokens are not counted here."""

from .base import CACHE_LATENTS, CACHE_TE, DB_FT, DEBUG, NO_DATA, RegWeight, TrainerFacts, bucket_steps
from .encoders import EncoderSet

LUMINA = EncoderSet("Lumina", (), False, ("Gemma 2 (--gemma2_max_token_length)",))

LUMINA_TRAIN_NETWORK = TrainerFacts(
    "lumina_train_network", DB_FT, "_lumina.npz", True, RegWeight.PRIOR_LOSS_WEIGHT, LUMINA,
    before_build=(), after_build=(DEBUG, NO_DATA, CACHE_LATENTS, bucket_steps(64), bucket_steps(16)), model="Lumina")

LUMINA_TRAIN = TrainerFacts(
    "lumina_train", DB_FT, "_lumina.npz", False, RegWeight.ONE, LUMINA,
    before_build=(), after_build=(bucket_steps(16), DEBUG, NO_DATA, CACHE_LATENTS, CACHE_TE), model="Lumina")

TRAINERS = (LUMINA_TRAIN_NETWORK, LUMINA_TRAIN)
