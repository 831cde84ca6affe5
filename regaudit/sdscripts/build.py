"""The dataset build (spec §4-5): DreamBoothDataset.__init__'s checks and registration, then
BaseDataset.make_buckets (every image's size, its bucket, the batches), and the validation
dataset's build after the training datasets. Computed per image: the cost grows with the number
of images, never with the number of samples."""

from __future__ import annotations

import math
import os
from collections import defaultdict
from collections.abc import Sequence
from typing import NamedTuple

from ..model import Crash, Dataset, DatasetParams, ImageRecord, Subset
from ..safeio import here
from . import conditioning
from .datasets import validation_part
from .buckets import BucketCrash, Bucketer, adjust_min_max
from .plan import BalanceOptions, BucketStat, DatasetPlan, Reason, Stop, record_stop
from .registration import RegBalance, _registered, as_registered, registrations

_CAPTION_CRASH = {"empty_file": ("RA020", "AssertionError", "caption file is empty"),
                  "not_utf8": ("RA021", "UnicodeDecodeError", "caption file is not valid UTF-8"),
                  "unreadable": ("RA022", "PermissionError", "caption file cannot be opened")}


# library/utils.validate_interpolation_fn: the names a dataset's resize_interpolation may take (case-sensitive)
INTERPOLATIONS = ("lanczos", "nearest", "bilinear", "linear", "bicubic", "cubic", "area", "box")


def caption_crash(img: ImageRecord, building: str) -> Crash | None:
    """BaseDataset.read_caption: reading this image's caption stops sd-scripts while it builds
    ``building``."""
    if img.caption.error not in _CAPTION_CRASH:
        return None
    code, exc, what = _CAPTION_CRASH[img.caption.error]
    path = os.path.abspath(img.caption.path) if img.caption.path else img.abs_path
    return Crash("build", code, exc, path, f"{what}: sd-scripts stops while building {building}")


def construct_crash(ds: Dataset, stops: list[Stop]) -> Crash | None:
    """DreamBoothDataset.__init__: the resize interpolation (BaseDataset's), resolution required,
    bucket limits rounded and asserted, then per kept subset the latent cache names and every image's
    caption."""
    params = ds.params
    where = ds.subsets[0].abs_path if ds.subsets else here()
    if params.resize_interpolation is not None and params.resize_interpolation not in INTERPOLATIONS:
        # BaseDataset.__init__ (utils.validate_interpolation_fn), before DreamBoothDataset's own checks
        return record_stop(stops, Reason.RESIZE_INTERPOLATION, "build", "RA096", "AssertionError", where,
                           f'resize_interpolation "{params.resize_interpolation}" of dataset {ds.index} is not one of '
                           f'{", ".join(INTERPOLATIONS)}: sd-scripts stops while building the dataset ("is not a '
                           f'valid interpolation")')
    cn = conditioning.controlnet(ds)
    if cn and (crash := conditioning.random_crop_crash(ds, stops)) is not None:
        return crash
    if params.resolution is None:
        if ds.fine_tuning:  # FineTuningDataset has no assert: min() of its None width and height raises
            return record_stop(stops, Reason.NO_RESOLUTION, "build", "RA060", "TypeError", where,
                               f"dataset {ds.index} has no resolution; sd-scripts' FineTuningDataset stops with "
                               f"TypeError ('<' not supported between NoneType values)")
        return record_stop(stops, Reason.NO_RESOLUTION, "build", "RA060", "AssertionError", where,
                           f"dataset {ds.index} has no resolution; sd-scripts stops with 'resolution is required'")
    if params.enable_bucket:
        steps = params.bucket_reso_steps
        if steps == 0:
            return record_stop(stops, Reason.ZERO_BUCKET_STEPS, "build", "RA062", "ZeroDivisionError", where,
                               "bucket_reso_steps is 0: sd-scripts divides by it while building the dataset")
        lo, hi = adjust_min_max(params.min_bucket_reso, params.max_bucket_reso, steps)
        res = params.resolution
        if min(res) < lo or max(res) > hi:
            return record_stop(stops, Reason.RESOLUTION_OUTSIDE_LIMITS, "build", "RA061", "AssertionError", where,
                               f"resolution {res[0]}x{res[1]} is outside min/max_bucket_reso {lo}..{hi}: sd-scripts "
                               f"stops with an assertion while building dataset {ds.index}")
    if ds.stop is not None:  # its fine-tuning metadata (sdscripts.finetune)
        c = ds.stop
        return record_stop(stops, Reason.FINETUNING_METADATA, c.stage, c.code, c.exception, c.path, c.message)
    if ds.split_errors:
        where, error = ds.split_errors[0]
        return Crash("build", "RA008", "ValueError", where, error)
    for s in ds.subsets:
        if s.cache_error is not None:
            return Crash("build", "RA076", s.cache_error.split(":")[0], s.abs_path, s.cache_error)
        for img in s.images:
            crash = caption_crash(img, "the dataset")
            if crash is not None:
                return crash
    return conditioning.pairing_crash(ds, stops) if cn else None


