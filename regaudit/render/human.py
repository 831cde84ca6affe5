"""Rich renderables for people at a terminal. Pure: they build renderables, the CLI prints them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..model import Finding, Ignored, ScanResult, Severity
from .json_out import sort_findings

SEVERITY_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
MAX_ROWS = 40


def _more(n: int) -> Text:
    return Text(f"  … and {n} more (use --json for the full list)", style="dim")


def subsets_table(result: ScanResult) -> Table:
    t = Table(title="Subsets sd-scripts will use", title_justify="left", expand=False)
    for col, kw in (("ds", {"justify": "right"}), ("role", {}), ("repeats", {"justify": "right"}),
                    ("class tokens", {}), ("images", {"justify": "right"}), ("samples", {"justify": "right"}),
                    ("captions file/tokens/empty", {"justify": "right"}), ("folder", {"overflow": "fold"})):
        t.add_column(col, **kw)
    for d in result.datasets:
        for s in d.subsets:
            c = s.caption_counts()
            tokens = s.config.class_tokens
            t.add_row(str(d.index), s.role.value, str(s.num_repeats),
                      "(none)" if tokens is None else repr(tokens) if tokens == "" else tokens,
                      str(len(s.images)), str(s.samples), f"{c['file']}/{c['class_tokens']}/{c['empty']}",
                      s.abs_path)
    return t


def ignored_table(items: Iterable[Ignored]) -> RenderableType:
    items = list(items)
    t = Table(title=f"Ignored by sd-scripts ({len(items)})", title_justify="left")
    t.add_column("kind")
    t.add_column("reason")
    t.add_column("path", overflow="fold")
    t.add_column("why", overflow="fold")
    for i in items[:MAX_ROWS]:
        t.add_row(i.kind, i.reason.value, i.path, i.message)
    return Group(t, _more(len(items) - MAX_ROWS)) if len(items) > MAX_ROWS else t


def findings_block(findings: Iterable[Finding]) -> Iterator[RenderableType]:
    findings = sort_findings(findings)
    for sev in Severity:
        group = [f for f in findings if f.severity is sev]
        if not group:
            continue
        yield Text(f"\n{sev.value.upper()}S ({len(group)})", style=SEVERITY_STYLE[sev])
        for f in group[:MAX_ROWS]:
            line = Text()
            line.append(f"{f.code} ", style=SEVERITY_STYLE[sev])
            line.append(f"{f.path}\n", style="bold")
            line.append(f"    {f.message}\n")
            line.append(f"    hint: {f.hint}", style="dim")
            yield line
        if len(group) > MAX_ROWS:
            yield _more(len(group) - MAX_ROWS)


def summary_line(counts: dict[str, int]) -> Text:
    t = Text()
    t.append(f"{counts['error']} errors", style=SEVERITY_STYLE[Severity.ERROR] if counts["error"] else "green")
    t.append(", ")
    t.append(f"{counts['warning']} warnings", style=SEVERITY_STYLE[Severity.WARNING] if counts["warning"] else "")
    t.append(f", {counts['info']} info")
    return t


def scan_view(result: ScanResult) -> Group:
    parts: list[RenderableType] = []
    n_img = sum(len(s.images) for s in result.subsets)
    train = sum(s.samples for s in result.subsets if not s.config.is_reg)
    reg = sum(s.samples for s in result.subsets if s.config.is_reg)
    head = Text()
    head.append("regaudit scan", style="bold")
    head.append(f": {len(result.subsets)} subsets, {n_img} images, {train} train samples, {reg} reg samples "
                f"(caption extension '{result.caption_extension}'{', deep' if result.deep else ''}) — ")
    head.append_text(summary_line(result.counts()))
    parts.append(head)
    if result.subsets:
        parts.append(subsets_table(result))
    if result.ignored:
        parts.append(ignored_table(result.ignored))
    parts.extend(findings_block(result.findings))
    return Group(*parts)
