"""One self-contained HTML page from a report.ReportData: the verdict and the fixes first, then the
subsets, captions, reg balance, buckets, duplicates and findings. Inline CSS (light and dark),
inline SVG charts, embedded thumbnails, a little JavaScript for the filters (html_assets.py).
Everything is visible without JavaScript."""

from __future__ import annotations

import os
import re
from collections import Counter

from ..model import Finding, Severity
from ..outputs import GENERATOR_COMMENT
from ..views.report import (CARDS, DATASETS, FINDINGS, FIXES, GROUPS, MEMBERS, STRIP, SUBSETS, UNUSED, ImageLabel,
                            ReportData, Verdict, card_paths, finding_paths, fixes, image_labels, verdict)
from . import html_images as im
from .html_assets import CSS, JS

_e = im.esc
_OPTION = re.compile(r"(?<![\w-])(--[A-Za-z0-9][\w-]*)")


def _prose(text: object) -> str:
    """A message or hint: escaped, each --option kept on one line (a browser breaks after '--')."""
    return _OPTION.sub(r"<span class=nw>\1</span>", _e(text))
_short = im.short
_img = im.img
_n = im.n_of


class _Filters:
    """What the filters match on: each subset the page shows (the first SUBSETS) by its index in the
    page (never by name, so any folder name is safe in an attribute and in the script) and its role.
    A folder that many subsets name lists only the shown ones (the filter offers no other), and the
    roles of all of them."""

    def __init__(self, data: ReportData):
        every = [(d.index, s) for d in data.scan.datasets for s in d.subsets]
        self.total = len(every)
        self.subsets = every[:SUBSETS]
        self.by_key = {(di, s.abs_path): k for k, (di, s) in enumerate(self.subsets)}
        self.by_path: dict[str, list[int]] = {}  # the shown subsets of each folder
        self.by_dataset: dict[int, list[int]] = {}
        self.roles: dict[str, set[str]] = {}  # the roles of every subset of each folder
        for k, (di, s) in enumerate(every):
            self.roles.setdefault(s.abs_path, set()).add(s.role.value)
            if k < SUBSETS:
                self.by_path.setdefault(s.abs_path, []).append(k)
                self.by_dataset.setdefault(di, []).append(k)
        self._of_path: dict[str, tuple[list[int], list[str]]] = {}

    def of_path(self, path: str) -> tuple[list[int], list[str]]:
        """The shown subsets (indices) and the roles of the innermost subset folder that holds
        ``path``: the path itself, then each folder above it (a lookup each; kept once per folder,
        not per file: a million files of one folder ask once)."""
        at = path if path in self.roles else (path.rpartition(os.sep)[0] or path)
        hit = self._of_path.get(at)
        if hit is None:
            start = at
            while at not in self.roles:
                up = at.rpartition(os.sep)[0]
                if not up or up == at:
                    break
                at = up
            hit = self._of_path[start] = (self.by_path.get(at, []), sorted(self.roles.get(at, ())))
        return hit

    def of_dataset(self, index: int) -> list[int]:
        return list(self.by_dataset.get(index, []))


def _attrs(severity: str | None = None, roles=None, subsets=None) -> str:
    """The data attributes the filters read (html_assets.JS): a severity, roles, subset indices."""
    out = " data-filter"
    if severity is not None:
        out += f" data-severity={severity}"
    if roles is not None:
        out += f" data-roles='{' '.join(sorted(set(roles)))}'"
    if subsets is not None:
        out += f" data-subsets='{' '.join(str(k) for k in sorted(set(subsets)))}'"
    return out


