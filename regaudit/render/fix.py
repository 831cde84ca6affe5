"""``regaudit fix``: its JSON document, its manifest and its human view (pure functions of the
plan or the result)."""

from __future__ import annotations

import shlex
from collections import Counter

from rich.console import Group
from rich.table import Table
from rich.text import Text

from ..outputs import GENERATOR_JSON_KEY
from .. import jsontext
from ..safeio import shown
from .escape import display
from .verdict import verdict_line
from .width import Breakable


def _action(a, out: str | None, full: bool) -> dict:
    import os

    dest = None if a.dest is None else (os.path.join(out, a.dest) if out else a.dest)
    doc = {"code": a.code, "fix": a.fix, "source": a.source, "dest": dest, "safe": a.safe, "applied": a.applied}
    if full:
        doc["changed"] = a.changed
        doc["before"] = None if a.before is None else {"size": a.before[0], "sha256": a.before[1]}
        doc["after"] = None if a.after is None else {"size": a.after[0], "sha256": a.after[1]}
    return doc


def _unfixed(u) -> dict:
    return {"code": u.code, "path": u.path, "message": u.message, "why": u.why}


def _metadata(m) -> dict:
    return {"source": m.source, "dest": m.dest, "keys": m.keys, "rewritten": m.rewritten,
            "dropped": list(m.dropped)}


def plan_document(plan) -> dict:
    """Without --out: what the copy would be (destinations relative to DIR; each list made into
    dicts a chunk at a time while written)."""
    return {"actions": jsontext.Rows(None, lambda a: _action(a, None, False), plan.actions),
            "unfixed": jsontext.Rows(None, _unfixed, plan.unfixed),
            "command": None, "remaining": None, "notes": list(plan.notes)}


def result_document(result) -> dict:
    """With --out: what was done, the new training command and the copy's findings."""
    return {"actions": jsontext.Rows(None, lambda a: _action(a, result.out, False), result.actions),
            "unfixed": jsontext.Rows(None, _unfixed, result.plan.unfixed),
            "command": shlex.join(result.command),
            "remaining": jsontext.Rows(None, lambda f: f.to_json(), result.remaining),
            "gone": jsontext.Rows(None, lambda f: f.to_json(), result.gone), "notes": list(result.plan.notes)}


def manifest(result) -> str:
    """``regaudit-fix.json``: every action with sizes and hashes, and what was left unfixed (the
    actions, unfixed and remaining findings made into dicts a chunk at a time while written: a
    copy of 100,000 datasets has 200,000 actions)."""
    doc = {GENERATOR_JSON_KEY: "regaudit", "kind": "regaudit fix",
           "roots": [{"source": s, "dest": d} for s, d in result.plan.roots],
           "config": None if result.plan.config is None else {"source": result.plan.config[0],
                                                              "dest": result.plan.config[1]},
           "config_file": None if result.plan.config_file is None else {"source": result.plan.config_file[0],
                                                                        "dest": result.plan.config_file[1]},
           "metadata": [_metadata(m) for m in result.metadata],
           "notes": list(result.plan.notes),
           "copies": dict(result.copies),
           "latent_caches": "copied beside images whose pixels did not change; beside the others left out "
                            "(drop-cache actions): sd-scripts would read the stale latents instead of the pixels",
           "unsafe_fixes": result.plan.unsafe,
           "actions": jsontext.Rows(None, lambda a: _action(a, result.out, True), result.actions),
           "unfixed": jsontext.Rows(None, _unfixed, result.plan.unfixed),
           "command": shlex.join(result.command),
           "remaining": jsontext.Rows(None, lambda f: f.to_json(), result.remaining)}
    return jsontext.dumps(doc) + "\n"


def _table(actions, out: str | None) -> Table:
    t = Table(box=None, pad_edge=False)
    for col in ("code", "fix", "file", "change"):
        t.add_column(col)
    for a in actions[:200]:
        how = "" if a.safe else " (unsafe)" if a.applied else " (unsafe: needs --unsafe-fixes)"
        t.add_row(a.code, Breakable(a.fix + how), Breakable(display(shown(a.source))), Breakable(display(a.changed)))
    return t


def plan_view(plan) -> Group:
    applied = sum(a.applied for a in plan.actions)
    pending = len(plan.actions) - applied
    more = f", {pending} more with --unsafe-fixes" if pending else ""
    parts = [] if plan.headline is None else [verdict_line(plan.headline)]
    parts += [Text(f"regaudit fix: {applied} fix{'' if applied == 1 else 'es'} planned{more}; {len(plan.unfixed)} findings stay "
                  f"unfixed. Nothing written (give --out DIR to write the corrected copy).")]
    if plan.actions:
        parts.append(_table(plan.actions, None))
    parts += _unfixed_lines(plan.unfixed)
    parts += [Breakable(f"note: {display(n)}") for n in plan.notes]
    return Group(*parts)


def _unfixed_lines(unfixed) -> list:
    if not unfixed:
        return []
    lines = [Text("unfixed:")]
    for u in unfixed[:200]:
        lines.append(Breakable(f"  {u.code} {display(shown(u.path))}: {u.why}"))
    if len(unfixed) > 200:
        lines.append(Text(f"  … and {len(unfixed) - 200} more (--json has all)"))
    return lines


def result_view(result) -> Group:
    gone = Counter(f.code for f in result.gone)
    dropped = sum(a.fix == "drop-cache" for a in result.actions)
    parts = [Text(f"regaudit fix: wrote {display(result.out)} ({len(result.actions)} fixes; the original is "
                  f"unchanged; {dropped} stale latent caches left out)")]
    if result.actions:
        parts.append(_table(result.actions, result.out))
    parts += _unfixed_lines(result.plan.unfixed)
    for m in result.metadata:
        parts.append(Breakable(f"metadata {display(shown(m.source))} -> {display(m.dest)}: {m.keys} keys, "
                               f"{m.rewritten} full paths pointed at the copy, {len(m.dropped)} removed "
                               f"(their images left out)"))
    parts += [Breakable(f"note: {display(n)}") for n in result.plan.notes]
    if result.copies:
        parts.append(Text("unchanged files: " + ", ".join(f"{n} {how}" for how, n in result.copies.items() if n)
                          if any(result.copies.values()) else "unchanged files: none"))
    parts.append(Text("gone in the copy: " + (", ".join(f"{c} ×{n}" for c, n in sorted(gone.items())) or "none")))
    left = Counter(f.code for f in result.remaining)
    parts.append(Text("remaining in the copy: " + (", ".join(f"{c} ×{n}" for c, n in sorted(left.items())) or "none")))
    if result.stale_removed:
        parts.append(Text(f"removed {len(result.stale_removed)} temporary folders an earlier, interrupted fix left: "
                          + ", ".join(display(p) for p in result.stale_removed[:5])))
    parts.append(Text("new training command:"))
    parts.append(Text("  " + shlex.join(result.command)))
    return Group(*parts)
