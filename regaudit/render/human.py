"""Rich renderables for people at a terminal. Pure: they build renderables, the CLI prints them."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from ..model import Finding, Ignored, ScanResult, Severity
from ..outputs import HUMAN_HEAD
from .escape import display
from .json_out import counts, sort_findings

SEVERITY_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
MAX_ROWS = 40


def _more(n: int) -> Text:
    return Text(f"  … and {n} more (use --json for the full list)", style="dim")


def shown(path: str) -> str:
    """A path as people want to read it: relative to the working directory when inside it, with
    control characters and bytes that are not UTF-8 escaped."""
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        rel = path
    return display(path if rel.startswith("..") else rel)


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
                      "(none)" if tokens is None else repr(tokens) if tokens == "" else display(tokens),
                      str(len(s.images)), str(s.samples), f"{c['file']}/{c['class_tokens']}/{c['empty']}",
                      shown(s.abs_path))
    return t


def images_table(result: ScanResult) -> Table:
    t = Table(title="Images as sd-scripts reads them", title_justify="left")
    for col in ("image", "size", "via", "format", "mode", "exif", "caption"):
        t.add_column(col, overflow="fold")
    for s in result.subsets:
        for img in s.images:
            p, c = img.probe, img.caption
            size = f"{p.width}x{p.height}" if p.error is None else f"[red]{p.error_kind}[/]"
            fmt = p.format or "?"
            if p.format and img.ext.lower().lstrip(".") not in (p.format.lower(), "jpg" if p.format == "JPEG" else ""):
                fmt += f" (as {display(img.ext)})"
            caption = c.source.value if c.error is None else f"[red]{c.error}[/]"
            t.add_row(shown(img.abs_path), Text.from_markup(size), p.size_via, fmt, p.mode or "?",
                      "" if p.exif_orientation in (None, 1) else str(p.exif_orientation), Text.from_markup(caption))
    return t


def ignored_table(items: Iterable[Ignored]) -> RenderableType:
    items = list(items)
    t = Table(title=f"Ignored by sd-scripts ({len(items)})", title_justify="left")
    t.add_column("kind")
    t.add_column("reason")
    t.add_column("path", overflow="fold")
    t.add_column("why", overflow="fold")
    for i in items[:MAX_ROWS]:
        t.add_row(i.kind, i.reason.value, shown(i.path), display(i.message))
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
            line.append(f"{shown(f.path)}\n", style="bold")
            line.append(f"    {display(f.message)}\n")
            line.append(f"    hint: {display(f.hint)}", style="dim")
            yield line
        if len(group) > MAX_ROWS:
            yield _more(len(group) - MAX_ROWS)


def summary_line(c: dict[str, int]) -> Text:
    t = Text()
    t.append(f"{c['error']} errors", style=SEVERITY_STYLE[Severity.ERROR] if c["error"] else "green")
    t.append(", ")
    t.append(f"{c['warning']} warnings", style=SEVERITY_STYLE[Severity.WARNING] if c["warning"] else "")
    t.append(f", {c['info']} info")
    return t


def scan_view(result: ScanResult, with_images: bool = False) -> Group:
    parts: list[RenderableType] = []
    n_img = sum(len(s.images) for s in result.subsets)
    train = sum(s.samples for s in result.subsets if not s.config.is_reg)
    reg = sum(s.samples for s in result.subsets if s.config.is_reg)
    head = Text()
    head.append("regaudit scan", style="bold")
    head.append(f": {len(result.subsets)} subsets, {n_img} images, {train} train samples, {reg} reg samples "
                f"(caption extension '{display(result.caption_extension)}'{', deep' if result.deep else ''}) — ")
    head.append_text(summary_line(result.counts()))
    parts.append(head)
    if result.subsets:
        parts.append(subsets_table(result))
    if with_images and result.subsets:
        parts.append(images_table(result))
    if result.ignored:
        parts.append(ignored_table(result.ignored))
    parts.extend(findings_block(result.findings))
    return Group(*parts)


def registered_table(plan) -> Table:
    t = Table(title="Registered images", title_justify="left")
    for col in ("ds", "role", "repeats", "bucket", "image"):
        t.add_column(col, overflow="fold")
    for d in plan.datasets:
        for r in d.images:
            t.add_row(str(d.index), "reg" if r.is_reg else "train", str(r.num_repeats),
                      "—" if r.bucket is None else f"{r.bucket[0]}x{r.bucket[1]}", shown(r.record.abs_path))
        for img in d.unused_reg:
            t.add_row(str(d.index), "reg", "0 (unused)", "—", shown(img.abs_path))
    return t


def balance_view(plan, with_images: bool = False) -> Group:
    """Rich view of a balance.BalancePlan."""
    parts: list[RenderableType] = []
    head = Text()
    head.append("regaudit balance", style="bold")
    head.append(" — ")
    head.append_text(summary_line(counts(plan.findings)))
    parts.append(head)
    for d in plan.datasets:
        t = Table(title=f"Dataset {d.index}", title_justify="left", show_header=False)
        t.add_column("what")
        t.add_column("value", justify="right")
        res = d.params.resolution
        t.add_row("resolution", f"{res[0]}x{res[1]}" if res else "(none)")
        t.add_row("batch size", str(d.params.batch_size))
        t.add_row("train samples (num_train_images)", str(d.num_train_images))
        t.add_row("reg samples, raw (num_reg_images)", str(d.num_reg_images))
        t.add_row("reg samples used", str(d.reg_samples_used))
        used = sum(1 for r in d.images if r.is_reg)
        t.add_row("reg images used / total", f"{used} / {d.reg_image_count}")
        hist: dict[int, int] = {}
        for r in d.images:
            if r.is_reg:
                hist[r.num_repeats] = hist.get(r.num_repeats, 0) + 1
        if hist:
            t.add_row("reg images by effective repeats",
                      ", ".join(f"{v}×{k}" for k, v in sorted(hist.items())))
        t.add_row("batches per epoch", "—" if d.batches is None else str(d.batches))
        if d.train_only_batches is not None and d.num_reg_images:
            t.add_row("batches without reg", str(d.train_only_batches))
        parts.append(t)
        if d.unused_reg:
            names = ", ".join(display(i.abs_path) for i in d.unused_reg[:5])
            more = f" … and {len(d.unused_reg) - 5} more" if len(d.unused_reg) > 5 else ""
            parts.append(Text(f"  never used: {len(d.unused_reg)} reg images: {names}{more}", style="yellow"))
        if d.buckets:
            bt = Table(title=f"Buckets of dataset {d.index}", title_justify="left")
            for col in ("bucket", "train", "reg", "batches"):
                bt.add_column(col, justify="right")
            for b in d.buckets[:MAX_ROWS]:
                bt.add_row(f"{b.resolution[0]}x{b.resolution[1]}", str(b.train), str(b.reg), str(b.batches))
            parts.append(bt)
    tot = Table(title="Steps", title_justify="left", show_header=False)
    tot.add_column("what")
    tot.add_column("value", justify="right")
    if plan.would_crash:
        parts.append(Text("sd-scripts would stop before training on this input; see the errors below.",
                          style="bold red"))
    else:
        o = plan.options
        tot.add_row("batches per epoch (all datasets)", str(plan.batches_per_epoch))
        tot.add_row("optimizer steps per epoch", str(plan.steps_per_epoch))
        if o.max_train_epochs is not None:
            tot.add_row(f"max_train_steps for {o.max_train_epochs} epochs", str(plan.max_train_steps))
        else:
            tot.add_row("max_train_steps (given or default)", str(plan.max_train_steps))
            tot.add_row("epochs that makes", f"{plan.max_train_steps / plan.steps_per_epoch:.2f} ({plan.epochs} started)"
                        if plan.steps_per_epoch else "—")
        tot.add_row("kohya_ss GUI estimate (×2 with reg)", str(plan.gui_estimate))
        tot.add_row(f"reg share of the loss weight (prior_loss_weight {o.prior_loss_weight:g})",
                    f"{plan.reg_loss_share:.1%}")
        parts.append(tot)
    if with_images:
        parts.append(registered_table(plan))
    parts.extend(findings_block(plan.findings))
    return Group(*parts)


def suggestions_view(suggestions) -> RenderableType:
    if not suggestions:
        return Text("\nNo change suggested: every reg image is used and none is repeated.", style="green")
    t = Table(title="Suggestions", title_justify="left")
    t.add_column("ds", justify="right")
    t.add_column("goal")
    t.add_column("change", overflow="fold")
    t.add_column("result", overflow="fold")
    for s in suggestions:
        t.add_row(str(s.dataset), s.goal, display(s.change), display(s.result))
    return t


def dupes_view(result) -> Group:
    """Rich view of a dedupe.DupesResult."""
    head = Text()
    head.append("regaudit dupes", style="bold")
    head.append(f": {result.images} images, {len(result.groups)} duplicate groups "
                f"({result.options.hash.value}, max distance {result.options.max_distance}"
                f"{', flip_aug' if result.options.flip_aug else ''}; {result.hashed} decoded, "
                f"{result.images - result.hashed} from cache) — ")
    head.append_text(summary_line(counts(result.findings)))
    parts: list[RenderableType] = [head]
    if result.groups:
        t = Table(title="Duplicate groups", title_justify="left")
        for col in ("#", "where", "kind", "dist", "members (role, effective repeats)"):
            t.add_column(col, overflow="fold")
        for k, g in enumerate(result.groups[:MAX_ROWS], 1):
            style = "bold red" if g.label == "leakage" else ""
            t.add_row(str(k), Text(g.label, style=style), g.kind + (" (exif)" if g.via_exif else ""),
                      str(g.distance),
                      "\n".join(f"{shown(m.path)} ({m.role}, ×{m.effective_repeats})" for m in g.members))
        parts.append(t)
        if len(result.groups) > MAX_ROWS:
            parts.append(_more(len(result.groups) - MAX_ROWS))
    parts.extend(findings_block(result.findings))
    return Group(*parts)


def smoke_view(result) -> Group:
    """A short checklist for a smoke.SmokeResult."""
    parts: list[RenderableType] = []
    head = Text()
    head.append("regaudit smoke", style="bold")
    head.append(f": {len(result.samples)} samples on {result.device}, {result.dtype}; step {result.step_seconds * 1000:.0f} ms, "
                f"{result.peak_memory_kind} {result.peak_memory_bytes / 2**20:.0f} MiB")
    parts.append(head)
    parts.append(Text(f"batch: {display(result.batch_note)}", style="dim"))
    t = Table(show_header=True)
    for col in ("role", "weight", "loss", "image"):
        t.add_column(col, overflow="fold")
    for s in result.samples:
        t.add_row("reg" if s.is_reg else "train", f"{s.weight:g}", f"{s.loss:.5f}", shown(s.path))
    parts.append(t)
    for c in result.checks:
        line = Text()
        line.append("  PASS " if c.passed else "  FAIL ", style="green" if c.passed else "bold red")
        line.append(f"{c.name}: ", style="bold")
        line.append(display(c.detail))
        parts.append(line)
    parts.append(Text(f"weighted loss back-propagated: {result.weighted_loss:.6g}"))
    parts.append(Text("PASSED" if result.passed else "FAILED", style="bold green" if result.passed else "bold red"))
    return Group(*parts)


def check_view(verdict) -> Group:
    """Rich view of a gate.Verdict."""
    # the title line doubles as the mark by which ``-o`` recognises a file it wrote
    head = Text(f"{HUMAN_HEAD}{', '.join(verdict.ran)}; policy: {display(verdict.policy)}; "
                f"fail-on {verdict.fail_on.value}) — ")
    parts: list[RenderableType] = [head + summary_line(verdict.counts())]
    parts += list(findings_block(verdict.findings))
    if verdict.failing:
        parts.append(Text(f"\nFAILED: {len(verdict.failing)} finding(s) at or above '{verdict.fail_on.value}'",
                          style="bold red"))
    else:
        parts.append(Text(f"\nPASSED: no finding at or above '{verdict.fail_on.value}'", style="bold green"))
    return Group(*parts)
