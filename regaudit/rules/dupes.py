"""Findings about duplicate pictures (the DUPES family, RA080-RA084) and about images the hashing
could not read (RA041/RA043, "found while hashing"). Facts in (views/dupes.py's groups, or any
value with the same fields), findings out."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from ..model import Finding
from ..safeio import shown
from .registry import rule


class Member(Protocol):
    path: str
    role: str  # "train" | "reg"
    effective_repeats: int  # after balancing; 0 for a reg image that is never used
    relation: str  # "reference" | "byte-identical" | "pixel-identical" | "near" | "mirror"
    distance: int  # of the 64-bit hashes (near, mirror)
    of: str | None  # the member it is compared with
    upright: bool  # near only once EXIF orientation is applied


class Group(Protocol):
    kind: str  # "exact" | "near" | "mirror"
    distance: int
    members: Sequence[Member]
    label: str  # "within-subset" | "cross-train" | "cross-reg" | "leakage"
    via_exif: bool


def hashing_findings(failures: Iterable[tuple[str, str]]) -> list[Finding]:
    """(path, error) of each image the hashing could not decode: unreadable (RA041) or truncated or
    corrupt (RA043)."""
    out = []
    said: dict[str, tuple[str, str]] = {}  # error -> (code, message): a million files may share one
    for path, error in failures:
        code, message = said.get(error) or said.setdefault(error, (
            "RA041" if error.startswith("cannot be read") else "RA043", f"image {error} (found while hashing)"))
        out.append(rule(code).finding(path, message))
    return out


def _short(path: str) -> str:
    return shown(path)


def relation_text(m: Member) -> str:
    """How ``m`` is the same picture as the member it names ('byte-identical to a.jpg', 'near
    a.jpg, distance 3'; the other file by its name when both share a folder); '' for the group's
    reference."""
    if m.relation == "reference" or m.of is None:
        return ""
    # the other file by its name alone when it lies in the same folder
    of = os.path.basename(m.of) if os.path.dirname(m.of) == os.path.dirname(m.path) else _short(m.of)
    if m.relation == "byte-identical":
        return f"byte-identical to {of}"
    if m.relation == "pixel-identical":
        return f"pixel-identical to {of} (other bytes, the same pixels)"
    if m.relation == "mirror":
        return f"mirror image of {of}, distance {m.distance}"
    return f"near {of}, distance {m.distance}{' once EXIF rotation is applied' if m.upright else ''}"


def _named(m: Member) -> str:
    how = relation_text(m)
    return _short(m.path) + (f": {how}" if how else "")


def _listed(members: Sequence[Member], n: int = 3) -> str:
    shown_ = "; ".join(_named(m) for m in members[:n])
    return shown_ + (f"; and {len(members) - n} more" if len(members) > n else "")


def per_epoch(members: Sequence[Member], short: bool = False) -> str:
    """The samples per epoch a picture makes from its copies: '30 times per epoch (3 copies × 10
    repeats)', '15 times per epoch (2 copies, 10 + 5 repeats)', '10 times per epoch'; ``short``:
    '30× = 3 × 10', '15× = 10 + 5', '10×'."""
    reps = [m.effective_repeats for m in members]
    total = sum(reps)
    same = len(set(reps)) == 1
    if short:
        return f"{total}×" + ("" if len(reps) < 2 else f" = {len(reps)} × {reps[0]}" if same
                              else f" = {' + '.join(map(str, reps))}")
    head = f"{total} time{'' if total == 1 else 's'} per epoch"
    if len(reps) < 2:
        return head
    if same:
        return f"{head} ({len(reps)} copies × {reps[0]} repeat{'' if reps[0] == 1 else 's'})"
    return f"{head} ({len(reps)} copies, {' + '.join(map(str, reps))} repeats)"


def _images(ms: Sequence[Member]) -> tuple:
    """Each member with its role, the samples it makes per epoch (its effective repeats) and how it
    is the same picture as another member."""
    return tuple((("path", m.path), ("role", m.role), ("per_epoch", m.effective_repeats),
                  ("relation", m.relation), ("distance", m.distance), ("of", m.of)) for m in ms)


def _parts(g: Group, cut: Callable[[Member, Member], bool]) -> list[list[Member]]:
    """The group's members split where ``cut(member, the member it names)`` is true, each part in
    the group's order."""
    by_path = {m.path: m for m in g.members}
    root: dict[str, str] = {}

    def find(m: Member) -> str:
        chain = []
        while m.path not in root:
            parent = by_path.get(m.of) if m.of else None
            if parent is None or cut(m, parent):
                root[m.path] = m.path
                break
            chain.append(m)
            m = parent
        r = root[m.path]
        for c in chain:
            root[c.path] = r
        return r

    parts: dict[str, list[Member]] = {}
    for m in g.members:
        parts.setdefault(find(m), []).append(m)
    return list(parts.values())