def render(data: ReportData) -> str:
    counts = Counter(f.severity.value for f in data.findings)
    filt = _Filters(data)
    v = verdict(data.scan, data.plan)
    cards = im.Cards(card_paths(data.findings, data.plan.crash), {k for ks in _listed(data).values() for k in ks})
    labels = image_labels(data.scan, data.plan, data.findings, {p for p, _ in data.thumbs} | set(cards.paths))
    page = _Page(data, filt, cards, labels)
    parts = [
        f"<!DOCTYPE html>{GENERATOR_COMMENT}<html lang=en><head><meta charset=utf-8>",
        "<meta name=viewport content='width=device-width, initial-scale=1'>",
        "<meta name=color-scheme content='light dark'>",
        f"<title>regaudit report — {_title(v, counts)}</title><style>{CSS}</style></head><body>",
        "<header><h1>regaudit report</h1>",
        _verdict(v, counts),
        "</header>",
        "<nav class=filters id=filters hidden><label><input type=checkbox id=f-errors> only errors</label>"
        "<label><input type=checkbox id=f-reg> only reg</label><label>subset <select id=f-subset>"
        "<option value=''>all</option>"
        + "".join(f"<option value={k}>{_e(_short(s.abs_path))} ({s.role.value}, dataset {di})</option>"
                  for k, (di, s) in enumerate(filt.subsets))
        + (f"<option disabled>(the first {len(filt.subsets)} of {filt.total} subsets)</option>"
           if filt.total > len(filt.subsets) else "")
        + "</select></label><span id=f-count class=tok></span></nav><main>",
        _fixes(page),
        f"<p class=made>Made by <code>{_e(data.command)}</code></p>",
        _cards(page),
        _subsets(page),
        _captions(data, filt),
        _balance(page, v),
        _buckets(data, filt),
        _dupes(page),
        _findings(page),
        _lora(data),
        f"</main><script>{JS}</script></body></html>",
    ]
    return "\n".join(parts)


class _Page:
    """What the sections share: the data, the filters, the image cards and the images' labels."""

    def __init__(self, data: ReportData, filt: _Filters, cards: im.Cards, labels: dict[str, ImageLabel]):
        self.data, self.filt, self.cards, self.labels = data, filt, cards, labels

    def figure(self, path: str) -> str:
        return im.figure(self.data, self.labels, self.cards, path)


def _epochs(v: Verdict) -> str:
    """The epochs trained, with their fraction (8.48: the last of 9 epochs stops early)."""
    x = v.epochs_trained
    if x is None:
        return str(v.epochs)
    return str(round(x)) if v.last_epoch_steps is None else f"{x:.2f}"


def _epochs_note(v: Verdict) -> str:
    if v.last_epoch_steps is None or v.epochs is None or v.steps_per_epoch is None:
        return ""
    return (f"sd-scripts starts {_n(v.epochs, 'epoch')}; the last stops after {v.last_epoch_steps} of its "
            f"{v.steps_per_epoch} steps")


def _title(v: Verdict, counts: Counter) -> str:
    if v.no_data:
        return "No data found"
    if v.crash is not None:
        return f"stops at {v.crash.stage}: {_e(v.crash.exception)}"
    return f"trains, {_n(counts.get('error', 0), 'error')}"


