"""SD 1.x and 2.x (train_network, train_db, train_textual_inversion): one CLIP tokenizer,
strategy_sd.SdTokenizeStrategy. --v2 loads stabilityai/stable-diffusion-2's tokenizer, whose
padding token is '!'. --max_token_length 150/225 keeps 2 or 3 chunks of 75."""

from .interface import CLIP_L, ClipTokenizer, EncoderSet

SD1 = EncoderSet("SD 1.x", (CLIP_L,), True)
SD2 = EncoderSet("SD 2.x", (ClipTokenizer("clip_l", "stabilityai/stable-diffusion-2 (tokenizer)", True),), True)
