"""Build the model of a dataset: which subsets sd-scripts keeps (DreamBoothDataset.__init__'s
order of checks), their images with sizes and captions, what it skips, and the findings.
Reads files; writes and prints nothing."""

from __future__ import annotations

import glob
import os
from collections import defaultdict
from collections.abc import Callable, Sequence
from itertools import repeat

from ..sdscripts import images as _images
from ..sdscripts.captions import normalize_extension, read_caption
from ..sdscripts.config import DatasetSpec, TrainingArgs, load_dataset_config
from ..errors import InputPathError
from ..sdscripts.latents import CacheNameError, cache_sizes
from ..sdscripts.layout import Absolute, list_subset, scan_root
from ..model import (
    Caption,
    CaptionSource,
    Dataset,
    Finding,
    Ignored,
    IgnoreReason,
    ImageRecord,
    ScanResult,
    Severity,
    Subset,
    SubsetConfig,
)
from ..parallel import Background, map_parts
from .captions import TextOptions, part_budgets, shared_counter, subset_contexts
from .captions import audit as audit_captions
from ..rules import rule
from ..rules.files import caption_findings, record_findings

Progress = Callable[[int, int], None]  # (done, total)
_PARALLEL_MIN = 1500  # below this, starting worker processes costs more than it saves
_CHUNK = 400


def specs_from_roots(train: str | None, reg: str | None, args: TrainingArgs) -> DatasetSpec:
    """One dataset from train_data_dir / reg_data_dir, as the trainers build it. A root that is
    missing or not a folder contributes nothing, silently, as in sd-scripts (spec §10.9)."""
    spec = DatasetSpec(0, args.dataset_params(), [])
    for root, is_reg in ((train, False), (reg, True)):
        if root is None:
            continue
        role = "reg" if is_reg else "train"
        if not os.path.isdir(root):
            what = "does not exist" if not os.path.lexists(root) else "is not a folder"
            if is_reg:
                spec.findings.append(rule("RA011").finding(
                    os.path.abspath(root), f"reg folder {what}: sd-scripts trains without regularization images",
                    "Check the --reg_data_dir path, or drop the option if you train without reg images.")
                    .with_severity(Severity.WARNING))
            else:
                spec.findings.append(rule("RA011").finding(
                    os.path.abspath(root), f"train folder {what}: sd-scripts finds no subset and stops with "
                                           f"'No data found'",
                    "Pass the folder that holds the '<repeats>_<class tokens>' subfolders."))
            continue
        rs = scan_root(root, is_reg, args.caption_extension, args.subset_defaults())
        spec.subsets += rs.subsets
        spec.ignored += rs.ignored
        spec.findings += rs.findings
        if not rs.subsets:
            f = rule("RA011").finding(
                os.path.abspath(root), f"{role} root has no '<repeats>_<class tokens>' subfolder: sd-scripts "
                                       f"finds no {role} subset in it"
                                       + ("; it trains without regularization images" if is_reg else ""))
            spec.findings.append(f.with_severity(Severity.WARNING) if is_reg else f)
    return spec


def validation_split(paths: list[str], share: float, seed: int | None) -> tuple[list[str], list[str]]:
    """train_util.split_train_val for the training dataset: shuffle (with ``seed``, as random.seed
    then random.shuffle do), keep the first ceil(n * (1 - share)). Without a seed sd-scripts shuffles
    with its global random state; the sorted order stands in for it (the counts are the same)."""
    import math
    import random

    order = list(paths)
    if seed is not None:
        random.Random(seed).shuffle(order)
    keep = math.ceil(len(order) * (1 - share))
    return order[:keep], order[keep:]


