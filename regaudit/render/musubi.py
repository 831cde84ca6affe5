"""The human view of a musubi-tuner balance (a pure function of its JSON document)."""

from __future__ import annotations

from rich.console import Group
from rich.text import Text

from .escape import display


def _steps(s) -> str:
    if s is None:
        return "no step figures"
    return (f"{s['batches_per_epoch']} batches per epoch, {s['max_train_steps']} steps "
            f"({s['source']}), {s['epochs']} epochs")


def musubi_text(doc: dict) -> Group:
    m = doc["musubi"]
    lines = [Text(f"musubi-tuner · architecture {m['architecture']} ({m['architecture_full']}), "
                  f"bucket step {m['bucket_step']}, {m['script_role']}", style="bold")]
    crash = doc["crash"]
    if crash:
        lines.append(Text(f"stops at {crash['stage']}: {crash['exception']}: {display(crash['message'])} "
                          f"[{crash['code']}]", style="bold red"))
    for d in m["datasets"]:
        head = f"dataset {d['index']}: {display(str(d.get('image_directory')))}"
        if not d["simulated"]:
            lines.append(Text(f"{head} — {d['note']}", style="yellow"))
            continue
        lines.append(Text(f"{head}: {len(d['images'])} images listed, {len(d['dropped'])} files left out"))
        a, f = d["after_caching"], d["from_caches"]
        lines.append(Text(f"  after caching now:  {a['items']} items, {a['batches']} batches, "
                          f"{len(a['buckets'])} buckets"))
        if f.get("crash"):
            lines.append(Text(f"  from caches on disk: stops ({f['crash']['exception']}: "
                              f"{display(f['crash']['message'])})", style="red"))
        else:
            lines.append(Text(f"  from caches on disk: {f['items']} items, {f['batches']} batches; "
                              f"{len(f['skipped'])} skipped (no text-encoder cache), {len(f['stale'])} stale, "
                              f"{len(f['orphans'])} orphaned"))
    lines.append(Text(f"after caching now: {_steps(m['after_caching_steps'])}"))
    lines.append(Text(f"from the caches on disk: {_steps(m['from_caches_steps'])}"))
    for n in m["notes"]:
        lines.append(Text(f"note: {n}", style="dim"))
    for f in doc["findings"]:
        style = {"error": "red", "warning": "yellow"}.get(f["severity"], "dim")
        lines.append(Text(f"{f['code']} {f['severity']}: {display(f['path'])}: {display(f['message'])}", style=style))
    return Group(*lines)
