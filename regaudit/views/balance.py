"""Buckets, batches and steps on top of the registration (spec §4-6), as values.

Mirrors BaseDataset.make_buckets, DreamBoothDataset's start-up checks and train_network.py's step
arithmetic. Everything is computed per image: the cost grows with the number of images, never
with the number of samples.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from ..sdscripts import trainers
from ..sdscripts.buckets import BucketCrash, Bucketer, adjust_min_max
from ..model import Crash, Dataset, DatasetParams, Finding, ImageRecord, ScanResult
from ..sdscripts.trainers import Check, RegWeight, TrainerFacts
from ..sdscripts.registration import RegBalance, Registered, _registered, as_registered, registrations
from ..sdscripts.registration import reg_repeats  # noqa: F401  (re-exported)
from ..rules import rule

@dataclass(frozen=True)
class BalanceOptions:
    """sd-scripts' options that shape the run beyond the dataset definitions."""

    trainer: TrainerFacts = trainers.get(trainers.DEFAULT)
    gradient_accumulation_steps: int = 1
    max_train_epochs: int | None = None
    max_train_steps: int = 1600
    num_processes: int = 1
    prior_loss_weight: float = 1.0
    cache_latents: bool = False  # after --cache_latents_to_disk turned it on
    random_crop: bool = False  # command-line level (subsets carry their own value)
    cache_text_encoder_outputs: bool = False
    network_train_unet_only: bool = False
    v2: bool = False
    debug_dataset: bool = False  # the trainer shows the dataset and returns before training
    start_crash: Crash | None = None  # the command line stops sd-scripts before anything else


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


@dataclass(frozen=True)
class BalancePlan:
    datasets: tuple[DatasetPlan, ...]
    options: BalanceOptions
    findings: tuple[Finding, ...]
    batches_per_epoch: int | None
    steps_per_epoch: int | None  # optimizer steps per epoch
    max_train_steps: int | None
    epochs: int | None
    gui_estimate: int | None
    reg_loss_share: float | None
    scan: ScanResult = field(repr=False, compare=False, default=None)  # type: ignore[assignment]
    crash: Crash | None = None  # the first failure sd-scripts would hit
    no_data: bool = False  # sd-scripts stops cleanly with "No data found"
    returned_early: str | None = None  # "debug_dataset": the trainer shows the dataset and returns
    if_fixed: dict | None = None  # where sd-scripts stops: its figures once the stop is fixed

    @property
    def would_crash(self) -> bool:
        return self.crash is not None


def _where(scan: ScanResult) -> str:
    return scan.sources[0] if scan.sources else os.getcwd()


