"""Latent cache files beside the images (spec §5): '<prefix>_<WWWW>x<HHHH><suffix>' set an image's
size in the real trainers, matched by path prefix in one sorted merge walk per subset
(train_util.load_dreambooth_dir with a latents caching strategy)."""

from __future__ import annotations

import os

# cache file suffix per trainer family
SUFFIXES = ("_sd.npz", "_sdxl.npz", "_sd3.npz", "_flux.npz")


def _size_from_name(npz_path: str) -> tuple[int, int] | None:
    try:
        w, h = os.path.splitext(npz_path)[0].split("_")[-2].split("x")
        return int(w), int(h)
    except ValueError:
        return None


def cache_sizes(glob_dir: str, names: frozenset[str], image_paths: list[str], suffix: str) -> list[tuple[int, int] | None]:
    """The size each image (sorted sd-scripts path strings) takes from a latent cache file, or None."""
    npz = [os.path.join(glob_dir, n) for n in names if n.endswith(suffix) and not n.startswith(".")]
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
        out.append(_size_from_name(npz[k]) if found else None)
    return out
