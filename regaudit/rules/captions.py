"""Caption file checks (RA020-RA030, RA094): facts in (each image's caption as ``sdscripts.captions``
read it, the names beside the subset's images), findings out. Captions as the text encoder sees
them (RA031-RA039) are ``caption_text``'s."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Iterator

from ..limits import CAPTION_BYTES
from ..model import CaptionSource, Finding, Subset
from ..sdscripts.layout import OTHER_CAPTION_EXTENSIONS
from .naming import named, rows
from .registry import rule


def _size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            return f"{n / (1 << shift):.1f} {unit}"
    return f"{n} bytes"


def _abs(path: str) -> str:
    return os.path.abspath(path)


def _extension_hint(other: str, files: list[str], ext: str, read: int, n: int) -> str:
    """RA026's fix, toward the extension most of the folder's captions have: ``files`` the captions of
    the ``other`` extension, ``read`` of the ``n`` images have one of the extension in use, ``ext``."""
    k = len(files)
    if k > read:
        then = f" and rename the {_n(read, 'caption file')} of '{ext}' to '{other}'" if read else ""
        return (f"Most captions here are '{other}' ({k} of {n} images): pass --caption_extension {other} to "
                f"sd-scripts (and to regaudit){then}.")
    return (f"Rename {named(files)} to '{ext or '(none)'}', the extension of the other {_n(read, 'caption')} here "
            f"(--caption_extension {other} would leave {'it' if read == 1 else 'those'} unread).")


def _n(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def metadata_oversize(metadata_file: str, records) -> list[Finding]:
    """RA094 for the captions of a fine-tuning metadata file over CAPTION_BYTES: one finding, the
    largest named, each one in its images."""
    over = sorted((r for r in records if r.caption is not None and r.caption.oversize),
                  key=lambda r: -r.caption.oversize)
    if not over:
        return []
    top = over[0]
    n = f"{len(over)} captions in this metadata are" if len(over) > 1 else "a caption in this metadata is"
    return [rule("RA094").finding(
        metadata_file, f"{n} absurdly long, up to {_size(top.caption.oversize)} ({top.caption.oversize} bytes, "
                       f"'{top.path}'); regaudit reads only the first {CAPTION_BYTES >> 10} KiB of each, sd-scripts "
                       f"all of it", images=rows(r.abs_path for r in over))]


def caption_findings(subset: Subset, sibling_names: Iterable[str]) -> Iterator[Finding]:
    ext = subset.config.caption_extension
    seen_files: set[str] = set()
    multiline: list[tuple[str, int]] = []
    tokens_only: list[str] = []
    empty: list[str] = []
    without_file: list[str] = []
    file_source = CaptionSource.FILE
    for img in subset.images:
        cap = img.caption
        if cap.source is file_source and not cap.via_fallback and cap.error is None and not cap.has_bom \
                and cap.text and (cap.line_count <= 1 or subset.config.enable_wildcard) and not cap.oversize:
            seen_files.add(cap.path)
            continue  # nothing to say about this caption (the common case, checked first)
        if cap.source is CaptionSource.CLASS_TOKENS:
            tokens_only.append(img.abs_path)
        elif cap.source is CaptionSource.EMPTY:
            empty.append(img.abs_path)
        if cap.source is not CaptionSource.FILE:
            without_file.append(img.abs_path)
            continue
        if cap.via_fallback:
            inside = os.path.dirname(_abs(cap.path)) == subset.abs_path
            yield rule("RA028").finding(
                img.abs_path, f"no '{os.path.basename(os.path.splitext(img.path)[0] + ext)}': the caption is read "
                              f"from '{_abs(cap.path)}'" + ("" if inside else ", outside this subset folder"))
        assert cap.path is not None
        if cap.path in seen_files:
            continue
        seen_files.add(cap.path)
        quiet = cap.line_count <= 1 or subset.config.enable_wildcard
        if cap.error is None and not cap.has_bom and cap.text and quiet and not cap.oversize:
            continue  # nothing to say about this caption (the common case: skip the path work)
        cpath = _abs(cap.path)
        if cap.oversize:
            yield rule("RA094").finding(cpath, f"caption file is {_size(cap.oversize)} ({cap.oversize} bytes), absurdly "
                                               f"long for a caption; regaudit reads only its first "
                                               f"{CAPTION_BYTES >> 10} KiB, sd-scripts reads all of it")
        if cap.error == "empty_file":
            yield rule("RA020").finding(cpath, "caption file is empty (0 lines); sd-scripts stops with "
                                               "'caption file is empty'")
        elif cap.error == "not_utf8":
            yield rule("RA021").finding(cpath, "caption file is not valid UTF-8; sd-scripts crashes with a "
                                               "UnicodeDecodeError")
        elif cap.error == "unreadable":
            yield rule("RA022").finding(cpath, "caption file cannot be opened; sd-scripts crashes")
        else:
            if cap.has_bom:
                yield rule("RA023").finding(cpath, "caption starts with a UTF-8 BOM (U+FEFF), which becomes "
                                                   "the first character of the prompt")
            if cap.text == "":
                yield rule("RA024").finding(cpath, "caption's first line is blank: the image trains with an "
                                                   "empty caption")
            if cap.line_count > 1 and not subset.config.enable_wildcard:
                multiline.append((cpath, cap.line_count))
    if multiline:
        paths = [p for p, _ in multiline]
        yield rule("RA025").finding(subset.abs_path, f"{len(multiline)} caption files have several lines; only "
                                                     f"the first is used: {named(paths)}",
                                    images=rows(paths, {p: (("lines", n),) for p, n in multiline}))
    stems = [img.path[:len(img.path) - len(img.ext)] for img in subset.images]  # (ext is splitext's)
    by_stem: dict[str, list[str]] = defaultdict(list)
    if len(set(stems)) < len(stems):  # two images share a stem (rare): which ones
        for stem, img in zip(stems, subset.images):
            by_stem[stem].append(img.abs_path)
    for stem, members in by_stem.items():
        if len(members) > 1:
            names = ", ".join(os.path.basename(m) for m in members)
            yield rule("RA027").finding(members[0], f"{names} share the stem '{os.path.basename(stem)}' and "
                                                    f"so one caption '{os.path.basename(stem)}{ext}'")
    names = set(sibling_names)
    others: dict[str, list[str]] = {e: [] for e in OTHER_CAPTION_EXTENSIONS if e != ext}
    for path in without_file if names else ():  # (no caption file of another extension here: nothing to count)
        stem = os.path.basename(os.path.splitext(path)[0])
        for e, found in others.items():
            if stem + e in names:
                found.append(path)
    n = len(subset.images)
    read = sum(1 for img in subset.images if img.caption.source is file_source) if any(others.values()) else 0
    for e, found in others.items():
        if found:
            yield rule("RA026").finding(
                subset.abs_path,
                f"{len(found)} of {n} images have a '{e}' caption beside them ({named(found)}), but the caption "
                f"extension is '{ext or '(none)'}', so sd-scripts ignores those files and uses the class tokens",
                _extension_hint(e, [os.path.splitext(p)[0] + e for p in found], ext, read, n),
                images=rows(found, {p: (("caption", os.path.splitext(p)[0] + e),) for p in found}))
    if tokens_only:
        # an image with a caption of another extension (RA026) has a caption file, just not the one read
        other = {p for found in others.values() for p in found}
        what = f"no '{ext}' caption file" if ext and other.intersection(tokens_only) else "no caption file"
        yield rule("RA029").finding(subset.abs_path, f"{len(tokens_only)} of {n} images have {what} and "
                                                     f"train on the class tokens '{subset.config.class_tokens}': "
                                                     f"{named(tokens_only)}", images=rows(tokens_only))
    if empty:
        yield rule("RA030").finding(subset.abs_path, f"{len(empty)} of {n} images have no caption file and no "
                                                     f"class tokens, so they train on an empty prompt: {named(empty)}",
                                    images=rows(empty))