def validation_crash(datasets: Sequence[Dataset], phase: str) -> Crash | None:
    """validation_split builds a validation dataset of the held-out train images after the training
    datasets: its constructors (captions) run after theirs ("construct"), its buckets (sizes) after
    theirs ("buckets")."""
    for ds in datasets:
        if phase == "construct" and ds.validation_errors:
            where, error = ds.validation_errors[0]
            return Crash("build", "RA076", error.split(":")[0], where, error)
        for s, images in validation_subsets(ds):
            if phase == "construct" and s.config.is_reg and s.cache_error:
                # the validation dataset reads every subset's cache names again, reg ones too
                return Crash("build", "RA076", s.cache_error.split(":")[0], s.abs_path, s.cache_error)
            for img in images:
                crash = caption_crash(img, "the validation dataset (an image held out for validation)") \
                    if phase == "construct" else None
                if crash is not None:
                    return crash
                if phase == "buckets":
                    failure = size_crash(img)
                    if failure is None and (img.probe.width <= 0 or img.probe.height <= 0):
                        failure = ("ZeroDivisionError", "its size reads as 0")
                    if failure is not None:
                        return Crash("build", "RA063", failure[0], img.abs_path,
                                     f"image held out for validation: {failure[1]}; sd-scripts stops while making "
                                     f"the validation dataset's buckets")
    return None


def validation_subsets(ds: Dataset) -> list[tuple[Subset, list[ImageRecord]]]:
    """The validation dataset's subsets in its order, with the images it reads of each: of a train
    subset the share split_train_val gives the validation dataset (subsets only it reads included),
    of a reg subset none."""
    share = ds.params.validation_split
    if not share > 0:
        return []
    subsets = list(ds.subsets)
    for position, subset in reversed(ds.validation_only):
        subsets.insert(position, subset)
    out: list[tuple[Subset, list[ImageRecord]]] = []
    for s in subsets:
        if s.config.is_reg:
            out.append((s, []))
        elif not s.images:  # read by the validation dataset only: held_out is its share already
            out.append((s, list(s.held_out)))
        else:
            listed = sorted((*s.images, *s.held_out), key=lambda r: r.path)  # glob_images' order
            out.append((s, validation_part(listed, share, ds.params.validation_seed)))
    return out


def size_crash(record: ImageRecord) -> tuple[str, str] | None:
    """(exception, message) where reading this image's size raises in sd-scripts (uncaught):
    BaseDataset.get_image_size / imagesize.get."""
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


class _Registration(NamedTuple):
    """DreamBoothDataset.__init__'s registration of one dataset, with what the reg loop left out."""

    entries: dict  # image_data, each registration an Entry tuple until it gets its bucket
    num_train: int
    num_reg: int
    reg_image_count: int
    reg_used: int
    unused: tuple[ImageRecord, ...]
    reg: RegBalance | None
    order_dependent: bool


def _register(ds: Dataset) -> _Registration:
    """DreamBoothDataset.__init__: train images at their folder's repeats, then the reg loop."""
    entries, num_train, num_reg, reg_list, repeats, reg = registrations(ds)
    unused = tuple(img for (img, _), k in zip(reg_list, repeats) if k == 0)
    reg_folders = sum(1 for s in ds.subsets if s.config.is_reg)
    # with several reg folders, the OS listing order decides which images are used, and which get
    # the one extra repeat of the last pass
    order_dependent = reg_folders > 1 and (bool(unused) or (reg is not None and reg.remainder > 0))
    return _Registration(entries, num_train, num_reg, len(reg_list), sum(repeats), unused, reg, order_dependent)


def _sizes(entries: dict, suffix: str, stops: list[Stop]) -> tuple[list, Crash | None]:
    """make_buckets, first half: every registered image's size (a latent cache name, else the
    header, else Pillow); the first size that cannot be read stops the build."""
    crash: Crash | None = None
    sizes = []
    for record, _, is_reg, _ in entries.values():
        probe = record.probe
        if record.cache_sizes:
            size, from_cache = record.trained_size(suffix)
        else:  # (the common case, without a call)
            size, from_cache = (probe.width, probe.height), False
        if not from_cache and (probe.error_kind is not None or probe.size_via == "crash"):
            failure = size_crash(record)
            if failure is not None and crash is None:
                exc, msg = failure
                crash = record_stop(stops, Reason.SIZE_UNREADABLE, "build", "RA063", exc, record.abs_path,
                                    f"registered {'reg' if is_reg else 'train'} image: reading its size raises {exc} "
                                    f"({msg}); sd-scripts stops while building the dataset")
        sizes.append((size, from_cache))
    return sizes, crash