def plan(scan: ScanResult, opts: BalanceOptions) -> BalancePlan:
    """Follow sd-scripts' own order: its command line and start checks, the dataset build (every
    dataset's constructor, then every dataset's buckets), "No data found", the checks right after
    the build, the steps, then the first load of each registered image."""
    findings: list[Finding] = list(scan.findings)
    trainer = opts.trainer
    crash: Crash | None = opts.start_crash
    if crash is None:
        crash = _checks(trainer.before_build, scan, opts, findings)
    if crash is None and scan.crash is not None:
        crash = scan.crash
    if crash is None and not trainer.takes_dreambooth and scan.subsets:
        crash = _add(findings, "build", "RA078", "MultipleInvalid", _where(scan),
                     f"{trainer.name}.py does not take DreamBooth folders or subsets: its config check stops the "
                     f"run ({'metadata_file' if 'fine_tuning' in [k.value for k in trainer.kinds] else 'conditioning_data_dir'}"
                     f" is required)")
    if crash is None:
        for ds in scan.datasets:
            crash = _construct_crash(ds, findings)
            if crash is not None:
                break
    if crash is None:
        crash = _validation_crash(scan.datasets, "construct")
    plans: list[DatasetPlan] = []
    for ds in scan.datasets:
        p, f, ds_crash = _plan_dataset(ds, opts, scan)
        plans.append(p)
        findings += f
        if crash is None and ds_crash is not None:
            crash = ds_crash
    if crash is None:
        crash = _validation_crash(scan.datasets, "buckets")
    batches = sum(p.batches or 0 for p in plans)
    no_data = False
    debug_return = False
    if crash is None:
        empty = batches == 0
        for check in trainer.after_build:
            if check.check is Check.DEBUG_DATASET:
                if opts.debug_dataset:
                    debug_return = True
                    break
                continue
            if check.check is Check.NO_DATA:
                if empty:
                    no_data = True
                    break
                continue
            crash = _checks((check,), scan, opts, findings, plans)
            if crash is not None:
                break
        if crash is None and empty and not no_data and not trainer.empty_guard:
            crash = _add(findings, "start", "RA065", "ValueError", _where(scan),
                         f"no dataset registers any image, and {trainer.name}.py has no 'No data found' check: its "
                         f"DataLoader stops the run ('num_samples should be a positive integer value, but got "
                         f"num_samples=0') after the models are loaded")
        if no_data:
            findings.append(rule("RA065").finding(
                _where(scan), "no dataset registers any image: sd-scripts stops with 'No data found' and trains "
                              "nothing"))
    if debug_return:
        findings.append(rule("RA090").finding(
            _where(scan), f"--debug_dataset: {trainer.name}.py shows the dataset and returns; it trains nothing and "
                          f"counts no steps (the figures here are what the dataset holds)"))
        return BalancePlan(tuple(plans), opts, tuple(findings), 0 if batches == 0 else None, None, None, None, None,
                           None, scan, None, batches == 0, "debug_dataset")
    if crash is None and not no_data:
        crash = _load_crash(plans, opts, findings)
    if crash is not None and crash.stage != "load" or no_data:
        if_fixed = None
        if crash is not None and all(p.batches is not None for p in plans) and batches:
            # what sd-scripts would compute once the failing files or options are fixed (images that
            # could not be bucketed left out): the figures a user plans with
            if_fixed = dict(zip(("batches_per_epoch", "steps_per_epoch", "max_train_steps", "epochs"),
                                (batches, *_steps(batches, opts))))
        if crash is not None and crash.stage == "build":
            plans = [replace(p, buckets=None, batches=None) for p in plans]
        return BalancePlan(tuple(plans), opts, tuple(findings), None if crash else 0, None, None, None, None, None,
                           scan, crash, no_data, if_fixed=if_fixed)
    steps_per_epoch, max_steps, epochs = _steps(batches, opts)
    train_samples = sum(r.num_repeats for p in plans for r in p.images if not r.is_reg)
    reg_samples = sum(r.num_repeats for p in plans for r in p.images if r.is_reg)
    weight = reg_samples * opts.prior_loss_weight if trainer.reg_weight is RegWeight.PRIOR_LOSS_WEIGHT else reg_samples
    share = weight / (train_samples + weight) if train_samples + weight > 0 else 0.0
    gui = _gui_estimate(plans, opts)
    if reg_samples and opts.max_train_epochs is None and steps_per_epoch:
        alone = sum(p.train_only_batches or 0 for p in plans)
        alone_steps = math.ceil(math.ceil(alone / opts.num_processes) / opts.gradient_accumulation_steps)
        findings.append(rule("RA075").finding(
            _where(scan),
            f"{reg_samples} reg samples join {train_samples} train samples: {batches} batches per epoch instead of "
            f"{alone}, so max_train_steps {max_steps} covers {max_steps / steps_per_epoch:.2f} epochs instead of "
            f"{max_steps / alone_steps:.2f}" if alone_steps else f"{batches} batches per epoch"))
    return BalancePlan(tuple(plans), opts, tuple(findings), batches, steps_per_epoch, max_steps, epochs, gui,
                       share, scan, crash, False)


def _steps(batches: int, opts: BalanceOptions) -> tuple[int, int, int]:
    """(optimizer steps per epoch, max_train_steps, epochs) as every trainer computes them."""
    per_process = math.ceil(batches / opts.num_processes)
    steps_per_epoch = math.ceil(per_process / opts.gradient_accumulation_steps)
    if opts.max_train_epochs is not None:
        # every trainer: epochs x ceil(len(dataloader) / num_processes / gradient_accumulation_steps)
        max_steps = opts.max_train_epochs * math.ceil(batches / opts.num_processes / opts.gradient_accumulation_steps)
    else:
        max_steps = opts.max_train_steps
    epochs = math.ceil(max_steps / steps_per_epoch) if steps_per_epoch else 0
    return steps_per_epoch, max_steps, epochs


