"""Tag frequencies as sd-scripts records them in a LoRA's ``ss_tag_frequency`` metadata, and the
tag tables built on them (train vs reg, tags only in reg).

sd-scripts (BaseDataset.set_tag_frequency, called by DreamBoothDataset for every subset it lists)
splits each registered caption — a caption file's text, or the class tokens where there is none —
on ',' (whatever caption_separator is), strips each piece, drops empty ones and lower-cases the
rest. Counts are per caption occurrence, not weighted by repeats, and include reg images that the
balancing loop never uses. They are keyed by the subset folder's base name; subsets of one dataset
with the same base name share one table. train_network.py merges the datasets' tables, the first
dataset to use a folder name winning.

A fine-tuning subset (FineTuningDataset) counts the ``tags`` values of its metadata only, not the
captions, under its metadata file's base name (counted by ``finetune.read_subset``, kept on the Subset).
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from ..model import Dataset, Subset


def caption_tags(caption: str) -> list[str]:
    """The tags set_tag_frequency counts in one caption, in order, repeats included."""
    return [t.strip().lower() for t in caption.split(",") if t.strip()]


_PART = 1 << 20  # characters of a tag text split at once


def count_tags(caption: str, into: dict[str, int]) -> None:
    """caption_tags(caption) counted into ``into`` (tag -> count), a megabyte of text at a time: the
    tags of a 64 MiB text would be millions of strings held at once (gigabytes)."""
    start, n = 0, len(caption)
    while True:
        end = caption.find(",", start + _PART) if start + _PART < n else -1
        part = caption[start:] if end < 0 else caption[start:end]
        if len(part) < 4096:
            for tag in caption_tags(part):
                into[tag] = into.get(tag, 0) + 1
        else:
            for tag, k in Counter(caption_tags(part)).items():
                into[tag] = into.get(tag, 0) + k
        if end < 0:
            return
        start = end + 1


def tag_set(caption: str) -> frozenset[str]:
    """The distinct tags of caption_tags(caption) (the same split, strip and lower case, done at once)."""
    return frozenset(map(str.strip, caption.lower().split(","))) - _EMPTY


_EMPTY = frozenset(("",))


def subset_counter(subset: Subset) -> Counter:
    c: Counter = Counter()
    for img in subset.images:
        if img.caption.text is not None:
            c.update(caption_tags(img.caption.text))
    return c


def subset_name(config) -> str:
    """The name sd-scripts records a subset under in a LoRA's metadata (ss_tag_frequency, the
    dataset dirs): its image folder's base name; a fine-tuning subset's metadata file's."""
    if config.metadata_file is not None:
        return os.path.basename(config.metadata_file)
    return os.path.basename(config.image_dir)


def dataset_tag_frequency(dataset: Dataset, counted: dict[int, Counter] | None = None) -> dict[str, dict[str, int]]:
    """One dataset's ``tag_frequency``: subset_name -> tag -> count, in first-seen order.
    ``counted``: id(subset) -> its subset_counter, where it is made already (the same counts in the
    same order, its tag strings shared)."""
    out: dict[str, dict[str, int]] = {}
    for s in dataset.subsets:
        table = out.setdefault(subset_name(s.config), {})
        c = s.tag_frequency if s.tag_frequency is not None else counted.get(id(s)) if counted is not None else None
        if c is not None:
            for tag, n in c.items():
                table[tag] = table.get(tag, 0) + n
            continue
        for img in s.images:
            if img.caption.text is None:
                continue  # sd-scripts stops on such a caption file before it gets here
            for tag in caption_tags(img.caption.text):
                table[tag] = table.get(tag, 0) + 1
    return out


def ss_tag_frequency(datasets: Iterable[Dataset], counted: dict[int, Counter] | None = None) -> dict[str, dict[str, int]]:
    """The ``ss_tag_frequency`` train_network.py writes (a folder name counted once, first dataset wins)."""
    merged: dict[str, dict[str, int]] = {}
    for d in datasets:
        for name, table in dataset_tag_frequency(d, counted).items():
            if name not in merged:
                merged[name] = table
    return merged


def top(counter: Counter, n: int | None = None) -> list[tuple[str, int]]:
    """Most common first; ties in alphabetical order so the table is stable."""
    items = sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))
    return items if n is None else items[:n]


def only_in(a: Counter, b: Counter) -> Counter:
    """Tags of ``a`` that never occur in ``b``."""
    return Counter({t: n for t, n in a.items() if t not in b})


@dataclass(frozen=True)
class SubsetTags:
    path: str  # the subset folder, absolute
    role: str  # "train" | "reg"
    dataset: int
    tags: tuple[tuple[str, int], ...]  # every tag, most common first
    captions: int  # captions counted


@dataclass(frozen=True)
class TagTables:
    ss_tag_frequency: dict[str, dict[str, int]]
    subsets: tuple[SubsetTags, ...]
    train: tuple[tuple[str, int], ...]
    reg: tuple[tuple[str, int], ...]
    only_in_reg: tuple[tuple[str, int], ...]
    only_in_train: tuple[tuple[str, int], ...]


def tag_tables(datasets: Iterable[Dataset]) -> TagTables:
    datasets = list(datasets)
    subsets = []
    counted: dict[int, Counter] = {}
    train: Counter = Counter()
    reg: Counter = Counter()
    alone: dict[bool, tuple | None] = {}  # role -> its one subset's table (a role of one subset: the same table)
    for d in datasets:
        for s in d.subsets:
            # (a fine-tuning subset: its tags as set_tag_frequency counted them, not its captions' words)
            c = counted[id(s)] = Counter(s.tag_frequency) if s.tag_frequency is not None else subset_counter(s)
            (reg if s.config.is_reg else train).update(c)
            tags = tuple(top(c))
            alone[s.config.is_reg] = tags if s.config.is_reg not in alone else None
            subsets.append(SubsetTags(s.abs_path, s.role.value, d.index, tags,
                                      sum(1 for i in s.images if i.caption.text is not None)))
    train_top = alone.get(False) or tuple(top(train))
    reg_top = alone.get(True) or tuple(top(reg))
    # (a million tags of one role and none of the other: the role's table again, not a copy)
    only_in_reg = reg_top if not train else tuple(top(only_in(reg, train)))
    only_in_train = train_top if not reg else tuple(top(only_in(train, reg)))
    return TagTables(ss_tag_frequency(datasets, counted), tuple(subsets), train_top, reg_top, only_in_reg,
                     only_in_train)
