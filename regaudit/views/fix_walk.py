"""``regaudit fix``: the walk of every folder the audit read, giving each file and folder its place
in the copy and the actions that apply to it (``rules.fixes`` judges; this only reads names,
caption bytes and the audit's image facts)."""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field

from ..errors import RegauditError
from ..safeio import short_path
from ..limits import CAPTION_BYTES
from ..rules.fixes import (FIXES, FixKind, cache_owner_stems, caption_rename, clean_caption, extension_rename,
                           folder_rename, join_caption, pixel_fixes)
from ..sdscripts.layout import GLOB_EXTENSIONS, OTHER_CAPTION_EXTENSIONS

IMAGE_EXTS = frozenset(e.lower() for e in GLOB_EXTENSIONS)


@dataclass(frozen=True)
class Action:
    code: str
    fix: str  # FixKind value
    source: str  # absolute path in the original
    dest: str | None  # path relative to DIR (None: left out of the copy)
    safe: bool
    changed: str  # what changed, in words
    before: tuple[int, str] | None = None  # (size, sha256) of the original, filled when written
    after: tuple[int, str] | None = None  # of the copy
    applied: bool = True  # False: an unsafe fix the plan lists, not applied without --unsafe-fixes


@dataclass
class Entry:
    source: str
    dest: str  # relative to DIR ("" where left out)
    is_dir: bool
    actions: tuple[Action, ...] = ()  # those applied and those only listed
    data: bytes | None = None  # new content (a cleaned or joined caption)
    ops: tuple[FixKind, ...] = ()  # pixel fixes applied when the copy is written (views.fix_images)

    @property
    def left_out(self) -> bool:
        return any(a.applied and a.dest is None for a in self.actions)


@dataclass
class WalkFacts:
    """What the walk judges by: the audit's facts and the options."""

    crashing: dict[str, str]  # image -> the code of the crash sd-scripts would have on it
    case_insensitive: bool | None
    captions: dict[str, tuple[str, bool]]  # subset folder -> (caption extension, enable_wildcard)
    default_caption: tuple[str, bool]
    probes: dict = field(default_factory=dict)  # image -> its ImageProbe (the audit's)
    alpha_mask: bool = False  # some subset trains with alpha_mask: transparency is kept
    unsafe: bool = False
    duplicates: dict[str, tuple[str, str]] = field(default_factory=dict)  # dropped image -> (code, kept image)


def walk(folder: str, name: str, is_root: bool, facts: WalkFacts) -> list[Entry]:
    """Every folder and file under ``folder`` with its place in the copy; a loop over a stack (no
    recursion), symlinked folders followed once each (as sd-scripts follows them)."""
    out = [Entry(folder, name, True)]
    # (folder, its place in the copy, role; for a folder nested in a subset: (the subset's place in the
    # copy, the path below it, its caption extension))
    stack: list[tuple[str, str, str, tuple[str, str, str] | None]] = [(folder, name, "root" if is_root else "subset", None)]
    seen = {_identity(folder)}  # (each folder by device and inode: a realpath per folder is quadratic in the depth)
    stems: dict[str, set[str]] = {}  # a subset's place in the copy -> the stems of its files there
    while stack:
        src, dest, role, nested = stack.pop()
        try:
            with os.scandir(src) as it:
                listed = sorted((e.name, e.is_dir(), e.is_file(), _identity(e) if e.is_dir() else None) for e in it)
        except OSError as exc:
            raise unlisted(src, exc) from None
        names = {n for n, _, _, _ in listed}
        for child, real in ((n, ident) for n, d, _, ident in listed if d):
            path = os.path.join(src, child)
            if real in seen:
                continue
            seen.add(real)
            new = folder_rename(child) if role == "root" else None
            actions: tuple[Action, ...] = ()
            if new is not None and new not in names:
                names.add(new)
                actions = (Action("RA001", FixKind.RENAME_FOLDER.value, path, os.path.join(dest, new), True,
                                  f"'{child}' -> '{new}'"),)
            child_dest = os.path.join(dest, new if actions else child)
            out.append(Entry(path, child_dest, True, actions))
            if role == "root":
                stack.append((path, child_dest, "subset", None))
            elif role == "subset":  # (hidden folders are never read, nor their images moved)
                cap = facts.captions.get(src, facts.default_caption)[0]
                stack.append((path, child_dest, "other", None if child.startswith(".") else (dest, child, cap)))
            else:
                below = None if nested is None or child.startswith(".") else \
                    (nested[0], os.path.join(nested[1], child), nested[2])
                stack.append((path, child_dest, "other", below))
        files = [n for n, d, f, _ in listed if f]
        if role == "subset":
            cap = facts.captions.get(src, facts.default_caption)
            entries = subset_files(src, dest, files, names, cap, facts)
            stems[dest] = {os.path.splitext(os.path.basename(e.dest))[0] for e in entries if e.dest}
            out += entries
        elif nested is not None and nested[0] in stems:
            out += _nested_files(src, dest, files, nested, stems[nested[0]], facts)
        else:
            out += [Entry(os.path.join(src, n), os.path.join(dest, n), False) for n in files]
    return out


