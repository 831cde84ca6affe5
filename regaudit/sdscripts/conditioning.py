"""ControlNetDataset.__init__ (train_util): a dataset whose subsets all name a
``conditioning_data_dir`` (the ControlNet trainers, and the DreamBooth trainers with --masked_loss)
is a DreamBooth dataset of its image folders (is_reg False, no class tokens) plus one conditioning
image per image, found by file stem. Its asserts stop the build; returned as the ``Crash``."""

from __future__ import annotations

import os

from ..model import Crash, Dataset
from .plan import Reason, Stop, record_stop
from .layout import GLOB_EXTENSIONS, is_globbed


def controlnet(ds: Dataset) -> bool:
    return bool(ds.subsets) and all(s.config.conditioning_data_dir is not None for s in ds.subsets)


def random_crop_crash(ds: Dataset, stops: list[Stop]) -> Crash | None:
    """ControlNetDataset.__init__'s first assert, before its DreamBooth delegate is built."""
    for s in ds.subsets:
        if s.config.random_crop:
            return record_stop(stops, Reason.CONDITIONING, "build", "RA093", "AssertionError", s.abs_path,
                         "random_crop is on for a subset with conditioning_data_dir: sd-scripts stops while building "
                         "the dataset ('random_crop is not supported in ControlNetDataset')")
    return None


def pairing_crash(ds: Dataset, stops: list[Stop]) -> Crash | None:
    """After the delegate: every registered image needs a conditioning image of the same stem
    (glob_images(conditioning_data_dir, stem)), and no conditioning image may be left without one."""
    missing: list[str] = []
    paired: set[str] = set()
    seen: set[str] = set()
    for s in ds.subsets:
        cond = str(s.config.conditioning_data_dir)
        for img in s.images:
            if img.abs_path in seen:
                continue  # one registration per path
            seen.add(img.abs_path)
            if not os.path.isdir(cond):
                continue  # sd-scripts logs "not directory" and goes on
            stem = os.path.splitext(os.path.basename(img.abs_path))[0]
            hits = [os.path.join(cond, stem + ext) for ext in GLOB_EXTENSIONS if os.path.exists(os.path.join(cond, stem + ext))]
            if not hits:
                missing.append(stem)
                continue
            paired.add(os.path.splitext(os.path.abspath(hits[0]))[0])
    if missing:
        return _stop(ds, stops, missing, "images have no conditioning image of the same name", "missing")
    extra: list[str] = []
    for s in ds.subsets:
        cond = str(s.config.conditioning_data_dir)
        try:
            names = sorted(os.listdir(cond))
        except OSError:
            continue
        extra += [n for n in names if is_globbed(n) and os.path.splitext(os.path.abspath(os.path.join(cond, n)))[0]
                  not in paired]
    if extra:
        return _stop(ds, stops, extra, "conditioning images match no image", "extra")
    return None


def _stop(ds, stops, names: list[str], what: str, word: str):
    """The AssertionError ControlNetDataset raises on ``names`` ('missing' or 'extra' conditioning data)."""
    where = os.path.abspath(str(ds.subsets[0].config.conditioning_data_dir))
    return record_stop(stops, Reason.CONDITIONING, "build", "RA093", "AssertionError", where,
                       f"{len(names)} {what} ({', '.join(names[:5])}{' …' if len(names) > 5 else ''}): sd-scripts "
                       f"stops while building the dataset ('{word} conditioning data for {len(names)} images')")