def _verdict(v: Verdict, counts: Counter) -> str:
    """The answer first: does sd-scripts start, where it stops if not, and what it computes."""
    c = v.crash
    script = f"{_e(v.trainer)}.py"
    if v.no_data:
        answer = f"✗ {script} finds no data and stops (“No data found”): nothing is trained"
    elif c is None:
        answer = f"✓ {script} starts and trains"
    elif c.stage == "train":
        answer = f"✗ {script} starts, then stops when training begins"
    elif c.stage == "load" and v.caching:
        answer = f"✗ {script} stops while caching latents, before step 1, on an image it cannot load"
    elif c.stage == "load":
        answer = f"✗ {script} starts, then fails when it first loads an image"
    elif c.stage == "start":
        answer = f"✗ {script} stops before it starts"
    else:
        answer = f"✗ {script} stops while it builds the dataset"
    stage = "no data" if v.no_data else (c.stage if c is not None else "")
    badge = "cache" if stage == "load" and v.caching else stage  # (data-stage keeps sd-scripts' stage)
    out = [f"<div id=verdict class='verdict{'' if v.trains else ' bad'}' data-trains={int(v.trains)} "
           f"data-stage='{stage}' data-no-data={int(v.no_data)}>"
           f"<p class=answer>{answer}{f'<span class=stage>{badge}</span>' if stage else ''}</p>"]
    if c is not None:
        out.append(f"<p class=why><b>{_e(c.exception)}</b> ({c.code}): {_e(c.message)}</p>"
                   f"<p class=why>at <span class=path>{_e(_short(c.path))}</span></p>")
    facts = []
    n = v.load_failures
    facts.append(f"<li id=v-load-failures data-n={n}>" + (
        f"<b>{_n(n, 'registered image')}</b> {'fails' if n == 1 else 'fail'} when sd-scripts first loads "
        f"{'it' if n == 1 else 'them'}" + (" (while it caches latents, before step 1)" if v.caching else "")
        if n else "No registered image fails to load.") + "</li>")
    n = v.left_out
    facts.append(f"<li id=v-left-out data-n={n}>" + (
        f"<b>{_n(n, 'image file')}</b> {'is' if n == 1 else 'are'} silently left out: sd-scripts never reads "
        f"{'it' if n == 1 else 'them'}" if n else "No image file is silently left out")
        + (f"; {_n(v.left_out_dirs, 'folder')} {'is' if v.left_out_dirs == 1 else 'are'} skipped (see the findings)"
           if v.left_out_dirs else "") + "</li>")
    if v.unused_reg:
        facts.append(f"<li id=v-unused-reg data-n={v.unused_reg}><b>{_n(v.unused_reg, 'reg image')}</b> "
                     f"{'is' if v.unused_reg == 1 else 'are'} never used by the reg balancing</li>")
    out.append(f"<ul class=facts>{''.join(facts)}</ul>")
    if v.batches_per_epoch is not None:
        nums = [("train samples", v.train_samples, "v-train"), ("reg samples", v.reg_samples, "v-reg"),
                ("batches per epoch", v.batches_per_epoch, "v-batches"), ("steps", v.max_train_steps, "v-steps"),
                ("epochs", _epochs(v), "v-epochs")]
        note = _epochs_note(v)
        out.append("<dl class=nums>" + "".join(f"<div><dt>{k}</dt><dd id={i}>{x}</dd></div>" for k, x, i in nums)
                   + "</dl>" + (f"<p class=note id=v-epochs-note>{note}</p>" if note else ""))
    elif not v.no_data:
        out.append("<p>No batches or steps: sd-scripts stops before it counts them.</p>")
    e, w, i = (counts.get(k, 0) for k in ("error", "warning", "info"))
    out.append(f"<div class=pills><span class={'e' if e else 'z'}>{_n(e, 'error')}</span>"
               f"<span class={'w' if w else 'z'}>{_n(w, 'warning')}</span>"
               f"<span class={'i' if i else 'z'}>{i} info</span></div></div>")
    return "".join(out)


def _fixes(page: _Page) -> str:
    """Every finding's hint once, most severe first, each with the files it is about (linked to
    their image cards) and a link to its first finding."""
    data, filt = page.data, page.filt
    fx = fixes(data.findings, data.plan.crash)
    where = {id(f): k for k, f in enumerate(data.findings)}
    crash = data.plan.crash
    out = ["<section id=fixes><h2>What to fix</h2>"]
    if not fx:
        out.append("<p>Nothing to fix.</p>")
    else:
        out.append("<ol class=fixes>")
        for fix in fx[:FIXES]:
            roles, subs = [], []
            hits = {id(hit): hit for hit in map(filt.of_path, dict.fromkeys(f.path for f in fix.findings))}
            for ks, rs in hits.values():  # (the files of a folder share its answer: each answer once)
                subs += ks
                roles += rs
            here = crash is not None and any(f.code == crash.code and f.path == crash.path for f in fix.findings)
            sev = fix.severity.value
            files = [p for f in fix.findings for p in finding_paths(f)]
            out.append(f"<li class=fix{_attrs(sev, roles, subs)}><span class='sev {sev}'>{sev}</span> {_prose(fix.hint)} "
                       f"<span class=codes><a href='{page.cards.href(where[id(fix.findings[0])])}'>{', '.join(fix.codes)}</a> · "
                       f"{_n(len(fix.findings), 'finding')}</span>"
                       + (" <span class=here>← sd-scripts stops here</span>" if here else "")
                       + im.about(files, page.cards) + "</li>")
        out.append("</ol>")
        out.append(_more(len(fx) - FIXES, "fix", "fixes", "scan --json", "its findings' hints"))
    out.append("</section>")
    return "".join(out)

