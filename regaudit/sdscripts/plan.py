"""The values a simulated sd-scripts run is made of: the options that shape it, each dataset's
registration and buckets (``DatasetPlan``), the stops sd-scripts meets (``Stop``, each with its
``Crash``) and the run's figures (``RunFacts``). Facts only: rules/run.py judges them."""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import Enum

from ..model import Crash, DatasetParams, ImageRecord
from . import defaults, trainers
from .registration import RegBalance, Registered
from .gui_steps import GuiSteps
from .trainers import TrainerFacts


@dataclass(frozen=True)
class BalanceOptions:
    """sd-scripts' options that shape the run beyond the dataset definitions."""

    trainer: TrainerFacts = trainers.get(trainers.DEFAULT)
    gradient_accumulation_steps: int | float = defaults.GRADIENT_ACCUMULATION_STEPS  # a --config_file may give a float; train() divides by it
    max_train_epochs: int | float | None = None  # a float from --config_file makes a float max_train_steps
    max_train_steps: int | float = defaults.MAX_TRAIN_STEPS
    num_processes: int = 1
    prior_loss_weight: float = defaults.PRIOR_LOSS_WEIGHT
    cache_latents: bool = False  # after --cache_latents_to_disk turned it on
    latents_to_disk: bool = False  # --cache_latents_to_disk: the latents are read from (and written to) .npz files
    skip_cache_check: bool = False  # --skip_cache_check: a cache file is used without looking inside
    random_crop: bool = False  # command-line level (subsets carry their own value)
    cache_text_encoder_outputs: bool = False
    network_train_unet_only: bool = False
    v2: bool = False
    debug_dataset: bool = False  # the trainer shows the dataset and returns before training
    start_crash: Crash | None = None  # the command line stops sd-scripts before anything else
    gui: GuiSteps | None = None  # the kohya_ss GUI's own step figure for these settings (gui_steps.py)
    # a --config_file value refused after the dataset checks: where the Accelerator is created (before
    # the models and the DataLoader), and where the steps are counted (after them)
    accelerator_crash: Crash | None = None
    steps_crash: Crash | None = None


@dataclass(frozen=True)
class BucketStat:
    resolution: tuple[int, int]
    train: int  # samples
    reg: int
    batches: int
    unique_images: int = 0


@dataclass(frozen=True)
class DatasetPlan:
    index: int
    params: DatasetParams
    num_train_images: int  # sd-scripts' counts: samples with repeats, reg counted raw
    num_reg_images: int
    reg_samples_used: int
    reg_image_count: int
    images: tuple[Registered, ...]  # image_data in registration order
    unused_reg: tuple[ImageRecord, ...]
    reg: RegBalance | None
    order_dependent: bool
    buckets: tuple[BucketStat, ...] | None  # None where sd-scripts crashes before batching
    batches: int | None
    subsets: tuple = ()  # the kept subsets, in sd-scripts' order
    bucket_limits: tuple[int, int, int] | None = None  # adjusted (min, max, steps) as sd-scripts stores them

    @property
    def train_only_batches(self) -> int | None:
        """Batches the train samples alone would make (same buckets, no reg)."""
        if self.buckets is None:
            return None
        return sum(math.ceil(b.train / self.params.batch_size) for b in self.buckets)


class Reason(Enum):
    """Why sd-scripts stops, for the stops a finding of the run explains (the others, a caption or
    a cache name it cannot read, are the scan's findings)."""

    NOT_DREAMBOOTH = "not_dreambooth"  # RA078: the trainer's config check refuses DreamBooth subsets
    NO_RESOLUTION = "no_resolution"  # RA060
    ZERO_BUCKET_STEPS = "zero_bucket_steps"  # RA062: bucket_reso_steps 0
    RESOLUTION_OUTSIDE_LIMITS = "resolution_outside_limits"  # RA061: the constructor's assertion
    MIN_BUCKET_RESO = "min_bucket_reso"  # RA061: min_bucket_reso <= 0, divided by in make_buckets
    BATCH_SIZE = "batch_size"  # RA061: batch size <= 0, divided by when batching
    SIZE_UNREADABLE = "size_unreadable"  # RA063: reading a registered image's size raises
    BUCKET_DIVISION = "bucket_division"  # RA063: choosing a bucket divides by zero
    V2_REFUSED = "v2_refused"  # RA079: verify_sdxl_training_args
    CACHED_LATENTS_AUGMENT = "cached_latents_augment"  # RA079: detail = the augmentations on
    CACHED_TEXT_AUGMENT = "cached_text_augment"  # RA079: detail = the caption options on
    TEXT_CACHE_NEEDS_UNET_ONLY = "text_cache_needs_unet_only"  # RA079
    BUCKET_STEPS_MULTIPLE = "bucket_steps_multiple"  # RA062: detail = (the multiple,)
    EMPTY_DATALOADER = "empty_dataloader"  # RA065: no 'No data found' guard, the DataLoader raises
    CONDITIONING = "conditioning"  # RA093: ControlNetDataset's asserts (random_crop, unpaired images)
    RESIZE_INTERPOLATION = "resize_interpolation"  # RA096: the dataset constructor's assertion
    STEP_VALUES = "step_values"  # RA077: a --config_file value the Accelerator or the step count refuses
    FLOAT_STEPS = "float_steps"  # RA095: range(max_train_steps) of a float when training starts
    FINETUNING_METADATA = "finetuning_metadata"  # RA097: FineTuningDataset on its metadata (sdscripts.finetune)


@dataclass(frozen=True)
class Stop:
    crash: Crash
    reason: Reason
    detail: tuple = ()  # the figures a fix needs (which options are on, the multiple)


def record_stop(stops: list[Stop], reason: Reason, stage: str, code: str, exception: str, path: str, message: str,
                *detail) -> Crash:
    """Note a stop (in the order sd-scripts meets it) and return its Crash."""
    crash = Crash(stage, code, exception, path, message)
    stops.append(Stop(crash, reason, detail))
    return crash


@dataclass(frozen=True)
class LoadFailure:
    """A registered image sd-scripts fails on when it first loads it."""

    path: str
    code: str
    exception: str
    message: str


@dataclass(frozen=True)
class RunFacts:
    """What a run of the trainer does with the scanned datasets, in sd-scripts' own order."""

    datasets: tuple[DatasetPlan, ...]
    options: BalanceOptions
    where: str  # the run's path for findings about the whole run (the first source)
    stops: tuple[Stop, ...]  # every stop met, in order (the first one that counts is ``crash``)
    crash: Crash | None
    batches_per_epoch: int | None = None
    steps_per_epoch: int | None = None  # optimizer steps per epoch
    max_train_steps: int | float | None = None  # a float where a --config_file value makes it one (RA095)
    epochs: int | None = None
    gui_estimate: int | None = None
    reg_loss_share: float | None = None
    no_data: bool = False  # sd-scripts stops cleanly with "No data found"
    returned_early: str | None = None  # "debug_dataset": the trainer shows the dataset and returns
    if_fixed: dict | None = None  # where sd-scripts stops: its figures once the stop is fixed
    loads: tuple[LoadFailure, ...] | None = None  # the first load of each image; None: never reached
    train_samples: int = 0
    reg_samples: int = 0
    train_only_batches: int = 0  # batches per epoch without the reg samples
    train_only_steps: int = 0  # optimizer steps per epoch without the reg samples
