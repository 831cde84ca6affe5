"""Whether a path lies inside one of a dataset's folders, by identity, not by spelling.

Strings lie: ``..``, symlinks, bind mounts and case-insensitive file systems all give one folder
many names. A folder's identity is its (device, inode) pair, which every name of it shares (a
bind mount shows the same device and inode as its source). So we walk up from the path's
folder to the root, and compare each folder on the way with the dataset's folders.
"""

from __future__ import annotations

import os
from collections.abc import Iterable


def _identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def first_folder_above(path: str, order: dict[str, int]) -> str | None:
    """The first folder of ``order`` (folder -> its place in the order) that ``path`` lies inside, by
    spelling: the folders above the path looked up, not every folder tried (a million metadata keys,
    100,000 copied folders)."""
    first = None
    above = os.path.dirname(path)
    while os.path.dirname(above) != above:  # (not the root: the root + os.sep starts no absolute path)
        if above in order and (first is None or order[above] < order[first]):
            first = above
        above = os.path.dirname(above)
    return first


def existing_folder(path: str) -> str:
    """The nearest folder at or above ``path``'s parent that exists, resolved through symlinks
    (where a file would be created, or the first ancestor that exists)."""
    folder = os.path.dirname(os.path.abspath(path)) or os.sep
    while True:
        real = os.path.realpath(folder)
        if os.path.isdir(real):
            return real
        parent = os.path.dirname(folder)
        if parent == folder:
            return real
        folder = parent


def containing_root(path: str, roots: Iterable[str]) -> str | None:
    """The outermost of ``roots`` (folders; or files, which only ``path`` itself can be) that
    ``path`` is or would be inside of; None when it is outside all of them."""
    folders: dict[tuple[int, int], str] = {}
    files: dict[tuple[int, int], str] = {}
    for root in roots:
        ident = _identity(root)
        if ident is None:
            continue
        (folders if os.path.isdir(root) else files).setdefault(ident, root)
    if not folders and not files:
        return None
    target = _identity(path)
    if target is not None and target in files:
        return files[target]
    found = folders[target] if target is not None and os.path.isdir(path) and target in folders else None
    folder = existing_folder(path)
    seen: set[tuple[int, int]] = set()
    while True:
        ident = _identity(folder)
        if ident is not None:
            if ident in folders:
                found = folders[ident]
            if ident in seen:  # a loop in the tree (should not happen): stop
                return found
            seen.add(ident)
        parent = os.path.dirname(folder)
        if parent == folder:
            return found
        folder = parent