def unlisted(src: str, exc: OSError) -> RegauditError:
    """The one line of a fix that stops on a folder it cannot list; a path longer than the system takes
    (folders nested thousands deep) is named by its start and end, with what to do."""
    if exc.errno == errno.ENAMETOOLONG:
        size = len(os.fsencode(src))
        return RegauditError(f"{short_path(src)}: a folder nested {src.count(os.sep)} deep, its path {size} "
                             f"bytes, more than this system can name; regaudit fix cannot copy it (sd-scripts does "
                             f"not train images nested in a subset): move it out of the dataset; nothing was written")
    return RegauditError(f"{src}: cannot be listed ({exc.strerror or exc}); nothing was written")


def _identity(folder) -> tuple[int, int] | str:
    """A folder's (device, inode), symlinks followed (a path or a DirEntry); its path where it cannot
    be looked at (then only that path is taken as itself)."""
    try:
        st = folder.stat() if isinstance(folder, os.DirEntry) else os.stat(folder)
    except OSError:
        return os.fspath(folder.path if isinstance(folder, os.DirEntry) else folder)
    return st.st_dev, st.st_ino


def subset_files(src: str, dest: str, files: list[str], names: set[str], cap: tuple[str, bool],
                 facts: WalkFacts) -> list[Entry]:
    """A subset folder's files: images sd-scripts crashes on left out, exact duplicates dropped,
    pixels fixed (their latent caches dropped), extensions and caption files renamed, captions
    cleaned and joined."""
    caption_ext, wildcard = cap
    out: list[Entry] = []
    image_names = [n for n in files if os.path.splitext(n)[1].lower() in IMAGE_EXTS]
    stems = {os.path.splitext(n)[0] for n in image_names}
    renamed: dict[str, tuple[str, FixKind]] = {}
    new_names: set[str] = set()  # the names of ``renamed``
    for n in files:
        if os.path.join(src, n) in facts.crashing:
            continue
        kind, new = FixKind.RENAME_EXTENSION, extension_rename(n, facts.case_insensitive)
        if new is None:
            kind, new = FixKind.RENAME_CAPTION, caption_rename(n, stems, caption_ext, names)
        if new is not None and new not in names and new not in new_names:
            renamed[n] = (new, kind)  # (where a file of that name is there already: left as it is)
            new_names.add(new)
    gone: dict[str, Action] = {}  # stem of an image dropped or whose pixels change -> the action why
    kept: set[str] = set()  # stems of images the copy keeps
    images: dict[str, Entry] = {}
    for n in image_names:
        path = os.path.join(src, n)
        if path in facts.crashing:
            continue
        final = renamed.get(n, (n, None))[0]
        stem = os.path.splitext(n)[0]
        dup = facts.duplicates.get(path)
        if dup is not None:
            code, keep = dup
            a = Action(code, FixKind.DROP_DUPLICATE.value, path, None, False,
                       f"an exact duplicate of {keep}: dropped (the first by path order is kept)", applied=facts.unsafe)
            images[n] = Entry(path, "" if a.applied else os.path.join(dest, final), False, (a,))
            if a.applied:
                gone[stem] = a
            else:
                kept.add(stem)
            continue
        probe = facts.probes.get(path)
        actions, ops = [], []
        if _loads(probe):
            for kind, code, safe, what in pixel_fixes(probe.format, probe.mode, probe.exif_orientation,
                                                      probe.has_transparency, _webp(path, probe.format),
                                                      facts.alpha_mask, (probe.width, probe.height)):
                a = Action(code, kind.value, path, os.path.join(dest, final), safe, what,
                           applied=safe or facts.unsafe)
                actions.append(a)
                if a.applied:
                    ops.append(kind)
                    gone.setdefault(stem, a)
        kept.add(stem)  # (in the copy: its caption stays)
        images[n] = Entry(path, os.path.join(dest, final), False, tuple(actions), ops=tuple(ops))
    for n in files:
        path = os.path.join(src, n)
        if path in facts.crashing:
            out.append(Entry(path, "", False, (Action(facts.crashing[path], FixKind.LEAVE_OUT.value, path, None, True,
                                                      "left out: sd-scripts would crash on it"),)))
            continue
        final, kind = renamed.get(n, (n, None))
        target = os.path.join(dest, final)
        entry = images.get(n) or Entry(path, target, False)
        actions = list(entry.actions)
        if kind is not None:
            actions.insert(0, Action(FIXES[kind].code, kind.value, path, target, True, f"'{n}' -> '{final}'"))
        stem, ext = os.path.splitext(final)
        why = next((gone[s] for s in cache_owner_stems(n) if s in gone), None)
        if n not in images and why is not None:  # a latent cache of an image dropped or changed: stale
            out.append(Entry(path, "", False, (Action(why.code, FixKind.DROP_CACHE.value, path, None, why.safe,
                                                      "latent cache of an image whose pixels changed (or that "
                                                      "was dropped): stale, left out"),)))
            continue
        orig_stem, orig_ext = os.path.splitext(n)
        if n not in images and orig_stem in gone and orig_stem not in kept and gone[orig_stem].fix == \
                FixKind.DROP_DUPLICATE.value and (orig_ext == caption_ext or orig_ext in OTHER_CAPTION_EXTENSIONS):
            a = gone[orig_stem]
            out.append(Entry(path, "", False, (Action(a.code, FixKind.DROP_DUPLICATE.value, path, None, False,
                                                      "caption of a dropped duplicate: left out"),)))
            continue
        data = None
        if caption_ext and ext == caption_ext and stem in stems:
            data, more = _caption(path, target, wildcard, facts.unsafe)
            actions += more
        out.append(Entry(path, target, False, tuple(actions), data, entry.ops))
    return out


