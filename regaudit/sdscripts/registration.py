"""Registration and the reg balancing loop (spec §4), as DreamBoothDataset.__init__ does them.

Computed in closed form per image: the cost grows with the number of images, never with the
number of samples.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from ..model import Dataset, ImageRecord, Subset, compact


@compact
class Registered(NamedTuple):
    record: ImageRecord
    subset: Subset
    is_reg: bool
    num_repeats: int  # effective repeats after balancing
    bucket: tuple[int, int] | None = None
    resized: tuple[int, int] | None = None
    image_size: tuple | None = None  # as sd-scripts registers it (a cache file name may set it)
    from_cache: bool = False  # a latent cache file name set image_size
    load_error: str | None = None  # why sd-scripts fails when it first loads the image


_registered = Registered.of  # type: ignore[attr-defined]  # all fields, positionally (one per image)


@dataclass(frozen=True)
class RegBalance:
    """How the loop used the reg list: base repeats of the first ``prefix`` images in pass one,
    then ``extra`` more to every image and one more to the first ``remainder``."""

    prefix: int
    extra: int
    remainder: int
    overshoot: int  # reg samples used beyond the train samples


def reg_repeats(base: Sequence[int], target: int) -> tuple[list[int], RegBalance | None]:
    """Effective repeats of each reg image (0 = never registered) when the loop must reach
    ``target`` train samples: pass one takes each image's folder repeats until the target is
    met; later passes add 1 per image, round-robin from the start, until it is met."""
    out = [0] * len(base)
    if target <= 0 or not base:
        return out, None  # the loop never runs: no reg image is registered
    n = 0
    for i, k in enumerate(base):
        out[i] = k
        n += k
        if n >= target:
            return out, RegBalance(i + 1, 0, 0, n - target)
    extra, remainder = divmod(target - n, len(base))
    for i in range(len(base)):
        out[i] += extra + (1 if i < remainder else 0)
    return out, RegBalance(len(base), extra, remainder, 0)


def register(ds: Dataset) -> tuple[dict[str, Registered], int, int, list[tuple[ImageRecord, Subset]],
                                    list[int], RegBalance | None]:
    """DreamBoothDataset.__init__'s registration: train images at their folder's repeats, then the
    reg balancing loop. Returns image_data (path -> registration), the raw counts, the reg list and
    each reg image's effective repeats."""
    entries, *rest = registrations(ds)
    return (as_registered(entries), *rest)  # type: ignore[return-value]


Entry = tuple  # (ImageRecord, Subset, is_reg, effective repeats): a registration before its bucket


def as_registered(entries: dict[str, Entry]) -> dict[str, Registered]:
    return {key: _registered(img, s, is_reg, k, None, None, None, False, None)
            for key, (img, s, is_reg, k) in entries.items()}


def registrations(ds: Dataset) -> tuple[dict[str, Entry], int, int, list[tuple[ImageRecord, Subset]], list[int],
                                         RegBalance | None]:
    """register(), each registration as an Entry tuple (for a caller that makes its own records)."""
    entries: dict[str, Entry] = {}
    num_train = num_reg = 0
    reg_list: list[tuple[ImageRecord, Subset]] = []
    for s in ds.subsets:
        if s.config.is_reg:
            num_reg += s.samples
            reg_list.extend((img, s) for img in s.images)
        else:
            num_train += s.samples
            k = s.num_repeats
            for img in s.images:
                entries[img.path] = (img, s, False, k)
    repeats, reg = reg_repeats([s.num_repeats for _, s in reg_list], num_train)
    for (img, s), k in zip(reg_list, repeats):
        if k:
            entries[img.path] = (img, s, True, k)  # same path: the later one replaces
    return entries, num_train, num_reg, reg_list, repeats, reg