def _select_buckets(entries: dict, sizes: list, bucketer: Bucketer | None, stops: list[Stop]) -> Crash | None:
    """make_buckets, second half: BucketManager.select_bucket for each image (``bucketer`` None:
    a size could not be read, so no bucket is chosen). Each entry is replaced by its Registered
    record in place (a million images are not held twice)."""
    crash: Crash | None = None
    chosen: dict = {}  # (typed) size -> (bucket, resized): sizes repeat
    for (key, (record, subset, is_reg, repeats)), (size, from_cache) in zip(entries.items(), sizes):
        bucket = resized = None
        if bucketer is not None:
            typed = (size, type(size[0]), type(size[1]))
            try:
                choice = chosen.get(typed)
                if choice is None:
                    choice = chosen[typed] = bucketer.select(*size)
                bucket, resized = choice
            except BucketCrash as exc:
                if crash is None:
                    crash = record_stop(stops, Reason.BUCKET_DIVISION, "build", "RA063", "ZeroDivisionError",
                                        record.abs_path,
                                        f"registered {'reg' if is_reg else 'train'} image: sd-scripts divides by zero "
                                        f"choosing its bucket ({exc}); it stops while building the dataset")
        entries[key] = _registered(record, subset, is_reg, repeats, bucket, resized, size, from_cache, None)
    return crash


def _batches(images, batch_size: int) -> tuple[BucketStat, ...]:
    """make_buckets' batch count: each bucket's samples in batches of batch_size."""
    train_n: dict[tuple[int, int], int] = defaultdict(int)
    reg_n: dict[tuple[int, int], int] = defaultdict(int)
    unique: dict[tuple[int, int], int] = defaultdict(int)
    for r in images:
        assert r.bucket is not None
        (reg_n if r.is_reg else train_n)[r.bucket] += r.num_repeats
        unique[r.bucket] += 1
    return tuple(BucketStat(reso, train_n[reso], reg_n[reso], math.ceil((train_n[reso] + reg_n[reso]) / batch_size),
                            unique[reso])
                 for reso in sorted(set(train_n) | set(reg_n)))


def plan_dataset(ds: Dataset, opts: BalanceOptions, where: str, stops: list[Stop]) -> tuple[DatasetPlan,
                                                                                             Crash | None]:
    """One dataset as sd-scripts builds it: the registration, the bucket limits, every image's size,
    its bucket, then the batches. ``buckets`` is None where the build stops before batching."""
    params: DatasetParams = ds.params
    where = ds.subsets[0].abs_path if ds.subsets else where
    reg = _register(ds)

    def result(images: dict, stats: tuple[BucketStat, ...] | None, limits=None) -> DatasetPlan:
        batches = sum(s.batches for s in stats) if stats is not None else None
        return DatasetPlan(ds.index, params, reg.num_train, reg.num_reg, reg.reg_used, reg.reg_image_count,
                           tuple(images.values()), reg.unused, reg.reg, reg.order_dependent, stats, batches,
                           ds.subsets, limits)

    # DreamBoothDataset.__init__ has already stopped without a resolution (RA060), with
    # bucket_reso_steps 0 (RA062) or with a resolution outside the bucket limits (RA061)
    if params.resolution is None:
        return result(as_registered(reg.entries), None), None
    min_reso, max_reso = params.min_bucket_reso, params.max_bucket_reso
    limits = None
    if params.enable_bucket:
        steps = params.bucket_reso_steps
        if steps == 0:
            return result(as_registered(reg.entries), None), None
        min_reso, max_reso = adjust_min_max(min_reso, max_reso, steps)  # as the constructor stores them
        limits = (min_reso, max_reso, steps)
        res = params.resolution
        if min(res) < min_reso or max(res) > max_reso:
            return result(as_registered(reg.entries), None, limits), None
        if not params.bucket_no_upscale and min_reso <= 0:  # make_bucket_resolutions divides by it
            return result(as_registered(reg.entries), None, limits), record_stop(
                stops, Reason.MIN_BUCKET_RESO, "build", "RA061", "ZeroDivisionError", where,
                f"min_bucket_reso {params.min_bucket_reso}: sd-scripts divides by it while making buckets")

    # make_buckets: every registered image's size first, then its bucket
    sizes, crash = _sizes(reg.entries, opts.trainer.cache_suffix, stops)
    bucketer = Bucketer(params.resolution, params.enable_bucket, params.bucket_no_upscale, min_reso, max_reso,
                        params.bucket_reso_steps) if crash is None else None
    bucket_crash = _select_buckets(reg.entries, sizes, bucketer, stops)
    del sizes
    crash = crash or bucket_crash
    if crash is not None:
        return result(reg.entries, None, limits), crash
    if params.batch_size <= 0 and reg.entries:
        return result(reg.entries, None, limits), record_stop(
            stops, Reason.BATCH_SIZE, "build", "RA061", "ZeroDivisionError", where,
            f"batch size {params.batch_size}: sd-scripts divides by it while making batches")
    return result(reg.entries, _batches(reg.entries.values(), params.batch_size), limits), None
