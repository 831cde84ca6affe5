"""What the three readers share: the view they return, Pillow's pixel limit, a fast read."""

from __future__ import annotations

from typing import NamedTuple

from ..imagesize_141 import Source

MAX_IMAGE_PIXELS = 1024 * 1024 * 1024 // 4 // 3  # PIL.Image.MAX_IMAGE_PIXELS; Image.open refuses twice this


class View(NamedTuple):
    format: str  # as Pillow names it
    mode: str  # as Pillow names it
    transparency: bool  # Pillow's mode has alpha, or its info has "transparency"
    exif: bytes | None  # Pillow's info["exif"]
    size: tuple[int, int]  # what imagesize 1.4.1 returns (sd-scripts' size)
    pil_size: tuple[int, int]  # what Pillow reads
    whole: bool  # the file ends where it should (False: it may be truncated)


def read(src: Source, pos: int, n: int) -> bytes:
    """``src.read(pos, n)``, without a method call when the bytes are in the head."""
    head = src.head
    end = pos + n
    return head[pos:end] if end <= len(head) else src.read(pos, n)
