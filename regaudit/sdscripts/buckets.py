"""Aspect-ratio buckets exactly as sd-scripts' BucketManager computes them (spec §5).

Pure arithmetic on integer sizes. Python floats are IEEE doubles like numpy's float64, so the
nearest-aspect search gives the same bucket, ties included (the first, i.e. lowest (w, h)).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache


class BucketCrash(Exception):
    """sd-scripts raises while choosing this image's bucket (a division by zero)."""


def adjust_min_max(min_reso: int, max_reso: int, steps: int) -> tuple[int, int]:
    """DreamBoothDataset.adjust_min_max_bucket_reso_by_steps: min rounded down, max rounded up."""
    if min_reso % steps != 0:
        min_reso = min_reso - min_reso % steps
    if max_reso % steps != 0:
        max_reso = max_reso + steps - max_reso % steps
    return min_reso, max_reso


def predefined_resolutions(resolution: tuple[int, int], min_size: int, max_size: int,
                           steps: int) -> tuple[tuple[int, int], ...]:
    """model_util.make_bucket_resolutions: the square bucket plus one per width, both ways round."""
    max_area = resolution[0] * resolution[1]
    resos = {(int(math.sqrt(max_area) // steps) * steps,) * 2}
    width = min_size
    while width <= max_size:
        height = min(max_size, int((max_area // width) // steps) * steps)
        if height >= min_size:
            resos.add((width, height))
            resos.add((height, width))
        width += steps
    return tuple(sorted(resos))


@dataclass(frozen=True)
class Bucketer:
    """Chooses (bucket, resized size) for an image size, like BucketManager.select_bucket."""

    resolution: tuple[int, int]
    enable_bucket: bool
    no_upscale: bool
    min_size: int
    max_size: int
    steps: int

    @property
    def resos(self) -> tuple[tuple[int, int], ...]:
        return _resos(self.resolution, self.enable_bucket and not self.no_upscale,
                      self.min_size, self.max_size, self.steps)

    def select(self, width: int, height: int) -> tuple[tuple[int, int], tuple[int, int]]:
        return _select(self, width, height)


@lru_cache(maxsize=64)
def _resos(resolution, predefined, min_size, max_size, steps):
    if predefined:
        return predefined_resolutions(resolution, min_size, max_size, steps)
    return (tuple(resolution),)


def _round_to_steps(x: float, steps: int) -> int:
    v = int(x + 0.5)
    return v - v % steps


@lru_cache(maxsize=65536, typed=True)  # typed: a float size (an SVG's) may not take an int size's answer
def _select(b: Bucketer, width: int, height: int) -> tuple[tuple[int, int], tuple[int, int]]:
    if height == 0:
        raise BucketCrash(f"image size {width}x{height}: division by zero in the aspect ratio")
    aspect = width / height
    use_predefined = not (b.enable_bucket and b.no_upscale)
    if use_predefined:
        resos = b.resos
        reso = (width, height)
        if any(h == 0 for _, h in resos):
            raise BucketCrash(f"resolution {b.resolution[0]}x{b.resolution[1]} has a side of 0 (division by zero)")
        if reso not in resos:
            errors = [abs(w / h - aspect) for w, h in resos]
            reso = resos[errors.index(min(errors))]  # numpy argmin: the first minimum
        if aspect > reso[0] / reso[1]:
            scale = reso[1] / height
        else:
            if width == 0:
                raise BucketCrash(f"image size {width}x{height}: division by zero when scaling")
            scale = reso[0] / width
        resized = (int(width * scale + 0.5), int(height * scale + 0.5))
    else:
        max_area = b.resolution[0] * b.resolution[1]
        if width * height > max_area:
            rw = math.sqrt(max_area * aspect)
            rh = max_area / rw
            bw = _round_to_steps(rw, b.steps)
            bh_w = _round_to_steps(bw / aspect, b.steps)
            if bh_w == 0:
                raise BucketCrash(f"image size {width}x{height}: aspect ratio {aspect:.1f} rounds a side to 0 "
                                  f"at {b.resolution[0]}x{b.resolution[1]} (division by zero)")
            bh = _round_to_steps(rh, b.steps)
            bw_h = _round_to_steps(bh * aspect, b.steps)
            if bh == 0:
                raise BucketCrash(f"image size {width}x{height}: aspect ratio {aspect:.1f} rounds a side to 0 "
                                  f"at {b.resolution[0]}x{b.resolution[1]} (division by zero)")
            if abs(bw / bh_w - aspect) < abs(bw_h / bh - aspect):
                resized = (bw, int(bw / aspect + 0.5))
            else:
                resized = (int(bh * aspect + 0.5), bh)
        else:
            resized = (width, height)
        reso = (resized[0] - resized[0] % b.steps, resized[1] - resized[1] % b.steps)
    if b.enable_bucket and reso[1] == 0:
        raise BucketCrash(f"image size {width}x{height} gives bucket {reso[0]}x{reso[1]}: "
                          f"division by zero (the image is shorter than bucket_reso_steps {b.steps})")
    return reso, resized