def _subsets(page: _Page) -> str:
    data, filt = page.data, page.filt
    out = ["<section id=subsets><h2>Subsets</h2>"]
    if not data.scan.subsets:
        out.append("<p class=crash>No subset with images: sd-scripts has nothing to train on.</p>")
    for k, (di, s) in enumerate(filt.subsets):  # (the first SUBSETS)
        c = s.caption_counts()
        tokens = s.config.class_tokens
        out.append(
            f"<article class=subset{_attrs(None, [s.role.value], [k])}>"
            f"<div><span class='role {s.role.value}'>{s.role.value}</span> <b class=name>{_e(_short(s.abs_path))}</b> "
            f"(dataset {di})</div><dl class=kv>"
            + "".join(f"<div><dt>{k}</dt><dd{f' class={c}' if c else ''}>{v}</dd></div>" for k, v, c in (
                ("repeats", s.num_repeats, ""), ("class tokens", _e("(none)" if tokens is None else tokens), ""),
                ("images", len(s.images), "n-images"), ("samples", s.samples, ""), ("captions from file", c["file"], ""),
                ("from class tokens", c["class_tokens"], ""), ("empty captions", c["empty"], "")))
            + "</dl><div class=strip>"
            + "".join(page.figure(i.abs_path) for i in s.images[:STRIP])
            + (f"<span class=more>and {len(s.images) - STRIP} more</span>" if len(s.images) > STRIP else "")
            + "</div></article>")
    out.append(_more(filt.total - len(filt.subsets), "subset", "subsets", "scan --json"))
    out.append("</section>")
    return "".join(out)


def _more(n: int, what: str, plural: str, command: str, which: str = "every one") -> str:
    """The line under a section cut short: how many more, and which command lists them all."""
    if n <= 0:
        return ""
    return (f"<p class=more>and {n} more {what if n == 1 else plural}, not shown here: <code>regaudit {command}</code> with the "
            f"same arguments lists {which}.</p>")


def _listed(data: ReportData) -> dict[Severity, list[int]]:
    """The findings the page lists: the first FINDINGS of each severity (their indices)."""
    out: dict[Severity, list[int]] = {sev: [] for sev in Severity}
    for k, f in enumerate(data.findings):
        ks = out[f.severity]
        if len(ks) < FINDINGS:
            ks.append(k)
    return out

def _bars(values: list[tuple[str, list[tuple[int, str]], str]], unit: str) -> str:
    """Horizontal (stacked) bars: (label, [(value, css class)], note). Scales with the page."""
    if not values:
        return ""
    top = max(sum(v for v, _ in segs) for _, segs, _ in values) or 1
    label_w = 16 + 7 * max(len(label) for label, _, _ in values)
    width, row = max(400, label_w + 260), 24
    rows = []
    for k, (label, segs, note) in enumerate(values):
        y = k * row
        x = label_w
        rows.append(f"<text x=0 y={y + 16}>{_e(label)}</text>")
        for v, cls in segs:
            w = v / top * (width - label_w - 120)
            rows.append(f"<rect class={cls} x={x:.1f} y={y + 4} width={w:.1f} height=16><title>{v} {unit}</title></rect>")
            x += w
        rows.append(f"<text x={x + 6:.1f} y={y + 16}>{_e(note)}</text>")
    h = len(values) * row + 4
    return (f"<svg class=chart role=img viewBox='0 0 {width} {h}' style='max-width:{width}px' "
            f"preserveAspectRatio='xMinYMin meet'>{''.join(rows)}</svg>")


