"""Build the model of a dataset: which subsets sd-scripts keeps (DreamBoothDataset.__init__'s
order of checks), their images with sizes and captions, what it skips, and the findings.
Reads files; writes and prints nothing."""

from __future__ import annotations

import glob
import os
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import replace
from itertools import repeat

from ..safeio import here
from ..sdscripts import images as _images
from ..sdscripts import startup
from ..sdscripts.captions import read_caption
from ..sdscripts.config import DatasetSpec
from ..sdscripts.datasets import load_specs, validation_split
from ..sdscripts.latents import CacheNameError, cache_sizes
from ..sdscripts.layout import Absolute, list_subset
from ..sdscripts.registration import register
from ..model import (
    Caption,
    CaptionSource,
    Dataset,
    Finding,
    Ignored,
    IgnoreReason,
    ImageRecord,
    ScanResult,
    Subset,
    SubsetConfig,
)
from ..parallel import Background, map_parts
from ..sdscripts.caption_budgets import shared_counter
from ..sdscripts.triggers import subset_contexts
from .captions import TextOptions, part_budgets
from .captions import audit as audit_captions
from .inputs import Inputs, text_options
from ..rules import build
from ..rules.captions import caption_findings
from ..rules.images import record_findings
from ..rules.layout import listing_findings

__all__ = ["load_specs", "scan", "scan_inputs"]  # (load_specs: the specs scan() takes, from the port)

Progress = Callable[[int, int], None]  # (done, total)
_PARALLEL_MIN = 1500  # below this, starting worker processes costs more than it saves
_CHUNK = 400


_NOT_READ = Caption(CaptionSource.EMPTY, None, None)


def _work_part(part: tuple) -> tuple[list[ImageRecord], list, list[Finding], list[tuple[str, int]]]:
    """The records of one part's images (images of one subset), their caption budgets (None: not
    worked out), the findings on them and the (caption, CLIP token count) pairs counted. All of it
    is made here, where the files are read, to spread the work over the worker processes; the
    caller only gathers it, and the caption audit finds the budgets done."""
    paths, ext, tokens, wildcard, deep, context, cached, held, suffix = part
    abs_paths = Absolute().all_of(paths)
    record = ImageRecord.of  # type: ignore[attr-defined]
    shared: dict = {}  # one object for what repeats: extensions, class-token captions
    sizes = cached if cached is not None else repeat(None)
    records = []
    if deep is None:  # listing only: the caller decodes the images itself
        stat_probe = _images.stat_probe
        for p, abs_path, size in zip(paths, abs_paths, sizes):
            e = p[p.rfind("."):]
            records.append(record(p, abs_path, shared.setdefault(e, e), stat_probe(p), _NOT_READ,
                                  ((suffix, size),) if size is not None else (), None))
        return records, [None] * len(paths), [], []
    probe = _images.probe
    count = shared_counter().count
    counted = []
    for p, abs_path, size in zip(paths, abs_paths, sizes):
        caption = read_caption(p, ext, tokens, wildcard)
        if caption.path is None:
            caption = shared.setdefault(caption, caption)
        n_tokens = None
        if caption.text is not None and not held:  # (held-out images train on nothing)
            n_tokens = count(caption.text)
            counted.append((caption.text, n_tokens))
        e = p[p.rfind("."):]  # = os.path.splitext(p)[1] for a name the image glob matched
        records.append(record(p, abs_path, shared.setdefault(e, e), probe(p, deep), caption,
                              ((suffix, size),) if size is not None else (), n_tokens))
    if held:
        return records, [None] * len(paths), [], []
    budgets: list = [None] * len(paths)
    if context is not None:
        sc, options, trig, others = context
        budgets = part_budgets(records, sc, options, trig, others)
    return records, budgets, list(record_findings(records)), counted


def _list_folders(job: tuple) -> dict:
    """list_subset of each (folder, caption extension)."""
    wanted, case_insensitive = job
    return {(d, ext): list_subset(d, case_insensitive, ext) for d, ext in wanted}


def _part_size(part: tuple) -> int:
    return len(part[0])


def _drain(parts: list):
    """The results of ``parts`` in order, each let go once read (a million results are never held
    twice)."""
    for k in range(len(parts)):
        part = parts[k]
        parts[k] = None  # type: ignore[call-overload]
        yield part
        del part