def load_specs(train: str | None = None, reg: str | None = None, dataset_config: str | None = None,
               args: TrainingArgs | None = None) -> list[DatasetSpec]:
    """The dataset definitions sd-scripts reads. Raises DatasetConfigCrash where it stops on the
    dataset config."""
    args = args or TrainingArgs()
    args = TrainingArgs(**{**args.__dict__, "caption_extension": normalize_extension(args.caption_extension)})
    if dataset_config is not None:
        return load_dataset_config(dataset_config, args)  # train/reg dirs are ignored then, as in sd-scripts
    if train is None and reg is None:
        raise InputPathError("nothing to scan: give a folder, --train/--reg, or --dataset-config")
    return [specs_from_roots(train, reg, args)]


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
        findings += spec.findings
        kept_keys: set[str] = set()
        for sc in spec.subsets:
            abs_dir = os.path.abspath(sc.image_dir)
            if sc.num_repeats < 1:
                ignored.append(Ignored(abs_dir, "dir", IgnoreReason.REPEATS_BELOW_ONE,
                                       f"num_repeats {sc.num_repeats} < 1: the subset is skipped"))
                findings.append(rule("RA002").finding(abs_dir, f"subset has num_repeats {sc.num_repeats}; "
                                                               f"sd-scripts skips it"))
                if spec.params.validation_split > 0 and latents_suffix is not None and os.path.isdir(sc.image_dir):
                    # the validation dataset reads it anyway (with repeats 1): its cache names too
                    try:
                        cache_sizes(sc.image_dir, list_subset(sc.image_dir, case_insensitive).images, latents_suffix)
                    except CacheNameError as exc:
                        validation_errors[spec.index].append((abs_dir, str(exc)))
                        findings.append(rule("RA076").finding(
                            os.path.abspath(exc.npz_path),
                            f"the validation dataset (validation_split) reads this skipped subset's latent cache names "
                            f"too, and this one fails ({exc}): sd-scripts stops while building it"))
                continue
            key = sc.image_dir  # DreamBoothSubset equality: the raw image_dir string (spec §10.3)
            if key in kept_keys:
                role = "reg" if sc.is_reg else "train"
                ignored.append(Ignored(abs_dir, "dir", IgnoreReason.DUPLICATE_SUBSET,
                                       f"the same folder is already a subset of this dataset; this {role} "
                                       f"entry is ignored"))
                findings.append(rule("RA009").finding(
                    abs_dir, f"folder is configured twice in dataset {spec.index}; the later ({role}) "
                             f"entry is ignored and the first one is used"))
                continue
            listing = listed.get((sc.image_dir, sc.caption_extension)) or \
                list_subset(sc.image_dir, case_insensitive, sc.caption_extension)
            ignored += listing.ignored
            findings += listing.findings
            if not listing.images and spec.params.validation_split > 0 and not sc.is_reg and \
                    os.path.isdir(sc.image_dir):
                # split_train_val unpacks zip(*[]): an empty train folder stops the build
                message = ("ValueError: not enough values to unpack (expected 2, got 0) — with validation_split, "
                           "sd-scripts splits this empty train folder and fails")
                split_errors[spec.index].append((abs_dir, message))
                findings.append(rule("RA008").finding(
                    abs_dir, "subset has no image files and validation_split is on: sd-scripts fails splitting it "
                             "(ValueError) and stops while building the dataset").with_severity(Severity.ERROR))
                ignored.append(Ignored(abs_dir, "dir", IgnoreReason.NO_IMAGES, "no image files found"))
                continue
            if not listing.images:
                why = "no image files found" if listing.readable else "not a readable directory"
                ignored.append(Ignored(abs_dir, "dir", IgnoreReason.NO_IMAGES,
                                       f"{why}: sd-scripts ignores the subset ('no images found')"))
                findings.append(rule("RA008").finding(abs_dir, f"subset has {why}; sd-scripts ignores it"))
                continue
            kept_keys.add(key)
            paths, held_out = listing.images, []
            if spec.params.validation_split > 0 and not sc.is_reg:
                paths, held_out = validation_split(paths, spec.params.validation_split, spec.params.validation_seed)
                ignored += [Ignored(os.path.abspath(p), "file", IgnoreReason.VALIDATION,
                                    "held out for validation (validation_split): never trained on")
                            for p in held_out]
                seed = spec.params.validation_seed
                findings.append(rule("RA090").finding(
                    abs_dir, f"validation_split {spec.params.validation_split}: sd-scripts trains on {len(paths)} of "
                             f"this subset's {len(listing.images)} images and holds {len(held_out)} back"
                             + (f" (validation_seed {seed}: the same ones as here)" if seed is not None else
                                "; without validation_seed WHICH ones is random (the counts here are exact, the "
                                "held-out images shown are an example)")))
                if not paths:
                    ignored.append(Ignored(abs_dir, "dir", IgnoreReason.NO_IMAGES,
                                           "every image is held out for validation: sd-scripts ignores the subset"))
                    continue
            kept.append((spec.index, sc, paths, listing.names, held_out, listing.has_npz))
    listed = listing = None  # type: ignore[assignment]  # (the listings live on in ``kept``, let go one by one below)

    # the caption budgets are worked out where the captions are read, too (configs are all they need
    # of the other subsets): the audit afterwards only gathers them
    text_options = text or TextOptions()
    contexts: list = [None] * len(kept)
    if not listing_only:
        members: dict[int, list[int]] = defaultdict(list)
        for k, entry in enumerate(kept):
            members[entry[0]].append(k)
        for ks, row in zip(members.values(), subset_contexts([[kept[k][1] for k in ks] for ks in members.values()])):
            for k, (trig, _, others) in zip(ks, row):
                contexts[k] = (kept[k][1], text_options, trig, others)
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
            findings.append(rule("RA076").finding(
                os.path.abspath(error.npz_path),
                f"sd-scripts reads an image size from this latent cache file name and fails ({error}): it stops "
                f"while building the dataset"))
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
    for spec in specs:
        subsets = tuple(by_dataset.get(spec.index, []))
        datasets.append(Dataset(spec.index, spec.params, subsets, len(spec.subsets),
                                tuple(validation_errors.get(spec.index, ())), tuple(split_errors.get(spec.index, ()))))
        others_train = any(not s.config.is_reg for i, ss in by_dataset.items() if i != spec.index for s in ss)
        findings += _dataset_findings(spec, subsets, others_train)
    tokenizer = None
    if not listing_only:  # captions as the text encoder sees them: CLIP token counts, RA031-RA038
        text_audit = audit_captions(datasets, text_options, detail=False, known=known)
        del known
        datasets, tokenizer = list(text_audit.datasets), text_audit.tokenizer.library
        findings += text_audit.findings
    findings = _unused_reg_softened(datasets, findings)
    # a folder used by two datasets is listed twice; say each thing once
    findings = list(dict.fromkeys(findings))
    ignored = list(dict.fromkeys(ignored))
    return ScanResult(tuple(datasets), tuple(ignored), tuple(findings), caption_extension, deep,
                      tuple(os.path.abspath(s) for s in sources), caption_tokenizer=tokenizer)