def _caption(path: str, target: str, wildcard: bool, unsafe: bool) -> tuple[bytes | None, list[Action]]:
    """A caption's new bytes (None: unchanged) and the actions: cleaned (safe), joined (unsafe)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(CAPTION_BYTES + 1)
    except OSError:
        return None, []
    if len(raw) > CAPTION_BYTES:  # not a caption (RA094): copied as it is, never cut short
        return None, []
    actions = []
    data = clean_caption(raw)
    if data is not None:
        actions.append(Action("RA023", FixKind.CLEAN_CAPTION.value, path, target, True,
                              "byte-order mark, CR/CRLF line ends and trailing blank lines removed"))
    joined = None if wildcard else join_caption(data if data is not None else raw)
    if joined is not None:
        a = Action("RA025", FixKind.JOIN_CAPTION.value, path, target, False,
                   "lines joined into one with ', ' (sd-scripts reads only the first line without enable_wildcard)",
                   applied=unsafe)
        actions.append(a)
        if a.applied:
            data = joined
    return data, actions


def _nested_files(src: str, dest: str, files: list[str], nested: tuple[str, str, str], taken: set[str],
                  facts: WalkFacts) -> list[Entry]:
    """The files of a folder nested in a subset (sd-scripts lists a subset without recursing):
    its images (and the caption of each) moved up into the subset under a free stem, unsafe;
    the rest copied where they are."""
    subset_dest, below, caption_ext = nested
    out: list[Entry] = []
    moved: dict[str, str] = {}  # old stem -> new stem
    for n in files:
        stem, ext = os.path.splitext(n)
        if n.startswith(".") or ext.lower() not in IMAGE_EXTS or stem in moved:
            continue
        new_stem, k = stem, 2
        while new_stem in taken:
            new_stem, k = f"{stem}-{k}", k + 1
        path = os.path.join(src, n)
        final = new_stem + ext.lower()
        a = Action("RA004", FixKind.MOVE_UP.value, path, os.path.join(subset_dest, final), False,
                   f"moved up from '{below}' into the subset as '{final}'", applied=facts.unsafe)
        actions, ops = [a], []
        if a.applied:
            taken.add(new_stem)
            moved[stem] = new_stem
            actions, ops = _moved_pixels(path, a, facts)
        out.append(Entry(path, a.dest if a.applied else os.path.join(dest, n), False, tuple(actions), ops=ops))
    done = {e.source for e in out}
    names = set(files)
    for n in files:
        stem, ext = os.path.splitext(n)
        path = os.path.join(src, n)
        if stem in moved and not (ext.lower() in IMAGE_EXTS and not n.startswith(".")) and \
                (ext == caption_ext or ext in OTHER_CAPTION_EXTENSIONS) and \
                (ext == caption_ext or stem + caption_ext not in names):
            final = moved[stem] + caption_ext
            out.append(Entry(path, os.path.join(subset_dest, final), False,
                             (Action("RA004", FixKind.MOVE_UP.value, path, os.path.join(subset_dest, final), False,
                                     f"caption moved up from '{below}' with its image as '{final}'"),)))
        elif path not in done:
            out.append(Entry(path, os.path.join(dest, n), False))
    return out


def _moved_pixels(path: str, move: Action, facts: WalkFacts) -> tuple[list[Action], tuple[FixKind, ...]]:
    """A nested image moved up is read by sd-scripts from now on: the audit never looked at its
    pixels, so it is probed here and its pixel fixes planned as for the subset's own images."""
    from ..sdscripts.images import probe

    p = probe(path)
    actions, ops = [move], []
    if _loads(p):
        for kind, code, safe, what in pixel_fixes(p.format, p.mode, p.exif_orientation, p.has_transparency,
                                                  _webp(path, p.format), facts.alpha_mask, (p.width, p.height)):
            a = Action(code, kind.value, path, move.dest, safe, what, applied=safe or facts.unsafe)
            actions.append(a)
            if a.applied:
                ops.append(kind)
    return actions, tuple(ops)


def _loads(p) -> bool:
    """Whether Pillow loads the image whole (a huge, truncated or unopenable one gets no pixel fix)."""
    return p is not None and p.error_kind is None and p.format is not None and not p.decode_error \
        and p.load_error_kind is None


def _webp(path: str, fmt: str | None) -> str:
    """The WebP kind pixel_fixes judges by ('animated' also for an APNG: neither is saved again)."""
    from .fix_images import is_animated_png, webp_kind

    if fmt == "PNG":
        return "animated" if is_animated_png(path) else ""
    return webp_kind(path) if fmt == "WEBP" else ""
