"""Which findings ``regaudit fix`` corrects in its copy, and how (judgement over the port's facts).

A fix is safe when the copy trains the same pixels the user meant and nothing they wrote is lost:
a rename sd-scripts can then see, a caption's invisible bytes, an image sd-scripts would crash on
left out, an EXIF orientation applied losslessly (PNG, lossless WebP). An unsafe fix (a lossy
re-encode, flattened transparency, CMYK converted, duplicates dropped, nested images moved,
caption lines joined) is listed always and applied only with --unsafe-fixes. Every other finding
stays as it is in the copy, listed with why (``UNFIXED``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from enum import Enum

from ..errors import RegauditError
from ..sdscripts.layout import GLOB_EXTENSIONS, OTHER_CAPTION_EXTENSIONS, is_globbed, parse_folder_name, \
    suggest_folder_name


class FixKind(str, Enum):
    RENAME_FOLDER = "rename-folder"
    RENAME_EXTENSION = "rename-extension"
    RENAME_CAPTION = "rename-caption"
    CLEAN_CAPTION = "clean-caption"
    LEAVE_OUT = "leave-out"
    ROTATE_EXIF = "rotate-exif"
    DROP_CACHE = "drop-cache"
    TO_SRGB = "cmyk-to-srgb"
    FLATTEN_ALPHA = "flatten-alpha"
    DROP_DUPLICATE = "drop-duplicate"
    MOVE_UP = "move-up"
    JOIN_CAPTION = "join-caption"


@dataclass(frozen=True)
class Fix:
    code: str  # the finding it corrects
    kind: FixKind
    safe: bool
    summary: str


FIXES = {
    FixKind.RENAME_FOLDER: Fix("RA001", FixKind.RENAME_FOLDER, True,
                               "folder renamed to '<repeats>_<class tokens>' so sd-scripts reads it"),
    FixKind.RENAME_EXTENSION: Fix("RA006", FixKind.RENAME_EXTENSION, True,
                                  "image extension lower-cased so sd-scripts' glob matches it"),
    FixKind.RENAME_CAPTION: Fix("RA026", FixKind.RENAME_CAPTION, True,
                                "caption file renamed to the caption extension the training reads"),
    FixKind.CLEAN_CAPTION: Fix("RA023", FixKind.CLEAN_CAPTION, True,
                               "caption's byte-order mark, CR/CRLF line ends and trailing blank lines removed"),
    FixKind.LEAVE_OUT: Fix("RA043", FixKind.LEAVE_OUT, True,
                           "image sd-scripts would crash on left out of the copy"),
}

# the findings the copy no longer has once its safe fixes are applied
FIXED_CODES = frozenset({"RA001", "RA006", "RA023", "RA026", "RA040", "RA041", "RA042", "RA043", "RA052"})
# and once its unsafe fixes are applied too (RA044 on PNG and lossless WebP is safe)
UNSAFE_FIXED_CODES = frozenset({"RA004", "RA025", "RA044", "RA045", "RA046"})
# images sd-scripts crashes on (rules.images): left out of the copy
CRASHING_IMAGE_CODES = frozenset({"RA040", "RA041", "RA042", "RA043", "RA052"})
# exact duplicates (rules.dupes) by who is in the group: one is kept, the others dropped
DUPLICATE_CODES = {"within-subset": "RA081", "cross-train": "RA081", "cross-reg": "RA082", "leakage": "RA080"}

PENDING = "unsafe fix planned: needs --unsafe-fixes"
UNFIXED = {  # code -> why the copy keeps it where no fix of this version applies
    "RA044": "no fix for this format (an animated WebP or PNG, or a format Pillow cannot save)",
    "RA045": "transparency kept: the subset uses alpha_mask, or the image is animated",
    "RA046": "no fix for this format",
    "RA050": "downscaling a huge image changes its pixels and size: do it by hand",
}


# a fine-tuning metadata key that names no file (RA012): the fix keeps every key but those of images left out
FT_MISSING = ("a fine-tuning metadata key that names no file: the copy keeps the key as it is (sd-scripts still "
              "stops on it); correct it (merge_captions_to_metadata.py writes keys with their extension with "
              "--full_path) or remove it from the metadata")


def why_unfixed(code: str, family: str, hint: str, pending: bool = False, fine_tuning: bool = False) -> str:
    """Why the copy still has a finding of ``code`` (its rule's ``hint`` says what the user can do);
    ``pending``: an unsafe fix for it was planned but --unsafe-fixes not given; ``fine_tuning``: the
    finding is on an image of a fine-tuning metadata file."""
    if pending:
        return PENDING
    if fine_tuning and code == "RA012":
        return FT_MISSING
    if code in UNFIXED:
        return UNFIXED[code]
    return f"no automatic fix: {hint}"


_ORIENTATION_TURNS = frozenset({5, 6, 7, 8})


def pixel_fixes(fmt: str | None, mode: str | None, orientation: int | None, transparent: bool, webp: str,
                alpha_mask: bool, size: tuple[int, int]) -> list[tuple[FixKind, str, bool, str]]:
    """The fixes that change an image's pixels, in the order they are applied: (kind, the finding's
    code, safe, what changes). ``webp`` is 'lossless', 'lossy', 'animated' (an animated WebP or
    PNG: no fix, saving it again would keep one frame) or '' (no WebP)."""
    out: list[tuple[FixKind, str, bool, str]] = []
    if webp == "animated":
        return out
    w, h = size
    if orientation not in (None, 1):
        turned = f"{h}x{w}" if orientation in _ORIENTATION_TURNS else f"{w}x{h}"
        what = f"EXIF orientation {orientation} applied to the pixels ({w}x{h} -> {turned}), the tag dropped"
        if fmt == "PNG" or (fmt == "WEBP" and webp == "lossless"):
            out.append((FixKind.ROTATE_EXIF, "RA044", True, what + " (lossless)"))
        elif fmt == "WEBP":
            out.append((FixKind.ROTATE_EXIF, "RA044", False,
                        what + " (the lossy WebP saved as lossless WebP: no further loss, a larger file)"))
        elif fmt in ("JPEG", "MPO"):
            out.append((FixKind.ROTATE_EXIF, "RA044", False,
                        what + " (JPEG re-encoded: lossy; Pillow has no lossless JPEG transform)"))
    if mode == "CMYK" and fmt in ("JPEG", "MPO"):
        out.append((FixKind.TO_SRGB, "RA046", False, "CMYK converted to sRGB (JPEG re-encoded: lossy)"))
    if transparent and not alpha_mask and fmt in ("PNG", "WEBP", "BMP"):
        out.append((FixKind.FLATTEN_ALPHA, "RA045", False, "transparency flattened onto the background"))
    return out


_CACHE_NAME = re.compile(r"(.*)_\d+x\d+_\w+\.npz")


def cache_owner_stems(name: str) -> tuple[str, ...]:
    """The image stems a latent cache file ``name`` may belong to ('<stem>_<W>x<H>_<arch>.npz', or
    the old '<stem>.npz'); () where it is no .npz. sd-scripts reads such a file instead of the
    pixels, so it is stale once they change."""
    if not name.endswith(".npz"):
        return ()
    m = _CACHE_NAME.fullmatch(name)
    return (name[:-4], m.group(1)) if m else (name[:-4],)


def join_caption(data: bytes) -> bytes | None:
    """A multi-line caption as one line: its lines as sd-scripts reads them (universal newlines,
    each stripped, blank ones dropped: train_util's enable_wildcard reading), joined with ', '
    (a line's own trailing ',' not doubled). None where it has one line, or is not UTF-8."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    bom = text.startswith("\ufeff")
    lines = [ln.strip() for ln in text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    lines = [ln for ln in lines if ln]
    if len(lines) < 2:
        return None
    joined = ", ".join(ln.rstrip(",").rstrip() for ln in lines[:-1]) + ", " + lines[-1]
    return (("\ufeff" if bom else "") + joined + "\n").encode("utf-8")


_PLAIN_SUBSET = re.compile(r"^\s*\d{1,3}\s*[-. x]+\s*\S")  # at most 3 digits (not a year): '10 dog', '10-dog', '10. dog', '10 x dog'


def folder_rename(name: str) -> str | None:
    """The name a folder sd-scripts ignores is renamed to, where its name plainly means a subset
    ('10 dog' and '10-dog' -> '10_dog'); None where the meaning is a guess ('dog', 'dog 10')."""
    if not _PLAIN_SUBSET.match(name) or parse_folder_name(name) is not None:
        return None
    new = suggest_folder_name(name)  # (the port's reading of what the name means)
    parsed = parse_folder_name(new)
    if parsed is None or parsed[0] < 1 or "/" in new or os.sep in new:
        return None
    return new


_GLOB_LOWER = frozenset(e for e in GLOB_EXTENSIONS if e == e.lower())


def extension_rename(name: str, case_insensitive: bool | None) -> str | None:
    """The name an image sd-scripts' glob cannot see for its extension's case is renamed to
    ('a.Jpg' -> 'a.jpg'); None where the glob sees it already or it is no image."""
    stem, ext = os.path.splitext(name)
    if name.startswith(".") or ext.lower() not in _GLOB_LOWER or is_globbed(name, case_insensitive):
        return None
    return stem + ext.lower()


def caption_rename(name: str, image_stems: set[str], caption_extension: str, names: set[str]) -> str | None:
    """The name a caption file beside an image is renamed to when it has another caption extension
    than the training reads ('a.txt' -> 'a.caption'), and no file of that name exists; else None."""
    stem, ext = os.path.splitext(name)
    if not caption_extension or ext == caption_extension or ext not in OTHER_CAPTION_EXTENSIONS:
        return None
    if stem not in image_stems or stem + caption_extension in names:
        return None
    return stem + caption_extension


def clean_caption(data: bytes) -> bytes | None:
    """A caption's bytes without a leading UTF-8 BOM, with LF line ends and no trailing blank lines;
    None where nothing changes, the text is not UTF-8, or nothing but blanks would remain (an empty
    caption file crashes sd-scripts: such a file is left as it is)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return None
    out = ("\n".join(lines) + "\n").encode("utf-8")
    if not data.endswith((b"\n", b"\r")):
        out = out[:-1]
    return None if out == data else out


_HEX = re.compile(r"#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
_TRIPLE = re.compile(r"(\d{1,3}),(\d{1,3}),(\d{1,3})")


def background_colour(text: str) -> tuple[int, int, int]:
    """--background: a colour name CSS knows ('white'), '#rgb', '#rrggbb' or 'R,G,B' (0-255 each);
    anything else is refused, naming the option."""
    from PIL import ImageColor

    value = text.strip().lower()
    m = _TRIPLE.fullmatch(value.replace(" ", ""))
    if m and all(int(v) <= 255 for v in m.groups()):
        return int(m[1]), int(m[2]), int(m[3])
    if _HEX.fullmatch(value) or value in ImageColor.colormap:
        r, g, b = ImageColor.getrgb(value)[:3]
        return r, g, b
    raise RegauditError(f"--background {text!r} is not a colour: give a name (white, black), #RRGGBB, #RGB "
                        f"or R,G,B with each 0-255")
