"""``regaudit inspect``: what finished LoRAs were trained on (their ``ss_*`` metadata, read by
sdscripts/lora_metadata.py), and, given a training command or roots, how the dataset there now
differs from it: per recorded subset the folder of that name now, images added or removed, repeats
changed, tags gained or lost (counted as sd-scripts counts ``ss_tag_frequency``), and the figures
the same command gives today (the scan and balance views)."""

from __future__ import annotations

import math
import os
import shlex
from dataclasses import dataclass

from ..model import ScanResult
from ..sdscripts.lora_metadata import DatasetRecord, Form, LoraMetadata, SubsetRecord, load
from ..sdscripts.tagfreq import dataset_tag_frequency, subset_name

MATCHES = "matches the dataset this LoRA was trained on"


@dataclass(frozen=True)
class SubsetChange:
    """One recorded subset against the dataset now (or a subset that is new)."""

    dataset: int
    name: str  # the folder's base name
    is_reg: bool
    folder: str | None  # the folder it matches now (absolute); None: none of that name
    images: tuple[int | None, int | None]  # (recorded, now)
    repeats: tuple[int | None, int | None]
    tags_gained: tuple[str, ...] = ()
    tags_lost: tuple[str, ...] = ()
    tags_recounted: tuple[str, ...] = ()  # tags whose count changed

    @property
    def status(self) -> str:
        if self.folder is None:
            return "missing"
        if self.images[0] is None and self.repeats[0] is None:
            return "new"
        same = self.images[0] == self.images[1] and self.repeats[0] == self.repeats[1]
        return "same" if same and not (self.tags_gained or self.tags_lost or self.tags_recounted) else "changed"


@dataclass(frozen=True)
class Comparison:
    subsets: tuple[SubsetChange, ...]
    figures: tuple[tuple[str, int | None, int | None], ...]  # (name, recorded, now)
    filled: tuple[str, ...]  # options taken from the metadata because the command did not give them
    differences: tuple[str, ...]  # one phrase per difference, the verdict's parts

    @property
    def matches(self) -> bool:
        return not self.differences

    @property
    def verdict(self) -> str:
        """One line: the first VERDICT_PARTS differences of subsets, how many more, and the figures'."""
        if self.matches:
            return MATCHES
        tail = _figure_differences(self.figures)
        head = self.differences[:len(self.differences) - len(tail)]
        if len(head) > VERDICT_PARTS:
            head = (*head[:VERDICT_PARTS], f"and {len(head) - VERDICT_PARTS} more differences of subsets (inspect "
                                           f"--json lists every one)")
        return "differs: " + "; ".join((*head, *tail))


VERDICT_PARTS = 8  # differences of subsets the verdict line names (a LoRA of 200,000 folders made it 7 MB)


@dataclass(frozen=True)
class Inspection:
    files: tuple[LoraMetadata, ...]
    comparisons: tuple[Comparison | None, ...]  # per file; None without a dataset to compare with
    notes: tuple[str, ...] = ()  # what reading the command said (for stderr)


def read(paths: list[str]) -> tuple[LoraMetadata, ...]:
    return tuple(load(p) for p in paths)


def inspect(paths: list[str], raw: list[str] | None = None, trainer: str | None = None,
            scan_kwargs: dict | None = None) -> Inspection:
    """Read every file's metadata; with a training command or roots (``raw``, sd-scripts' part of
    the command line) compare each with the dataset there now, read with that command and, for what
    it does not give, the options the file records. A file without dataset metadata is not compared."""
    from ..sdscripts import trainers
    from ..sdscripts.argv import split_command
    from .balance import plan as make_plan
    from .inputs import read_inputs
    from .scan import scan_inputs

    files = read(paths)
    if not raw:
        return Inspection(files, tuple(None for _ in files))
    if len(raw) == 1 and " " in raw[0] and ".py" in raw[0]:  # the whole command pasted as one argument
        raw = shlex.split(raw[0])
    pasted = split_command(raw)[0] is not None  # (the script names the trainer)
    first = read_inputs(raw, trainer or (None if pasted else _trainer(files, trainers.REGISTRY)))
    given = first.sd.given | first.sd.from_config_file  # type: ignore[attr-defined]
    comparisons: list[Comparison | None] = []
    notes: list[str] = []
    done: dict[tuple, tuple] = {}
    for meta in files:
        if not meta.datasets:
            comparisons.append(None)
            continue
        name = trainer or (None if pasted else (meta.trainer if meta.trainer in trainers.REGISTRY else None)
                           or _trainer(files, trainers.REGISTRY))
        extra = overrides(meta, set(given))
        if meta.num_processes:
            extra["num_processes"] = meta.num_processes  # (below accelerate launch's --num_processes)
        key = (name, tuple(sorted((k, str(v)) for k, v in extra.items())))
        if key not in done:
            inp = read_inputs(raw, name, None, extra)
            notes += [n for n in inp.notes if n not in notes]
            scan = scan_inputs(inp, **(scan_kwargs or {}))
            done[key] = (scan, make_plan(scan, inp.opts))  # type: ignore[arg-type]
        scan, plan = done[key]
        comparisons.append(compare(meta, scan, plan, tuple(sorted(extra))))
    if "caption_extension" not in given and any(s.tags_lost for c in comparisons if c for s in c.subsets):
        notes.append(f"the metadata does not record the caption extension: captions were read as "
                     f"'{first.args.caption_extension}' (sd-scripts' default unless given); give "  # type: ignore[attr-defined]
                     f"--caption_extension as in the training command")
    return Inspection(files, tuple(comparisons), tuple(notes))


