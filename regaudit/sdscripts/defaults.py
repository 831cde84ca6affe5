"""sd-scripts' argparse defaults that a dataset and a run fall back to, declared once.

Every constant mirrors one option as ``library/train_util.py`` declares it for every trainer
(``trainers/sd_options.json`` holds the tables; tests/sdscripts/test_defaults.py holds the two
equal). The dataset and subset values are the field defaults of ``model.DatasetParams`` and
``model.SubsetConfig`` (a base module, which cannot import this one) and are read from there; the
run's are written here. Everything else in regaudit takes them from this module.
"""

from __future__ import annotations

from ..model import DatasetParams, SubsetConfig

# train_util.add_dataset_arguments (declared as model.py's field defaults)
CAPTION_EXTENSION: str = SubsetConfig.caption_extension  # --caption_extension
CAPTION_SEPARATOR: str = SubsetConfig.caption_separator  # --caption_separator
TOKEN_WARMUP_MIN: int = SubsetConfig.token_warmup_min  # --token_warmup_min
MIN_BUCKET_RESO: int = DatasetParams.min_bucket_reso  # --min_bucket_reso
MAX_BUCKET_RESO: int = DatasetParams.max_bucket_reso  # --max_bucket_reso
BUCKET_RESO_STEPS: int = DatasetParams.bucket_reso_steps  # --bucket_reso_steps
DATASET_REPEATS = 1  # --dataset_repeats: a subset's num_repeats when a dataset config gives none

# train_util.add_training_arguments
TRAIN_BATCH_SIZE: int = DatasetParams.batch_size  # --train_batch_size (a dataset's batch_size)
MAX_TRAIN_STEPS = 1600  # --max_train_steps
GRADIENT_ACCUMULATION_STEPS = 1  # --gradient_accumulation_steps
PRIOR_LOSS_WEIGHT = 1.0  # --prior_loss_weight (the DreamBooth trainers only)

# each constant by the argparse dest it mirrors
BY_OPTION: dict[str, object] = {
    "caption_extension": CAPTION_EXTENSION,
    "caption_separator": CAPTION_SEPARATOR,
    "token_warmup_min": TOKEN_WARMUP_MIN,
    "min_bucket_reso": MIN_BUCKET_RESO,
    "max_bucket_reso": MAX_BUCKET_RESO,
    "bucket_reso_steps": BUCKET_RESO_STEPS,
    "dataset_repeats": DATASET_REPEATS,
    "train_batch_size": TRAIN_BATCH_SIZE,
    "max_train_steps": MAX_TRAIN_STEPS,
    "gradient_accumulation_steps": GRADIENT_ACCUMULATION_STEPS,
    "prior_loss_weight": PRIOR_LOSS_WEIGHT,
}
