"""The human view of a musubi-tuner balance (a pure function of its JSON document)."""

from __future__ import annotations

import os

from rich.console import Group
from rich.text import Text

from .escape import display

MAX_DATASETS = 200  # datasets shown one by one (as in balance: a config may hold 100,000; --json has them all)
MAX_FINDINGS = 200  # findings shown one by one


def _steps(s) -> str:
    if s is None:
        return "no step figures"
    return (f"{s['batches_per_epoch']} batches per epoch, {s['max_train_steps']} steps "
            f"({s['source']}), {s['epochs']} epochs")


def verdict_line(doc: dict) -> Text:
    """The document's verdict, first line of every human musubi view."""
    v = doc["verdict"]
    t = Text()
    mark, style = {True: ("✓ ", "bold green"), False: ("✗ ", "bold red"), None: ("? ", "bold yellow")}[v["ok"]]
    t.append(mark, style=style)
    t.append(display(v["text"]), style=style)
    return t


def _title(m: dict) -> Text:
    return Text(f"musubi-tuner · architecture {m['architecture']} ({m['architecture_full']}), "
                f"bucket step {m['bucket_step']}, {m['script_role']}", style="bold")


def _dataset_head(d: dict) -> str:
    return f"dataset {d['index']}: {display(str(d.get('image_directory') or d.get('video_directory') or ''))}"


def _more(datasets: list) -> list[Text]:
    n = len(datasets) - MAX_DATASETS
    return [Text(f"… and {n} more datasets (use --json for every one)")] if n > 0 else []


def _findings(doc: dict) -> list[Text]:
    out = []
    for f in doc["findings"][:MAX_FINDINGS]:
        style = {"error": "red", "warning": "yellow"}.get(f["severity"], "dim")
        out.append(Text(f"{f['code']} {f['severity']}: {display(f['path'])}: {display(f['message'])}", style=style))
    if len(doc["findings"]) > MAX_FINDINGS:
        out.append(Text(f"… and {len(doc['findings']) - MAX_FINDINGS} more findings (use --json for every one)"))
    return out


def musubi_scan_text(doc: dict, images: bool = False) -> Group:
    """``regaudit scan`` of a musubi command: the verdict, then per dataset what musubi lists (every
    image with ``images``), every file it leaves out with the reason, where caching stops, the findings."""
    m = doc["musubi"]
    lines = [verdict_line(doc), _title(m)]
    crash = doc["crash"]
    if crash and crash["stage"] == "config":
        lines.append(Text(f"stops on {display(crash['path'])}: {crash['exception']}: {display(crash['message'])} "
                          f"[{crash['code']}]", style="bold red"))
    for d in m["datasets"][:MAX_DATASETS]:
        head = _dataset_head(d)
        if not d["simulated"]:
            lines.append(Text(f"{head} — {d['note']}", style="yellow"))
            continue
        captioned = sum(i["caption"] is not None for i in d["images"])
        lines.append(Text(f"{head} → cache {display(str(d['cache_directory']))}: {len(d['images'])} images used "
                          f"({captioned} with a caption), {len(d['dropped'])} files left out, "
                          f"{d['num_repeats']} repeats, batch size {d['batch_size']}"))
        if images:
            for i in d["images"]:
                size = "x".join(map(str, i["size"])) if i["size"] else "?"
                bucket = "x".join(map(str, i["bucket"])) if i["bucket"] else "-"
                problem = i["image_error"] or i["caption_error"]
                cap = f"error {problem}" if problem else repr((i["caption"] or "")[:60])
                lines.append(Text(f"  {display(os.path.basename(i['path']))}  {size} → bucket {bucket}  "
                                  f"{display(i['latent_cache'] or '-')}  {display(cap)}",
                                  style="red" if problem else ""))
        for x in d["dropped"]:
            lines.append(Text(f"  left out ({x['reason']}): {display(x['path'])} — {display(x['detail'])}",
                              style="yellow" if x["reason"] != "orphan-caption" else "dim"))
    lines += _more(m["datasets"])
    if crash and crash["stage"] != "config":
        lines.append(Text(f"{crash['stage']} stops at {display(crash['path'])}: {crash['exception']}: "
                          f"{display(crash['message'])} [{crash['code']}]", style="bold red"))
    for n in m["notes"]:
        lines.append(Text(f"note: {n}", style="dim"))
    return Group(*lines, *_findings(doc))


def musubi_text(doc: dict) -> Group:
    m = doc["musubi"]
    lines = [verdict_line(doc), _title(m)]
    crash = doc["crash"]
    if crash:
        lines.append(Text(f"stops at {crash['stage']}: {crash['exception']}: {display(crash['message'])} "
                          f"[{crash['code']}]", style="bold red"))
    for d in m["datasets"][:MAX_DATASETS]:
        head = _dataset_head(d)
        if not d["simulated"]:
            lines.append(Text(f"{head} — {d['note']}", style="yellow"))
            continue
        lines.append(Text(f"{head}: {len(d['images'])} images listed, {len(d['dropped'])} files left out"))
        a, f = d["after_caching"], d["from_caches"]
        if a.get("crash"):
            lines.append(Text(f"  after caching now:  stops ({a['crash']['exception']}: "
                              f"{display(a['crash']['message'])})", style="red"))
        else:
            lines.append(Text(f"  after caching now:  {a['items']} items, {a['batches']} batches, "
                              f"{len(a['buckets'])} buckets"))
        if f.get("crash"):
            lines.append(Text(f"  from caches on disk: stops ({f['crash']['exception']}: "
                              f"{display(f['crash']['message'])})", style="red"))
        else:
            lines.append(Text(f"  from caches on disk: {f['items']} items, {f['batches']} batches; "
                              f"{len(f['skipped'])} skipped (no text-encoder cache), {len(f['stale'])} stale, "
                              f"{len(f['orphans'])} orphaned"))
    lines += _more(m["datasets"])
    lines.append(Text(f"after caching now: {_steps(m['after_caching_steps'])}"))
    lines.append(Text(f"from the caches on disk: {_steps(m['from_caches_steps'])}"))
    for n in m["notes"]:
        lines.append(Text(f"note: {n}", style="dim"))
    return Group(*lines, *_findings(doc))