def _train_mirror(m: Member, parent: Member) -> bool:
    return m.relation == "mirror" and m.role == parent.role == "train"


def _mirror(m: Member, parent: Member) -> bool:
    return m.relation == "mirror"


def group_findings(groups: Iterable[Group]) -> list[Finding]:
    """Findings by who is linked to whom in each group, every file named with its relation:
    train/reg leakage (RA080: the train files and the reg files apart; a mirror pair of two train
    images is never leakage), copies of a training picture (RA081, with the samples per epoch the
    copies make), mirror images of a training picture under flip_aug (RA083), reg copies (RA082),
    and a pair that is the same picture only once EXIF rotation is applied (RA084). ``images``
    holds each file with its role, samples per epoch and relation."""
    out = []
    for g in groups:
        trains = [m for m in g.members if m.role == "train"]
        if not trains:
            reg_n = sum(m.effective_repeats for m in g.members)
            out.append(rule("RA082").finding(
                g.members[0].path, f"{len(g.members)} reg images are the same picture, which makes {reg_n} of the "
                                   f"reg samples per epoch: {_listed(g.members, 4)}", images=_images(g.members)))
        for part in _parts(g, _train_mirror):
            ts = [m for m in part if m.role == "train"]
            regs = [m for m in part if m.role == "reg"]
            if not ts or not regs:
                continue
            used = [m for m in regs if m.effective_repeats]
            reg_n = sum(m.effective_repeats for m in regs)
            out.append(rule("RA080").finding(
                ts[0].path, f"train ↔ reg: {len(ts)} train image{'s' if len(ts) > 1 else ''} ({_listed(ts)}) and "
                            f"{len(regs)} reg image{'s' if len(regs) > 1 else ''} ({_listed(regs)}) are the same "
                            f"picture: it trains {per_epoch(ts)} as a train sample and {reg_n} "
                            f"time{'' if reg_n == 1 else 's'} as a reg sample ({len(used)} of the {len(regs)} reg "
                            f"images used by the reg balancing loop now)", images=_images(part)))
        for part in _parts(g, _mirror):
            ts = [m for m in part if m.role == "train"]
            if len(ts) > 1:
                out.append(rule("RA081").finding(
                    ts[0].path, f"{len(ts)} training images are the same picture, so it trains {per_epoch(ts)} "
                                f"instead of {max(m.effective_repeats for m in ts)}: {_listed(ts, 4)}",
                    images=_images(ts)))
        roles = {m.path: m.role for m in g.members}
        if any(m.relation == "mirror" and roles.get(m.of or "") == "train" for m in trains):
            out.append(rule("RA083").finding(
                trains[0].path, f"{len(trains)} training images are the same sample under flip_aug (mirror images), "
                                f"so the picture trains {per_epoch(trains)} instead of "
                                f"{max(m.effective_repeats for m in trains)}: {_listed(trains, 4)}",
                images=_images(trains)))
        for m in g.members:
            if m.upright and m.of is not None:
                out.append(rule("RA084").finding(
                    m.of, f"{_short(m.of)} and {_short(m.path)} are the same picture once EXIF rotation is applied, "
                          f"but their stored pixels differ, so sd-scripts trains them as different images"))
    return out

