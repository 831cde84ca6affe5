"""The work of a scan, in parts: a ``Part`` is up to a few hundred images of one kept subset and
how to read them; ``work_part`` reads them (in a worker process: image headers, captions, token
counts, caption budgets and the findings on the images, so that the caller only gathers);
``gather`` makes a subset back from its parts' results. The per-image loop makes only C-level
calls: 20k images take well under a second."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Sequence
from itertools import islice, repeat
from typing import NamedTuple

from ..model import Caption, CaptionSource, Finding, ImageRecord, Subset, SubsetConfig
from ..rules.images import record_findings
from ..sdscripts import images as _images
from ..sdscripts.caption_budgets import shared_counter
from ..sdscripts.captions import read_caption
from ..sdscripts.config import DatasetSpec
from ..sdscripts.latents import CacheNameError
from ..sdscripts.layout import Absolute
from ..sdscripts.subsets import SubsetFate
from ..sdscripts.tokens import TokenCounter
from ..sdscripts.triggers import subset_contexts
from .captions import TextOptions, part_budgets

CHUNK = 400  # images per part
_NOT_READ = Caption(CaptionSource.EMPTY, None, None)
# (path, caption extension, class tokens, wildcard, deep) -> (its header probe, its caption), for the
# images of a folder several subsets read alike (Part.shared): read once in each process. Emptied
# by forget_shared when the scan has its parts' results (a worker's copy ends with the worker).
_SHARED_READS: dict[tuple, tuple] = {}
# a shared Part (hashable: its lists are tuples) -> its result: the part of a folder that many subsets
# read alike and with the same options (100,000 datasets naming one folder) is worked once in each
# process; its records, budgets and findings are values, the same for each of them
_SHARED_WORK: dict["Part", "PartResult"] = {}


class Budgeting(NamedTuple):
    """What a part needs to work out its images' caption budgets (views.captions.part_budgets)."""

    config: SubsetConfig
    options: TextOptions
    trigger: tuple[str, ...]
    others: tuple[tuple[str, tuple[str, ...]], ...]  # (caption_budgets.Others, as a tuple: hashable)


class Part(NamedTuple):
    """Up to CHUNK images of one subset, and how to read them: the work one process does at a time."""

    paths: list[str] | tuple[str, ...]  # a tuple in a shared part
    caption_extension: str
    class_tokens: str | None
    wildcard: bool
    deep: bool | None  # how deep to probe the image headers; None: list only (no header, no caption)
    budgeting: Budgeting | None  # None: no caption budget worked out here
    sizes: list | tuple | None  # per image, the size its latent cache file name gives (None: no cache read)
    held_out: bool  # held out for validation: read, but trained on nothing
    latents_suffix: str | None  # the latent cache suffix ``sizes`` are of
    shared: bool = False  # another kept subset reads these images alike: what is read is kept for it


class PartResult(NamedTuple):
    """What a part's worker gives back (all of it made where the files are read)."""

    records: list[ImageRecord]
    budgets: list  # per record its caption Budget; None: not worked out
    findings: list[Finding]  # on the images and their captions (rules.images)
    counted: list[tuple[str, int]]  # (caption, CLIP token count) pairs counted


class Planned(NamedTuple):
    """A kept subset, once its images are out in parts: what gathering them needs."""

    dataset: int
    config: SubsetConfig
    names: frozenset[str]  # files named like captions of another extension (rules.captions)
    cache_error: CacheNameError | None
    n_parts: int  # parts of its trained images, then
    n_held: int  # parts of its held-out ones


def work_part(part: Part) -> PartResult:
    """The records of one part's images, their caption budgets, the findings on them and the
    captions counted (in a worker process); a shared part once in each process."""
    if not part.shared:
        return _work(part)
    if part not in _SHARED_WORK:
        _SHARED_WORK[part] = _work(part)
    return _SHARED_WORK[part]


