"""sd-scripts' defaults are declared once (sdscripts/defaults.py) and agree with the argparse
tables read from sd-scripts' own trainers (trainers/sd_options.json)."""

from __future__ import annotations

import pytest

from regaudit.model import DatasetParams, SubsetConfig
from regaudit.sdscripts import argv, defaults
from regaudit.sdscripts.caption_options import CaptionArgs
from regaudit.sdscripts.config import TrainingArgs
from regaudit.sdscripts.plan import BalanceOptions


def test_train_network_declares_the_same_defaults():
    table = argv.defaults("train_network")
    assert {dest: table[dest] for dest in defaults.BY_OPTION} == defaults.BY_OPTION


@pytest.mark.parametrize("trainer", argv.known_trainers())
def test_every_trainer_that_has_the_option_declares_the_same_default(trainer):
    table = argv.defaults(trainer)
    assert {d: table[d] for d in defaults.BY_OPTION if d in table} == \
        {d: v for d, v in defaults.BY_OPTION.items() if d in table}


def test_the_values_as_sd_scripts_declares_them():
    # (train_util.add_dataset_arguments / add_training_arguments, sd-scripts 48d368f)
    assert defaults.BY_OPTION == {
        "caption_extension": ".caption", "caption_separator": ",", "token_warmup_min": 1, "min_bucket_reso": 256,
        "max_bucket_reso": 1024, "bucket_reso_steps": 64, "dataset_repeats": 1, "train_batch_size": 1,
        "max_train_steps": 1600, "gradient_accumulation_steps": 1, "prior_loss_weight": 1.0}


def test_the_dataclasses_take_their_defaults_from_there():
    args, params, subset = TrainingArgs(), DatasetParams(), SubsetConfig("/d", False, 1, None)
    assert (args.caption_extension, args.dataset_repeats, args.train_batch_size, args.min_bucket_reso,
            args.max_bucket_reso, args.bucket_reso_steps) == \
        (defaults.CAPTION_EXTENSION, defaults.DATASET_REPEATS, defaults.TRAIN_BATCH_SIZE, defaults.MIN_BUCKET_RESO,
         defaults.MAX_BUCKET_RESO, defaults.BUCKET_RESO_STEPS)
    assert args.dataset_params() == params
    assert (subset.caption_extension, subset.caption_separator, subset.token_warmup_min) == \
        (defaults.CAPTION_EXTENSION, defaults.CAPTION_SEPARATOR, defaults.TOKEN_WARMUP_MIN)
    caption = CaptionArgs()
    assert (caption.caption_separator, caption.token_warmup_min) == (defaults.CAPTION_SEPARATOR,
                                                                     defaults.TOKEN_WARMUP_MIN)
    opts = BalanceOptions()
    assert (opts.max_train_steps, opts.gradient_accumulation_steps, opts.prior_loss_weight) == \
        (defaults.MAX_TRAIN_STEPS, defaults.GRADIENT_ACCUMULATION_STEPS, defaults.PRIOR_LOSS_WEIGHT)
