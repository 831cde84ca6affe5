"""The HTML report of a musubi-tuner command: one self-contained page from the musubi JSON document
(views.musubi.document) with the verdict first, then the ``#musubi`` section — per dataset the two
answers side by side (after caching now; from the caches that exist), the images musubi lists, every
file it leaves out, stale, orphaned and skipped caches, the crash — and the findings. A pure function;
shares only the page's CSS with render/html.py."""

from __future__ import annotations

import html
import os

from ..outputs import GENERATOR_COMMENT
from ..safeio import shown
from .escape import display
from .html_assets import CSS

ROWS = 200  # images and left-out files listed per dataset
STRIP = 16  # thumbnails per dataset
DATASETS = 100  # datasets shown (a config of 13,000 once made a 24 MB page); the rest are counted
FINDINGS = 300  # findings listed per severity


def thumbnails_wanted(doc: dict) -> list[tuple[str, bool]]:
    """The (image path, False) thumbnails the page shows: the strips of the datasets it shows, each
    image once however many datasets list it."""
    return list(dict.fromkeys((i["path"], False) for d in doc["musubi"]["datasets"][:DATASETS]
                              for i in d.get("images", [])[:STRIP] if not i["image_error"]))


def _more(n: int, what: str, command: str) -> str:
    if n <= 0:
        return ""
    return (f"<p class=more>and {n} more {what}{'' if n == 1 else 's'}, not shown here: <code>regaudit {command}"
            f"</code> with the same command lists every one.</p>")


def _e(text: object) -> str:
    return html.escape(display(text), quote=True)


def _n(n: int, what: str) -> str:
    return f"{n} {what}{'' if n == 1 else 's'}"


def _wh(v) -> str:
    return "×".join(str(x) for x in v) if v else "–"


def render(doc: dict, command: str, thumbs: dict | None = None) -> str:
    """The page. ``thumbs`` maps (image path, False) to a data URI (views.report.make_thumbnails)."""
    thumbs = thumbs or {}
    v = doc["verdict"]
    s = doc["summary"]
    mark = {True: "✓", False: "✗", None: "?"}[v["ok"]]
    title = {True: "trains", False: "stops", None: "not fully simulated"}[v["ok"]]
    return "\n".join([
        f"<!DOCTYPE html>{GENERATOR_COMMENT}<html lang=en><head><meta charset=utf-8>",
        "<meta name=viewport content='width=device-width, initial-scale=1'>",
        "<meta name=color-scheme content='light dark'>",
        f"<title>regaudit report — musubi-tuner {_e(doc['musubi']['architecture'])}: {title}</title>"
        f"<style>{CSS}</style></head><body>",
        "<header><h1>regaudit report</h1>",
        f"<div id=verdict class='verdict{'' if v['ok'] else ' bad'}' data-trains={int(bool(v['ok']))}>"
        f"<p class=answer>{mark} {_e(v['text'])}</p>" + _crash(doc["crash"])
        + f"<div class=pills><span class={'e' if s['errors'] else 'z'}>{_n(s['errors'], 'error')}</span>"
          f"<span class={'w' if s['warnings'] else 'z'}>{_n(s['warnings'], 'warning')}</span>"
          f"<span class={'i' if s['info'] else 'z'}>{s['info']} info</span></div></div>",
        "</header><main>",
        f"<p class=made>Made by <code>{_e(command)}</code></p>",
        section(doc, thumbs),
        _findings(doc["findings"]),
        "</main></body></html>",
    ])


def _crash(c: dict | None) -> str:
    if c is None:
        return ""
    return (f"<p class=why>stops at <b>{_e(c['stage'])}</b>: <b>{_e(c['exception'])}</b> ({_e(c['code'])}): "
            f"{_e(c['message'])}</p><p class=why>at <span class=path>{_e(shown(c['path']))}</span></p>")


