"""One self-contained HTML page from a report.ReportData: inline CSS, inline SVG charts, embedded
thumbnails, a little JavaScript for the filters. Everything is visible without JavaScript."""

from __future__ import annotations

import html
import os
from collections import Counter

from ..model import Severity
from ..outputs import GENERATOR_COMMENT
from ..report import GROUPS, MEMBERS, STRIP, UNUSED, ReportData
from .escape import display

CSS = """
:root{--err:#c62828;--warn:#b26a00;--info:#1565c0;--train:#2e7d32;--reg:#6a1b9a;--muted:#666;--line:#ddd}
*{box-sizing:border-box}body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#222;background:#fafafa}
header{background:#263238;color:#fff;padding:18px 28px}header h1{margin:0 0 6px;font-size:22px}
header code{background:#37474f;padding:2px 6px;border-radius:4px;word-break:break-all}
main{padding:8px 28px 40px;max-width:1400px}section{margin-top:26px}h2{border-bottom:2px solid var(--line);padding-bottom:4px}
.verdict span{display:inline-block;margin-right:14px;font-weight:600;padding:2px 10px;border-radius:12px;background:#fff}
.verdict .e{color:var(--err)}.verdict .w{color:var(--warn)}.verdict .i{color:var(--info)}
nav.filters{position:sticky;top:0;background:#fff;border-bottom:1px solid var(--line);padding:8px 28px;z-index:2}
nav.filters label{margin-right:16px}
table.figures{border-collapse:collapse;margin:6px 0}table.figures td,table.figures th{border:1px solid var(--line);padding:3px 10px;text-align:right}
table.figures th{background:#f0f0f0;text-align:left}
.subset{background:#fff;border:1px solid var(--line);border-left:6px solid var(--train);border-radius:6px;padding:10px 14px;margin:12px 0}
.subset[data-role=reg]{border-left-color:var(--reg)}.role{font-weight:700;text-transform:uppercase;font-size:12px}
.role.train{color:var(--train)}.role.reg{color:var(--reg)}
.strip,.grid{display:flex;flex-wrap:wrap;gap:6px;margin-top:8px}.strip img,.grid img,.dup img,.finding img{border-radius:4px;background:#eee;max-width:128px;max-height:128px}
.more{color:var(--muted);align-self:center}
.dup{background:#fff;border:1px solid var(--line);border-radius:6px;padding:8px 12px;margin:8px 0}
.dup.leakage{border-color:var(--err);border-width:2px}.dup figure{display:inline-block;margin:4px 8px 4px 0;vertical-align:top;max-width:180px}
figcaption{font-size:12px;color:var(--muted);word-break:break-all}
.finding{background:#fff;border:1px solid var(--line);border-left:5px solid var(--info);border-radius:5px;padding:8px 12px;margin:8px 0;display:flex;gap:12px}
.finding.error{border-left-color:var(--err)}.finding.warning{border-left-color:var(--warn)}
.finding>div:first-child{display:flex;gap:8px;align-items:flex-start}.finding figure{margin:0}
.finding .code{font-weight:700}.finding .hint{color:var(--muted)}.finding .path{font-family:monospace;font-size:12px;word-break:break-all}
.sev-title.error{color:var(--err)}.sev-title.warning{color:var(--warn)}.sev-title.info{color:var(--info)}
svg text{font:12px system-ui,sans-serif}.crash{color:var(--err);font-weight:700}
.capset{background:#fff;border:1px solid var(--line);border-radius:6px;padding:8px 14px;margin:8px 0}
table.tags td,table.tags th{text-align:left;vertical-align:top}ol.captions{margin:4px 0;padding-left:22px}
ol.captions li{margin:2px 0}.captions .tok{color:var(--muted);font-size:12px}.captions .over{color:var(--err);font-weight:600}
"""

JS = """
(function(){
  var onlyErrors=document.getElementById('f-errors'),onlyReg=document.getElementById('f-reg'),sub=document.getElementById('f-subset');
  function apply(){
    document.querySelectorAll('[data-filter]').forEach(function(el){
      var show=true;
      if(onlyErrors.checked && el.dataset.severity && el.dataset.severity!=='error') show=false;
      if(onlyReg.checked && el.dataset.role && el.dataset.role.indexOf('reg')<0) show=false;
      if(sub.value && el.dataset.subset!==undefined && el.dataset.subset.split('|').indexOf(sub.value)<0) show=false;
      el.hidden=!show;
    });
  }
  [onlyErrors,onlyReg,sub].forEach(function(c){c.addEventListener('change',apply)});
  document.getElementById('filters').hidden=false;
})();
"""


