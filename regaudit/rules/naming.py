"""How a finding about many images names them: the first few in its message ("a.jpg, b.jpg, c.jpg and
12 more") and in its ``images`` (each with its own figures where it has some) the first ``limits.FINDING_IMAGES``."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from itertools import islice

from ..limits import FINDING_IMAGES

EXAMPLES = 3  # images named in a message; the finding's ``images`` holds the first limits.FINDING_IMAGES


def named(paths: Sequence[str], n: int = EXAMPLES) -> str:
    """The first ``n`` file names and how many more: 'a.jpg, b.jpg, c.jpg and 12 more'; with their
    folder's name where the paths are in more than one folder ('10_ohwx woman/a.jpg, 1_woman/r.jpg'),
    so that a train image is not taken for a reg one."""
    first = os.path.dirname(paths[0]) if paths else ""
    several = any(os.path.dirname(p) != first for p in paths)
    shown = ", ".join(os.path.join(os.path.basename(os.path.dirname(p)), os.path.basename(p)) if several
                      else os.path.basename(p) for p in paths[:n])
    return shown + (f" and {len(paths) - n} more" if len(paths) > n else "")


def rows(paths: Iterable[str], figures: dict[str, Iterable[tuple[str, object]]] | None = None) -> tuple:
    """A finding's ``images``: each path ("path" first) with its own figures from ``figures`` (by path)."""
    figures = figures or {}
    return tuple((("path", p), *figures.get(p, ())) for p in islice(paths, FINDING_IMAGES))
