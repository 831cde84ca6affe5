"""SDXL (sdxl_train_network, sdxl_train, sdxl_train_textual_inversion):
strategy_sdxl.SdxlTokenizeStrategy tokenizes every caption twice, with CLIP-L and with
CLIP-ViT-bigG (padding token '!'), both cut at the same limit; --max_token_length applies to both."""

from .interface import CLIP_L, ClipTokenizer, EncoderSet

CLIP_G = ClipTokenizer("clip_g", "laion/CLIP-ViT-bigG-14-laion2B-39B-b160k", True)
SDXL = EncoderSet("SDXL", (CLIP_L, CLIP_G), True)