def _e(text: object) -> str:
    """Text for the page: control characters and bytes that are not UTF-8 shown as escapes."""
    return html.escape(display(text), quote=True)


def _short(path: str) -> str:
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def _img(data: ReportData, path: str, upright: bool = False, title: str | None = None) -> str:
    uri = data.thumbs.get((path, upright))
    label = _e(title or _short(path))
    if uri is None:
        return f'<span class="more" title="{label}">[no preview]</span>'
    return f'<img src="{uri}" alt="{label}" title="{label}" loading="lazy">'


def _subset_of(path: str, subsets: list[tuple[str, str]]) -> tuple[str, str]:
    best = ("", "")
    for spath, role in subsets:
        if (path == spath or path.startswith(spath + os.sep)) and len(spath) > len(best[0]):
            best = (spath, role)
    return best


def render(data: ReportData) -> str:
    counts = Counter(f.severity.value for f in data.findings)
    subsets = [(s.abs_path, s.role.value) for s in data.scan.subsets]
    parts = [
        f"<!DOCTYPE html>{GENERATOR_COMMENT}<html lang=en><head><meta charset=utf-8>",
        "<meta name=viewport content='width=device-width, initial-scale=1'>",
        f"<title>regaudit report — {counts.get('error', 0)} errors</title><style>{CSS}</style></head><body>",
        "<header><h1>regaudit report</h1>",
        f"<div class=verdict id=verdict data-errors={counts.get('error', 0)} data-warnings={counts.get('warning', 0)} "
        f"data-info={counts.get('info', 0)}><span class=e>{counts.get('error', 0)} errors</span>"
        f"<span class=w>{counts.get('warning', 0)} warnings</span><span class=i>{counts.get('info', 0)} info</span>"
        f"{_verdict_line(data)}</div>",
        f"<p>Made by <code>{_e(data.command)}</code></p></header>",
        "<nav class=filters id=filters hidden><label><input type=checkbox id=f-errors> only errors</label>"
        "<label><input type=checkbox id=f-reg> only reg</label><label>subset <select id=f-subset>"
        "<option value=''>all</option>"
        + "".join(f"<option value='{_e(p)}'>{_e(_short(p))} ({r})</option>" for p, r in subsets)
        + "</select></label></nav><main>",
        _subsets(data),
        _captions(data),
        _balance(data),
        _buckets(data),
        _dupes(data, subsets),
        _findings(data, subsets),
        f"</main><script>{JS}</script></body></html>",
    ]
    return "\n".join(parts)


def _verdict_line(data: ReportData) -> str:
    p = data.plan
    if p.would_crash:
        return "<span class=e>sd-scripts would not start on this input</span>"
    return (f"<span>{p.batches_per_epoch} batches per epoch · {p.max_train_steps} steps"
            f"{'' if p.options.max_train_epochs is None else f' for {p.options.max_train_epochs} epochs'}</span>")


def _subsets(data: ReportData) -> str:
    out = ["<section id=subsets><h2>Subsets</h2>"]
    if not data.scan.subsets:
        out.append("<p class=crash>No subset with images: sd-scripts has nothing to train on.</p>")
    for d in data.scan.datasets:
        for s in d.subsets:
            c = s.caption_counts()
            tokens = s.config.class_tokens
            out.append(
                f"<article class=subset data-filter data-role={s.role.value} data-subset='{_e(s.abs_path)}'>"
                f"<div><span class='role {s.role.value}'>{s.role.value}</span> <b>{_e(_short(s.abs_path))}</b> "
                f"(dataset {d.index})</div><table class=figures><tr><th>repeats</th><th>class tokens</th>"
                f"<th>images</th><th>samples</th><th>captions from file</th><th>from class tokens</th><th>empty</th></tr>"
                f"<tr><td>{s.num_repeats}</td><td>{_e('(none)' if tokens is None else tokens)}</td>"
                f"<td class=n-images>{len(s.images)}</td><td>{s.samples}</td><td>{c['file']}</td>"
                f"<td>{c['class_tokens']}</td><td>{c['empty']}</td></tr></table><div class=strip>"
                + "".join(_img(data, i.abs_path, title=_caption_title(i)) for i in s.images[:STRIP])
                + (f"<span class=more>and {len(s.images) - STRIP} more</span>" if len(s.images) > STRIP else "")
                + "</div></article>")
    out.append("</section>")
    return "".join(out)