def _add(findings: list[Finding], stage: str, code: str, exception: str, path: str, message: str,
         hint: str | None = None) -> Crash:
    findings.append(rule(code).finding(path, message, hint))
    return Crash(stage, code, exception, path, message)


def _checks(checks, scan: ScanResult, opts: BalanceOptions, findings: list[Finding],
            plans: Sequence[DatasetPlan] = ()) -> Crash | None:
    """The trainer's start-up checks (trainers/base.py names them), in order; the first failure."""
    where = _where(scan)
    name = opts.trainer.name
    for check in checks:
        kind = check.check
        if kind is Check.SDXL_ARGS and opts.v2:
            return _add(findings, "start", "RA079", "AssertionError", where,
                        f"--v2 is set, and {name}.py refuses it ('v2 cannot be enabled in SDXL training')",
                        "Drop --v2: it is for SD 2.x models.")
        if kind is Check.CACHE_LATENTS and opts.cache_latents:
            for s in scan.subsets:
                bad = [o for o in ("color_aug", "random_crop") if getattr(s.config, o)]
                if bad:
                    return _add(findings, "start", "RA079", "AssertionError", s.abs_path,
                                f"latents are cached (--cache_latents) and this subset uses {' and '.join(bad)}: "
                                f"sd-scripts stops ('when caching latents, either color_aug or random_crop cannot "
                                f"be used')",
                                f"Turn off {' and '.join(bad)}, or do not cache latents.")
        if kind is Check.CACHE_TEXT_ENCODER and opts.cache_text_encoder_outputs:
            for s in scan.subsets:
                c = s.config
                bad = [n for n, on in (("shuffle_caption", c.shuffle_caption),
                                       ("caption_dropout_rate", c.caption_dropout_rate > 0),
                                       ("caption_tag_dropout_rate", c.caption_tag_dropout_rate > 0),
                                       ("token_warmup_step", bool(c.token_warmup_step))) if on]
                if bad:
                    return _add(findings, "start", "RA079", "AssertionError", s.abs_path,
                                f"text encoder outputs are cached and this subset uses {', '.join(bad)}: "
                                f"sd-scripts stops before training",
                                f"Turn off {', '.join(bad)}, or do not cache text encoder outputs.")
        if kind is Check.TE_UNET_ONLY and opts.cache_text_encoder_outputs and not opts.network_train_unet_only:
            return _add(findings, "start", "RA079", "AssertionError", where,
                        f"--cache_text_encoder_outputs needs --network_train_unet_only in {name}.py",
                        "Add --network_train_unet_only, or do not cache text encoder outputs.")
        if kind is Check.BUCKET_STEPS:
            multiple = check.multiple
            for ds in scan.datasets:
                steps = ds.params.bucket_reso_steps
                # a dataset without configured subsets is built as an empty ControlNet dataset, which
                # keeps no bucket_reso_steps of its own: the check passes
                if ds.params.enable_bucket and ds.declared != 0 and steps % multiple:
                    return _add(findings, "start", "RA062", "AssertionError", where,
                                f"bucket_reso_steps {steps} is not a multiple of {multiple}, which {name}.py checks "
                                f"right after building the dataset: it stops before training",
                                f"Use --bucket_reso_steps {opts.trainer.required_multiple or multiple} "
                                f"(or a multiple of it).")
    return None


_CAPTION_CRASH = {"empty_file": ("RA020", "AssertionError", "caption file is empty"),
                  "not_utf8": ("RA021", "UnicodeDecodeError", "caption file is not valid UTF-8"),
                  "unreadable": ("RA022", "PermissionError", "caption file cannot be opened")}


def _caption_crash(img: ImageRecord, building: str) -> Crash | None:
    """Reading this image's caption stops sd-scripts while it builds ``building``."""
    if img.caption.error not in _CAPTION_CRASH:
        return None
    code, exc, what = _CAPTION_CRASH[img.caption.error]
    path = os.path.abspath(img.caption.path) if img.caption.path else img.abs_path
    return Crash("build", code, exc, path, f"{what}: sd-scripts stops while building {building}")