def _balance(page: _Page, v: Verdict) -> str:
    data, filt = page.data, page.filt
    p = data.plan
    out = ["<section id=balance><h2>Reg balance</h2>"]
    for d in p.datasets[:DATASETS]:
        used = [r for r in d.images if r.is_reg]
        hist = Counter(r.num_repeats for r in used)
        out.append(f"<article{_attrs(None, ['reg'], filt.of_dataset(d.index))}><h3>Dataset {d.index}</h3>"
                   f"<div class=scroll><table class=figures>"
                   f"<tr><th>train samples</th><td id=train-samples-{d.index}>{d.num_train_images}</td></tr>"
                   f"<tr><th>reg samples (raw)</th><td>{d.num_reg_images}</td></tr>"
                   f"<tr><th>reg samples used</th><td id=reg-used-{d.index}>{d.reg_samples_used}</td></tr>"
                   f"<tr><th>reg images used / total</th><td>{len(used)} / {d.reg_image_count}</td></tr>"
                   f"<tr><th>batches per epoch</th><td>{'—' if d.batches is None else d.batches}</td></tr></table></div>")
        if hist:
            out.append("<p>Effective repeats of the reg images (folder repeats plus what the balancing loop adds):</p>")
            out.append(_bars([(f"×{k}", [(n, "b-reg")], f"{n} images") for k, n in sorted(hist.items())], "images"))
        if d.unused_reg:
            n = len(d.unused_reg)
            grid = (f"<div class=grid id=unused-{d.index}>" + "".join(page.figure(i.abs_path) for i in d.unused_reg[:UNUSED])
                    + (f"<span class=more>and {n - UNUSED} more</span>" if n > UNUSED else "") + "</div>")
            out.append(f"<p class=crash>{_n(n, 'reg image')} {'is' if n == 1 else 'are'} never used"
                       f"{' (which ones depends on the folder listing order)' if d.order_dependent else ''}.</p>"
                       + im.folded(f"the {_n(n, 'reg image')} never used", grid, n))
        out.append("</article>")
    out.append(_more(len(p.datasets) - DATASETS, "dataset", "datasets", "balance --json"))
    if p.batches_per_epoch is None or p.no_data:
        out.append("<p class=crash>sd-scripts stops before it counts batches and steps: see the verdict above.</p>")
    else:
        out.append(f"<div class=scroll><table class=figures id=steps>"
                   f"<tr><th>batches per epoch</th><td>{p.batches_per_epoch}</td></tr>"
                   f"<tr><th>optimizer steps per epoch</th><td>{p.steps_per_epoch}</td></tr>"
                   f"<tr><th>total steps</th><td id=total-steps>{p.max_train_steps}</td></tr>"
                   f"<tr><th>epochs</th><td id=epochs>{_epochs(v)}</td></tr>"
                   f"<tr><th>kohya_ss GUI estimate</th><td>{p.gui_estimate}</td></tr>"
                   f"<tr><th>reg share of the loss weight</th><td>{p.reg_loss_share:.1%}</td></tr></table></div>")
        if p.crash is not None:
            when = "while it caches latents, before step 1" if v.caching else "when it first loads an image"
            out.append(f"<p class=crash>sd-scripts computes these, then stops {when}: see the verdict above.</p>")
    out.append("</section>")
    return "".join(out)


