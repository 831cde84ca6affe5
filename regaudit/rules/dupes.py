"""Findings about duplicate pictures (the DUPES family, RA080-RA084) and about images the hashing
could not read (RA041/RA043, "found while hashing"). Facts in (views/dupes.py's groups, or any
value with the same fields), findings out."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Protocol

from ..model import Finding
from ..safeio import shown
from .registry import rule


class Member(Protocol):
    path: str
    role: str  # "train" | "reg"
    effective_repeats: int  # after balancing; 0 for a reg image that is never used


class Group(Protocol):
    kind: str  # "exact" | "near" | "mirror"
    distance: int
    members: Sequence[Member]
    label: str  # "within-subset" | "cross-train" | "cross-reg" | "leakage"
    via_exif: bool

    @property
    def train_repeats(self) -> int: ...


def hashing_findings(failures: Iterable[tuple[str, str]]) -> list[Finding]:
    """(path, error) of each image the hashing could not decode: unreadable (RA041) or truncated or
    corrupt (RA043)."""
    out = []
    for path, error in failures:
        code = "RA041" if error.startswith("cannot be read") else "RA043"
        out.append(rule(code).finding(path, f"image {error} (found while hashing)"))
    return out


def _short(path: str) -> str:
    return shown(path)


def _listed(members: Sequence[Member], n: int = 3) -> str:
    shown_ = ", ".join(_short(m.path) for m in members[:n])
    return shown_ + (f" and {len(members) - n} more" if len(members) > n else "")


def _images(g: Group) -> tuple:
    """Each member with its role and the samples it makes per epoch (its effective repeats)."""
    return tuple((("path", m.path), ("role", m.role), ("per_epoch", m.effective_repeats)) for m in g.members)


def _times(n: int) -> str:
    return f"{n} time{'' if n == 1 else 's'}"


def group_findings(groups: Iterable[Group]) -> list[Finding]:
    """One finding per group by who is in it (train/reg leakage, train or reg duplicates, mirror
    images), and one more where only EXIF rotation makes them the same picture. Each names its
    files (train and reg apart) and the samples per epoch the picture makes; ``images`` holds every
    member with its role and samples per epoch."""
    out = []
    for g in groups:
        first = g.members[0]
        names = ", ".join(_short(m.path) for m in g.members[1:4])
        more = f" and {len(g.members) - 4} more" if len(g.members) > 4 else ""
        how = {"exact": "identical", "near": f"near-identical (distance {g.distance})",
               "mirror": f"mirror images (distance {g.distance}), the same sample under flip_aug"}[g.kind]
        images = _images(g)
        if g.label == "leakage":
            trains = [m for m in g.members if m.role == "train"]
            regs = [m for m in g.members if m.role == "reg"]
            used = [m for m in regs if m.effective_repeats]
            reg_n = sum(m.effective_repeats for m in regs)
            out.append(rule("RA080").finding(
                first.path, f"{len(trains)} train image{'s' if len(trains) > 1 else ''} ({_listed(trains)}) and "
                            f"{len(regs)} reg image{'s' if len(regs) > 1 else ''} ({_listed(regs)}) are {how}: the "
                            f"picture is trained {_times(g.train_repeats)} per epoch as a train sample and "
                            f"{_times(reg_n)} as a reg sample ({len(used)} of the {len(regs)} reg images used by the "
                            f"reg balancing loop now)", images=images))
        elif g.label in ("within-subset", "cross-train") and all(m.role == "train" for m in g.members):
            single = max(m.effective_repeats for m in g.members)
            out.append(rule("RA083" if g.kind == "mirror" else "RA081").finding(
                first.path, f"{len(g.members)} training images are {how}: {names}{more}; the picture is trained "
                            f"{g.train_repeats} times per epoch instead of {single}", images=images))
        else:
            reg_n = sum(m.effective_repeats for m in g.members)
            out.append(rule("RA082").finding(
                first.path, f"{len(g.members)} reg images are {how}: {names}{more}; the picture makes {reg_n} of "
                            f"the reg samples per epoch", images=images))
        if g.via_exif:
            out.append(rule("RA084").finding(
                first.path, f"{first.path} and {names} are the same picture once EXIF rotation is applied, but "
                            f"their stored pixels differ, so sd-scripts trains them as different images"))
    return out