def _construct_crash(ds: Dataset, findings: list[Finding]) -> Crash | None:
    """DreamBoothDataset.__init__: resolution required, bucket limits rounded and asserted, then per
    kept subset the latent cache names and every image's caption."""
    params = ds.params
    where = ds.subsets[0].abs_path if ds.subsets else os.getcwd()
    if params.resolution is None:
        return _add(findings, "build", "RA060", "AssertionError", where,
                    f"dataset {ds.index} has no resolution; sd-scripts stops with 'resolution is required'",
                    "Pass --resolution N or W,H (as in your training command), or set resolution in the dataset config.")
    if params.enable_bucket:
        steps = params.bucket_reso_steps
        if steps == 0:
            return _add(findings, "build", "RA062", "ZeroDivisionError", where,
                        "bucket_reso_steps is 0: sd-scripts divides by it while building the dataset",
                        "Use --bucket_reso_steps 64 (or the multiple your trainer needs).")
        lo, hi = adjust_min_max(params.min_bucket_reso, params.max_bucket_reso, steps)
        res = params.resolution
        if min(res) < lo or max(res) > hi:
            return _add(findings, "build", "RA061", "AssertionError", where,
                        f"resolution {res[0]}x{res[1]} is outside min/max_bucket_reso {lo}..{hi}: sd-scripts stops "
                        f"with an assertion while building dataset {ds.index}",
                        "Lower --min_bucket_reso or raise --max_bucket_reso so the resolution lies between them.")
    if ds.split_errors:
        where, error = ds.split_errors[0]
        return Crash("build", "RA008", "ValueError", where, error)
    for s in ds.subsets:
        if s.cache_error is not None:
            return Crash("build", "RA076", s.cache_error.split(":")[0], s.abs_path, s.cache_error)
        for img in s.images:
            crash = _caption_crash(img, "the dataset")
            if crash is not None:
                return crash
    return None


def _validation_crash(datasets: Sequence[Dataset], phase: str) -> Crash | None:
    """validation_split builds a validation dataset of the held-out train images after the training
    datasets: its constructors (captions) run after theirs, its buckets (sizes) after theirs."""
    for ds in datasets:
        if phase == "construct" and ds.validation_errors:
            where, error = ds.validation_errors[0]
            return Crash("build", "RA076", error.split(":")[0], where, error)
        for s in ds.subsets:
            if phase == "construct" and ds.params.validation_split > 0 and s.config.is_reg and s.cache_error:
                # the validation dataset reads every subset's cache names again, reg ones too
                return Crash("build", "RA076", s.cache_error.split(":")[0], s.abs_path, s.cache_error)
            for img in s.held_out:
                crash = _caption_crash(img, "the validation dataset (an image held out for validation)") \
                    if phase == "construct" else None
                if crash is not None:
                    return crash
                if phase == "buckets":
                    failure = _size_crash(img)
                    if failure is None and (img.probe.width <= 0 or img.probe.height <= 0):
                        failure = ("ZeroDivisionError", "its size reads as 0")
                    if failure is not None:
                        return Crash("build", "RA063", failure[0], img.abs_path,
                                     f"image held out for validation: {failure[1]}; sd-scripts stops while making the "
                                     f"validation dataset's buckets")
    return None


def _size_crash(record: ImageRecord) -> tuple[str, str] | None:
    """(exception, message) where reading this image's size raises in sd-scripts (uncaught)."""
    p = record.probe
    if p.error_kind == "not_a_file":
        if (p.error or "").startswith("is a directory"):
            return "IsADirectoryError", "is a directory with an image name"
        return "FileNotFoundError", p.error or "cannot be read"
    if p.error_kind == "unreadable":
        return "PermissionError", p.error or "cannot be opened"
    if p.error_kind == "header_crash" or p.size_via == "crash":
        text = p.error or "malformed header"
        head = text.split(":", 1)[0].strip()
        name = head.rsplit(".", 1)[-1]  # 'struct.error' is raised as struct.error: its class is 'error'
        exc = name if " " not in head and (name.endswith("Error") or name == "error") else "ValueError"
        return exc, text
    return None


def _gui_estimate(plans: Sequence[DatasetPlan], opts: BalanceOptions) -> int | None:
    """The kohya_ss GUI's figure: train samples / batch size / accumulation x epochs, doubled when
    reg images are present. Shown next to the exact number because users compare the two."""
    if not plans:
        return None
    train = sum(p.num_train_images for p in plans)
    batch = plans[0].params.batch_size or 1
    epochs = opts.max_train_epochs or 1
    reg_factor = 2 if any(p.num_reg_images for p in plans) else 1
    return math.ceil(train / batch / opts.gradient_accumulation_steps * epochs * reg_factor)