def compare_loras(files: tuple[LoraMetadata, ...], scan: ScanResult, plan) -> Inspection:
    """Each file against a dataset already scanned and planned with the user's command as given
    (``report --lora``)."""
    return Inspection(files, tuple(compare(m, scan, plan) if m.datasets else None for m in files))


def _trainer(files: tuple[LoraMetadata, ...], known) -> str | None:
    """The trainer the command is read with when it names none: the first file's, where regaudit knows it."""
    return next((m.trainer for m in files if m.trainer in known), None)


def overrides(meta: LoraMetadata, given: set[str]) -> dict:
    """sd-scripts options the metadata records, for those the command does not give: the run is
    then compared as it was made. The step count follows the recorded epochs where the recorded
    steps are that many whole epochs, else the recorded steps."""
    out: dict = {}
    d = meta.datasets[0] if meta.datasets else None
    if meta.form is Form.FOLDER_SCAN and d is not None:
        for key, value in (("resolution", d.resolution), ("train_batch_size", d.batch_size),
                           ("enable_bucket", d.enable_bucket), ("min_bucket_reso", d.min_bucket_reso),
                           ("max_bucket_reso", d.max_bucket_reso), ("bucket_no_upscale",
                                                                     meta.value("ss_bucket_no_upscale"))):
            if value is not None:
                out[key] = list(value) if isinstance(value, tuple) else value
    if meta.gradient_accumulation_steps:
        out["gradient_accumulation_steps"] = meta.gradient_accumulation_steps
    if meta.value("ss_prior_loss_weight") is not None:
        out["prior_loss_weight"] = meta.value("ss_prior_loss_weight")
    if "max_train_steps" not in given and "max_train_epochs" not in given and meta.max_train_steps is not None:
        per_epoch = _steps_per_epoch(meta)
        if meta.num_epochs and per_epoch and meta.num_epochs * per_epoch == meta.max_train_steps:
            out["max_train_epochs"] = meta.num_epochs
        else:
            out["max_train_steps"] = meta.max_train_steps
    return {k: v for k, v in out.items() if k not in given}


def _steps_per_epoch(meta: LoraMetadata) -> int | None:
    if meta.num_batches_per_epoch is None:
        return None
    return math.ceil(meta.num_batches_per_epoch / (meta.num_processes or 1) / (meta.gradient_accumulation_steps or 1))


def _find(rec: SubsetRecord, index: int, form: Form, scan: ScanResult, taken: set[int], names: set[str]):
    """The kept subset of that base name and role now: in the same dataset first (dataset config);
    in a folder scan, failing the name, the folder of the same class tokens (its repeats changed)."""
    free = [(d, s) for d in scan.datasets for s in d.subsets if s.config.is_reg == rec.is_reg and id(s) not in taken]
    found = [(d, s) for d, s in free if _recorded_as(rec, s)]
    if not found and form is Form.FOLDER_SCAN:
        found = [(d, s) for d, s in free if not s.config.from_config and s.config.class_tokens == rec.class_tokens
                 and subset_name(s.config) not in names]
    same = [(d, s) for d, s in found if form is not Form.DATASET_CONFIG or d.index == index]
    return (same or found or [(None, None)])[0]


def _recorded_as(rec: SubsetRecord, s) -> bool:
    """Whether ``rec`` records subset ``s``: a fine-tuning subset of a dataset config by its metadata
    file (its image_dir may be any folder's), every other by subset_name."""
    if rec.metadata_file is not None:
        return s.config.metadata_file is not None and os.path.basename(s.config.metadata_file) == rec.metadata_file
    return subset_name(s.config) == rec.name


