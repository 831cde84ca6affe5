"""What musubi-tuner's trainer builds from cache files (``ImageDataset.prepare_for_training`` and
``BucketBatchManager``, through ``trainer_base._build_dataset``), for the caches a caching run would
write now and for those on disk; and the steps (``_build_optimizer_and_dataloader``, ``train``).
Only cache files train: the trainer globs ``*_{arch}.safetensors``, reads the image size from each
name and skips a latent without its ``{key}_{arch}_te.safetensors``."""

from __future__ import annotations

import fnmatch
import json
import math
import os
import struct
from dataclasses import dataclass, field
from typing import Optional

from .buckets import DIVISION, BucketSelector, divides_by_zero, selector as bucket_selector
from .listing import glob_all


@dataclass(frozen=True)
class CacheItem:
    latent_cache: str  # file name
    item_key: str
    size: tuple[int, int]
    bucket: tuple
    te_cache: str  # file name
    latent_shape: Optional[tuple[int, ...]] = None  # (…, H, W) from the header, real caches only


@dataclass(frozen=True)
class TrainView:
    """One dataset as the trainer builds it from a set of cache files."""

    items: tuple[CacheItem, ...] = ()
    skipped: tuple[str, ...] = ()  # latent names without their text-encoder cache
    buckets: tuple[tuple[tuple, int, int], ...] = ()  # (bucket key, count with repeats, batches)
    crash: Optional[tuple[str, str, str, str]] = None  # (exception, message, path, kind)
    unreadable: tuple[str, ...] = field(default_factory=tuple)

    @property
    def num_train_items(self) -> int:
        return sum(count for _, count, _ in self.buckets)

    @property
    def batches(self) -> int:
        return sum(b for _, _, b in self.buckets)


def parse_size(name: str) -> tuple[Optional[tuple[int, int]], Optional[tuple[str, str]]]:
    """prepare_for_training's name parsing: tokens[-2] split on 'x', each int() (a stray
    'notes_qi.safetensors' is ValueError: int('notes'))."""
    tokens = name.split("_")
    try:
        width, height = map(int, tokens[-2].split("x"))
    except (ValueError, IndexError) as exc:
        return None, (type(exc).__name__, str(exc))
    return (width, height), None


def latent_keys(path: str) -> tuple[Optional[list[str]], Optional[tuple[str, str]]]:
    """safetensors_utils.find_keys(path, starts_with='latents_'): the header's keys, sorted."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
            (n,) = struct.unpack("<Q", head)
            size = os.fstat(f.fileno()).st_size
            header = json.loads(f.read(min(n, max(size - 8, 0))).decode("utf-8"))
        keys = [k for k in header.keys() if k != "__metadata__"]
    except (OSError, struct.error, UnicodeDecodeError, ValueError, AttributeError) as exc:
        return None, (type(exc).__name__, str(exc))
    return sorted(k for k in keys if k.startswith("latents_")), None


def main_latent_shape(keys: list[str]) -> Optional[tuple[int, ...]]:
    """The main latent's shape from its key name (latents_{F}x{H}x{W}_{dtype} or latents_{H}x{W}_…)."""
    for key in keys:
        parts = key.split("_")
        if len(parts) >= 3 and parts[0] == "latents" and "x" in parts[1]:
            try:
                return tuple(int(t) for t in parts[1].split("x"))
            except ValueError:
                continue
    return None


def _bucket_key(size, selector: BucketSelector, params, arch, control_shapes: list[str]) -> tuple:
    key = tuple(selector.get_bucket_resolution(size))
    if arch in ("fp", "wan"):  # split by latent window size and the one-frame options
        key = key + (params.fp_latent_window_size,)
        if params.fp_1f_clean_indices is not None:
            key = key + (len(params.fp_1f_clean_indices), params.fp_1f_no_post)
    if control_shapes:
        key = key + tuple(control_shapes)
    return key


