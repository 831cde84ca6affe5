"""The first load of each registered image (the first epoch, or latent caching): where sd-scripts
fails on pixels Pillow cannot read, a bucket of width 0, or, without bucketing and uncached, an
image that is not exactly the resolution (BaseDataset.load_image / trim_and_resize_if_required)."""

from __future__ import annotations

from collections.abc import Sequence

from ..model import DatasetParams
from .plan import BalanceOptions, DatasetPlan, LoadFailure
from .registration import Registered

_LOAD_EXCEPTIONS = {"not_a_file": "IsADirectoryError", "unreadable": "PermissionError"}


def load_error(r: Registered) -> str | None:
    """Why sd-scripts fails when it first loads this registered image ("Exception: message"), or None
    (train_util.load_image)."""
    probe = r.record.probe
    error = getattr(probe, "load_error", None) or probe.decode_error
    broken = probe.error_kind in ("zero_bytes", "not_a_file", "unreadable") or (
        probe.error_kind in ("no_size", "header_crash") and probe.format is None)  # Pillow cannot open it either
    if not error and r.from_cache and broken:
        # a cache file name gave the size, so sd-scripts never read the header; the file itself
        # still cannot be loaded
        error = f"{_LOAD_EXCEPTIONS.get(probe.error_kind, 'UnidentifiedImageError')}: {probe.error or 'cannot identify image file'}"
    return error


def unbucketed_problem(size, resolution, r: Registered) -> str | None:
    """trim_and_resize_if_required without bucketing: the image must be exactly the resolution after
    an optional random crop."""
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


def load_failure(r: Registered, params: DatasetParams, opts: BalanceOptions) -> tuple[str, str, str] | None:
    """(code, exception, message) where sd-scripts fails on this registered image when it first loads
    it (the first epoch, or latent caching), else None: pixels Pillow cannot read, a bucket of width
    0, or, without bucketing and uncached, an image that is not exactly the resolution."""
    error = load_error(r)
    if error:
        kind = getattr(r.record.probe, "load_error_kind", None)
        code = {"unopenable": "RA052", "too_large": "RA050", "no_image": "RA098"}.get(kind or "", "RA043")
        return code, error.split(":")[0] if ":" in error else "OSError", \
            f"sd-scripts fails when it first loads this image: {error}"
    if r.bucket is not None and r.bucket[0] == 0:
        return "RA074", "RuntimeError", (
            f"{'reg' if r.is_reg else 'train'} image {r.image_size[0]}x{r.image_size[1]} gets bucket "  # type: ignore[index]
            f"{r.bucket[0]}x{r.bucket[1]}: sd-scripts builds the dataset, then fails in the VAE when it first "
            f"encodes the image")
    if not params.enable_bucket and not opts.cache_latents and r.image_size and params.resolution:
        problem = unbucketed_problem(r.image_size, params.resolution, r)
        if problem:
            return "RA071", "AssertionError", problem
    return None


def fails_to_load(r: Registered, params: DatasetParams, opts: BalanceOptions) -> bool:
    return load_failure(r, params, opts) is not None


def load_failures(plans: Sequence[DatasetPlan], opts: BalanceOptions) -> tuple[LoadFailure, ...]:
    """Every registered image sd-scripts fails on when it first loads it, in the order it loads them
    (the first one stops the run): with latent caching, dataset by dataset, each one's images sorted
    by their bucket's area (BaseDataset.new_cache_latents: a stable sort of the registration order);
    uncached, in registration order (a shuffled first epoch draws them in no order regaudit can know)."""
    out = []
    said: dict[tuple, tuple] = {}
    for p in plans:
        plain_size = p.params.enable_bucket or opts.cache_latents  # (no exact-size check at load)
        found = []
        for r in p.images:
            probe = r.record.probe
            if plain_size and probe.load_error is None and probe.decode_error is None and probe.error_kind is None \
                    and (r.bucket is None or r.bucket[0] != 0):
                continue  # nothing for load_failure to find (the common case, checked without a call)
            failure = load_failure(r, p.params, opts)
            if failure is not None:
                failure = said.setdefault(failure, failure)  # (a million keys naming no file: one message)
                found.append((r.bucket[0] * r.bucket[1] if r.bucket else 0, LoadFailure(r.record.abs_path, *failure)))
        if opts.cache_latents:
            found.sort(key=lambda af: af[0])
        out += [f for _, f in found]
    return tuple(out)
