"""Lumina (lumina_train_network, lumina_train): the text encoder is Gemma 2 with its own tokenizer
(--gemma2_max_token_length); no CLIP, so no CLIP limit, and Gemma 2 tokens are not counted here."""

from .interface import EncoderSet

LUMINA = EncoderSet("Lumina", (), False, ("Gemma 2 (--gemma2_max_token_length)",))