def _control_shapes(keys: list[str]) -> list[str]:
    """model_utils.remove_dtype_suffix on each latents_control_ key (index + shape)."""
    out = []
    for key in keys:
        if key.startswith("latents_control_"):
            out.append(key.rsplit("_", 1)[0] if not key.endswith(("e4m3fn", "e5m2")) else key.rsplit("_", 2)[0])
    return out


def prepare_for_training(latent_names: list[str], te_names: set[str], cache_directory: str, params, arch: str,
                         reso_steps: int, read_headers: bool) -> TrainView:
    """ImageDataset.prepare_for_training over these latent file names (in glob order; counts do not
    depend on it)."""
    if divides_by_zero(tuple(params.resolution), params.enable_bucket, reso_steps):  # (the selector comes first)
        where = params.values.get("image_directory") or cache_directory
        return TrainView(crash=("ZeroDivisionError", DIVISION, where, "bucket-division"))
    selector = bucket_selector(tuple(params.resolution), params.enable_bucket, params.bucket_no_upscale, reso_steps)
    buckets: dict[tuple, list[CacheItem]] = {}
    skipped = []
    for name in latent_names:
        size, bad = parse_size(name)
        path = os.path.join(cache_directory, name)
        if bad:
            return TrainView(crash=(bad[0], bad[1], path, "bad-cache-name"))
        item_key = "_".join(name.split("_")[:-2])
        te = f"{item_key}_{arch}_te.safetensors"
        if te not in te_names:
            skipped.append(name)
            continue
        shape, controls = None, []
        if read_headers:
            keys, err = latent_keys(path)
            if err:
                return TrainView(crash=(err[0], err[1], path, "bad-cache-file"))
            controls = _control_shapes(keys)
            shape = main_latent_shape(keys)
        if size[1] == 0:
            return TrainView(crash=("ZeroDivisionError", "division by zero", path, "bad-cache-name"))
        key = _bucket_key(size, selector, params, arch, controls)
        buckets.setdefault(key, []).append(CacheItem(name, item_key, size, key, te, shape))
    rows = tuple((key, len(v) * params.num_repeats, math.ceil(len(v) * params.num_repeats / params.batch_size))
                 for key, v in sorted(buckets.items(), key=lambda kv: _sortable(kv[0])))
    items = tuple(sorted((it for v in buckets.values() for it in v), key=lambda it: it.latent_cache))
    return TrainView(items, tuple(sorted(skipped)), rows)


def _sortable(key: tuple) -> tuple:
    return tuple((0, v) if isinstance(v, (int, bool)) else (1, str(v)) for v in key)


def existing_caches(cache_directory: str, arch: str) -> tuple[list[str], set[str]]:
    """BaseDataset.get_all_latent_cache_files / get_all_text_encoder_output_cache_files (the cache
    directory is a glob pattern here, unescaped, as in musubi)."""
    # (listed once, each pattern matched against the names as glob matches them: fnmatch.filter)
    names = [name for name, _ in glob_all(cache_directory)]
    lat = fnmatch.filter(names, f"*_{arch}.safetensors")
    te = set(fnmatch.filter(names, f"*_{arch}_te.safetensors"))
    return sorted(lat), te


@dataclass(frozen=True)
class Steps:
    batches_per_epoch: int
    max_train_steps: int
    source: str  # max_train_epochs | max_train_steps
    update_steps_per_epoch: int
    epochs: int


def steps(batches: int, max_train_epochs: Optional[int], max_train_steps: int, accumulation: int,
          num_processes: int) -> Optional[Steps]:
    """trainer_base: len(DataLoader(batch_size=1)) = the datasets' batches; max_train_epochs gives
    epochs * ceil(len / processes / accumulation); then epochs = ceil(steps / ceil(len / accumulation))."""
    if batches == 0:
        return None
    if max_train_epochs is not None:
        total, source = max_train_epochs * math.ceil(batches / num_processes / accumulation), "max_train_epochs"
    else:
        total, source = max_train_steps, "max_train_steps"
    per_epoch = math.ceil(batches / accumulation)
    return Steps(batches, total, source, per_epoch, math.ceil(total / per_epoch))