def _buckets(data: ReportData, filt: _Filters) -> str:
    out = ["<section id=buckets><h2>Buckets</h2>"]
    shown = 0
    with_buckets = [d for d in data.plan.datasets if d.buckets]
    for d in with_buckets[:DATASETS]:
        shown += 1
        out.append(f"<div{_attrs(subsets=filt.of_dataset(d.index))}><h3>Dataset {d.index}</h3><p>Samples per bucket, "
                   f"<span class=train>train</span> and <span class=reg>reg</span>; batches never mix buckets.</p>")
        out.append(_bars([(f"{b.resolution[0]}x{b.resolution[1]}", [(b.train, "b-train"), (b.reg, "b-reg")],
                           f"{b.batches} batches") for b in d.buckets], "samples") + "</div>")
    if not shown:
        out.append("<p>No buckets: sd-scripts would stop before making them.</p>")
    out.append(_more(len(with_buckets) - shown, "dataset", "datasets", "balance --json", "every dataset's buckets"))
    out.append("</section>")
    return "".join(out)


def _dupes(page: _Page) -> str:
    data, filt = page.data, page.filt
    out = ["<section id=dupes><h2>Duplicates and train ↔ reg leakage</h2>"]
    if data.dupes is None:
        out.append("<p>Not run.</p></section>")
        return "".join(out)
    groups = data.dupes.groups
    out.append(f"<p>{_n(len(groups), 'group')} ({data.dupes.options.hash.value}, max distance "
               f"{data.dupes.options.max_distance}).</p>")
    rows = []
    for g in groups[:GROUPS]:
        subs = [k for m in g.members for k in filt.by_path.get(m.subset, [])]
        sev = "error" if g.label == "leakage" else "warning"
        rows.append(f"<div class='dup {g.label}'{_attrs(sev, g.roles, subs)}><b>{g.label}</b> · {g.kind}"
                    f"{' (EXIF)' if g.via_exif else ''} · distance {g.distance}<br>"
                    + "".join(page.figure(m.path) for m in g.members[:MEMBERS])
                    + (f"<span class=more>and {len(g.members) - MEMBERS} more</span>" if len(g.members) > MEMBERS else "")
                    + "</div>")
    out += rows[:_OPEN_GROUPS]
    if len(rows) > _OPEN_GROUPS:
        rest = len(groups) - _OPEN_GROUPS
        out.append(im.folded(f"{_n(rest, 'more group')}", "".join(rows[_OPEN_GROUPS:])
                             + (f"<p class=more>and {len(groups) - GROUPS} more groups not shown</p>"
                                if len(groups) > GROUPS else ""), rest, 0))
    out.append("</section>")
    return "".join(out)


_OPEN_GROUPS = 5  # duplicate groups shown before the rest are folded


def _findings(page: _Page) -> str:
    data = page.data
    out = ["<section id=findings><h2>Findings</h2>"]
    counts = Counter(f.severity for f in data.findings)
    for sev, ks in _listed(data).items():
        if not ks:
            continue
        out.append(f"<div class=sevgroup data-group><h3 class='sev-title {sev.value}'>{sev.value} ({counts[sev]})</h3>")
        out += [_finding(page, data.findings[k], k) for k in ks]
        out.append(_more(counts[sev] - len(ks), f"{sev.value} finding", f"{sev.value} findings", "scan --json",
                         "every one (and balance --json, dupes --json theirs)") + "</div>")
    if not data.findings:
        out.append("<p>No findings.</p>")
    out.append("</section>")
    return "".join(out)

def _finding(page: _Page, f: Finding, k: int) -> str:
    """One finding: its code, what it is about (linked to the image card), message and hint; a
    finding about many images names them (the first few, the rest folded)."""
    subs, roles = page.filt.of_path(f.path)
    sev = f.severity.value
    files = finding_paths(f) if f.images else ()
    files = files if files and files != (f.path,) else ()
    return (f"<div id=f-{k} class='finding {sev}'{_attrs(sev, roles, subs)}>"
            f"<span class=code>{f.code} {_e(f.name)}</span><div class=path>{page.cards.link(f.path)}</div>"
            f"<div>{_prose(f.message)}</div>"
            + (im.about(files, page.cards) if files else "")
            + f"<div class=hint>hint: {_prose(f.hint)}</div></div>")


