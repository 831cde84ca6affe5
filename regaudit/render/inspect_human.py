"""``regaudit inspect`` for people: the verdict first, then what the file was trained on; several
files as one table, a row per file."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..sdscripts.lora_metadata import Form, LoraMetadata
from .escape import display

_NO_DATA = {Form.NONE: "no ss_* metadata: stripped (by a merger or converter) or not saved by sd-scripts",
            Form.NO_DATASET: "no dataset metadata (trained with --no_metadata, or written by a tool that keeps only "
                             "the network keys)",
            Form.DATASET_CONFIG: "ss_datasets lists no dataset: the file records nothing of its training data",
            Form.FOLDER_SCAN: "ss_dataset_dirs lists no folder: the file records nothing of its training data"}


ROWS = 200  # rows of a table, and dataset lines, shown; the rest are counted (--json has every one)


def _more(n: int, what: str) -> list[RenderableType]:
    """The line under a list cut at ROWS."""
    return [_text(f"… and {n - ROWS} more {what} (inspect --json lists every one)", style="dim")] if n > ROWS else []


def _v(value) -> str:
    return "-" if value is None else str(value)


def _add(t: Table, *cells: str) -> None:
    """A row of strings that come from the file (any bytes its metadata holds): shown as text, never
    read as rich markup, control and bidi characters as escapes."""
    t.add_row(*(Text(display(c)) for c in cells))


def _text(line: str, **style) -> Text:
    return Text(display(line), **style)


def trained_on(meta: LoraMetadata) -> str:
    """One line: the figures of the run as recorded."""
    if not meta.datasets:
        return _NO_DATA[meta.form]
    used = sum(d.reg_samples_used for d in meta.datasets)
    reg = f", reg {meta.num_reg_images} recorded / {used} used" if meta.num_reg_images else ""
    return (f"{_v(meta.num_train_images)} train samples{reg}; {_v(meta.num_batches_per_epoch)} batches/epoch x "
            f"{_v(meta.num_epochs)} epochs = {_v(meta.max_train_steps)} steps")


def _verdict(meta: LoraMetadata, comparison) -> Text:
    if comparison is not None:
        return _text(comparison.verdict, style="green" if comparison.matches else "yellow")
    return _text(trained_on(meta), style="bold" if meta.datasets else "yellow")


def files_table(files) -> Table:
    t = Table(title="LoRA files", title_justify="left")
    t.add_column("file", overflow="fold", ratio=2)
    t.add_column("trainer", overflow="fold", ratio=1)
    for col in ("train", "reg rec/used", "batches/ep", "epochs", "steps"):
        t.add_column(col, justify="right", no_wrap=True)
    for meta in files:
        if not meta.datasets:
            _add(t, meta.path, _v(meta.trainer), _NO_DATA[meta.form].split(":")[0].split(" (")[0], "", "", "", "")
            continue
        used = sum(d.reg_samples_used for d in meta.datasets)
        _add(t, meta.path, _v(meta.trainer), _v(meta.num_train_images), f"{_v(meta.num_reg_images)}/{used}",
                  _v(meta.num_batches_per_epoch), _v(meta.num_epochs), _v(meta.max_train_steps))
    return t


def _network(meta: LoraMetadata) -> str:
    module = meta.get("ss_network_module")
    if module is None:
        return "-"
    return f"{module} dim {_v(meta.get('ss_network_dim'))} alpha {_v(meta.get('ss_network_alpha'))}"


def _run_table(meta: LoraMetadata) -> Table:
    t = Table(show_header=False, box=None, pad_edge=False)
    t.add_column(style="bold")
    t.add_column()
    rows = [("trainer", f"{_v(meta.trainer)} (base model version {_v(meta.get('ss_base_model_version'))})"),
            ("base model", _v(meta.get("ss_sd_model_name"))), ("network", _network(meta)),
            ("network args", meta.get("ss_network_args")), ("optimizer", meta.get("ss_optimizer")),
            ("learning rate", meta.get("ss_learning_rate")), ("metadata form", meta.form.value.replace("_", " ")),
            ("gradient accumulation", meta.get("ss_gradient_accumulation_steps")),
            ("processes", _v(meta.num_processes) if meta.num_processes else None)]
    for k, v in rows:
        if v is not None:
            _add(t, k, v)
    return t


def _subsets_table(meta: LoraMetadata) -> Table:
    t = Table(title="datasets and subsets as recorded", title_justify="left")
    for col in ("dataset", "subset", "role", "repeats", "images", "samples", "class tokens", "caption options"):
        t.add_column(col, justify="right" if col in ("dataset", "repeats", "images", "samples") else "left")
    rows = [(d, s) for d in meta.datasets for s in d.subsets]
    for d, s in rows[:ROWS]:
        opts = ", ".join(f"{k}={v}" for k, v in s.options if v not in (None, False, "", 0))
        _add(t, str(d.index), s.name, "reg" if s.is_reg else "train", _v(s.num_repeats), _v(s.img_count),
             _v(s.samples), _v(s.class_tokens), opts or "-")
    return t


def _datasets_lines(meta: LoraMetadata) -> list[RenderableType]:
    out: list[RenderableType] = []
    for d in meta.datasets[:ROWS]:
        reso = "x".join(map(str, d.resolution)) if d.resolution else "-"
        bucket = f"buckets {d.min_bucket_reso}..{d.max_bucket_reso}" if d.enable_bucket else "no bucketing"
        reg = ""
        if d.num_reg_images:
            reg = (f"; reg {d.num_reg_images} recorded (every reg image x repeats), {d.reg_samples_used} used by the "
                   f"balancing loop, {d.reg_images_unused} reg images never used")
        out.append(_text(f"dataset {d.index}: batch {_v(d.batch_size)}, resolution {reso}, {bucket}; "
                        f"{_v(d.num_train_images)} train samples{reg}"))
        if d.buckets:
            out.append(_text("  buckets: " + ", ".join(f"{b.resolution[0]}x{b.resolution[1]}:{b.count}"
                                                      for b in d.buckets[:ROWS])))
    return out + _more(len(meta.datasets), "datasets")


def _tags_table(meta: LoraMetadata, top: int) -> Table:
    t = Table(title=f"tags per folder (ss_tag_frequency, top {top})", title_justify="left")
    t.add_column("folder")
    t.add_column("captions' tags, most common first")
    for folder, tags in list(meta.tag_frequency.items())[:ROWS]:
        items = sorted(tags.items(), key=lambda kv: (-kv[1], kv[0]))
        more = f" (+{len(items) - top} more)" if len(items) > top else ""
        _add(t, folder, ", ".join(f"{k} {n}" for k, n in items[:top]) + more)
    return t


def _comparison_table(c) -> Table:
    t = Table(title="against the dataset now", title_justify="left")
    for col in ("dataset", "subset", "role", "status", "images", "repeats", "tags", "folder now"):
        t.add_column(col)
    for s in c.subsets[:ROWS]:
        tags = "; ".join(p for p in (("+" + ", +".join(s.tags_gained)) if s.tags_gained else "",
                                     ("-" + ", -".join(s.tags_lost)) if s.tags_lost else "",
                                     f"{len(s.tags_recounted)} recounted" if s.tags_recounted else "") if p)
        _add(t, str(s.dataset), s.name, "reg" if s.is_reg else "train", s.status,
                  f"{_v(s.images[0])} -> {_v(s.images[1])}", f"{_v(s.repeats[0])} -> {_v(s.repeats[1])}", tags or "-",
                  _v(s.folder))
    f = Table(show_header=True, box=None)
    for col in ("figure", "recorded", "now"):
        f.add_column(col, justify="left" if col == "figure" else "right")
    for name, recorded, now in c.figures:
        _add(f, name, _v(recorded), _v(now))
    return Group(t, *_more(len(c.subsets), "subsets"), f)  # type: ignore[return-value]


def file_view(meta: LoraMetadata, comparison=None, top: int = 15) -> Group:
    parts: list[RenderableType] = [_verdict(meta, comparison), _text(meta.path, style="bold", no_wrap=True,
                                                                      overflow="ignore")]
    if comparison is not None:
        parts.append(_text("recorded: " + trained_on(meta)))
    parts.append(_run_table(meta))
    if meta.datasets:
        parts += _datasets_lines(meta)
        parts.append(_subsets_table(meta))
        parts += _more(sum(len(d.subsets) for d in meta.datasets), "subsets")
    if meta.tag_frequency:
        parts.append(_tags_table(meta, top))
        parts += _more(len(meta.tag_frequency), "folders")
    if comparison is not None:
        parts.append(_comparison_table(comparison))
        if comparison.filled:
            parts.append(_text("taken from the metadata (not on the command line): " + ", ".join(comparison.filled),
                              style="dim"))
    return Group(*parts)


def inspect_view(result, top: int = 15) -> Group:
    if len(result.files) == 1:
        return file_view(result.files[0], result.comparisons[0], top)
    lines: list[RenderableType] = [files_table(result.files)]
    for meta, c in zip(result.files, result.comparisons):
        if c is not None:
            lines.append(Text.assemble(display(f"{meta.path}: "), _verdict(meta, c)))
    return Group(*lines)