def section(doc: dict, thumbs: dict) -> str:
    """The self-contained ``<section id=musubi>``."""
    m = doc["musubi"]
    out = [f"<section id=musubi><h2>musubi-tuner: {_e(m['architecture'])} ({_e(m['architecture_full'])})</h2>",
           f"<p>{_e(m['script_role'])}, bucket step {m['bucket_step']}, dataset config "
           f"<span class=path>{_e(shown(m['dataset_config']))}</span>. musubi trains only from the cache files its "
           "caching scripts write: <b>after caching now</b> is what trains once both caching scripts have run on the "
           "dataset as it is; <b>from the caches that exist</b> is what the trainer builds if you start it now.</p>",
           _steps_table(m)]
    for d in m["datasets"][:DATASETS]:
        out.append(_dataset(d, thumbs))
    out.append(_more(len(m["datasets"]) - DATASETS, "dataset", "scan --json"))
    out += [f"<p class=note>{_e(n)}</p>" for n in m["notes"]]
    out.append("</section>")
    return "".join(out)


def _steps(s: dict | None) -> tuple[str, str, str]:
    if s is None:
        return "–", "–", "–"
    return str(s["batches_per_epoch"]), f"{s['max_train_steps']} ({_e(s['source'])})", str(s["epochs"])


def _steps_table(m: dict) -> str:
    a, f = _steps(m["after_caching_steps"]), _steps(m["from_caches_steps"])
    none_a = " — No training items" if m["no_training_items_after_caching"] else ""
    none_f = " — No training items found" if m["no_training_items_from_caches"] else ""
    rows = "".join(f"<tr><th>{k}</th><td>{x}</td><td>{y}</td></tr>" for k, x, y in (
        ("batches per epoch", a[0], f[0]), ("steps", a[1], f[1]), ("epochs", a[2], f[2])))
    return (f"<div class=scroll><table id=musubi-answers><thead><tr><th></th><th>after caching now{none_a}</th>"
            f"<th>from the caches that exist{none_f}</th></tr></thead><tbody>{rows}</tbody></table></div>")


def _dataset(d: dict, thumbs: dict) -> str:
    head = (f"<article class=subset id=musubi-dataset-{d['index']}><div><b>dataset {d['index']}</b> "
            f"<span class=name>{_e(shown(str(d.get('image_directory') or d.get('video_directory') or '')))}"
            "</span></div>")
    if not d["simulated"]:
        return head + f"<p class=crash>{_e(d['note'])}</p></article>"
    a, f = d["after_caching"], d["from_caches"]
    out = [head, "<dl class=kv>" + "".join(f"<div><dt>{k}</dt><dd>{_e(v)}</dd></div>" for k, v in (
        ("cache directory", shown(str(d["cache_directory"]))), ("caption extension", d["caption_extension"]),
        ("resolution", _wh(d["resolution"])), ("repeats", d["num_repeats"]), ("batch size", d["batch_size"]),
        ("images listed", len(d["images"])), ("left out", len(d["dropped"])))) + "</dl>"]
    fc = f.get("crash") if f else None
    rows = [("items", a["items"], "stops" if fc else f["items"]),
            ("batches", a["batches"], "–" if fc else f["batches"])]
    buckets = sorted({tuple(b["bucket"]) for b in a["buckets"]} | ({tuple(b["bucket"]) for b in f["buckets"]}
                                                                   if not fc else set()))
    by_a = {tuple(b["bucket"]): b for b in a["buckets"]}
    by_f = {tuple(b["bucket"]): b for b in f["buckets"]} if not fc else {}
    for b in buckets:
        x, y = by_a.get(b), by_f.get(b)
        rows.append((f"bucket {_wh(b)}", f"{x['items']} items, {x['batches']} batches" if x else "–",
                     f"{y['items']} items, {y['batches']} batches" if y else "–"))
    out.append("<div class=scroll><table class=musubi-dataset-answers><thead><tr><th></th><th>after caching now</th>"
               "<th>from the caches that exist</th></tr></thead><tbody>"
               + "".join(f"<tr><th>{k}</th><td>{_e(x)}</td><td>{_e(y)}</td></tr>" for k, x, y in rows)
               + "</tbody></table></div>")
    if fc:
        out.append(f"<p class=crash>Training start stops on <span class=path>{_e(shown(fc['path']))}</span>: "
                   f"<b>{_e(fc['exception'])}</b>: {_e(fc['message'])}</p>")
    for key, what in (("stale", "stale latent caches (made for another bucket; they train at their old size)"),
                      ("orphans", "orphan caches (no image in the dataset makes them; they still train)"),
                      ("skipped", "latent caches skipped (no text-encoder cache)")):
        names = (f or {}).get(key) or []
        if names:
            out.append(f"<p class=musubi-{key}><b>{_n(len(names), 'file')}</b>: {what}: "
                       + ", ".join(f"<code>{_e(n)}</code>" for n in names[:ROWS])
                       + (f" and {len(names) - ROWS} more" if len(names) > ROWS else "") + "</p>")
    strip = [i for i in d["images"] if (i["path"], False) in thumbs][:STRIP]
    if strip:
        out.append("<div class=strip>" + "".join(
            f'<img src="{thumbs[(i["path"], False)]}" alt="{_e(os.path.basename(i["path"]))}" '
            f'title="{_e(i["caption"] or "")}" loading="lazy">' for i in strip) + "</div>")
    out.append(_images(d["images"]))
    out.append(_dropped(d["dropped"]))
    out.append("</article>")
    return "".join(out)