def _cards(page: _Page) -> str:
    """A card for each image the findings name, in the order of the fixes: the pixels sd-scripts
    trains on (beside the file as it looks, where a viewer shows it otherwise), its size, bucket,
    samples, caption and findings. The first few are open; the rest are folded under their count."""
    data, cards = page.data, page.cards
    if not cards.paths:
        return ""
    worst = {}
    for f in data.findings:
        for p in finding_paths(f):
            if p in cards.anchor and (p not in worst or f.severity.rank > worst[p].rank):
                worst[p] = f.severity
    out = []
    for p in cards.paths:
        label = page.labels.get(p)
        subs, roles = page.filt.of_path(p)
        sev = worst[p].value
        facts = ""
        if label is not None:
            facts = (f"<div class=facts>{im._figures(label)}</div>"
                     f"<div class=cap>{im.caption_text(label, im.CARD_CAPTION_CHARS)}</div>"
                     f"<ul class=problems>" + "".join(
                         f"<li><a href='{cards.href(k)}' class='sev {data.findings[k].severity.value}'>{code}</a> "
                         f"{_e(data.findings[k].name)}</li>" for code, k in label.problems) + "</ul>")
        out.append(f"<article class='imgcard {sev}' id={cards.anchor[p]}{_attrs(sev, roles, subs)}>"
                   f"<div class=previews>{im.previews(data, label, p)}</div>"
                   f"<div class=about><div class=path>{_e(_short(p))}</div>{facts}</div></article>")
    n = len(out)
    body = f"<div class=cards>{''.join(out[:im.OPEN_CARDS])}</div>"
    if n > im.OPEN_CARDS:
        body += im.folded(f"{_n(n - im.OPEN_CARDS, 'more image')}",
                          f"<div class=cards>{''.join(out[im.OPEN_CARDS:])}</div>", n - im.OPEN_CARDS, 0)
    capped = " (the first of them, a few of each fix in turn)" if n >= CARDS else ""
    return (f"<section id=images><h2>Images to fix</h2><p>{_n(n, 'image')} the errors and warnings name{capped}, "
            f"each as sd-scripts trains it; a code links to its finding.</p>{body}</section>")

_CAPTION_ROWS = 200  # captions listed per subset
_TAG_ROWS = 25


def _tag_rows(items, n: int) -> str:
    return "".join(f"<li>{_e(t)} <span class=tok>{c}</span></li>" for t, c in items[:n]) + (
        f"<li class=more>and {len(items) - n} more</li>" if len(items) > n else "")


