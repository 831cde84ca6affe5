"""Latent cache files beside the images (spec §5, §10.2): '<prefix>_<WWWW>x<HHHH><suffix>' set an
image's size in the real trainers, matched by path prefix in one sorted merge walk per subset
(train_util.load_dreambooth_dir with a latents caching strategy installed).

Two quirks are reproduced on purpose: the cache files are found by ``glob`` on the subset folder
string with no escaping (a folder named ``1_x[1]`` finds none), and the size is read from the whole
path's last-but-one ``_`` piece, so a name without a size raises ValueError while the dataset is
built.
"""

from __future__ import annotations

import glob
import os

# cache file suffix of every trainer family
SUFFIXES = ("_sd.npz", "_sdxl.npz", "_sd3.npz", "_flux.npz", "_lumina.npz")


class CacheNameError(Exception):
    """sd-scripts raises reading the size out of this cache file's name (message as Python's)."""

    def __init__(self, npz_path: str, exc: Exception):
        super().__init__(f"{type(exc).__name__}: {exc}")
        self.npz_path = npz_path
        self.exception = type(exc).__name__
        self.detail = str(exc)


def size_from_name(npz_path: str) -> tuple[int, int]:
    """strategy_base.get_image_size_from_disk_cache_path, the same expressions (raises as it does)."""
    w, h = os.path.splitext(npz_path)[0].split("_")[-2].split("x")
    return int(w), int(h)


def find_cache_files(image_dir: str, suffix: str) -> list[str]:
    """glob.glob(os.path.join(image_dir, '*' + suffix)): the pattern is not escaped."""
    try:
        return glob.glob(os.path.join(image_dir, "*" + suffix))
    except (OSError, ValueError, RecursionError):
        return []


def cache_sizes(image_dir: str, image_paths: list[str], suffix: str) -> list[tuple[int, int] | None]:
    """The size each image (sorted sd-scripts path strings) takes from a latent cache file, or None.
    Raises CacheNameError where sd-scripts raises on a matched file's name."""
    npz = find_cache_files(image_dir, suffix)
    if not npz:
        return [None] * len(image_paths)
    npz.sort(key=lambda p: p.rsplit("_", maxsplit=2)[0])  # by name without resolution and suffix
    out: list[tuple[int, int] | None] = []
    k = 0
    for img in image_paths:
        n = len(os.path.splitext(img)[0])
        found = False
        while k < len(npz):
            if npz[k][:n] > img[:n]:
                break  # sorted: no cache file for this image
            if npz[k][:n] == img[:n]:  # prefix match: 'c.png' can take 'cd_0768x0320_sd.npz'
                found = True
                break
            k += 1
        if not found:
            out.append(None)
            continue
        try:
            out.append(size_from_name(npz[k]))
        except ValueError as exc:
            raise CacheNameError(npz[k], exc) from None
    return out


# SdSdxlLatentsCachingStrategy still reads an old '<stem>.npz' when one exists
OLD_NPZ_SUFFIXES = ("_sd.npz", "_sdxl.npz")


def latents_npz_path(absolute_path: str, image_size: tuple[int, int], suffix: str) -> str:
    """The latents cache file a trainer with ``suffix`` reads and writes for an image
    (<Strategy>LatentsCachingStrategy.get_latents_npz_path, the SD/SDXL one with its old '.npz')."""
    stem = os.path.splitext(absolute_path)[0]
    if suffix in OLD_NPZ_SUFFIXES and os.path.exists(stem + ".npz"):
        return stem + ".npz"
    return stem + f"_{image_size[0]:04d}x{image_size[1]:04d}" + suffix


class StaleCache(tuple):
    """An image written after the latents cache file sd-scripts reads for it: (image, npz,
    seconds the image is newer)."""

    __slots__ = ()

    def __new__(cls, image: str, npz: str, newer_by: float):
        return super().__new__(cls, (image, npz, newer_by))

    image = property(lambda self: self[0])
    npz = property(lambda self: self[1])
    newer_by = property(lambda self: self[2])


def stale_caches(images, suffix: str) -> list[StaleCache]:
    """Of ``images`` ((absolute path, registered size) pairs), those modified after the cache file
    BaseDataset.cache_latents looks up with cache_latents_to_disk (and keeps, without looking at the
    image again, when its latents' shape fits the bucket)."""
    out = []
    for path, size in images:
        if not size or not all(type(n) is int for n in size):
            continue  # (a float size, an SVG's as imagesize reads it: no cache file name sd-scripts formats)
        npz = latents_npz_path(path, size, suffix)
        try:
            npz_time = os.stat(npz).st_mtime
            image_time = os.stat(path).st_mtime
        except (OSError, ValueError):
            continue  # no cache file: sd-scripts encodes the image
        if image_time > npz_time:
            out.append(StaleCache(path, npz, image_time - npz_time))
    return out
