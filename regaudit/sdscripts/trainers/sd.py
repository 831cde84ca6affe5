"""SD 1.x/2.x trainers: LoRA (train_network), DreamBooth (train_db), textual inversion.

Text encoders: one CLIP tokenizer, strategy_sd.SdTokenizeStrategy. --v2 loads
stabilityai/stable-diffusion-2's tokenizer, whose padding token is '!'. --max_token_length 150/225
keeps 2 or 3 chunks of 75."""

from .base import CACHE_LATENTS, DB_FT, DEBUG, NO_DATA, Kind, RegWeight, TrainerFacts, bucket_steps
from .encoders import CLIP_L, ClipTokenizer, EncoderSet

SD2 = EncoderSet("SD 2.x", (ClipTokenizer("clip_l", "stabilityai/stable-diffusion-2 (tokenizer)", True),), True)
SD1 = EncoderSet("SD 1.x", (CLIP_L,), True, with_v2=SD2)

TRAIN_NETWORK = TrainerFacts(
    "train_network", DB_FT, "_sd.npz", True, RegWeight.PRIOR_LOSS_WEIGHT, SD1,
    before_build=(), after_build=(DEBUG, NO_DATA, CACHE_LATENTS, bucket_steps(64)))

# No empty-data guard: an empty dataset reaches its shuffled DataLoader, which raises ValueError.
# It reads SDXL-named cache files (its strategy is built with sd=False).
TRAIN_DB = TrainerFacts(
    "train_db", frozenset({Kind.DREAMBOOTH}), "_sdxl.npz", True, RegWeight.PRIOR_LOSS_WEIGHT, SD1,
    before_build=(), after_build=(bucket_steps(64), DEBUG, CACHE_LATENTS), empty_guard=False)

# Loads its models first, then builds the dataset; the bucket check runs before "No data found".
TRAIN_TEXTUAL_INVERSION = TrainerFacts(
    "train_textual_inversion", DB_FT, "_sd.npz", True, RegWeight.PRIOR_LOSS_WEIGHT, SD1,
    before_build=(), after_build=(bucket_steps(64), DEBUG, NO_DATA, CACHE_LATENTS))

TRAINERS = (TRAIN_NETWORK, TRAIN_DB, TRAIN_TEXTUAL_INVERSION)
