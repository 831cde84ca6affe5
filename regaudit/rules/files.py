"""Checks on image files and captions: pure functions of a Subset, yielding findings."""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable, Iterator

from ..sdscripts.images import EXT_FORMATS, HIGH_BIT_MODES, HUGE_PIXELS, expected_formats
from ..sdscripts.layout import OTHER_CAPTION_EXTENSIONS
from ..model import CaptionSource, Finding, ImageProbe, ImageRecord, Subset
from .registry import rule

_ORIENTATION = {
    2: "mirrored horizontally", 3: "rotated 180°", 4: "mirrored vertically",
    5: "mirrored and rotated 90° counter-clockwise", 6: "rotated 90° clockwise",
    7: "mirrored and rotated 90° clockwise", 8: "rotated 90° counter-clockwise",
}


def _abs(path: str) -> str:
    return os.path.abspath(path)


# a probe's last fields, from ``error`` on, when nothing went wrong (decoded by --deep or not)
_ENDS_AT = ImageProbe._fields.index("error")
assert ImageProbe._fields[_ENDS_AT:] == ("error", "error_kind", "decode_error", "decoded", "load_error", "load_error_kind")
_CLEAN_ENDS = frozenset({(None, None, None, False, None, None), (None, None, None, True, None, None)})
_FORMAT_OK = frozenset((fmt, e) for ext, fmts in EXT_FORMATS.items() for fmt in fmts for e in (ext, ext.upper()))


def image_findings(subset: Subset) -> Iterator[Finding]:
    return record_findings(subset.images)


def record_findings(images: Iterable[ImageRecord]) -> Iterator[Finding]:
    """image_findings of some of a subset's images (a part, in a worker process)."""
    clean, ends_at, format_ok = _CLEAN_ENDS, _ENDS_AT, _FORMAT_OK
    for img in images:
        p = img.probe
        if p[ends_at:] in clean and (p.mode == "RGB" or p.mode == "L") and not p.has_transparency \
                and p.exif_orientation in (None, 1) and (p.format, img.ext) in format_ok and not img.cache_sizes:
            continue  # nothing to say about this image (the common case, checked first)
        where = img.abs_path
        kind = p.error_kind
        if kind == "zero_bytes":
            yield rule("RA040").finding(where, "image file is 0 bytes; sd-scripts reads its size as 0x0 "
                                               "and crashes with a division by zero")
        elif kind == "not_a_file":
            yield rule("RA012").finding(where, f"'{os.path.basename(img.path)}' {p.error}; sd-scripts "
                                               f"globs it as an image and crashes reading it")
        elif kind == "unreadable":
            yield rule("RA041").finding(where, f"image {p.error}; sd-scripts crashes when it reads the size",
                                        "Fix the file's permissions (chmod u+r), or remove it.")
        elif kind == "header_crash":
            yield rule("RA042").finding(where, f"sd-scripts' size reader (imagesize) raises {p.error} on this "
                                               f"file's header: the dataset build stops")
        elif kind == "no_size" and p.size_via == "none":
            yield rule("RA041").finding(where, f"image {p.error}; sd-scripts uses 0x0 and crashes "
                                               f"with a division by zero when bucketing")
        elif kind == "no_size":
            yield rule("RA041").finding(where, f"image {p.error} by sd-scripts' size reader (imagesize); sd-scripts "
                                               f"divides by zero when it computes the image's bucket")
        if p.decode_error:
            yield rule("RA043").finding(where, f"image data cannot be decoded ({p.decode_error})")
        elif p.load_error_kind in ("truncated", "corrupt"):
            what = ("image file is cut short: its end marker is missing and decoding fails" if p.load_error_kind ==
                    "truncated" else "image data cannot be decoded")
            yield rule("RA043").finding(where, f"{what} ({p.load_error}); the dataset builds, then sd-scripts "
                                               f"fails when it loads this image")
        if p.load_error_kind == "unopenable":
            yield rule("RA052").finding(where, f"sd-scripts reads a {p.width}x{p.height} size from the header, but "
                                               f"Pillow cannot open the file ({p.load_error}): the dataset builds "
                                               f"and counts it, then sd-scripts fails when it loads this image")
        if p.exif_orientation not in (None, 1):
            w, h = p.width, p.height
            turned = p.exif_orientation in (5, 6, 7, 8)
            shown = f"{h}x{w}" if turned else f"{w}x{h}"
            yield rule("RA044").finding(
                where, f"EXIF orientation {p.exif_orientation} ({_ORIENTATION[p.exif_orientation]}): "
                       f"viewers show it {shown}, sd-scripts trains the stored {w}x{h} pixels as they are")
        if p.has_transparency:
            yield rule("RA045").finding(where, f"{p.mode} image with transparency; sd-scripts converts it "
                                               f"to RGB and the transparent areas lose their alpha")
        if p.mode == "CMYK":
            yield rule("RA046").finding(where, "CMYK image is converted to RGB without colour management")
        elif p.mode == "P" and not p.has_transparency:
            yield rule("RA047").finding(where, "palette image is expanded to RGB")
        elif p.mode in HIGH_BIT_MODES:
            yield rule("RA048").finding(where, f"{p.mode} image: converting it to RGB clips values above 255")
        expected = expected_formats(img.ext)
        if p.format and expected and p.format not in expected:
            yield rule("RA049").finding(where, f"'{img.ext}' file holds {p.format} data")
        for suffix, (cw, ch) in img.cache_sizes:
            if (cw, ch) != (p.width, p.height):
                yield rule("RA051").finding(
                    where, f"a '*{suffix}' latent cache file beside it says {cw}x{ch}, the image is "
                           f"{p.width}x{p.height}: trainers using that cache bucket it as {cw}x{ch}")
        if p.load_error_kind == "too_large":
            yield rule("RA050").finding(where, f"Pillow refuses to open images over {HUGE_PIXELS:,} pixels "
                                               f"({p.load_error}); sd-scripts fails when it loads this image")