def _bars(values: list[tuple[str, list[tuple[int, str]], str]], unit: str) -> str:
    """Horizontal (stacked) bars: (label, [(value, colour)], note)."""
    if not values:
        return ""
    top = max(sum(v for v, _ in segs) for _, segs, _ in values) or 1
    width, label_w, row = 560, 110, 24
    rows = []
    for k, (label, segs, note) in enumerate(values):
        y = k * row
        x = label_w
        rows.append(f"<text x=0 y={y + 16}>{_e(label)}</text>")
        for v, colour in segs:
            w = v / top * (width - label_w - 120)
            rows.append(f"<rect x={x:.1f} y={y + 4} width={w:.1f} height=16 fill='{colour}'><title>{v} {unit}</title></rect>")
            x += w
        rows.append(f"<text x={x + 6:.1f} y={y + 16}>{_e(note)}</text>")
    h = len(values) * row + 4
    return f"<svg role=img width={width} height={h} viewBox='0 0 {width} {h}'>{''.join(rows)}</svg>"


def _balance(data: ReportData) -> str:
    p = data.plan
    out = ["<section id=balance><h2>Reg balance</h2>"]
    for d in p.datasets:
        used = [r for r in d.images if r.is_reg]
        hist = Counter(r.num_repeats for r in used)
        out.append(f"<article data-filter data-role=reg><h3>Dataset {d.index}</h3><table class=figures>"
                   f"<tr><th>train samples</th><td id=train-samples-{d.index}>{d.num_train_images}</td></tr>"
                   f"<tr><th>reg samples (raw)</th><td>{d.num_reg_images}</td></tr>"
                   f"<tr><th>reg samples used</th><td id=reg-used-{d.index}>{d.reg_samples_used}</td></tr>"
                   f"<tr><th>reg images used / total</th><td>{len(used)} / {d.reg_image_count}</td></tr>"
                   f"<tr><th>batches per epoch</th><td>{'—' if d.batches is None else d.batches}</td></tr></table>")
        if hist:
            out.append("<p>Effective repeats of the reg images (folder repeats plus what the balancing loop adds):</p>")
            out.append(_bars([(f"×{k}", [(n, "#6a1b9a")], f"{n} images") for k, n in sorted(hist.items())], "images"))
        if d.unused_reg:
            out.append(f"<p class=crash>{len(d.unused_reg)} reg images are never used"
                       f"{' (which ones depends on the folder listing order)' if d.order_dependent else ''}:</p>"
                       "<div class=grid id=unused>" + "".join(_img(data, i.abs_path) for i in d.unused_reg[:UNUSED])
                       + (f"<span class=more>and {len(d.unused_reg) - UNUSED} more</span>"
                          if len(d.unused_reg) > UNUSED else "") + "</div>")
        out.append("</article>")
    if p.would_crash:
        out.append("<p class=crash>sd-scripts would stop before training: see the errors below. "
                   "Steps are not computed.</p>")
    else:
        o = p.options
        out.append(f"<table class=figures id=steps><tr><th>batches per epoch</th><td>{p.batches_per_epoch}</td></tr>"
                   f"<tr><th>optimizer steps per epoch</th><td>{p.steps_per_epoch}</td></tr>"
                   f"<tr><th>total steps</th><td id=total-steps>{p.max_train_steps}</td></tr>"
                   f"<tr><th>epochs</th><td>{o.max_train_epochs if o.max_train_epochs is not None else p.epochs}</td></tr>"
                   f"<tr><th>kohya_ss GUI estimate</th><td>{p.gui_estimate}</td></tr>"
                   f"<tr><th>reg share of the loss weight</th><td>{p.reg_loss_share:.1%}</td></tr></table>")
    out.append("</section>")
    return "".join(out)


def _buckets(data: ReportData) -> str:
    out = ["<section id=buckets><h2>Buckets</h2>"]
    any_bucket = False
    for d in data.plan.datasets:
        if not d.buckets:
            continue
        any_bucket = True
        out.append(f"<h3>Dataset {d.index}</h3><p>Samples per bucket, <span style='color:#2e7d32'>train</span> and "
                   f"<span style='color:#6a1b9a'>reg</span>; batches never mix buckets.</p>")
        out.append(_bars([(f"{b.resolution[0]}x{b.resolution[1]}", [(b.train, "#2e7d32"), (b.reg, "#6a1b9a")],
                           f"{b.batches} batches") for b in d.buckets], "samples"))
    if not any_bucket:
        out.append("<p>No buckets: sd-scripts would stop before making them.</p>")
    out.append("</section>")
    return "".join(out)


