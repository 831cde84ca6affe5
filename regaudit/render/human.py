"""Rich renderables for people at a terminal. Pure: they build renderables, the CLI prints them."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from ..model import Finding, Ignored, ScanResult, Severity, sort_findings
from ..outputs import HUMAN_HEAD
from ..safeio import shown as relative
from ..sdscripts.layout import looks_like_image
from ..sdscripts.tokens import NOT_COUNTED_WHY
from ..views.headline import of_plan, of_scan
from .escape import display
from .json_out import counts
from .verdict import verdict_line
from .width import Breakable, runs, run_text

SEVERITY_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}
MAX_ROWS = 40
EXAMPLES = 3  # images a finding names in its message (rules.naming.EXAMPLES)
MAX_DATASETS = 200  # datasets shown one by one in balance (a config may hold 100,000: --json has them all)
MAX_SUBSETS = 500  # subsets shown one by one in the scan and captions tables
MAX_MEMBERS = 50  # files of one duplicate group shown in the dupes table (a file linked into 100,000 folders is one group)


def _more(n: int) -> Text:
    return Text(f"  … and {n} more (use --json for the full list)", style="dim")


def shown(path: str) -> str:
    """A path as people want to read it: relative to the working directory when inside it, with
    control characters and bytes that are not UTF-8 escaped."""
    return display(relative(path))


def subsets_table(result: ScanResult) -> RenderableType:
    """One row per subset, the first MAX_SUBSETS of them (a config of 100,000 datasets: --json has
    every one; a table of them all took a minute to draw)."""
    t = Table(title="Subsets sd-scripts will use", title_justify="left", expand=False)
    for col, kw in (("ds", {"justify": "right"}), ("role", {}), ("repeats", {"justify": "right"}),
                    ("class tokens", {}), ("images", {"justify": "right"}), ("samples", {"justify": "right"}),
                    (Breakable("captions file/ tokens/ empty"), {"justify": "right"}), ("folder", {})):
        t.add_column(col, **kw)
    rows = [(d, s) for d in result.datasets for s in d.subsets]
    for d, s in rows[:MAX_SUBSETS]:
        c = s.caption_counts()
        tokens = s.config.class_tokens
        t.add_row(str(d.index), s.role.value, str(s.num_repeats),
                  "(none)" if tokens is None else repr(tokens) if tokens == "" else display(tokens),
                  str(len(s.images)), str(s.samples), f"{c['file']}/{c['class_tokens']}/{c['empty']}",
                  Breakable(shown(s.abs_path)))
    return Group(t, _more(len(rows) - MAX_SUBSETS)) if len(rows) > MAX_SUBSETS else t


def images_table(result: ScanResult) -> Table:
    t = Table(title="Images as sd-scripts reads them", title_justify="left")
    for col in ("image", "size", "via", "format", "mode", "exif", "caption"):
        t.add_column(col)
    for s in result.subsets:
        for img in s.images:
            p, c = img.probe, img.caption
            size = f"{p.width}x{p.height}" if p.error is None else f"[red]{p.error_kind}[/]"
            fmt = p.format or "?"
            if p.format and img.ext.lower().lstrip(".") not in (p.format.lower(), "jpg" if p.format == "JPEG" else ""):
                fmt += f" (as {display(img.ext)})"
            caption = c.source.value if c.error is None else f"[red]{c.error}[/]"
            t.add_row(Breakable(shown(img.abs_path)), Text.from_markup(size), p.size_via, fmt, p.mode or "?",
                      "" if p.exif_orientation in (None, 1) else str(p.exif_orientation), Text.from_markup(caption))
    return t


def ignored_table(items: Iterable[Ignored]) -> RenderableType:
    items = list(items)
    t = Table(title=f"Ignored by sd-scripts ({len(items)})", title_justify="left")
    t.add_column("kind")
    t.add_column("reason")
    t.add_column("path")
    t.add_column("why")
    for i in items[:MAX_ROWS]:
        t.add_row(i.kind, Breakable(i.reason.value), Breakable(shown(i.path)),
                  Breakable(display(i.message)))
    return Group(t, _more(len(items) - MAX_ROWS)) if len(items) > MAX_ROWS else t


def _figure(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    if isinstance(value, dict):
        return ", ".join(f"{k} {v}" for k, v in value.items())
    return str(value)


def finding_images(f: Finding, with_images: bool) -> Iterator[RenderableType]:
    """The images a finding is about, one a line with its own figures (with --images); without it, a
    pointer to --images when the message could name only the first few."""
    if not f.images:
        return
    if not with_images:
        if len(f.images) > EXAMPLES:
            yield Padding(Text(f"({len(f.images)} images: --images lists them)", style="dim"), (0, 0, 0, 4))
        return
    for img in f.images:
        d = dict(img)
        line = Breakable("· ")
        line.append(shown(str(d.pop("path"))))
        if d:
            line.append("  " + "; ".join(f"{k} {display(_figure(v))}" for k, v in d.items()), "dim")
        yield Padding(line, (0, 0, 0, 4))


def findings_block(findings: Iterable[Finding], with_images: bool = False) -> Iterator[RenderableType]:
    findings = sort_findings(findings)
    for sev in Severity:
        group = [f for f in findings if f.severity is sev]
        if not group:
            continue
        yield Text(f"\n{sev.value.upper()}S ({len(group)})", style=SEVERITY_STYLE[sev])
        blocks = same_file_runs(group)
        for run in blocks[:MAX_ROWS]:
            f = run[0]
            if len(run) == 1:
                yield Breakable([(f"{f.code} ", SEVERITY_STYLE[sev]), (shown(f.path), "bold")])
            else:  # one file each, the same words: said once, the files named
                yield Breakable([(f"{f.code} ", SEVERITY_STYLE[sev]),
                                 (shown(os.path.dirname(f.path)), "bold"), (f" ({len(run)} images)", "")])
                names = [os.path.basename(g.path) for g in run]
                shown_names = names if with_images or len(names) <= EXAMPLES else names[:EXAMPLES]
                more = "" if len(shown_names) == len(names) else f" and {len(names) - len(shown_names)} more"
                yield Padding(Breakable(display(", ".join(shown_names)) + more, "bold"), (0, 0, 0, 4))
            # wrapped lines keep their indent
            yield Padding(Breakable(display(f.message)), (0, 0, 0, 4))
            yield Padding(Breakable(f"hint: {display(f.hint)}", "dim"), (0, 0, 0, 4))
            if len(run) == 1:
                yield from finding_images(f, with_images)
            elif not with_images and len(run) > EXAMPLES:
                yield Padding(Text(f"({len(run)} images: --images lists them)", style="dim"), (0, 0, 0, 4))
        if len(blocks) > MAX_ROWS:
            yield _more(sum(len(r) for r in blocks[MAX_ROWS:]))


def same_file_runs(group: list[Finding]) -> list[list[Finding]]:
    """Consecutive findings of one code about one file each, in one folder, with the same message and
    hint (eleven EXIF-rotated phone photos), as one run; every other finding alone."""
    out: list[list[Finding]] = []
    for f in group:
        prev = out[-1][0] if out else None
        if (prev is not None and not f.images and not prev.images and f.code == prev.code
                and f.message == prev.message and f.hint == prev.hint and f.path != prev.path
                and looks_like_image(f.path) and looks_like_image(prev.path)
                and os.path.dirname(f.path) == os.path.dirname(prev.path)):
            out[-1].append(f)
        else:
            out.append([f])
    return out


def summary_line(c: dict[str, int]) -> Text:
    t = Text()
    t.append(_n(c["error"], "error"), style=SEVERITY_STYLE[Severity.ERROR] if c["error"] else "green")
    t.append(", ")
    t.append(_n(c["warning"], "warning"), style=SEVERITY_STYLE[Severity.WARNING] if c["warning"] else "")
    t.append(f", {c['info']} info")
    return t


def scan_view(result: ScanResult, with_images: bool = False, headline=None) -> Group:
    """``headline``: a views.headline.Headline (the scan's own when not given)."""
    parts: list[RenderableType] = []
    n_img = sum(len(s.images) for s in result.subsets)
    train = sum(s.samples for s in result.subsets if not s.config.is_reg)
    reg = sum(s.samples for s in result.subsets if s.config.is_reg)
    parts.append(verdict_line(headline or of_scan(result)))
    head = Text()
    head.append("regaudit scan", style="bold")
    n_sub = len(result.subsets)
    head.append(f": {n_sub} {'subset' if n_sub == 1 else 'subsets'}, {n_img} images, {train} train samples, {reg} reg samples "
                f"(caption extension '{display(result.caption_extension)}'{', deep' if result.deep else ''}) — ")
    head.append_text(summary_line(result.counts()))
    parts.append(head)
    if result.subsets:
        parts.append(subsets_table(result))
    if with_images and result.subsets:
        parts.append(images_table(result))
    if result.ignored:
        parts.append(ignored_table(result.ignored))
    parts.extend(findings_block(result.findings, with_images))
    return Group(*parts)


def registered_table(plan) -> Table:
    t = Table(title="Registered images", title_justify="left")
    for col in ("ds", "role", "repeats", "bucket", "image"):
        t.add_column(col)
    for d in plan.datasets:
        for r in d.images:
            t.add_row(str(d.index), "reg" if r.is_reg else "train", str(r.num_repeats),
                      "—" if r.bucket is None else f"{r.bucket[0]}x{r.bucket[1]}", Breakable(shown(r.record.abs_path)))
        for img in d.unused_reg:
            t.add_row(str(d.index), "reg", Breakable("0 (unused)"), "—", Breakable(shown(img.abs_path)))
    return t


def _n(count: int, word: str) -> str:
    plural = {"batch": "batches"}.get(word, word + "s")
    return f"{count} {word if count == 1 else plural}"


def never_used(images) -> Breakable:
    """The reg images the balancing never uses, runs of one folder as ranges: 'reg/1_dog/img_0001.png …
    img_0051.png (51 images)'."""
    shown_paths = [shown(i.abs_path) for i in images]
    items = runs(shown_paths)
    out = Breakable(f"  never used: {_n(len(images), 'reg image')}: ", "yellow")
    for k, (first, last, n) in enumerate(items[:5]):
        out.append(("; " if k else "") + run_text(first, last, n), "yellow")
    if len(items) > 5:
        out.append(f"; … and {len(items) - 5} more runs (--images lists them)", "yellow")
    return out


def balance_view(plan, with_images: bool = False) -> Group:
    """Rich view of a balance.BalancePlan."""
    parts: list[RenderableType] = [verdict_line(of_plan(plan))]
    head = Text()
    head.append("regaudit balance", style="bold")
    head.append(" — ")
    head.append_text(summary_line(counts(plan.findings)))
    parts.append(head)
    for n, d in enumerate(plan.datasets):
        if n == MAX_DATASETS:
            parts.append(Text(f"… and {len(plan.datasets) - n} more datasets (use --json for every one)"))
            break
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
            parts.append(never_used(d.unused_reg))
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
    if plan.no_data:
        parts.append(Text("sd-scripts finds no data ('No data found'): there are no steps.", style="bold red"))
    elif plan.would_crash and plan.crash is not None and plan.crash.stage not in ("load", "train"):
        parts.append(Text(f"sd-scripts stops at {plan.crash.stage} ({plan.crash.code}): there are no steps.",
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
        gui = getattr(o, "gui", None)
        wrote = gui is not None and gui.from_config and gui.printed  # its config's max_train_steps, not its formula
        tot.add_row("kohya_ss GUI figure (the config's max_train_steps)" if wrote else
                    "kohya_ss GUI figure (its formula, ×2 with a reg folder)",
                    "— (none with a dataset config)" if plan.gui_estimate is None else str(plan.gui_estimate))
        tot.add_row(f"reg share of the loss weight (prior_loss_weight {o.prior_loss_weight:g})",
                    "—" if plan.reg_loss_share is None else f"{plan.reg_loss_share:.1%}")
        parts.append(tot)
        if plan.gui_note:
            parts.append(Text(f"kohya_ss GUI: {plan.gui_note}"))
    if with_images:
        parts.append(registered_table(plan))
    parts.extend(findings_block(plan.findings, with_images))
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


def dupes_view(result, headline=None) -> Group:
    """Rich view of a dedupe.DupesResult (``headline``: a views.headline.Headline, printed first)."""
    head = Text()
    head.append("regaudit dupes", style="bold")
    head.append(f": {result.images} images, {len(result.groups)} duplicate groups "
                f"({result.options.hash.value}, max distance {result.options.max_distance}"
                f"{', flip_aug' if result.options.flip_aug else ''}; {result.hashed} decoded, "
                f"{result.images - result.hashed} from cache) — ")
    head.append_text(summary_line(counts(result.findings)))
    parts: list[RenderableType] = [head] if headline is None else [verdict_line(headline), head]
    if result.groups:
        from ..rules.dupes import per_epoch, relation_text

        t = Table(title="Duplicate groups", title_justify="left")
        t.add_column("#", justify="right")
        t.add_column("where")
        t.add_column("per epoch")
        t.add_column("members: role ×repeats, how each is the same picture")
        for k, g in enumerate(result.groups[:MAX_ROWS], 1):
            style = "bold red" if g.label == "leakage" else ""
            trains = [m for m in g.members if m.role == "train"]
            # what the picture trains per epoch: copies × repeats (train copies; reg-only groups: —)
            figure = per_epoch(trains, short=True) if trains else "—"
            members = "\n".join(f"{shown(m.path)}\n  {m.role} ×{m.effective_repeats}"
                                f"{', ' + relation_text(m) if relation_text(m) else ', the reference'}"
                                for m in g.members[:MAX_MEMBERS])
            if len(g.members) > MAX_MEMBERS:
                members += f"\n… and {len(g.members) - MAX_MEMBERS} more files (use --json for the full list)"
            t.add_row(str(k), Text(g.label, style=style), Breakable(figure), Breakable(members))
        parts.append(t)
        if len(result.groups) > MAX_ROWS:
            parts.append(_more(len(result.groups) - MAX_ROWS))
    parts.extend(findings_block(result.findings))
    return Group(*parts)


def smoke_view(result) -> Group:
    """A short checklist for a smoke.SmokeResult: what it checks first, then the batch, the checks,
    and the stand-in model's step time and memory, said to be no estimate for the user's model."""
    from ..views.smoke import SCOPE

    failed = [c.name for c in result.checks if not c.passed]
    verdict = (Text(f"✓ the prior-loss-weighted step is wired as sd-scripts computes it ({len(result.checks)} check{'' if len(result.checks) == 1 else 's'} "
                    f"passed)") if result.passed else
               Text(f"✗ a check of the weighted step failed: {', '.join(failed) or 'see below'}", style="bold red"))
    parts: list[RenderableType] = [verdict]  # the answer first
    head = Text()
    head.append("regaudit smoke", style="bold")
    head.append(f": one training step of {len(result.samples)} sample{'' if len(result.samples) == 1 else 's'} on "
                f"{result.device}, {result.dtype} — {SCOPE}")
    parts.append(head)
    parts.append(Text(f"batch size {result.batch_size} ({result.batch_source}): {display(result.batch_note)}"
                      + (f"; the batch holds {len(result.samples)}" if len(result.samples) < result.batch_size else ""),
                      style="dim"))
    for path, why, code in result.skipped:
        parts.append(Breakable(f"skipped {shown(path)}: it fails to load ({display(why)}); sd-scripts would crash on "
                               f"it" + (f" — already reported as {code}" if code else "")
                               + ", so the step used other images", "yellow"))
    t = Table(show_header=True)
    for col in ("role", "weight", "loss", "image"):
        t.add_column(col)
    for s in result.samples:
        t.add_row("reg" if s.is_reg else "train", f"{s.weight:g}", f"{s.loss:.5f}", Breakable(shown(s.path)))
    parts.append(t)
    checks = Table.grid(padding=(0, 1))  # a wrapped detail keeps its indent, under the detail
    checks.add_column(no_wrap=True)
    checks.add_column()
    for c in result.checks:
        checks.add_row(Text("PASS" if c.passed else "FAIL", style="green" if c.passed else "bold red"),
                       Breakable([(f"{c.name}: ", "bold"), (display(c.detail), "")]))
    parts.append(Padding(checks, (0, 0, 0, 2)))
    parts.append(Text(f"weighted loss back-propagated: {result.weighted_loss:.6g}"))
    parts.append(Text(f"stand-in model's step: {result.step_seconds * 1000:.0f} ms, {result.peak_memory_kind} "
                      f"{result.peak_memory_bytes / 2**20:.0f} MiB (a tiny network, not your model: no estimate of "
                      f"its speed or memory)", style="dim"))
    parts.append(Text("PASSED: the weighted step is wired as sd-scripts computes it" if result.passed else
                      "FAILED: a check of the weighted step failed", style="bold green" if result.passed else "bold red"))
    return Group(*parts)


def check_view(verdict) -> Group:
    """Rich view of a gate.Verdict."""
    # the title line after the verdict is the mark by which ``-o`` recognises a file it wrote (outputs._MARKS)
    head = Text(f"{HUMAN_HEAD}{', '.join(verdict.ran)}; policy: {display(verdict.policy)}; "
                f"fail-on {verdict.fail_on.value}) — ")
    parts: list[RenderableType] = [head + summary_line(verdict.counts())]
    if verdict.headline is not None:  # the verdict first, the policy after it
        parts.insert(0, verdict_line(verdict.headline))
    if verdict.musubi is not None:  # a musubi-tuner command: its own verdict first
        from .musubi import verdict_line as musubi_verdict

        parts.insert(0, musubi_verdict(verdict.musubi))
    parts += list(findings_block(verdict.findings))
    if verdict.failing:
        parts.append(Text(f"\nFAILED: {len(verdict.failing)} finding(s) at or above '{verdict.fail_on.value}'",
                          style="bold red"))
    else:
        parts.append(Text(f"\nPASSED: no finding at or above '{verdict.fail_on.value}'", style="bold green"))
    return Group(*parts)


def _tag_cell(items, n: int) -> str:
    return ", ".join(f"{display(t)} ({c})" for t, c in items[:n]) + (f", … {len(items) - n} more" if len(items) > n else "")


def captions_view(audit, tables, findings, top: int = 15, with_images: bool = False, headline=None) -> Group:
    """Rich view of ``regaudit captions``: a prompts.TextAudit and a tagfreq.TagTables (``headline``: a
    views.headline.Headline, printed first)."""
    from ..views.captions import Trigger

    enc = audit.encoders
    budgets = [b for st in audit.subsets for b in st.budgets]
    over = sorted((b for b in budgets if b.over > 0), key=lambda b: -b.over)
    head = Text()
    head.append("regaudit captions", style="bold")
    limit = "no CLIP tokenizer" if audit.limit is None else f"{audit.limit} CLIP tokens kept per caption"
    head.append(f": {audit.options.trainer} ({enc.family}, {limit}); {sum(1 for b in budgets if b.text is not None)} "
                f"captions, {len(over)} over the limit — ")
    head.append_text(summary_line(counts(findings)))
    parts: list[RenderableType] = [head] if headline is None else [verdict_line(headline), head]
    tok = audit.tokenizer
    if tok.available:
        names = " and ".join(t.name for t in enc.clip) or "no CLIP tokenizer"
        parts.append(Text(f"tokens counted with {tok.library} as sd-scripts' CLIPTokenizer counts them ({names})",
                          style="dim"))
    else:
        parts.append(Text(f"token counts left out: {tok.reason}", style="yellow"))
    if enc.not_counted:
        parts.append(Text(f"not counted: {', '.join(enc.not_counted)} — {NOT_COUNTED_WHY}", style="dim"))
    t = Table(title="Captions per subset", title_justify="left")
    for col, kw in (("ds", {"justify": "right"}), ("role", {}), ("trigger", {}), ("file/tokens/empty", {}),
                    ("tokens min/med/max", {}), ("over limit", {"justify": "right"}), ("trigger check", {}),
                    ("folder", {})):
        t.add_column(Breakable(col.replace("/", "/ ")), **kw)
    for st in audit.subsets[:MAX_SUBSETS]:
        s = st.subset
        c = s.caption_counts()
        n = sorted(b.tokens for b in st.budgets if b.tokens is not None)
        spread = f"{n[0]}/{n[len(n) // 2]}/{n[-1]}" if n else "—"
        if s.config.is_reg:
            k = sum(1 for b in st.budgets if b.mentions)
            trig = f"{k} carry a train trigger" if k else "ok"
        else:
            miss = sum(1 for b in st.budgets if b.trigger is Trigger.MISSING)
            part = sum(1 for b in st.budgets if b.trigger is Trigger.PARTIAL)
            trig = f"{miss} missing, {part} partial" if miss or part else "ok" if st.trigger_words else "—"
        t.add_row(str(st.dataset), s.role.value, display(" ".join(st.trigger_words)) or "—",
                  f"{c['file']}/{c['class_tokens']}/{c['empty']}", spread,
                  str(sum(1 for b in st.budgets if b.over > 0)), Breakable(trig), Breakable(shown(s.abs_path)))
    parts.append(Group(t, _more(len(audit.subsets) - MAX_SUBSETS)) if len(audit.subsets) > MAX_SUBSETS else t)
    if over:
        o = Table(title=f"Captions over the limit ({len(over)})", title_justify="left")
        for col in ("image", "tokens", "past limit", "never seen"):
            o.add_column(col)
        for b in over[:MAX_ROWS]:
            lost = ", ".join(display(x) for x in b.cut_tags[:6]) + (" …" if len(b.cut_tags) > 6 else "")
            if b.shuffle_cut is not None:
                lost = f"{b.shuffle_cut:.0%} of shuffled tags per step" + (f"; always: {lost}" if lost else "")
            o.add_row(Breakable(shown(b.path)), " / ".join(f"{name} {v}" for name, v in b.seen), str(b.over),
                      Breakable(lost))
        parts.append(Group(o, _more(len(over) - MAX_ROWS)) if len(over) > MAX_ROWS else o)
    g = Table(title="Tags (as ss_tag_frequency counts them)", title_justify="left")
    for col in ("train", "reg", "only in reg"):
        g.add_column(col, overflow="fold")
    rows = max(min(top, len(x)) for x in (tables.train, tables.reg, tables.only_in_reg, ((),)))
    for k in range(rows):
        g.add_row(*(f"{display(x[k][0])} ({x[k][1]})" if k < len(x) else ""
                    for x in (tables.train, tables.reg, tables.only_in_reg)))
    parts.append(g)
    p = Table(title="Most common tags per subset", title_justify="left")
    p.add_column("subset")
    p.add_column("tags")
    for st in tables.subsets[:MAX_SUBSETS]:
        p.add_row(Breakable(f"{st.role} {shown(st.path)}"), Breakable(_tag_cell(st.tags, top) or "—"))
    parts.append(Group(p, _more(len(tables.subsets) - MAX_SUBSETS)) if len(tables.subsets) > MAX_SUBSETS else p)
    parts.extend(findings_block(findings, with_images))
    return Group(*parts)


WIDE_RULES = 110  # from this width on, 'regaudit rules' is a table; narrower, each summary below its code


def rules_view(rules, width: int) -> RenderableType:
    """``regaudit rules`` at a terminal: wrapped to its width, never wider."""
    if width >= WIDE_RULES:
        t = Table(box=None, show_header=False, pad_edge=False)
        t.add_column("code", no_wrap=True)
        t.add_column("severity", no_wrap=True)
        t.add_column("name", no_wrap=True)
        t.add_column("summary", ratio=1)
        for r in rules:
            t.add_row(r.code, r.severity.value, r.name, Breakable(r.summary))
        return t
    parts: list[RenderableType] = []
    for r in rules:
        parts.append(Breakable([(f"{r.code}  ", "bold"), (f"{r.severity.value:<7}  ", SEVERITY_STYLE[r.severity]),
                                (r.name, "")]))
        parts.append(Padding(Breakable(r.summary, "dim"), (0, 0, 0, 4)))
    return Group(*parts)