def scan(specs: Sequence[DatasetSpec], deep: bool = False, jobs: int | None = None,
         progress: Progress | None = None, caption_extension: str = ".caption",
         sources: Sequence[str] = (), listing_only: bool = False,
         latents_suffix: str | None = "_sd.npz", text: TextOptions | None = None,
         case_insensitive: bool | None = None) -> ScanResult:
    """The dataset as sd-scripts sees it. ``listing_only`` skips image headers and captions (and
    their findings) for callers that only need which files are in which subset. ``latents_suffix``
    is the latent cache suffix whose file names set sizes (None: the trainer installs no strategy).
    ``text``: the text-encoder options the captions are measured against (default: train_network's)."""
    jobs = jobs if jobs is not None else (os.cpu_count() or 1)
    counter = None
    listed: dict[tuple[str, str], object] = {}
    if not listing_only:
        # the subset folders are listed in a child process while this one loads the tokenizer (tens
        # of ms, holding the interpreter): loaded here, before the workers are forked, they have it too
        wanted = list(dict.fromkeys((sc.image_dir, sc.caption_extension) for spec in specs for sc in spec.subsets
                                    if sc.num_repeats >= 1))
        pending = Background(_list_folders, (wanted, case_insensitive))
        try:
            counter = shared_counter()
            listed = pending.result()
        finally:
            pending.close()
    ignored: list[Ignored] = []
    findings: list[Finding] = []
    kept: list[tuple[int, SubsetConfig, list[str], frozenset[str], list[str], bool]] = []
    validation_errors: dict[int, list[tuple[str, str]]] = defaultdict(list)
    split_errors: dict[int, list[tuple[str, str]]] = defaultdict(list)
    for spec in specs:
        ignored += spec.ignored
        findings += build.spec_findings(spec)
        kept_keys: set[str] = set()
        for sc in spec.subsets:
            abs_dir = os.path.abspath(sc.image_dir)
            if sc.num_repeats < 1:
                ignored.append(Ignored(abs_dir, "dir", IgnoreReason.REPEATS_BELOW_ONE,
                                       f"num_repeats {sc.num_repeats} < 1: the subset is skipped"))
                findings.append(build.repeats_below_one(abs_dir, sc.num_repeats))
                if spec.params.validation_split > 0 and latents_suffix is not None and os.path.isdir(sc.image_dir):
                    # the validation dataset reads it anyway (with repeats 1): its cache names too
                    try:
                        cache_sizes(sc.image_dir, list_subset(sc.image_dir, case_insensitive).images, latents_suffix)
                    except CacheNameError as exc:
                        validation_errors[spec.index].append((abs_dir, str(exc)))
                        findings.append(build.validation_cache_failure(exc))
                continue
            key = sc.image_dir  # DreamBoothSubset equality: the raw image_dir string (spec §10.3)
            if key in kept_keys:
                role = "reg" if sc.is_reg else "train"
                ignored.append(Ignored(abs_dir, "dir", IgnoreReason.DUPLICATE_SUBSET,
                                       f"the same folder is already a subset of this dataset; this {role} "
                                       f"entry is ignored"))
                findings.append(build.duplicate_subset(abs_dir, spec.index, role))
                continue
            listing = listed.get((sc.image_dir, sc.caption_extension)) or \
                list_subset(sc.image_dir, case_insensitive, sc.caption_extension)
            ignored += listing.ignored
            findings += listing_findings(listing)
            if not listing.images and spec.params.validation_split > 0 and not sc.is_reg and \
                    os.path.isdir(sc.image_dir):
                # split_train_val unpacks zip(*[]): an empty train folder stops the build
                message = ("ValueError: not enough values to unpack (expected 2, got 0) — with validation_split, "
                           "sd-scripts splits this empty train folder and fails")
                split_errors[spec.index].append((abs_dir, message))
                findings.append(build.empty_split(abs_dir))
                ignored.append(Ignored(abs_dir, "dir", IgnoreReason.NO_IMAGES, "no image files found"))
                continue
            if not listing.images:
                why = "no image files found" if listing.readable else "not a readable directory"
                ignored.append(Ignored(abs_dir, "dir", IgnoreReason.NO_IMAGES,
                                       f"{why}: sd-scripts ignores the subset ('no images found')"))
                findings.append(build.no_images(abs_dir, why))
                continue
            kept_keys.add(key)
            paths, held_out = listing.images, []
            if spec.params.validation_split > 0 and not sc.is_reg:
                paths, held_out = validation_split(paths, spec.params.validation_split, spec.params.validation_seed)
                ignored += [Ignored(os.path.abspath(p), "file", IgnoreReason.VALIDATION,
                                    "held out for validation (validation_split): never trained on")
                            for p in held_out]
                findings.append(build.held_out(abs_dir, spec.params.validation_split, len(paths),
                                               len(listing.images), len(held_out), spec.params.validation_seed))
                if not paths:
                    ignored.append(Ignored(abs_dir, "dir", IgnoreReason.NO_IMAGES,
                                           "every image is held out for validation: sd-scripts ignores the subset"))
                    continue
            kept.append((spec.index, sc, paths, listing.names, held_out, listing.has_npz))
    listed = listing = None  # type: ignore[assignment]  # (the listings live on in ``kept``, let go one by one below)

    # the caption budgets are worked out where the captions are read, too (configs are all they need
    # of the other subsets): the audit afterwards only gathers them
    text = text or TextOptions()
    contexts: list = [None] * len(kept)
    if not listing_only:
        members: dict[int, list[int]] = defaultdict(list)
        for k, entry in enumerate(kept):
            members[entry[0]].append(k)
        for ks, row in zip(members.values(), subset_contexts([[kept[k][1] for k in ks] for ks in members.values()])):
            for k, (trig, _, others) in zip(ks, row):
                contexts[k] = (kept[k][1], text, trig, others)
    # latent cache file names that set sizes: on the whole sorted listing, before any validation
    # split, as sd-scripts does (a folder without a '.npz' file, whose name the glob reads
    # literally, has none)
    caches: list = []  # per kept subset: (sizes of its train paths or None, the cache error or None)
    for _, sc, paths, _, held_out, has_npz in kept:
        sizes = error = None
        if latents_suffix is not None and not sc.cache_info and (has_npz or glob.has_magic(sc.image_dir)):
            try:
                in_order = sorted(paths + held_out)
                by_path = dict(zip(in_order, cache_sizes(sc.image_dir, in_order, latents_suffix)))
                sizes = [by_path[p] for p in paths]
            except CacheNameError as exc:
                error = exc
        caches.append((sizes, error))
    # the work, in parts of _CHUNK images of one subset: one tuple per part, not per image
    mode = None if listing_only else deep
    parts = []
    counts: list[tuple[int, int]] = []  # per kept subset: how many parts of its images, of its held-out ones
    for (_, sc, paths, _, held_out, _), context, (sizes, _) in zip(kept, contexts, caches):
        common = (sc.caption_extension, sc.class_tokens, sc.enable_wildcard, mode)
        parts += [(paths[i:i + _CHUNK], *common, context, None if sizes is None else sizes[i:i + _CHUNK], False,
                   latents_suffix) for i in range(0, len(paths), _CHUNK)]
        parts += [(held_out[i:i + _CHUNK], *common, None, None, True, latents_suffix)
                  for i in range(0, len(held_out), _CHUNK)]
        counts.append((-(-len(paths) // _CHUNK), -(-len(held_out) // _CHUNK)))
    # the paths live on in the parts only, each let go once worked (a worker's records hold copies)
    kept = [(ds_index, sc, names) for ds_index, sc, _, names, _, _ in kept]  # type: ignore[misc]
    paths = held_out = sizes = None  # type: ignore[assignment]
    n_images = sum(len(p[0]) for p in parts)
    parallel = not listing_only and n_images >= _PARALLEL_MIN
    done_parts = map_parts(_work_part, parts, jobs if parallel else 1, progress, _part_size)
    results = _drain(done_parts)

    by_dataset: dict[int, list[Subset]] = defaultdict(list)
    known: dict[int, list] = {}  # id(subset) -> its caption budgets
    for k_subset, (ds_index, sc, names) in enumerate(kept):  # type: ignore[misc]
        kept[k_subset] = None  # type: ignore[call-overload]  # its other-caption names go with this round
        cache_error = None
        error = caches[k_subset][1]
        if error is not None:
            cache_error = str(error)
            findings.append(build.cache_name_failure(error))
        records: list[ImageRecord] = []
        budgets: list = []
        on_images: list[Finding] = []
        n_parts, n_held = counts[k_subset]
        for _ in range(n_parts):
            part_records, part_budgets_, part_findings, counted = next(results)
            records += part_records
            budgets += part_budgets_
            on_images += part_findings
            if counter is not None:
                counter.remember(counted)  # (the captions view counts them again)
        out_records: list[ImageRecord] = []  # held out for validation: sd-scripts still reads their captions and sizes
        for _ in range(n_held):
            out_records += next(results)[0]
        subset = Subset(sc, os.path.abspath(sc.image_dir), tuple(records), cache_error, tuple(out_records))
        by_dataset[ds_index].append(subset)
        if not listing_only:
            known[id(subset)] = budgets
            findings += on_images
            findings += caption_findings(subset, names)

    datasets = []
    # the datasets that train (one pass: asked of every dataset, 100,000 of them in a config)
    training = {i for i, ss in by_dataset.items() if any(not s.config.is_reg for s in ss)}
    for spec in specs:
        subsets = tuple(by_dataset.get(spec.index, []))
        datasets.append(Dataset(spec.index, spec.params, subsets, len(spec.subsets),
                                tuple(validation_errors.get(spec.index, ())), tuple(split_errors.get(spec.index, ()))))
        others_train = len(training) > (spec.index in training)  # another dataset trains
        findings += build.dataset_findings(spec, subsets, _same_folder(subsets), others_train, here())
    tokenizer = None
    if not listing_only:  # captions as the text encoder sees them: CLIP token counts, RA031-RA038
        text_audit = audit_captions(datasets, text, detail=False, known=known)
        del known
        datasets, tokenizer = list(text_audit.datasets), text_audit.tokenizer.library
        findings += text_audit.findings
    if any(f.code in build.LOAD_CODES for f in findings):  # (else nothing to soften: no balancing loop run)
        findings = build.soften_unused_reg(findings, *_reg_use(datasets))
    # a folder used by two datasets is listed twice; say each thing once
    findings = list(dict.fromkeys(findings))
    ignored = list(dict.fromkeys(ignored))
    return ScanResult(tuple(datasets), tuple(ignored), tuple(findings), caption_extension, deep,
                      tuple(os.path.abspath(s) for s in sources), caption_tokenizer=tokenizer)


def _reg_use(datasets: Sequence[Dataset]) -> tuple[set[str], set[str]]:
    """(every reg image's path, the paths the reg balancing loop registers)."""
    reg_paths, registered = set(), set()
    for ds in datasets:
        image_data = register(ds)[0]
        registered |= {r.record.abs_path for r in image_data.values()}
        reg_paths |= {img.abs_path for s in ds.reg_subsets for img in s.images}
    return reg_paths, registered


def _same_folder(subsets: Sequence[Subset]) -> list[tuple[str, list[Subset]]]:
    """The subsets by the real folder they read (DreamBoothDataset registers each image path once)."""
    by_real: dict[str, list[Subset]] = defaultdict(list)
    for s in subsets:
        by_real[os.path.realpath(s.config.image_dir)].append(s)
    return list(by_real.items())


def scan_inputs(inp: Inputs, **kwargs) -> ScanResult:
    """The scan of ``inp``, with every finding ``regaudit scan`` prints: the stop on the command
    line first, then the dataset's, then the --in_json note and the stop while building (a dataset
    config or namespace sd-scripts refuses) as the result's crash. ``kwargs`` go to ``scan``."""
    if "text" not in kwargs:  # captions measured against the chosen trainer's text encoders
        kwargs["text"] = text_options(inp)
    result = scan(inp.specs, caption_extension=inp.args.caption_extension, sources=inp.sources,  # type: ignore
                  latents_suffix=inp.latents_suffix, case_insensitive=inp.case_insensitive, **kwargs)
    stop = inp.opts.start_crash  # type: ignore[attr-defined]
    if stop is not None:  # the stop on the command line is a finding of every command
        result = replace(result, findings=(build.crash_finding(stop),) + result.findings)
    in_json = inp.sd.get("in_json")  # type: ignore[attr-defined]
    if in_json:
        result = replace(result, findings=result.findings + (build.in_json(str(in_json)),))
    crash = startup.dataset_config(inp.config_crash) if inp.config_crash is not None else inp.args_crash  # type: ignore
    if crash is not None:
        result = replace(result, crash=crash, findings=result.findings + (build.crash_finding(crash),))
    return result