def _images(images: list) -> str:
    if not images:
        return "<p class=crash>musubi lists no image here.</p>"
    rows = []
    for i in images[:ROWS]:
        problem = i["image_error"] or i["caption_error"]
        rows.append(f"<tr{' class=bad' if problem else ''}><td class=path>{_e(os.path.basename(i['path']))}</td>"
                    f"<td>{_wh(i['size'])}</td><td>{_wh(i['bucket'])}</td><td><code>{_e(i['latent_cache'] or '–')}"
                    f"</code><br><code>{_e(i['te_cache'])}</code></td>"
                    f"<td>{_e(problem) if problem else _e(i['caption'])}</td></tr>")
    more = f"<p class=more>and {len(images) - ROWS} more</p>" if len(images) > ROWS else ""
    return ("<details open><summary>images musubi lists</summary><div class=scroll><table class=musubi-images>"
            "<thead><tr><th>image</th><th>size</th><th>bucket</th><th>caches</th><th>caption</th></tr></thead><tbody>"
            + "".join(rows) + f"</tbody></table></div>{more}</details>")


def _dropped(dropped: list) -> str:
    if not dropped:
        return "<p>No file is left out.</p>"
    rows = "".join(f"<tr><td class=path>{_e(shown(x['path']))}</td><td>{_e(x['reason'])}</td><td>{_e(x['detail'])}"
                   f"</td></tr>" for x in dropped[:ROWS])
    more = f"<p class=more>and {len(dropped) - ROWS} more</p>" if len(dropped) > ROWS else ""
    return ("<details open><summary>left out</summary><div class=scroll><table class=musubi-dropped><thead><tr>"
            f"<th>file</th><th>reason</th><th>detail</th></tr></thead><tbody>{rows}</tbody></table></div>{more}"
            "</details>")


def _findings(findings: list) -> str:
    out = ["<section id=findings><h2>Findings</h2>"]
    listed: dict[str, int] = {}
    for f in findings:
        sev = f["severity"]
        listed[sev] = listed.get(sev, 0) + 1
        if listed[sev] > FINDINGS:
            continue
        out.append(f"<div class='finding {sev}'><div></div><div><span class=code>{_e(f['code'])} {_e(f['name'])}</span>"
                   f"<div class=path>{_e(shown(f['path']))}</div><div>{_e(f['message'])}</div>"
                   f"<div class=hint>hint: {_e(f['hint'])}</div></div></div>")
    if not findings:
        out.append("<p>No findings.</p>")
    out += [_more(n - FINDINGS, f"{sev} finding", "scan --json") for sev, n in listed.items()]
    out.append("</section>")
    return "".join(out)
