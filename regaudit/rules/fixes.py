"""Which findings ``regaudit fix`` corrects in its copy, and how (judgement over the port's facts).

A fix is safe when the copy trains the same pixels the user meant and nothing they wrote is lost:
a rename sd-scripts can then see, a caption's invisible bytes, an image sd-scripts would crash on
left out. Every other finding stays as it is in the copy, listed with why (``UNFIXED``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from enum import Enum

from ..sdscripts.layout import GLOB_EXTENSIONS, OTHER_CAPTION_EXTENSIONS, is_globbed, parse_folder_name, \
    suggest_folder_name


class FixKind(str, Enum):
    RENAME_FOLDER = "rename-folder"
    RENAME_EXTENSION = "rename-extension"
    RENAME_CAPTION = "rename-caption"
    CLEAN_CAPTION = "clean-caption"
    LEAVE_OUT = "leave-out"


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

# the findings the copy no longer has once its fixes are applied
FIXED_CODES = frozenset({"RA001", "RA006", "RA023", "RA026", "RA040", "RA041", "RA042", "RA043", "RA052"})
# images sd-scripts crashes on (rules.images): left out of the copy
CRASHING_IMAGE_CODES = frozenset({"RA040", "RA041", "RA042", "RA043", "RA052"})

_UNSAFE = "needs --unsafe-fixes, not in this version"
UNFIXED = {  # code -> why the copy keeps it
    "RA044": f"rotating the pixels by EXIF re-encodes a JPEG: {_UNSAFE}",
    "RA045": f"flattening transparency onto a background changes pixels: {_UNSAFE}",
    "RA046": f"converting CMYK to sRGB re-encodes the image: {_UNSAFE}",
    "RA004": f"moving nested images up into their subset: {_UNSAFE}",
    "RA025": f"joining multi-line captions changes their text: {_UNSAFE}",
    "RA050": f"downscaling a huge image re-encodes it: {_UNSAFE}",
}
_DUPES = f"reducing duplicates to one deletes images: {_UNSAFE}"


def why_unfixed(code: str, family: str, hint: str) -> str:
    """Why the copy still has a finding of ``code`` (its rule's ``hint`` says what the user can do)."""
    if code in UNFIXED:
        return UNFIXED[code]
    if family == "dupes":
        return _DUPES
    return f"no automatic fix: {hint}"


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
