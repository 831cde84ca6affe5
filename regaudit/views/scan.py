"""``regaudit scan``: the dataset as sd-scripts builds it, and the findings on it. Reads files;
writes and prints nothing. In order:

1. list the subset folders (while the tokenizer loads);
2. decide which subsets sd-scripts keeps and why it skips the others (``sdscripts.subsets``), and
   what it says on them (``rules.build``);
3. read the kept subsets' images and captions in parts of a few hundred images, in worker processes;
4. gather each subset from its parts (each part let go as it is gathered), with the findings on
   its images and captions;
5. the datasets, the findings on each dataset and on the captions (``rules``);
6. the result."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from functools import partial
from typing import TypeVar

from .. import limits
from ..errors import ConfigError
from ..model import Dataset, Finding, Ignored, ScanResult, Subset
from ..safeio import here
from ..parallel import Background, map_parts
from ..rules import build
from ..rules.captions import caption_findings
from ..sdscripts import defaults, startup
from ..sdscripts.caption_budgets import shared_counter
from ..sdscripts.config import DatasetSpec
from ..sdscripts.datasets import load_specs
from ..sdscripts.registration import register
from ..sdscripts.subsets import Listed, SubsetFate, build_stops, decide_subsets, list_folders, validation_only
from ..sdscripts.tokens import TokenCounter
from ..sdscripts.trainers import Kind
from .captions import TextAudit, TextOptions
from .captions import audit as audit_captions
from .inputs import Inputs, text_options
from . import scan_finetune
from .scan_parts import CHUNK, Part, forget_shared, gather, make_parts, part_size, work_part

__all__ = ["load_specs", "scan", "scan_inputs"]  # (load_specs: the specs scan() takes, from the port)

T = TypeVar("T")
Progress = Callable[[int, int], None]  # (done, total)
_PARALLEL_MIN = 1500  # below this, starting worker processes costs more than it saves


def scan(specs: Sequence[DatasetSpec], deep: bool = False, jobs: int | None = None,
         progress: Progress | None = None, caption_extension: str = defaults.CAPTION_EXTENSION,
         sources: Sequence[str] = (), listing_only: bool = False,
         latents_suffix: str | None = "_sd.npz", text: TextOptions | None = None,
         case_insensitive: bool | None = None, latents_to_disk: bool = False) -> ScanResult:
    """The dataset as sd-scripts sees it. ``listing_only`` skips image headers and captions (and
    their findings) for callers that only need which files are in which subset. ``latents_suffix``
    is the latent cache suffix whose file names set sizes (None: the trainer installs no strategy).
    ``text``: the text-encoder options the captions are measured against (default: train_network's).
    ``latents_to_disk``: --cache_latents_to_disk (fine-tuning keys then read their cache files)."""
    return scan_with_text(specs, deep, jobs, progress, caption_extension, sources, listing_only, latents_suffix, text,
                          case_insensitive, latents_to_disk)[0]


def scan_with_text(specs: Sequence[DatasetSpec], deep: bool = False, jobs: int | None = None,
                   progress: Progress | None = None, caption_extension: str = defaults.CAPTION_EXTENSION,
                   sources: Sequence[str] = (), listing_only: bool = False,
                   latents_suffix: str | None = "_sd.npz", text: TextOptions | None = None,
                   case_insensitive: bool | None = None,
                   latents_to_disk: bool = False) -> tuple[ScanResult, TextAudit | None]:
    """``scan``, and the caption audit it made on the way (what ``regaudit captions`` shows; None
    with ``listing_only``)."""
    jobs = jobs if jobs is not None else (os.cpu_count() or 1)
    text = text or TextOptions()
    finetuning = [spec for spec in specs if scan_finetune.is_finetuning(spec)]  # read from their metadata
    specs = [spec for spec in specs if not scan_finetune.is_finetuning(spec)]

    n_subsets = sum(len(spec.subsets) for spec in specs)  # (a config is refused as soon as it is read)
    if n_subsets > limits.MAX_SUBSETS:  # e.g. a train_data_dir of 200,000 '1_x' folders
        raise ConfigError(f"{', '.join(sources) or 'the dataset'}: {n_subsets:,} subsets, more than regaudit audits "
                          f"in one run ({limits.MAX_SUBSETS:,}); split them over several runs")
    # 1. list the subset folders
    listed, counter = (None, None) if listing_only else _list_folders(specs, case_insensitive)

    # 2. which subsets sd-scripts keeps, and why it skips the others (the port); what it says on them
    decided = [decide_subsets(spec, listed, latents_suffix, case_insensitive) for spec in specs]
    _check_repeated(decided, sources)
    del listed  # (the kept subsets' listings live on in ``decided``)
    ignored, findings = _on_subsets(specs, decided)
    stops = [build_stops(fates) for fates in decided]
    # the subsets only the validation dataset reads (their few held-out images, read here)
    val_only = [() if listing_only else _validation_only(spec, fates, deep, latents_suffix, case_insensitive)
                for spec, fates in zip(specs, decided)]

    # 3. read the images and captions of the kept subsets, in parts, in parallel
    parts, plans = make_parts(specs, decided, None if listing_only else deep, None if listing_only else text,
                              latents_suffix)
    del decided  # (the paths live on in the parts only, each let go once worked)
    # worth spreading over processes: many files to read (a folder that many subsets read alike is
    # read once in each process: 100,000 datasets of one folder are quicker in this one)
    parallel = not listing_only and len({p for part in parts for p in part.paths}) >= _PARALLEL_MIN
    try:
        results = _one_by_one(map_parts(work_part, parts, jobs if parallel else 1, progress, part_size, batch=CHUNK))
    finally:
        forget_shared()

    # 4. gather each subset from its parts, with the findings on its images and captions
    by_dataset: dict[int, list[Subset]] = defaultdict(list)
    known: dict[int, list] = {}  # id(subset) -> its caption budgets, worked out where its captions were read
    for plan in _one_by_one(plans):  # (its other-caption names go with each round)
        if plan.cache_error is not None:
            findings.append(build.cache_name_failure(plan.cache_error))
        subset, budgets, on_images = gather(plan, results, counter)
        by_dataset[plan.dataset].append(subset)
        if not listing_only:
            known[id(subset)] = budgets
            findings += on_images
            findings += caption_findings(subset, plan.names)

    # 5. the datasets, the findings on each and on the captions as the text encoder sees them
    datasets = []
    # the datasets that train (one pass: asked of every dataset, 100,000 of them in a config)
    training = {i for i, ss in by_dataset.items() if any(not s.config.is_reg for s in ss)}
    training |= {spec.index for spec in finetuning}
    cwd = here()
    for spec, (validation_errors, split_errors), validation in zip(specs, stops, val_only):
        subsets = tuple(by_dataset.get(spec.index, []))
        datasets.append(Dataset(spec.index, spec.params, subsets, len(spec.subsets), validation_errors, split_errors,
                                validation))
        others_train = len(training) > (spec.index in training)  # another dataset trains
        findings += build.dataset_findings(spec, subsets, _same_folder(subsets), others_train, cwd)
    for spec in finetuning:
        ds, on_images = scan_finetune.dataset(spec, latents_suffix, None if listing_only else deep, latents_to_disk)
        datasets.append(ds)
        findings += on_images
    datasets.sort(key=lambda d: d.index)
    tokenizer, text_audit = None, None
    if not listing_only:  # captions as the text encoder sees them: CLIP token counts, RA031-RA038
        text_audit = audit_captions(datasets, text, detail=False, known=known)
        del known
        datasets, tokenizer = list(text_audit.datasets), text_audit.tokenizer.library
        findings += text_audit.findings
    if any(f.code in build.LOAD_CODES for f in findings):  # (else nothing to soften: no balancing loop run)
        findings = build.soften_unused_reg(findings, *_reg_use(datasets))

    # 6. the result; a folder used by two datasets is listed twice: say each thing once
    return ScanResult(tuple(datasets), tuple(dict.fromkeys(ignored)), tuple(dict.fromkeys(findings)),
                      caption_extension, deep, tuple(os.path.abspath(s) for s in sources),
                      caption_tokenizer=tokenizer), text_audit


def _check_repeated(decided: list[list[SubsetFate]], sources: Sequence[str]) -> None:
    """Refuse, before any image is read, a dataset whose subsets register the images of a folder
    that another subset registered already more than limits.MAX_REPEATED_REGISTRATIONS times in all
    (a folder named in thousands of [[datasets]]): each registration is a record, a caption budget
    and a place in the balance. The first subset of each folder is free: a large folder is never refused."""
    seen: set[str] = set()
    repeated = 0
    for fates in decided:
        for fate in fates:
            if not fate.kept:
                continue
            folder = fate.abs_dir
            if folder in seen:
                repeated += len(fate.paths) + len(fate.held_out)
            else:
                seen.add(folder)
    if repeated > limits.MAX_REPEATED_REGISTRATIONS:
        where = ", ".join(sources) or "the dataset"
        raise ConfigError(f"{where}: subsets whose folder another subset already reads register {repeated:,} images "
                          f"again, more than regaudit audits in one run ({limits.MAX_REPEATED_REGISTRATIONS:,}); "
                          f"split the config into files that name each folder fewer times and audit each")


def _one_by_one(items: list[T]) -> Iterator[T]:
    """The items in order, each let go from ``items`` as it is taken (a million records are never
    held twice)."""
    items.reverse()
    while items:
        yield items.pop()


def _validation_only(spec: DatasetSpec, fates: list[SubsetFate], deep: bool, latents_suffix: str | None,
                     case_insensitive: bool | None) -> tuple[tuple[int, Subset], ...]:
    """The subsets only the validation dataset reads (sdscripts.subsets.validation_only), each with
    the records of the images it reads of them (captions and headers, as for held-out images)."""
    out = []
    for position, fate in validation_only(spec, fates, case_insensitive):
        sc = fate.config
        part = Part(fate.held_out, sc.caption_extension, sc.class_tokens, sc.enable_wildcard, deep, None, None, True,
                    latents_suffix)
        records = tuple(work_part(part).records)
        out.append((position, Subset(sc, os.path.abspath(sc.image_dir), (), None, records)))
    return tuple(out)


def _list_folders(specs: Sequence[DatasetSpec], case_insensitive: bool | None) -> tuple[Listed, TokenCounter]:
    """The subset folders' listings, made in a thread while this one loads the tokenizer (tens of ms,
    holding the interpreter): loaded here, before the workers are forked, they have it too."""
    pending = Background(partial(list_folders, case_insensitive=case_insensitive), specs)
    try:
        counter = shared_counter()
        return pending.result(), counter
    finally:
        pending.close()


def _on_subsets(specs: Sequence[DatasetSpec], decided: list[list[SubsetFate]]) -> tuple[list[Ignored],
                                                                                      list[Finding]]:
    """What each dataset leaves out, and the findings on its roots and on each subset's fate, in
    the order sd-scripts meets them."""
    ignored: list[Ignored] = []
    findings: list[Finding] = []
    for spec, fates in zip(specs, decided):
        ignored += spec.ignored
        findings += build.spec_findings(spec)
        for fate in fates:
            ignored += fate.ignored()
            findings += build.subset_findings(fate, spec)
    return ignored, findings


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
    if len(subsets) < 2:  # (no folder read twice; and no path resolved for each of 100,000 datasets)
        return [(s.config.image_dir, [s]) for s in subsets]
    by_real: dict[str, list[Subset]] = defaultdict(list)
    for s in subsets:
        by_real[os.path.realpath(s.config.image_dir)].append(s)
    return list(by_real.items())


def scan_inputs(inp: Inputs, **kwargs) -> ScanResult:
    """The scan of ``inp``, with every finding ``regaudit scan`` prints: the stop on the command
    line first, then the dataset's, then the --in_json note (a trainer without fine-tuning datasets) and the stop while building (a dataset
    config or namespace sd-scripts refuses) as the result's crash. ``kwargs`` go to ``scan``."""
    return scan_inputs_with_text(inp, **kwargs)[0]


