"""One musubi-tuner command over its dataset config: per image dataset the listing, the drops,
the caching runs' first crash, and the two training answers (after caching now; from the caches on
disk), then the steps and the stop the command makes first. Facts only."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, Optional

from . import archs, config, listing, training
from ..limits import MAX_RESO
from .buckets import DIVISION, divides_by_zero, selector as bucket_selector

VIDEO_ARCHS = frozenset(a.short for a in archs.ARCHS.values() if a.video)


@dataclass(frozen=True)
class Stop:
    stage: str  # config | cache_latents | cache_text_encoder_outputs | build_dataset
    kind: str  # what happened (rules map it to a code)
    exception: str
    path: str
    message: str


@dataclass(frozen=True)
class DatasetFacts:
    params: config.DatasetParams
    simulated: bool
    note: Optional[str] = None
    images: tuple[listing.Listed, ...] = ()
    dropped: tuple[listing.Dropped, ...] = ()
    te_collisions: dict = field(default_factory=dict)  # te cache name -> image paths sharing it
    latent_collisions: dict = field(default_factory=dict)  # latent cache name -> image paths sharing it
    latent_stop: Optional[Stop] = None  # where *_cache_latents.py stops
    te_stop: Optional[Stop] = None  # where *_cache_text_encoder_outputs.py stops
    after: Optional[training.TrainView] = None
    existing: Optional[training.TrainView] = None
    orphans: tuple[str, ...] = ()  # latent caches on disk that no listed image makes
    stale: tuple[str, ...] = ()  # latent caches whose stored size does not fit the bucket they train in
    zero_buckets: tuple[str, ...] = ()  # images whose bucket has a zero side


@dataclass(frozen=True)
class MusubiRun:
    arch: archs.Arch
    role: str  # train_network | cache_latents | cache_text_encoder_outputs | cache_pixel
    dataset_config: str
    datasets: tuple[DatasetFacts, ...] = ()
    config_stop: Optional[Stop] = None
    after_steps: Optional[training.Steps] = None
    from_steps: Optional[training.Steps] = None
    no_items_after: bool = False
    no_items_from: bool = False
    stop: Optional[Stop] = None  # the first stop the command itself makes
    notes: tuple[str, ...] = ()


NO_ITEMS = ("No training items found in the dataset. Please ensure that the latent/Text Encoder cache has been "
            "created beforehand.")


Each = Callable[[Callable[[Any], Any], list], list]  # (fn, items) -> [fn(item) for item in items], in order


def _in_order(fn: Callable[[Any], Any], items: list) -> list:
    return [fn(item) for item in items]


def simulate(arch: archs.Arch, role: str, dataset_config: str, max_train_epochs: Optional[int] = None,
             max_train_steps: int = 1600, accumulation: int = 1, num_processes: int = 1,
             parse: config.Parse = config.parse_file, each: Each = _in_order) -> MusubiRun:
    """What ``role`` (trainer or caching script) of ``arch`` makes of ``dataset_config``. ``parse``
    reads the config (config.parse_file); ``each`` works the datasets, one at a time, in order (a
    caller may spread them over processes: views.musubi)."""
    cfg = config.read(dataset_config, arch.short, VIDEO_ARCHS, parse)
    if cfg.stop:
        s = cfg.stop
        stop = Stop("config", s.kind, s.exception, s.path, s.message)
        return MusubiRun(arch, role, dataset_config, config_stop=stop, stop=stop)
    facts = tuple(each(partial(dataset_facts, arch=arch), list(cfg.datasets)))
    notes = []
    simulated = all(d.simulated for d in facts)
    if not simulated:
        notes.append("video datasets, image_jsonl_file, control_directory and multiple_target datasets are not "
                     "simulated yet: their images are not listed and the step figures are left out")
    after_batches = sum(d.after.batches for d in facts if d.after)
    after_items = sum(d.after.num_train_items for d in facts if d.after)
    after_crash = any(d.after and d.after.crash for d in facts)  # (training stops whatever the caches hold)
    from_crash = next((d for d in facts if d.existing and d.existing.crash), None)
    from_batches = sum(d.existing.batches for d in facts if d.existing and not d.existing.crash)
    from_items = sum(d.existing.num_train_items for d in facts if d.existing and not d.existing.crash)
    step = lambda b: training.steps(b, max_train_epochs, max_train_steps, accumulation, num_processes)  # noqa: E731
    after_steps = step(after_batches) if simulated and after_items and not after_crash else None
    from_steps = step(from_batches) if simulated and from_items and not from_crash else None
    stop = None
    if role in ("cache_latents", "cache_pixel"):
        stop = next((d.latent_stop for d in facts if d.latent_stop), None)
    elif role == "cache_text_encoder_outputs":
        stop = next((d.te_stop for d in facts if d.te_stop), None)
    elif from_crash is not None:
        exc, msg, path, kind = from_crash.existing.crash
        stop = Stop("build_dataset", kind, exc, path, msg)
    elif simulated and from_items == 0:
        stop = Stop("build_dataset", "no-items", "ValueError", dataset_config, NO_ITEMS)
    return MusubiRun(arch, role, dataset_config, facts, None, after_steps, from_steps,
                     simulated and after_items == 0 and not after_crash, simulated and from_items == 0 and not from_crash,
                     stop,
                     tuple(notes))


def _unsimulated_numbers(p: config.DatasetParams) -> str | None:
    """A batch size or resolution musubi cannot run with (it divides by them, or enumerates buckets up
    to the resolution: 10**29 never ends), named; None when they are in range."""
    batch = p.batch_size
    if isinstance(batch, (int, float)) and not isinstance(batch, bool) and not 1 <= batch <= 1 << 20:
        return f"batch_size {batch}"
    for side in p.resolution:
        if not (isinstance(side, (int, float)) and 1 <= side <= MAX_RESO):
            return f"resolution {list(p.resolution)} (each side 1..{MAX_RESO})"
    return None


def dataset_facts(p: config.DatasetParams, arch: archs.Arch) -> DatasetFacts:
    """One image dataset as musubi lists, caches and trains it (ImageDataset: its datasource's
    listing, the caching scripts' run over it, prepare_for_training after caching and from the
    caches on disk); a video dataset or an unsimulated kind only says so."""
    if not p.is_image:
        return DatasetFacts(p, False, "video dataset: not simulated yet")
    unsupported = [k for k in ("control_directory", "multiple_target") if p.values.get(k)]
    if p.image_directory is None:
        unsupported.insert(0, "image_jsonl_file")
    if unsupported:
        return DatasetFacts(p, False, f"{', '.join(unsupported)}: not simulated yet")
    res = tuple(p.resolution)
    # (a side of 0 with buckets divides by zero too; a larger, out-of-range one is not simulated)
    sides_ok = len(res) == 2 and all(isinstance(v, int) and 0 <= v <= MAX_RESO for v in res)
    division = sides_ok and divides_by_zero(res, p.enable_bucket, arch.reso_steps)
    odd = None if division else _unsimulated_numbers(p)
    if odd:
        return DatasetFacts(p, False, f"{odd}: not simulated (musubi divides by it or enumerates buckets up to it; "
                                      f"give a value in range)")
    # latent caching and training build a BucketSelector before any image: one that divides by zero stops both
    selector = None if division else bucket_selector(res, p.enable_bucket, p.bucket_no_upscale, arch.reso_steps)
    images = listing.list_images(p.image_directory, p.caption_extension, p.cache_directory, arch.short, selector)
    dropped = listing.dropped(p.image_directory, [im.path for im in images], p.caption_extension)
    te_groups: dict = {}
    lat_groups: dict = {}
    for im in images:
        te_groups.setdefault(os.path.basename(im.te_cache), []).append(im.path)
        if im.latent_cache:
            lat_groups.setdefault(os.path.basename(im.latent_cache), []).append(im.path)
    # the caching runs, image by image in listing order: Image.open, then get_caption, then the resize
    latent_stop = te_stop = None
    if division:
        latent_stop = Stop("cache_latents", "bucket-division", "ZeroDivisionError", p.image_directory, DIVISION)
    zero = []
    for im in images:
        if im.bucket is not None and 0 in im.bucket:
            zero.append(im.path)
        if latent_stop is None:
            if im.image_error:
                latent_stop = _stop("cache_latents", "image-unreadable", im.image_error, im.path)
            elif im.caption_error:
                latent_stop = _stop("cache_latents", _caption_kind(im), im.caption_error, im.path)
            elif im.bucket == (0, 0):
                # media_utils.resize_image_to_bucket: scale 0 -> cv2.resize(image, (0, 0)) (opencv-python-headless
                # 4.10.0.84, musubi's pin; the text as the oracle printed it, without its trailing newline)
                latent_stop = Stop("cache_latents", "zero-bucket", "cv2.error", im.path,
                                   "OpenCV(4.10.0) /io/opencv/modules/imgproc/src/resize.cpp:4155: error: "
                                   "(-215:Assertion failed) inv_scale_x > 0 in function 'resize'")
        if te_stop is None and im.caption_error:
            te_stop = _stop("cache_text_encoder_outputs", _caption_kind(im), im.caption_error, im.path)
    # after caching: the files the caching runs write (old ones removed: no --keep_cache)
    cacheable = [im for im in images if im.ok]
    lat_names = sorted({os.path.basename(im.latent_cache) for im in cacheable})
    te_names = {os.path.basename(im.te_cache) for im in cacheable}
    after = training.prepare_for_training(lat_names, te_names, "", p, arch.short, arch.reso_steps, False)
    on_disk, te_disk = training.existing_caches(p.cache_directory, arch.short)
    existing = training.prepare_for_training(on_disk, te_disk, p.cache_directory, p, arch.short, arch.reso_steps, True)
    made = {os.path.basename(im.latent_cache) for im in images if im.latent_cache}
    orphans = tuple(n for n in on_disk if n not in made)
    stale = []
    if arch.latent_factor:
        for it in existing.items:
            if it.latent_shape and len(it.latent_shape) >= 2:
                h, w = it.latent_shape[-2:]
                if (w * arch.latent_factor, h * arch.latent_factor) != tuple(it.bucket[:2]):
                    stale.append(it.latent_cache)
    return DatasetFacts(p, True, None, tuple(images), tuple(dropped),
                        {k: v for k, v in te_groups.items() if len(v) > 1},
                        {k: v for k, v in lat_groups.items() if len(v) > 1},
                        latent_stop, te_stop, after, existing, orphans, tuple(stale), tuple(zero))


def _caption_kind(im: listing.Listed) -> str:
    return "no-caption-extension" if im.caption_error.startswith("FileNotFoundError") and "''" in im.caption_error \
        else "caption-unreadable"


def _stop(stage: str, kind: str, error: str, path: str) -> Stop:
    exc, _, msg = error.partition(": ")
    return Stop(stage, kind, exc, path, msg)
