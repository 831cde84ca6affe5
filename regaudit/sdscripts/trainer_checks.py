"""The checks a trainer makes before and after it builds the dataset (trainers/base.py's ``Check``),
each with its handler: the dataset kind check, the argument asserts, --debug_dataset's early
return and "No data found". Every ``Check`` member has a handler in ``HANDLERS`` (a test holds it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from ..model import Crash, ScanResult
from .plan import BalanceOptions, Reason, Stop, record_stop
from .trainers import Check, Kind, Step, TrainerFacts


class Return(Enum):
    """The trainer returns cleanly before training."""

    DEBUG_DATASET = "debug_dataset"  # --debug_dataset: train_util.debug_dataset, then return
    NO_DATA = "no_data"  # "No data found. Please verify arguments"


@dataclass
class Context:
    """What a check reads (the scan, the options, whether the built datasets hold any batch) and
    where the run's stops are noted."""

    scan: ScanResult
    opts: BalanceOptions
    where: str
    stops: list[Stop]
    empty: bool = False


Outcome = Crash | Return | None


def _bucket_steps(step: Step, ctx: Context) -> Outcome:
    """DatasetGroup.verify_bucket_reso_steps(N), from each trainer's assert_extra_args or train()."""
    multiple, name = step.multiple, ctx.opts.trainer.name
    for ds in ctx.scan.datasets:
        steps = ds.params.bucket_reso_steps
        # a ControlNetDataset (conditioning_data_dir subsets; also a dataset without configured subsets)
        # keeps no bucket_reso_steps of its own, only its DreamBooth delegate does: the check passes
        if ds.params.enable_bucket and ds.declared != 0 and not ds.params.controlnet and steps % multiple:
            return record_stop(ctx.stops, Reason.BUCKET_STEPS_MULTIPLE, "start", "RA062", "AssertionError", ctx.where,
                               f"bucket_reso_steps {steps} is not a multiple of {multiple}, which {name}.py checks "
                               f"right after building the dataset: it stops before training", multiple)
    return None


def _debug_dataset(step: Step, ctx: Context) -> Outcome:
    """--debug_dataset: train_util.debug_dataset, then the trainer returns."""
    return Return.DEBUG_DATASET if ctx.opts.debug_dataset else None


def _no_data(step: Step, ctx: Context) -> Outcome:
    """`if len(train_dataset_group) == 0: ... "No data found"`: the trainer returns."""
    return Return.NO_DATA if ctx.empty else None


def _cache_latents(step: Step, ctx: Context) -> Outcome:
    """assert train_dataset_group.is_latent_cacheable(): cached latents refuse color_aug and
    random_crop."""
    if not ctx.opts.cache_latents:
        return None
    for s in ctx.scan.subsets:
        bad = [o for o in ("color_aug", "random_crop") if getattr(s.config, o)]
        if bad:
            return record_stop(ctx.stops, Reason.CACHED_LATENTS_AUGMENT, "start", "RA079", "AssertionError",
                               s.abs_path,
                               f"latents are cached (--cache_latents) and this subset uses {' and '.join(bad)}: "
                               f"sd-scripts stops ('when caching latents, either color_aug or random_crop cannot "
                               f"be used')", *bad)
    return None


def _cache_text_encoder(step: Step, ctx: Context) -> Outcome:
    """assert train_dataset_group.is_text_encoder_output_cacheable(): no caption shuffling, dropout
    or token warm-up."""
    if not ctx.opts.cache_text_encoder_outputs:
        return None
    for s in ctx.scan.subsets:
        c = s.config
        bad = [n for n, on in (("shuffle_caption", c.shuffle_caption),
                               ("caption_dropout_rate", c.caption_dropout_rate > 0),
                               ("caption_tag_dropout_rate", c.caption_tag_dropout_rate > 0),
                               ("token_warmup_step", bool(c.token_warmup_step))) if on]
        if bad:
            return record_stop(ctx.stops, Reason.CACHED_TEXT_AUGMENT, "start", "RA079", "AssertionError", s.abs_path,
                               f"text encoder outputs are cached and this subset uses {', '.join(bad)}: "
                               f"sd-scripts stops before training", *bad)
    return None


def _te_unet_only(step: Step, ctx: Context) -> Outcome:
    """sdxl_train_network.assert_extra_args: cached text encoder outputs need unet-only training."""
    opts = ctx.opts
    if opts.cache_text_encoder_outputs and not opts.network_train_unet_only:
        return record_stop(ctx.stops, Reason.TEXT_CACHE_NEEDS_UNET_ONLY, "start", "RA079", "AssertionError",
                           ctx.where,
                           f"--cache_text_encoder_outputs needs --network_train_unet_only in {opts.trainer.name}.py")
    return None


def _sdxl_args(step: Step, ctx: Context) -> Outcome:
    """sdxl_train_util.verify_sdxl_training_args: --v2 is refused."""
    if ctx.opts.v2:
        return record_stop(ctx.stops, Reason.V2_REFUSED, "start", "RA079", "AssertionError", ctx.where,
                           f"--v2 is set, and {ctx.opts.trainer.name}.py refuses it ('v2 cannot be enabled in SDXL "
                           f"training')")
    return None


HANDLERS: dict[Check, Callable[[Step, Context], Outcome]] = {
    Check.BUCKET_STEPS: _bucket_steps,
    Check.DEBUG_DATASET: _debug_dataset,
    Check.NO_DATA: _no_data,
    Check.CACHE_LATENTS: _cache_latents,
    Check.CACHE_TEXT_ENCODER: _cache_text_encoder,
    Check.TE_UNET_ONLY: _te_unet_only,
    Check.SDXL_ARGS: _sdxl_args,
}


def run_checks(steps: tuple[Step, ...], ctx: Context) -> Outcome:
    """The trainer's checks in its order; the first that stops or returns."""
    for step in steps:
        outcome = HANDLERS[step.check](step, ctx)
        if outcome is not None:
            return outcome
    return None


def kind_stop(trainer: TrainerFacts, scan: ScanResult, ctx: Context) -> Crash | None:
    """config_util.ConfigSanitizer: a trainer without DreamBooth support refuses its subsets."""
    if trainer.takes_dreambooth or not scan.subsets:
        return None
    if Kind.CONTROLNET in trainer.kinds and all(s.config.conditioning_data_dir is not None for s in scan.subsets):
        return None  # ControlNet subsets (a dataset config the sanitizer accepted)
    if Kind.FINE_TUNING in trainer.kinds and all(s.config.metadata_file is not None for s in scan.subsets):
        return None  # fine-tuning subsets (sdscripts.finetune)
    required = "metadata_file" if Kind.FINE_TUNING in trainer.kinds else "conditioning_data_dir"
    return record_stop(ctx.stops, Reason.NOT_DREAMBOOTH, "build", "RA078", "MultipleInvalid", ctx.where,
                       f"{trainer.name}.py does not take DreamBooth folders or subsets: its config check stops the "
                       f"run ({required} is required)")


def empty_dataloader_stop(trainer: TrainerFacts, ctx: Context) -> Crash:
    """A trainer without the 'No data found' guard: torch's RandomSampler refuses 0 samples."""
    return record_stop(ctx.stops, Reason.EMPTY_DATALOADER, "start", "RA065", "ValueError", ctx.where,
                       f"no dataset registers any image, and {trainer.name}.py has no 'No data found' check: its "
                       f"DataLoader stops the run ('num_samples should be a positive integer value, but got "
                       f"num_samples=0') after the models are loaded")
