"""The ranges a number may take wherever the user gives one (policy, command line, config).

A zero or negative batch size divides by zero; a resolution of 10**9 makes the bucket
enumeration run for hours. sd-scripts itself would stop on most of these (or train nonsense);
regaudit says so at once, naming the value and the range. The bounds are generous: every real
training run lies far inside them.
"""

from __future__ import annotations

import math

MAX_RESO = 32768  # pixels on a side; the bucket enumeration steps through this range

# bytes of a caption file regaudit reads. Every text encoder sd-scripts trains keeps at most a few
# hundred tokens (CLIP 75/150/225, T5 256/512, Gemma 256): a few KiB of text. A larger file is
# reported (RA094) and read only this far, so that a huge or sparse file costs neither memory nor time.
CAPTION_BYTES = 64 << 10

# name -> (lowest, highest), both included
RANGES: dict[str, tuple[float, float]] = {
    "resolution": (8, MAX_RESO),
    "min_bucket_reso": (1, MAX_RESO),
    "max_bucket_reso": (1, MAX_RESO),
    "bucket_reso_steps": (1, MAX_RESO),
    "train_batch_size": (1, 4096),
    "gradient_accumulation_steps": (1, 1 << 20),
    "max_train_epochs": (1, 1_000_000),
    "max_train_steps": (1, 1 << 40),
    "prior_loss_weight": (0.0, 1e6),
    "num_processes": (1, 4096),
    "dataset_repeats": (1, 1_000_000),
    "max-distance": (0, 32),  # of the 64 bits of a perceptual hash
    "thumb-size": (32, 512),
    "batch-size": (1, 256),  # smoke: samples in the one batch
    "huber-c": (1e-9, 1e6),
    "seed": (0, (1 << 63) - 1),
}


def _fmt(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def problem(name: str, value: object) -> str | None:
    """Why ``value`` is not acceptable for ``name`` (a key of RANGES), or None when it is."""
    low, high = RANGES[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"{value!r} is not a number"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value} is not a finite number"
    if not low <= value <= high:
        return f"{_fmt(value)} is outside {_fmt(low)}..{_fmt(high)}"
    return None

# A finding lists at most this many of its images (JSON ``images``, ``--images``); its message still
# counts them all. Every image of a dataset can be in several findings' lists at once: uncapped, a
# 10^6-image balance held 2.5 GB of them.
FINDING_IMAGES = 1000

# Subsets of all the datasets of a dataset config together. A JSON config may be 16 MiB: about
# 450,000 tiny [[datasets]], each costing the audit some 100 us; past this regaudit refuses the
# config at once (exit 2) rather than run for minutes. Real configs have a few dozen subsets.
MAX_SUBSETS = 150_000

# Images registered by subsets whose folder another subset already registered (a folder named in many
# [[datasets]]). Each registration is a record, a caption budget, a place in the balance and in the
# report: 100,000 datasets naming one folder of 5 images (500,000 again) took 25 s for balance --json
# and 32-34 s for dupes and report. Counted once the folders are listed, before any image is read; a
# dataset is never refused for the size of its own folders.
MAX_REPEATED_REGISTRATIONS = 250_000