def _plan_dataset(ds: Dataset, opts: BalanceOptions, scan: ScanResult) -> tuple[DatasetPlan, list[Finding],
                                                                                 Crash | None]:
    findings: list[Finding] = []
    params = ds.params
    where = ds.subsets[0].abs_path if ds.subsets else _where(scan)
    entries, num_train, num_reg, reg_list, repeats, reg = registrations(ds)
    unused = tuple(img for (img, _), k in zip(reg_list, repeats) if k == 0)
    reg_used = sum(repeats)
    reg_subsets = [s for s in ds.subsets if s.config.is_reg]
    # with several reg folders, the OS listing order decides which images are used, and which get
    # the one extra repeat of the last pass
    order_dependent = len(reg_subsets) > 1 and (bool(unused) or (reg is not None and reg.remainder > 0))

    def result(placed, stats, limits=None) -> DatasetPlan:
        batches = sum(s.batches for s in stats) if stats is not None else None
        return DatasetPlan(ds.index, params, num_train, num_reg, reg_used, len(reg_list), tuple(placed.values()),
                           unused, reg, order_dependent, stats, batches, ds.subsets, limits)

    if num_reg and not num_train:
        findings.append(rule("RA070").finding(
            where, f"dataset {ds.index} has {num_reg} reg samples but no train samples: the balancing loop "
                   f"never runs, so none of its {len(reg_list)} reg images is used"))
    if unused:
        unused_dirs = list(dict.fromkeys(os.path.dirname(i.abs_path) for i in unused))
        findings.append(rule("RA066").finding(
            unused_dirs[0],
            f"reg samples {num_reg} > train samples {num_train}: {len(unused)} of {len(reg_list)} reg images "
            f"are never used (the first {len(reg_list) - len(unused)} in listing order are)",
            "Lower the reg folders' repeats to 1, remove reg images, or add train images/repeats."))
    if order_dependent:
        order = " then ".join(f"'{s.abs_path}'" for s in reg_subsets)
        findings.append(rule("RA067").finding(
            (os.path.dirname(unused[0].abs_path) if unused else reg_subsets[0].abs_path),
            f"which reg images are used{'' if unused else ' one more time'} depends on the order the OS lists the "
            f"reg folders ({order} here); another machine or a copied tree may choose differently"))
    if reg is not None and reg.overshoot:
        findings.append(rule("RA068").finding(
            reg_subsets[0].abs_path,
            f"reg folders' repeats overshoot: {reg_used} reg samples are used against {num_train} train samples "
            f"(+{reg.overshoot})"))
    if reg is not None and (reg.extra or reg.remainder):
        findings.append(rule("RA073").finding(
            reg_subsets[0].abs_path,
            f"only {len(reg_list)} reg images for {num_train} train samples: each is repeated "
            f"{reg.extra}{'' if not reg.remainder else f'-{reg.extra + 1}'} times beyond its folder's repeats "
            f"({reg_used} reg samples)"))
    if num_train and not num_reg:
        findings.append(rule("RA069").finding(where, f"dataset {ds.index} has no regularization images"))

    if params.resolution is None:
        return result(as_registered(entries), None), findings, None  # the constructor already stopped (RA060)
    min_reso, max_reso = params.min_bucket_reso, params.max_bucket_reso
    limits = None
    if params.enable_bucket:
        steps = params.bucket_reso_steps
        if steps == 0:
            return result(as_registered(entries), None), findings, None
        min_reso, max_reso = adjust_min_max(min_reso, max_reso, steps)
        limits = (min_reso, max_reso, steps)
        if (min_reso, max_reso) != (params.min_bucket_reso, params.max_bucket_reso):
            findings.append(rule("RA072").finding(
                where, f"min/max_bucket_reso {params.min_bucket_reso}/{params.max_bucket_reso} are not multiples of "
                       f"bucket_reso_steps {steps}; sd-scripts uses {min_reso}/{max_reso}"))
        res = params.resolution
        if min(res) < min_reso or max(res) > max_reso:
            return result(as_registered(entries), None, limits), findings, None  # the constructor stopped (RA061)
        if not params.bucket_no_upscale and min_reso <= 0:
            return result(as_registered(entries), None, limits), findings, _add(
                findings, "build", "RA061", "ZeroDivisionError", where,
                f"min_bucket_reso {params.min_bucket_reso}: sd-scripts divides by it while making buckets",
                "Use --min_bucket_reso 256 (or any positive multiple of bucket_reso_steps).")

    bucketer = Bucketer(params.resolution, params.enable_bucket, params.bucket_no_upscale, min_reso, max_reso,
                        params.bucket_reso_steps)
    suffix = opts.trainer.cache_suffix
    crash: Crash | None = None
    # make_buckets: every registered image's size first (header, then Pillow), then its bucket
    sizes = []
    for record, _, is_reg, _ in entries.values():
        probe = record.probe
        if record.cache_sizes:
            size, from_cache = record.trained_size(suffix)
        else:  # (the common case, without a call)
            size, from_cache = (probe.width, probe.height), False
        if not from_cache and (probe.error_kind is not None or probe.size_via == "crash"):
            failure = _size_crash(record)
            if failure is not None and crash is None:
                exc, msg = failure
                crash = _add(findings, "build", "RA063", exc, record.abs_path,
                             f"registered {'reg' if is_reg else 'train'} image: reading its size raises {exc} "
                             f"({msg}); sd-scripts stops while building the dataset")
        sizes.append((size, from_cache))
    # one record per image, each taking its entry's place (a million images are not held twice)
    placed: dict = entries
    sized_all = crash is None  # a size that cannot be read stops the build before any bucket is chosen
    chosen: dict = {}  # (typed) size -> (bucket, resized): sizes repeat
    for (key, (record, subset, is_reg, repeats)), (size, from_cache) in zip(entries.items(), sizes):
        bucket = resized = None
        if sized_all:
            typed = (size, type(size[0]), type(size[1]))
            try:
                choice = chosen.get(typed)
                if choice is None:
                    choice = chosen[typed] = bucketer.select(*size)
                bucket, resized = choice
            except BucketCrash as exc:
                if crash is None:
                    crash = _add(findings, "build", "RA063", "ZeroDivisionError", record.abs_path,
                                 f"registered {'reg' if is_reg else 'train'} image: sd-scripts divides by zero "
                                 f"choosing its bucket ({exc}); it stops while building the dataset")
        placed[key] = _registered(record, subset, is_reg, repeats, bucket, resized, size, from_cache, None)
    del sizes
    if crash is not None:
        return result(placed, None, limits), findings, crash
    if params.batch_size <= 0 and placed:
        return result(placed, None, limits), findings, _add(
            findings, "build", "RA061", "ZeroDivisionError", where,
            f"batch size {params.batch_size}: sd-scripts divides by it while making batches",
            "Use --train_batch_size 1 or more.")

    train_n: dict[tuple[int, int], int] = defaultdict(int)
    reg_n: dict[tuple[int, int], int] = defaultdict(int)
    unique: dict[tuple[int, int], int] = defaultdict(int)
    for r in placed.values():
        assert r.bucket is not None
        (reg_n if r.is_reg else train_n)[r.bucket] += r.num_repeats
        unique[r.bucket] += 1
    stats = []
    for reso in sorted(set(train_n) | set(reg_n)):
        total = train_n[reso] + reg_n[reso]
        stats.append(BucketStat(reso, train_n[reso], reg_n[reso], math.ceil(total / params.batch_size),
                                unique[reso]))
    return result(placed, tuple(stats), limits), findings, None