_LOAD_CODES = frozenset({"RA012", "RA040", "RA041", "RA042", "RA043", "RA050", "RA052"})


def _unused_reg_softened(datasets: Sequence[Dataset], findings: list[Finding]) -> list[Finding]:
    """A broken reg image the balancing loop does not register is never sized nor loaded: sd-scripts
    runs. Say so, as a warning, and that it would crash once the counts change."""
    from dataclasses import replace

    from ..sdscripts.registration import register

    if not any(f.code in _LOAD_CODES for f in findings):
        return findings  # nothing to soften: no need to run the balancing loop here
    reg_paths, registered = set(), set()
    for ds in datasets:
        image_data = register(ds)[0]
        registered |= {r.record.abs_path for r in image_data.values()}
        reg_paths |= {img.abs_path for s in ds.reg_subsets for img in s.images}
    out = []
    for f in findings:
        if f.code in _LOAD_CODES and f.path in reg_paths and f.path not in registered:
            f = replace(f, severity=Severity.WARNING,
                        message=f"{f.message} — but the reg balancing loop does not use this image today, so "
                                f"sd-scripts never reads it; it would fail if the train/reg counts change")
        out.append(f)
    return out


def _dataset_findings(spec: DatasetSpec, subsets: tuple[Subset, ...], others_train: bool = False) -> list[Finding]:
    out = []
    by_real: dict[str, list[Subset]] = defaultdict(list)
    for s in subsets:
        by_real[os.path.realpath(s.config.image_dir)].append(s)
    for real, group in by_real.items():
        if len(group) > 1:
            spellings = ", ".join(f"'{s.config.image_dir}' ({s.role.value})" for s in group)
            distinct = len({tuple(img.path for img in s.images) for s in group})
            if distinct == 1:
                # 'D' and 'D/' glob to the same path strings: one registration, the later settings
                what = (f"each subset counts in num_train/num_reg_images, but its {len(group[0].images)} images are "
                        f"registered once, with the last spelling's repeats and captions")
            else:
                what = f"sd-scripts registers its {len(group[0].images)} images {distinct} times"
            out.append(rule("RA010").finding(
                real, f"one folder is read as {len(group)} subsets through different spellings: {spellings}; "
                      f"{what}"))
    if not any(not s.config.is_reg for s in subsets):
        where = os.path.abspath(subsets[0].config.image_dir) if subsets else os.getcwd()
        n_reg = sum(len(s.images) for s in subsets)
        msg = (f"dataset {spec.index} has no train subset with images"
               + (f"; its {n_reg} reg images are never used (reg images are only drawn to match train samples)"
                  if n_reg else ""))
        if not any(f.code == "RA011" for f in spec.findings) or n_reg:
            f = rule("RA011").finding(where, msg)
            # the run still trains when another dataset has train images: then it is a warning
            out.append(f.with_severity(Severity.WARNING) if others_train else f)
    return out
