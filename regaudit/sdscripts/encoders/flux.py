"""FLUX.1 (flux_train_network, flux_train): strategy_flux.FluxTokenizeStrategy cuts CLIP-L at 77
(75 content tokens; --max_token_length is ignored with a warning); T5-XXL takes
--t5xxl_max_token_length (512 for dev, 256 for schnell) and is not counted here."""

from .interface import CLIP_L, EncoderSet

FLUX = EncoderSet("FLUX.1", (CLIP_L,), False, ("T5-XXL (--t5xxl_max_token_length, 512 for dev, 256 for schnell)",))