def load_failure(r: Registered, params: DatasetParams, opts: BalanceOptions) -> tuple[str, str, str] | None:
    """(code, exception, message) where sd-scripts fails on this registered image when it first loads
    it (the first epoch, or latent caching), else None: pixels Pillow cannot read, a bucket of width
    0, or, without bucketing and uncached, an image that is not exactly the resolution."""
    error = load_error(r)
    if error:
        kind = getattr(r.record.probe, "load_error_kind", None)
        code = {"unopenable": "RA052", "too_large": "RA050"}.get(kind or "", "RA043")
        return code, error.split(":")[0] if ":" in error else "OSError", \
            f"sd-scripts fails when it first loads this image: {error}"
    if r.bucket is not None and r.bucket[0] == 0:
        return "RA074", "RuntimeError", (
            f"{'reg' if r.is_reg else 'train'} image {r.image_size[0]}x{r.image_size[1]} gets bucket "  # type: ignore[index]
            f"{r.bucket[0]}x{r.bucket[1]}: sd-scripts builds the dataset, then fails in the VAE when it first "
            f"encodes the image")
    if not params.enable_bucket and not opts.cache_latents and r.image_size and params.resolution:
        problem = _unbucketed_problem(r.image_size, params.resolution, r)
        if problem:
            return "RA071", "AssertionError", problem
    return None


