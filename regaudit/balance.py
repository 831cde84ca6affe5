"""Buckets, batches and steps on top of the registration (spec §4-6), as values.

Mirrors BaseDataset.make_buckets, DreamBoothDataset's start-up checks and train_network.py's step
arithmetic. Everything is computed per image: the cost grows with the number of images, never
with the number of samples.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import Enum

from .buckets import BucketCrash, Bucketer, adjust_min_max
from .model import Dataset, DatasetParams, Finding, ImageRecord, ScanResult
from .registration import RegBalance, Registered, reg_repeats, register  # noqa: F401  (re-exported)
from .rules import rule

FATAL_SCAN_CODES = frozenset({"RA020", "RA021", "RA022"})  # crash while the dataset is being built
FATAL_SIZE_CODES = frozenset({"RA012", "RA040", "RA041", "RA042"})  # crash when a registered image is sized


class Trainer(str, Enum):
    """The sd-scripts script; it sets the multiple bucket_reso_steps must be (spec §5)."""

    TRAIN_NETWORK = "train_network"
    TRAIN_DB = "train_db"
    SDXL_TRAIN_NETWORK = "sdxl_train_network"
    SDXL_TRAIN = "sdxl_train"
    SD3_TRAIN_NETWORK = "sd3_train_network"
    FLUX_TRAIN_NETWORK = "flux_train_network"
    FLUX_TRAIN = "flux_train"
    LUMINA_TRAIN = "lumina_train"
    LUMINA_TRAIN_NETWORK = "lumina_train_network"
    SD3_TRAIN = "sd3_train"

    @property
    def cache_suffix(self) -> str:
        """The latent cache file suffix whose names set image sizes (spec §5)."""
        name = self.value
        if name.startswith("sdxl"):
            return "_sdxl.npz"
        if name.startswith("sd3"):
            return "_sd3.npz"
        if name.startswith("flux"):
            return "_flux.npz"
        if name.startswith("lumina"):
            return "_lumina.npz"
        return "_sd.npz"

    @property
    def bucket_steps_multiple(self) -> int:
        return {
            Trainer.TRAIN_NETWORK: 64, Trainer.TRAIN_DB: 64,
            Trainer.SDXL_TRAIN_NETWORK: 32, Trainer.SDXL_TRAIN: 32,
            Trainer.SD3_TRAIN_NETWORK: 32, Trainer.FLUX_TRAIN_NETWORK: 32,
            Trainer.FLUX_TRAIN: 16, Trainer.LUMINA_TRAIN: 16, Trainer.LUMINA_TRAIN_NETWORK: 16,
            Trainer.SD3_TRAIN: 8,
        }[self]


@dataclass(frozen=True)
class BalanceOptions:
    trainer: Trainer = Trainer.TRAIN_NETWORK
    gradient_accumulation_steps: int = 1
    max_train_epochs: int | None = None
    max_train_steps: int = 1600
    num_processes: int = 1
    prior_loss_weight: float = 1.0
    cache_latents: bool = False
    random_crop: bool = False


@dataclass(frozen=True)
class BucketStat:
    resolution: tuple[int, int]
    train: int  # samples
    reg: int
    batches: int


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

    @property
    def would_crash(self) -> bool:
        return self.batches_per_epoch is None


def plan(scan: ScanResult, opts: BalanceOptions) -> BalancePlan:
    findings: list[Finding] = list(scan.findings)
    fatal = any(f.code in FATAL_SCAN_CODES for f in scan.findings)
    plans: list[DatasetPlan] = []
    for ds in scan.datasets:
        p, f, ds_fatal = _plan_dataset(ds, opts, scan)
        plans.append(p)
        findings += f
        fatal = fatal or ds_fatal
    total_images = sum(len(p.images) for p in plans)
    if total_images == 0:
        findings.append(rule("RA065").finding(
            scan.sources[0] if scan.sources else ".",
            "no dataset registers any image: sd-scripts stops with 'No data found'"))
        fatal = True
    if fatal or any(p.batches is None for p in plans):
        if any(f.code in FATAL_SCAN_CODES for f in scan.findings):
            # a caption crash stops sd-scripts while building the dataset, before any bucket exists
            plans = [replace(p, buckets=None, batches=None) for p in plans]
        return BalancePlan(tuple(plans), opts, tuple(findings), None, None, None, None, None, None, scan)
    batches = sum(p.batches or 0 for p in plans)
    per_process = math.ceil(batches / opts.num_processes)
    steps_per_epoch = math.ceil(per_process / opts.gradient_accumulation_steps)
    if opts.max_train_epochs is not None:
        # train_network.py: epochs x ceil(len(dataloader) / num_processes / gradient_accumulation_steps)
        max_steps = opts.max_train_epochs * math.ceil(batches / opts.num_processes / opts.gradient_accumulation_steps)
    else:
        max_steps = opts.max_train_steps
    epochs = math.ceil(max_steps / steps_per_epoch) if steps_per_epoch else 0
    train_samples = sum(r.num_repeats for p in plans for r in p.images if not r.is_reg)
    reg_samples = sum(r.num_repeats for p in plans for r in p.images if r.is_reg)
    weight = reg_samples * opts.prior_loss_weight
    share = weight / (train_samples + weight) if train_samples + weight > 0 else 0.0
    gui = _gui_estimate(plans, opts)
    if reg_samples and opts.max_train_epochs is None and steps_per_epoch:
        alone = sum(p.train_only_batches or 0 for p in plans)
        alone_steps = math.ceil(math.ceil(alone / opts.num_processes) / opts.gradient_accumulation_steps)
        findings.append(rule("RA075").finding(
            scan.sources[0] if scan.sources else ".",
            f"{reg_samples} reg samples join {train_samples} train samples: {batches} batches per epoch instead of "
            f"{alone}, so max_train_steps {max_steps} covers {max_steps / steps_per_epoch:.2f} epochs instead of "
            f"{max_steps / alone_steps:.2f}" if alone_steps else f"{batches} batches per epoch"))
    return BalancePlan(tuple(plans), opts, tuple(findings), batches, steps_per_epoch, max_steps, epochs, gui,
                       share, scan)


def _gui_estimate(plans: Sequence[DatasetPlan], opts: BalanceOptions) -> int | None:
    """The kohya_ss GUI's figure: train samples / batch size / accumulation x epochs, doubled when
    reg images are present. Shown next to the exact number because users compare the two."""
    if not plans:
        return None
    train = sum(p.num_train_images for p in plans)
    batch = plans[0].params.batch_size
    epochs = opts.max_train_epochs or 1
    reg_factor = 2 if any(p.num_reg_images for p in plans) else 1
    return math.ceil(train / batch / opts.gradient_accumulation_steps * epochs * reg_factor)


def _plan_dataset(ds: Dataset, opts: BalanceOptions, scan: ScanResult) -> tuple[DatasetPlan, list[Finding], bool]:
    findings: list[Finding] = []
    params = ds.params
    where = ds.subsets[0].abs_path if ds.subsets else (scan.sources[0] if scan.sources else ".")
    fatal = False
    image_data, num_train, num_reg, reg_list, repeats, reg = register(ds)
    unused = tuple(img for (img, _), k in zip(reg_list, repeats) if k == 0)
    reg_used = sum(repeats)
    reg_subsets = [s for s in ds.subsets if s.config.is_reg]
    # with several reg folders, the OS listing order decides which images are used, and which get
    # the one extra repeat of the last pass
    order_dependent = len(reg_subsets) > 1 and (bool(unused) or (reg is not None and reg.remainder > 0))

    if num_reg and not num_train:
        findings.append(rule("RA070").finding(
            where, f"dataset {ds.index} has {num_reg} reg samples but no train samples: the balancing loop "
                   f"never runs, so none of its {len(reg_list)} reg images is used"))
    if unused:
        findings.append(rule("RA066").finding(
            reg_subsets[0].abs_path,
            f"reg samples {num_reg} > train samples {num_train}: {len(unused)} of {len(reg_list)} reg images "
            f"are never used (the first {len(reg_list) - len(unused)} in listing order are)",
            "Lower the reg folders' repeats to 1, remove reg images, or add train images/repeats."))
    if order_dependent:
        order = " then ".join(f"'{s.abs_path}'" for s in reg_subsets)
        findings.append(rule("RA067").finding(
            reg_subsets[0].abs_path,
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

    # DreamBoothDataset.__init__: resolution is required; bucket limits are rounded and asserted
    if params.resolution is None:
        findings.append(rule("RA060").finding(where, "no resolution given; sd-scripts stops with 'resolution is "
                                                     "required'",
                                              "Pass --resolution N or W,H (as in your training command)."))
        return _result(ds, num_train, num_reg, reg_used, len(reg_list), image_data, unused, reg,
                       order_dependent, None), findings, True
    min_reso, max_reso = params.min_bucket_reso, params.max_bucket_reso
    if params.enable_bucket:
        steps = params.bucket_reso_steps
        if steps <= 0:
            findings.append(rule("RA062").finding(where, f"bucket_reso_steps {steps} must be positive"))
            return _result(ds, num_train, num_reg, reg_used, len(reg_list), image_data, unused, reg,
                           order_dependent, None), findings, True
        min_reso, max_reso = adjust_min_max(min_reso, max_reso, steps)
        if (min_reso, max_reso) != (params.min_bucket_reso, params.max_bucket_reso):
            findings.append(rule("RA072").finding(
                where, f"min/max_bucket_reso {params.min_bucket_reso}/{params.max_bucket_reso} are not multiples of "
                       f"bucket_reso_steps {steps}; sd-scripts uses {min_reso}/{max_reso}"))
        res = params.resolution
        if min(res) < min_reso or max(res) > max_reso:
            findings.append(rule("RA061").finding(
                where, f"resolution {res[0]}x{res[1]} is outside min/max_bucket_reso {min_reso}..{max_reso}: "
                       f"sd-scripts stops with an assertion",
                "Lower --min_bucket_reso or raise --max_bucket_reso so the resolution lies between them."))
            fatal = True
        multiple = opts.trainer.bucket_steps_multiple
        if steps % multiple:
            findings.append(rule("RA062").finding(
                where, f"bucket_reso_steps {steps} is not a multiple of {multiple}, which {opts.trainer.value}.py "
                       f"requires; it stops at start",
                f"Use --bucket_reso_steps {multiple} (or a multiple of it)."))
            fatal = True
    if fatal:
        return _result(ds, num_train, num_reg, reg_used, len(reg_list), image_data, unused, reg,
                       order_dependent, None), findings, True

    bucketer = Bucketer(params.resolution, params.enable_bucket, params.bucket_no_upscale, min_reso, max_reso,
                        params.bucket_reso_steps)
    bad_size = {f.path for f in scan.findings if f.code in FATAL_SIZE_CODES}
    placed: dict[str, Registered] = {}
    crashed = False
    suffix = opts.trainer.cache_suffix
    for key, r in image_data.items():
        (width, height), from_cache = r.record.trained_size(suffix)
        if r.record.abs_path in bad_size and not from_cache:
            crashed = True
            findings.append(rule("RA063").finding(
                r.record.abs_path, f"registered {'reg' if r.is_reg else 'train'} image has no readable size "
                                   f"({r.record.probe.error}); sd-scripts crashes while making buckets"))
            placed[key] = r
            continue
        try:
            bucket, resized = bucketer.select(width, height)
        except BucketCrash as exc:
            crashed = True
            findings.append(rule("RA063").finding(r.record.abs_path, f"sd-scripts crashes making buckets: {exc}"))
            placed[key] = r
            continue
        placed[key] = Registered(r.record, r.subset, r.is_reg, r.num_repeats, bucket, resized)
    if crashed:
        return _result(ds, num_train, num_reg, reg_used, len(reg_list), placed, unused, reg,
                       order_dependent, None), findings, True
    if not params.enable_bucket and not opts.cache_latents:
        findings += _unbucketed_size_findings(placed.values(), params.resolution, opts.random_crop)

    train_n: dict[tuple[int, int], int] = defaultdict(int)
    reg_n: dict[tuple[int, int], int] = defaultdict(int)
    for r in placed.values():
        assert r.bucket is not None
        (reg_n if r.is_reg else train_n)[r.bucket] += r.num_repeats
    stats = []
    for reso in sorted(set(train_n) | set(reg_n)):
        total = train_n[reso] + reg_n[reso]
        stats.append(BucketStat(reso, train_n[reso], reg_n[reso], math.ceil(total / params.batch_size)))
    return _result(ds, num_train, num_reg, reg_used, len(reg_list), placed, unused, reg, order_dependent,
                   tuple(stats)), findings, False


def _unbucketed_size_findings(images, resolution: tuple[int, int], random_crop: bool) -> list[Finding]:
    # Without bucketing (and uncached latents), each loaded image must be exactly W x H after an
    # optional random crop: smaller fails 'image size is small', larger needs random_crop.
    w, h = resolution
    small, large = [], []
    for r in images:
        iw, ih = r.record.probe.width, r.record.probe.height
        if iw < w or ih < h:
            small.append(r)
        elif (iw > w or ih > h) and not random_crop:
            large.append(r)
    out = []
    for group, what, stop in ((small, "smaller than {} without --enable_bucket", "'image size is small'"),
                              (large, "larger than {} without --enable_bucket or --random_crop", "'image too large'")):
        if group:
            first = group[0].record
            out.append(rule("RA071").finding(
                first.abs_path,
                f"{len(group)} registered images are {what.format(f'{w}x{h}')} (e.g. {first.probe.width}x"
                f"{first.probe.height}): training stops with {stop} when it loads them"))
    return out


def _result(ds, num_train, num_reg, reg_used, reg_count, image_data, unused, reg, order_dependent,
            stats) -> DatasetPlan:
    batches = sum(s.batches for s in stats) if stats is not None else None
    return DatasetPlan(ds.index, ds.params, num_train, num_reg, reg_used, reg_count,
                       tuple(image_data.values()), unused, reg, order_dependent, stats, batches)
