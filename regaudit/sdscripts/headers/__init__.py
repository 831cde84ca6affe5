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
from .jpeg import JPEG_SKIPPED_BYTES, jpeg, jpeg_ends, marker_free_run
from .png import PNG_CHUNK_BYTES, png, png_ends, png_tail_exif
from .png import chunk_problem as png_chunk_problem
from .webp import WEBP_BYTES, webp, webp_problem

__all__ = ["JPEG_SKIPPED_BYTES", "MAX_IMAGE_PIXELS", "PNG_CHUNK_BYTES", "View", "WEBP_BYTES", "chunk_problem", "for_pillow",
           "jpeg_ends", "png_ends", "png_tail_exif", "view"]


def chunk_problem(fd: int) -> str | None:
    """Why Pillow must not be given this file, or None: a PNG chunk that claims more than
    PNG_CHUNK_BYTES, or a WebP over WEBP_BYTES (Pillow reads each whole into memory before it looks)."""
    return png_chunk_problem(fd) or webp_problem(fd)


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


_TAIL_IN_MEMORY = 16 << 20


def for_pillow(fh):
    """What to give Pillow to decode the open file ``fh`` (binary, at its start): ``fh`` itself, or, for
    a JPEG whose header holds a long run without markers (``marker_free_run``), an in-memory file of
    the bytes around it (a tail past the run over 16 MiB: ``fh`` as it is)."""
    import io
    import os

    from ...safeio import pread

    fd = fh.fileno()
    run = marker_free_run(fd)
    if run is None:
        return fh
    start, end = run
    size = os.fstat(fd).st_size
    if size - end > _TAIL_IN_MEMORY:
        return fh
    return io.BytesIO(pread(fd, start, 0) + pread(fd, size - end, end))
