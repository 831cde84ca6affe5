"""SD3 (sd3_train_network, sd3_train): strategy_sd3.Sd3TokenizeStrategy cuts CLIP-L and CLIP-G at 77
(75 content tokens) whatever --max_token_length says (it is ignored with a warning); T5-XXL takes
--t5xxl_max_token_length (default 256) and is not counted here."""

from .interface import CLIP_L, EncoderSet
from .sdxl import CLIP_G

SD3 = EncoderSet("SD3", (CLIP_L, CLIP_G), False, ("T5-XXL (--t5xxl_max_token_length, default 256)",))