def _tags(recorded: dict[str, int], now: dict[str, int]) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    gained = tuple(t for t in now if t not in recorded)
    lost = tuple(t for t in recorded if t not in now)
    recounted = tuple(t for t in recorded if t in now and now[t] != recorded[t])
    return gained, lost, recounted


def compare(meta: LoraMetadata, scan: ScanResult, plan, filled: tuple[str, ...] = ()) -> Comparison:
    """The dataset now (its scan and balance plan, from the same command) against the recorded one."""
    changes: list[SubsetChange] = []
    taken: set[int] = set()
    now_tags = {d.index: dataset_tag_frequency(d) for d in scan.datasets}
    names = {rec.name for d in meta.datasets for rec in d.subsets}
    for d in meta.datasets:
        for rec in d.subsets:
            ds, s = _find(rec, d.index, meta.form, scan, taken, names)
            if s is None:
                changes.append(SubsetChange(d.index, rec.name, rec.is_reg, None, (rec.img_count, None),
                                            (rec.num_repeats, None)))
                continue
            taken.add(id(s))
            recorded = (d.tag_frequency or meta.tag_frequency).get(rec.metadata_file or rec.name, {})
            gained, lost, recounted = _tags(recorded, now_tags[ds.index].get(subset_name(s.config), {}))
            changes.append(SubsetChange(d.index, rec.name, rec.is_reg, s.abs_path, (rec.img_count, len(s.images)),
                                        (rec.num_repeats, s.num_repeats), gained, lost, recounted))
    for ds in scan.datasets:
        for s in ds.subsets:
            if id(s) not in taken and s.images:
                changes.append(SubsetChange(ds.index, subset_name(s.config), s.config.is_reg,
                                            s.abs_path, (None, len(s.images)), (None, s.num_repeats)))
    figures = _figures(meta, plan)
    return Comparison(tuple(changes), figures, filled, _differences(changes, figures))


def _figures(meta: LoraMetadata, plan) -> tuple[tuple[str, int | None, int | None], ...]:
    trains = plan is not None and plan.batches_per_epoch is not None and not plan.no_data
    train = sum(p.num_train_images for p in plan.datasets) if trains else None
    reg = sum(p.num_reg_images for p in plan.datasets) if trains else None
    used = sum(p.reg_samples_used for p in plan.datasets) if trains else None
    recorded_used = sum(d.reg_samples_used for d in meta.datasets) if meta.datasets else None
    return (("train samples", meta.num_train_images, train),
            ("reg samples (all reg images x repeats)", meta.num_reg_images, reg),
            ("reg samples used", recorded_used, used),
            ("batches per epoch", meta.num_batches_per_epoch, plan.batches_per_epoch if trains else None),
            ("epochs", meta.num_epochs, plan.epochs if trains else None),
            ("steps", meta.max_train_steps, plan.max_train_steps if trains else None))


def _n(k: int, word: str) -> str:
    return f"{k} {word}{'' if k == 1 else 's'}"


def _differences(changes: list[SubsetChange], figures) -> tuple[str, ...]:
    out: list[str] = []
    for c in changes:
        where = f"{'reg ' if c.is_reg else ''}'{c.name}'"
        if c.status == "missing":
            out.append(f"{where} ({_n(c.images[0] or 0, 'image')}) is gone")
        elif c.status == "new":
            out.append(f"{where} is new ({_n(c.images[1] or 0, 'image')} x {c.repeats[1]})")
        elif c.status == "changed":
            (was, now), (r_was, r_now) = c.images, c.repeats
            if was is not None and now is not None and was != now:
                out.append(f"{where}: {_n(abs(now - was), 'image')} {'added' if now > was else 'removed'} "
                           f"({was} -> {now})")
            if r_was != r_now:
                out.append(f"{where}: repeats {r_was} -> {r_now}")
            if c.tags_gained or c.tags_lost:
                parts = ([f"gained {', '.join(c.tags_gained[:5])}"] if c.tags_gained else []) + \
                        ([f"lost {', '.join(c.tags_lost[:5])}"] if c.tags_lost else [])
                out.append(f"{where}: tags {' and '.join(parts)}")
            elif c.tags_recounted and was == now:  # (added or removed images recount tags anyway)
                out.append(f"{where}: {_n(len(c.tags_recounted), 'tag')} counted differently "
                           f"({', '.join(c.tags_recounted[:5])})")
    return (*out, *_figure_differences(figures))


def _figure_differences(figures) -> tuple[str, ...]:
    out = []
    for name, recorded, now in figures:
        if name == "steps" and recorded is not None and now is not None and recorded != now:
            out.append(f"{now} steps today against {recorded} recorded")
        elif name == "steps" and recorded is not None and now is None:
            out.append("sd-scripts would not train on the dataset now")
    return tuple(out)