def _dupes(data: ReportData, subsets: list[tuple[str, str]]) -> str:
    out = ["<section id=dupes><h2>Duplicates and train ↔ reg leakage</h2>"]
    if data.dupes is None:
        out.append("<p>Not run.</p></section>")
        return "".join(out)
    groups = data.dupes.groups
    out.append(f"<p>{len(groups)} groups ({data.dupes.options.hash.value}, max distance "
               f"{data.dupes.options.max_distance}).</p>")
    for g in groups[:GROUPS]:
        roles = "|".join(sorted(set(g.roles)))
        subs = "|".join(sorted({m.subset for m in g.members}))
        out.append(f"<div class='dup {g.label}' data-filter data-role='{roles}' data-subset='{_e(subs)}' "
                   f"data-severity={'error' if g.label == 'leakage' else 'warning'}><b>{g.label}</b> · {g.kind}"
                   f"{' (EXIF)' if g.via_exif else ''} · distance {g.distance}<br>"
                   + "".join(f"<figure>{_img(data, m.path)}<figcaption>{m.role} ×{m.effective_repeats}<br>"
                             f"{_e(_short(m.path))}</figcaption></figure>" for m in g.members[:MEMBERS])
                   + "</div>")
    if len(groups) > GROUPS:
        out.append(f"<p class=more>and {len(groups) - GROUPS} more groups</p>")
    out.append("</section>")
    return "".join(out)


def _findings(data: ReportData, subsets: list[tuple[str, str]]) -> str:
    out = ["<section id=findings><h2>Findings</h2>"]
    for sev in Severity:
        group = [f for f in data.findings if f.severity is sev]
        if not group:
            continue
        out.append(f"<h3 class='sev-title {sev.value}' data-filter data-severity={sev.value}>{sev.value} "
                   f"({len(group)})</h3>")
        for f in group:
            spath, role = _subset_of(f.path, subsets)
            thumb = ""
            if (f.path, False) in data.thumbs:
                thumb = _img(data, f.path)
                if (f.path, True) in data.thumbs:
                    thumb = (f"<figure>{thumb}<figcaption>as stored (trained)</figcaption></figure>"
                             f"<figure>{_img(data, f.path, True)}<figcaption>as the camera meant it</figcaption></figure>")
            out.append(f"<div class='finding {sev.value}' data-filter data-severity={sev.value} data-role='{role}' "
                       f"data-subset='{_e(spath)}'><div>{thumb}</div><div><span class=code>{f.code} {_e(f.name)}</span>"
                       f"<div class=path>{_e(_short(f.path))}</div><div>{_e(f.message)}</div>"
                       f"<div class=hint>hint: {_e(f.hint)}</div></div></div>")
    if not data.findings:
        out.append("<p>No findings.</p>")
    out.append("</section>")
    return "".join(out)


_CAPTION_ROWS = 200  # captions listed per subset
_TAG_ROWS = 25


def _caption_title(img) -> str:
    """Hover text of a thumbnail: the file and the caption sd-scripts registers for it."""
    cap = img.caption
    if cap.text is None:
        what = f"caption file cannot be read ({cap.error})"
    else:
        what = cap.text if cap.text else "(empty caption)"
        if img.caption_tokens is not None:
            what += f"  [{img.caption_tokens} tokens]"
    return f"{_short(img.abs_path)} — {what}"


def _tag_rows(items, n: int) -> str:
    return "".join(f"<li>{_e(t)} <span class=tok>{c}</span></li>" for t, c in items[:n]) + (
        f"<li class=more>and {len(items) - n} more</li>" if len(items) > n else "")


def _captions(data: ReportData) -> str:
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
    out.append("<table class='figures tags'><tr><th>train tags</th><th>reg tags</th><th>only in reg</th></tr><tr>"
               + "".join(f"<td><ol>{_tag_rows(items, _TAG_ROWS)}</ol></td>"
                         for items in (tables.train, tables.reg, tables.only_in_reg)) + "</tr></table>")
    tags_of = {(t.dataset, t.path): t.tags for t in tables.subsets}
    for st in audit.subsets:
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
        out.append(f"<article class=capset data-filter data-role={s.role.value} data-subset='{_e(s.abs_path)}'>"
                   f"<div><span class='role {s.role.value}'>{s.role.value}</span> <b>{_e(_short(s.abs_path))}</b>"
                   f" — {len(st.budgets)} captions, {over} over the limit{trigger}</div>"
                   + (f"<p>Most common tags: {_e(common)}</p>" if common else "")
                   + f"<details><summary>captions</summary><ol class=captions>{''.join(rows)}"
                   + (f"<li class=more>and {more} more</li>" if more > 0 else "") + "</ol></details></article>")
    out.append("</section>")
    return "".join(out)