def scan_inputs_with_text(inp: Inputs, **kwargs) -> tuple[ScanResult, TextAudit | None]:
    """``scan_inputs``, and the caption audit the scan made (``regaudit captions`` shows it; None
    for a listing-only scan)."""
    if "text" not in kwargs:  # captions measured against the chosen trainer's text encoders
        kwargs["text"] = text_options(inp)
    result, text_audit = scan_with_text(inp.specs, caption_extension=inp.args.caption_extension, sources=inp.sources,  # type: ignore
                  latents_suffix=inp.latents_suffix, case_insensitive=inp.case_insensitive,
                  latents_to_disk=bool(inp.sd.get("cache_latents_to_disk", False)), **kwargs)  # type: ignore
    stop = inp.opts.start_crash  # type: ignore[attr-defined]
    if stop is not None:  # the stop on the command line is a finding of every command
        result = replace(result, findings=(build.crash_finding(stop),) + result.findings)
    if inp.findings:  # about the command itself (views.inputs: paths of another machine)
        result = replace(result, findings=tuple(inp.findings) + result.findings)
    in_json = inp.sd.get("in_json")  # type: ignore[attr-defined]
    if in_json and Kind.FINE_TUNING not in inp.opts.trainer.kinds:  # type: ignore[attr-defined]  # (else simulated)
        result = replace(result, findings=result.findings + (build.in_json(str(in_json)),))
    crash = startup.dataset_config(inp.config_crash) if inp.config_crash is not None else inp.args_crash  # type: ignore
    if crash is not None:
        result = replace(result, crash=crash, findings=result.findings + (build.crash_finding(crash),))
    return result, text_audit