def _captions(data: ReportData, filt: _Filters) -> str:
    """The tag table (as ss_tag_frequency counts tags), and every subset's captions with their tokens."""
    audit, tables = data.captions, data.tags
    if audit is None or tables is None:
        return ""
    out = ["<section id=captions><h2>Captions</h2>"]
    limit = getattr(audit, "limit", None)
    enc = audit.encoders
    if not audit.tokenizer.available:
        out.append(f"<p>Token counts left out: {_e(audit.tokenizer.reason)}</p>")
    elif limit is None:
        out.append(f"<p>{_e(enc.family)} has no CLIP text encoder; captions are not measured in tokens.</p>")
    else:
        out.append(f"<p>{_e(audit.options.trainer)} ({_e(enc.family)}) keeps {limit} CLIP tokens of each caption "
                   f"and silently drops the rest. Counted with {_e(audit.tokenizer.library)}"
                   + "".join(f"; not counted: {_e(x)}" for x in enc.not_counted) + ".</p>")
    out.append("<div class=scroll><table class='figures tags'><tr><th>train tags</th><th>reg tags</th><th>only in reg</th></tr><tr>"
               + "".join(f"<td><ol>{_tag_rows(items, _TAG_ROWS)}</ol></td>"
                         for items in (tables.train, tables.reg, tables.only_in_reg)) + "</tr></table></div>")
    tags_of = {(t.dataset, t.path): t.tags for t in tables.subsets}
    for st in audit.subsets[:SUBSETS]:
        s = st.subset
        over = sum(1 for b in st.budgets if b.over > 0)
        rows = []
        for b in st.budgets[:_CAPTION_ROWS]:
            cls = ""
            tok = "" if b.tokens is None else f" <span class=tok>{b.tokens} tokens" + (
                f", <span class=over>{b.over} past the limit</span>" if b.over else "") + "</span>"
            if b.shuffle_cut is not None:
                tok += f" <span class=tok>— {b.shuffle_cut:.0%} of the shuffled tags cut on an average step</span>"
            if b.cut_tags:
                tok += f" <span class=tok>— never seen: {_e(', '.join(b.cut_tags))}</span>"
            text = "(cannot be read)" if b.text is None else (b.text or "(empty)")
            rows.append(f"<li{cls} title='{_e(_short(b.path))}'>{_e(os.path.basename(b.path))}: {_e(text)}{tok}</li>")
        more = len(st.budgets) - _CAPTION_ROWS
        trigger = f", trigger '{_e(' '.join(st.trigger_words))}'" if st.trigger_words else ""
        tags = tags_of.get((st.dataset, s.abs_path)) or ()
        common = ", ".join(f"{t} ({c})" for t, c in tags[:10])
        k = filt.by_key.get((st.dataset, s.abs_path))
        out.append(f"<article class=capset{_attrs(None, [s.role.value], [] if k is None else [k])}>"
                   f"<div><span class='role {s.role.value}'>{s.role.value}</span> <b class=name>{_e(_short(s.abs_path))}</b>"
                   f" — {len(st.budgets)} captions, {over} over the limit{trigger}</div>"
                   + (f"<p>Most common tags: {_e(common)}</p>" if common else "")
                   + f"<details><summary>captions</summary><ol class=captions>{''.join(rows)}"
                   + (f"<li class=more>and {more} more</li>" if more > 0 else "") + "</ol></details></article>")
    out.append(_more(len(audit.subsets) - SUBSETS, "subset", "subsets", "captions --json", "every caption"))
    out.append("</section>")
    return "".join(out)


def _lora(data: ReportData) -> str:
    """regaudit inspect's comparison of each --lora file with this dataset."""
    if data.lora is None:
        return ""
    out = ["<section id=lora><h2>LoRA files against this dataset</h2>"]
    for meta, c in zip(data.lora.files, data.lora.comparisons):  # type: ignore[attr-defined]
        out.append(f"<h3>{_e(meta.path)}</h3>")
        if c is None:
            out.append("<p>No dataset metadata (<code>ss_*</code>) in this file: nothing to compare.</p>")
            continue
        out.append(f"<p class='sev {'info' if c.matches else 'warning'}'>{_e(c.verdict)}</p><table><tr><th>subset<th>role"
                   "<th>status<th>images<th>repeats<th>tags</tr>")
        for s in c.subsets[:SUBSETS]:
            tags = " ".join([f"+{t}" for t in s.tags_gained] + [f"-{t}" for t in s.tags_lost])
            out.append(f"<tr><td>{_e(s.name)}<td>{'reg' if s.is_reg else 'train'}<td>{s.status}"
                       f"<td>{_e(s.images[0])} → {_e(s.images[1])}<td>{_e(s.repeats[0])} → {_e(s.repeats[1])}"
                       f"<td>{_e(tags)}</tr>")
        out.append("</table>" + _more(len(c.subsets) - SUBSETS, "subset", "subsets", "inspect --json FILE",
                                      "every one")
                   + "<table><tr><th>figure<th>recorded<th>now</tr>")
        out += [f"<tr><td>{_e(n)}<td>{_e(r)}<td>{_e(v)}</tr>" for n, r, v in c.figures]
        out.append("</table>")
    out.append("</section>")
    return "".join(out)
