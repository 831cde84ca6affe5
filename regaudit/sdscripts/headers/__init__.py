"""One pass over a JPEG, PNG or WebP file's first bytes (and its last few) that gives everything
the probe needs without Pillow: the size sd-scripts reads (imagesize 1.4.1's result), and what
``PIL.Image.open`` would report — format, mode, transparency, the EXIF block — plus whether the
file ends where its format says it must.

Each reader accepts only a file it can read exactly as Pillow does: a *clean* file, whose every
header segment or chunk is well formed (and, for PNG, has a valid checksum). Anything else — an
odd marker, a chunk Pillow would reject, an animation, MPO, a size over Pillow's limit — gives
None, and the caller asks Pillow itself. So the answer is Pillow's or nothing; the readers are
checked against Pillow on thousands of generated and mutated files (tests/differential).
"""

from __future__ import annotations

from ..imagesize_141 import Source
from .common import MAX_IMAGE_PIXELS, View
from .jpeg import jpeg, jpeg_ends
from .png import PNG_CHUNK_BYTES, chunk_problem, png, png_ends, png_tail_exif
from .webp import webp

__all__ = ["MAX_IMAGE_PIXELS", "PNG_CHUNK_BYTES", "View", "chunk_problem", "jpeg_ends", "png_ends", "png_tail_exif",
           "view"]


def view(src: Source) -> View | None:
    """What Pillow would report for a clean JPEG, PNG or WebP, and imagesize's size; None for
    any other file, and for one these readers do not read exactly as Pillow does."""
    head = src.head
    if head[:3] == b"\xff\xd8\xff":
        return jpeg(src)
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return png(src)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return webp(src)
    return None