def fails_to_load(r: Registered, params: DatasetParams, opts: BalanceOptions) -> bool:
    return load_failure(r, params, opts) is not None


def _load_crash(plans: Sequence[DatasetPlan], opts: BalanceOptions, findings: list[Finding]) -> Crash | None:
    """The first registered image sd-scripts fails on when it first loads it."""
    first: Crash | None = None
    for p in plans:
        if not p.params.enable_bucket and not opts.cache_latents:
            findings += _unbucketed_size_findings(p.images, p.params.resolution, opts)
        plain_size = p.params.enable_bucket or opts.cache_latents  # (no exact-size check at load)
        for r in p.images:
            probe = r.record.probe
            if plain_size and probe.load_error is None and probe.decode_error is None and probe.error_kind is None \
                    and (r.bucket is None or r.bucket[0] != 0):
                continue  # nothing for load_failure to find (the common case, checked without a call)
            failure = load_failure(r, p.params, opts)
            if failure is None:
                continue
            code, exc, message = failure
            if code == "RA074":
                findings.append(rule(code).finding(r.record.abs_path, message))
            if first is None:
                first = Crash("load", code, exc, r.record.abs_path, message)
    return first


_LOAD_EXCEPTIONS = {"not_a_file": "IsADirectoryError", "unreadable": "PermissionError"}


def load_error(r: Registered) -> str | None:
    """Why sd-scripts fails when it first loads this registered image ("Exception: message"), or None."""
    probe = r.record.probe
    error = getattr(probe, "load_error", None) or probe.decode_error
    broken = probe.error_kind in ("zero_bytes", "not_a_file", "unreadable") or (
        probe.error_kind in ("no_size", "header_crash") and probe.format is None)  # Pillow cannot open it either
    if not error and r.from_cache and broken:
        # a cache file name gave the size, so sd-scripts never read the header; the file itself
        # still cannot be loaded
        error = f"{_LOAD_EXCEPTIONS.get(probe.error_kind, 'UnidentifiedImageError')}: {probe.error or 'cannot identify image file'}"
    return error


def _unbucketed_problem(size, resolution, r: Registered) -> str | None:
    w, h = resolution
    iw, ih = size
    random_crop = r.subset.config.random_crop
    if (iw > w or ih > h) and not random_crop:
        return f"image {iw}x{ih} is larger than {w}x{h}: without bucketing or random_crop sd-scripts stops " \
               f"('image too large, but cropping and bucketing are disabled') when it loads it"
    if min(iw, w) != w or min(ih, h) != h:
        return f"image {iw}x{ih} is smaller than {w}x{h}: without bucketing sd-scripts stops ('image size is small') " \
               f"when it loads it"
    return None


def _unbucketed_size_findings(images, resolution: tuple[int, int], opts: BalanceOptions) -> list[Finding]:
    # Without bucketing (and uncached latents), each loaded image must be exactly W x H after an
    # optional random crop: smaller fails 'image size is small', larger needs random_crop.
    w, h = resolution
    small, large = [], []
    for r in images:
        if not r.image_size:
            continue
        iw, ih = r.image_size
        if (iw > w or ih > h) and not r.subset.config.random_crop:
            large.append(r)  # checked first, on the loaded pixels
        elif iw < w or ih < h:
            small.append(r)  # after an optional random crop the image must be exactly W x H
    out = []
    for group, what, stop in ((large, "larger than {} without --enable_bucket or --random_crop", "'image too large'"),
                              (small, "smaller than {} without --enable_bucket", "'image size is small'")):
        if group:
            first = group[0]
            out.append(rule("RA071").finding(
                first.record.abs_path,
                f"{len(group)} registered image{'s are' if len(group) > 1 else ' is'} {what.format(f'{w}x{h}')} "
                f"(e.g. {first.image_size[0]}x{first.image_size[1]}): training stops with {stop} when it loads "
                f"{'them' if len(group) > 1 else 'it'}"))
    return out
