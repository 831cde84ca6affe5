"""musubi-tuner's ``dataset/bucket.py``: ``BucketSelector`` (one bucket set per architecture step,
from sqrt(area)/2 to sqrt(area); the nearest aspect ratio wins; with bucket_no_upscale an image no
larger than the area keeps its size rounded down to the step) and ``media_utils.divisible_by``."""

from __future__ import annotations

import math
from functools import lru_cache


def divisible_by(num: int, divisor: int) -> int:
    """media_utils.divisible_by."""
    return num - num % divisor


class BucketSelector:
    """bucket.BucketSelector (reso_steps from the architecture's module)."""

    def __init__(self, resolution: tuple[int, int], enable_bucket: bool, no_upscale: bool, reso_steps: int):
        self.resolution = tuple(resolution)
        self.bucket_area = resolution[0] * resolution[1]
        self.reso_steps = reso_steps
        if not enable_bucket:
            self.bucket_resolutions = [self.resolution]
            self.no_upscale = False
        else:
            self.no_upscale = no_upscale
            sqrt_size = int(math.sqrt(self.bucket_area))
            min_size = divisible_by(sqrt_size // 2, reso_steps)
            found = set()
            for w in range(min_size, sqrt_size + reso_steps, reso_steps):
                h = divisible_by(self.bucket_area // w, reso_steps)
                found.add((w, h))
                found.add((h, w))
            self.bucket_resolutions = sorted(found)
        # numpy float64 division and subtraction are Python float's: the same argmin
        self.aspect_ratios = [w / h for w, h in self.bucket_resolutions]

    def get_bucket_resolution(self, image_size: tuple[int, int]) -> tuple[int, int]:
        """BucketSelector.get_bucket_resolution: (width, height)."""
        area = image_size[0] * image_size[1]
        if self.no_upscale and area <= self.bucket_area:
            return divisible_by(image_size[0], self.reso_steps), divisible_by(image_size[1], self.reso_steps)
        aspect_ratio = image_size[0] / image_size[1]
        errors = [abs(a - aspect_ratio) for a in self.aspect_ratios]
        return self.bucket_resolutions[errors.index(min(errors))]


@lru_cache(maxsize=64)
def selector(resolution: tuple[int, int], enable_bucket: bool, no_upscale: bool, reso_steps: int) -> BucketSelector:
    """The BucketSelector of these values, made once (it is never changed: 100,000 datasets of one
    resolution share one)."""
    return BucketSelector(resolution, enable_bucket, no_upscale, reso_steps)


DIVISION = "integer division or modulo by zero"  # BucketSelector.__init__'s ZeroDivisionError (bucket_area // 0)


def divides_by_zero(resolution: tuple[int, int], enable_bucket: bool, reso_steps: int) -> bool:
    """Whether BucketSelector(resolution, enable_bucket, ...) raises ZeroDivisionError: with buckets,
    its first width is int(sqrt(area)) // 2 rounded down to the step, and it divides the area by it."""
    return bool(enable_bucket) and divisible_by(int(math.sqrt(resolution[0] * resolution[1])) // 2, reso_steps) == 0