def caption_findings(subset: Subset, sibling_names: Iterable[str]) -> Iterator[Finding]:
    ext = subset.config.caption_extension
    seen_files: set[str] = set()
    multiline: list[str] = []
    tokens_only = empty = 0
    without_file: list[str] = []
    file_source = CaptionSource.FILE
    for img in subset.images:
        cap = img.caption
        if cap.source is file_source and not cap.via_fallback and cap.error is None and not cap.has_bom \
                and cap.text and (cap.line_count <= 1 or subset.config.enable_wildcard):
            seen_files.add(cap.path)
            continue  # nothing to say about this caption (the common case, checked first)
        if cap.source is CaptionSource.CLASS_TOKENS:
            tokens_only += 1
        elif cap.source is CaptionSource.EMPTY:
            empty += 1
        if cap.source is not CaptionSource.FILE:
            without_file.append(img.path)
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
        if cap.error is None and not cap.has_bom and cap.text and quiet:
            continue  # nothing to say about this caption (the common case: skip the path work)
        cpath = _abs(cap.path)
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
                multiline.append(cpath)
    if multiline:
        yield rule("RA025").finding(subset.abs_path, f"{len(multiline)} caption files have several lines; only "
                                                     f"the first is used (e.g. '{multiline[0]}')")
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
    others = {e: 0 for e in OTHER_CAPTION_EXTENSIONS if e != ext}
    for path in without_file if names else ():  # (no caption file of another extension here: nothing to count)
        stem = os.path.basename(os.path.splitext(path)[0])
        for e in others:
            if stem + e in names:
                others[e] += 1
    for e, count in others.items():
        if count:
            yield rule("RA026").finding(
                subset.abs_path,
                f"{count} of {len(subset.images)} images have a '{e}' caption beside them, but the caption "
                f"extension is '{ext or '(none)'}', so sd-scripts ignores those files and uses the class tokens",
                f"Pass --caption_extension {e} to sd-scripts (and to regaudit), or rename the caption files.")
    if tokens_only:
        yield rule("RA029").finding(subset.abs_path, f"{tokens_only} of {len(subset.images)} images have no caption "
                                                     f"file and train on the class tokens "
                                                     f"'{subset.config.class_tokens}'")
    if empty:
        yield rule("RA030").finding(subset.abs_path, f"{empty} of {len(subset.images)} images have no caption file "
                                                     f"and no class tokens: they train on an empty prompt")