def _work(part: Part) -> PartResult:
    """work_part's work. Per image only C-level calls and the port's readers."""
    paths, sizes, suffix = part.paths, part.sizes, part.latents_suffix
    abs_paths = Absolute().all_of(paths)
    record = ImageRecord.of  # type: ignore[attr-defined]
    shared: dict = {}  # one object for what repeats: extensions, class-token captions
    sizes = sizes if sizes is not None else repeat(None)
    records = []
    if part.deep is None:  # listing only: the caller decodes the images itself
        stat_probe = _images.stat_probe
        for p, abs_path, size in zip(paths, abs_paths, sizes):
            e = p[p.rfind("."):]
            records.append(record(p, abs_path, shared.setdefault(e, e), stat_probe(p), _NOT_READ,
                                  ((suffix, size),) if size is not None else (), None))
        return PartResult(records, [None] * len(paths), [], [])
    probe, deep, held = _images.probe, part.deep, part.held_out
    ext, tokens, wildcard = part.caption_extension, part.class_tokens, part.wildcard
    count = shared_counter().count
    counted = []
    reads = _SHARED_READS if part.shared else None
    for p, abs_path, size in zip(paths, abs_paths, sizes):
        key = (p, ext, tokens, wildcard, deep)
        if reads is not None and key in reads:
            header, caption = reads[key]
        else:
            caption, header = read_caption(p, ext, tokens, wildcard), probe(p, deep)
            if reads is not None:
                reads[key] = header, caption
        if caption.path is None:
            caption = shared.setdefault(caption, caption)
        n_tokens = None
        if caption.text is not None and not held:  # (held-out images train on nothing)
            n_tokens = count(caption.text)
            counted.append((caption.text, n_tokens))
        e = p[p.rfind("."):]  # = os.path.splitext(p)[1] for a name the image glob matched
        records.append(record(p, abs_path, shared.setdefault(e, e), header, caption,
                              ((suffix, size),) if size is not None else (), n_tokens))
    if held:
        return PartResult(records, [None] * len(paths), [], [])
    budgets: list = [None] * len(paths)
    if part.budgeting is not None:
        budgets = part_budgets(records, *part.budgeting)
    return PartResult(records, budgets, list(record_findings(records)), counted)


def part_size(part: Part) -> int:
    return len(part.paths)


def make_parts(specs: Sequence[DatasetSpec], decided: list[list[SubsetFate]], deep: bool | None,
               text: TextOptions | None, latents_suffix: str | None) -> tuple[list[Part], list[Planned]]:
    """The kept subsets' images in parts of CHUNK images of one subset (its trained images, then
    those held out), and what gathering each subset needs. ``deep`` None: list only. ``text`` None:
    no caption budget worked out in the parts."""
    parts: list[Part] = []
    plans: list[Planned] = []
    # the caption budgets are worked out where the captions are read too (configs are all they need
    # of the other subsets): the audit afterwards only gathers them
    contexts = subset_contexts([[f.config for f in fates if f.kept] for fates in decided])
    # how many kept subsets read each folder alike (a config may name one folder in 100,000 datasets)
    readers = Counter(_reading(f.config) for fates in decided for f in fates if f.kept)
    for spec, fates, row in zip(specs, decided, contexts):
        for fate, (trigger, _, others) in zip([f for f in fates if f.kept], row):
            sc, paths, sizes, held_out = fate.config, fate.paths, fate.sizes, fate.held_out
            budgeting = Budgeting(sc, text, trigger, tuple(others)) if text is not None else None
            common = (sc.caption_extension, sc.class_tokens, sc.enable_wildcard, deep)
            shared = deep is not None and readers[_reading(sc)] > 1
            cut = tuple if shared else list  # (a shared part is hashable: worked once, see work_part)
            parts += [Part(cut(paths[i:i + CHUNK]), *common, budgeting,
                           None if sizes is None else cut(sizes[i:i + CHUNK]), False, latents_suffix, shared)
                      for i in range(0, len(paths), CHUNK)]
            parts += [Part(cut(held_out[i:i + CHUNK]), *common, None, None, True, latents_suffix, shared)
                      for i in range(0, len(held_out), CHUNK)]
            plans.append(Planned(spec.index, sc, fate.listing.names, fate.cache_error,  # type: ignore[union-attr]
                                 -(-len(paths) // CHUNK), -(-len(held_out) // CHUNK)))
    return parts, plans


def _reading(sc: SubsetConfig) -> tuple:
    """What the images of a subset are read by: the same for two subsets that read them alike."""
    return sc.image_dir, sc.caption_extension, sc.class_tokens, sc.enable_wildcard


def forget_shared() -> None:
    """Let go of what the parts of shared folders kept (their results hold what they need)."""
    _SHARED_READS.clear()
    _SHARED_WORK.clear()


def gather(plan: Planned, results: Iterator[PartResult], counter: TokenCounter | None) -> tuple[Subset, list, list]:
    """One kept subset from the results of its parts, next in ``results``: (the subset, its images'
    caption budgets, the findings on its images)."""
    records: list[ImageRecord] = []
    budgets: list = []
    on_images: list[Finding] = []
    for part in islice(results, plan.n_parts):
        records += part.records
        budgets += part.budgets
        on_images += part.findings
        if counter is not None:
            counter.remember(part.counted)  # (the captions view counts them again)
    # held out for validation: sd-scripts still reads their captions and sizes
    held_out = [record for part in islice(results, plan.n_held) for record in part.records]
    cache_error = str(plan.cache_error) if plan.cache_error is not None else None
    subset = Subset(plan.config, os.path.abspath(plan.config.image_dir), tuple(records), cache_error, tuple(held_out))
    return subset, budgets, on_images


