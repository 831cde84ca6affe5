"""WebP: the RIFF layouts libwebp's demuxer (Pillow's WebPAnimDecoder) accepts for a still image,
and imagesize's reading of the first chunk (see the package docstring)."""

from __future__ import annotations

import os
import struct

from ...safeio import pread
from ..imagesize_141 import Source
from .common import MAX_IMAGE_PIXELS, View
from .common import read as _read

_VP8X_ICC, _VP8X_ALPHA, _VP8X_EXIF, _VP8X_XMP, _VP8X_ANIM = 0x20, 0x10, 0x08, 0x04, 0x02


def webp(src: Source) -> View | None:
    # libwebp's demuxer (through Pillow's WebPAnimDecoder) checks the whole RIFF layout; a clean
    # file here is one of the still-image layouts it accepts, with sizes that add up exactly.
    size = src.size
    if len(src.head) < 8 or struct.unpack("<L", src.head[4:8])[0] + 8 != size:
        return None
    chunks: list[tuple[bytes, int, int]] = []  # (id, payload position, payload size)
    pos = 12
    while pos < size:
        hdr = _read(src, pos, 8)
        if len(hdr) < 8 or len(chunks) > 8:
            return None
        n = struct.unpack("<L", hdr[4:])[0]
        end = pos + 8 + n + (n & 1)
        if end > size:
            return None
        chunks.append((hdr[:4], pos + 8, n))
        pos = end
    if not chunks:
        return None
    names = [c for c, _, _ in chunks]
    exif = None
    if names[0] in (b"VP8 ", b"VP8L"):
        if len(chunks) != 1:
            return None
        frame = _bitstream(names[0], _read(src, chunks[0][1], min(chunks[0][2], 10)), chunks[0][2])
        if frame is None:
            return None
        w, h, alpha, raw = frame  # imagesize reads a VP8 size with its scale bits
    elif names[0] == b"VP8X":
        if chunks[0][2] != 10:
            return None
        p = _read(src, chunks[0][1], 10)
        flags = p[0]
        if flags & ~(_VP8X_ICC | _VP8X_ALPHA | _VP8X_EXIF | _VP8X_XMP) or p[1:4] != b"\x00\x00\x00":
            return None  # animation, or reserved bits set
        cw = p[4] | p[5] << 8 | p[6] << 16
        ch = p[7] | p[8] << 8 | p[9] << 16
        k = 1
        has_icc = k < len(names) and names[k] == b"ICCP"
        k += has_icc
        has_alph = k < len(names) and names[k] == b"ALPH"
        if has_alph:
            if not chunks[k][2]:
                return None
            k += 1
        if k >= len(names) or names[k] not in (b"VP8 ", b"VP8L") or (has_alph and names[k] != b"VP8 "):
            return None
        frame = _bitstream(names[k], _read(src, chunks[k][1], min(chunks[k][2], 10)), chunks[k][2])
        k += 1
        has_exif = k < len(names) and names[k] == b"EXIF"
        if has_exif:
            exif = _read(src, chunks[k][1], chunks[k][2]) or None
            k += 1
        has_xmp = k < len(names) and names[k] == b"XMP "
        k += has_xmp
        if k != len(names) or frame is None:
            return None
        w, h, bit_alpha, _ = frame
        alpha = bool(flags & _VP8X_ALPHA)
        if (w, h) != (cw + 1, ch + 1) or alpha != (has_alph or bit_alpha) or bool(flags & _VP8X_ICC) != has_icc \
                or bool(flags & _VP8X_EXIF) != has_exif or bool(flags & _VP8X_XMP) != has_xmp:
            return None
        raw = (cw, ch)  # imagesize returns the stored width-1 and height-1
    else:
        return None
    if w * h > 2 * MAX_IMAGE_PIXELS:
        return None
    return View("WEBP", "RGBA" if alpha else "RGB", alpha, exif, raw, (w, h), True)


def _bitstream(kind: bytes, p: bytes, n: int) -> tuple[int, int, bool, tuple[int, int]] | None:
    """Width, height and alpha of a VP8/VP8L bitstream (``p``: its first bytes, ``n``: its size)
    as libwebp's WebPGetFeatures reads them, and the size imagesize reads from it; None where
    libwebp rejects the header."""
    if kind == b"VP8 ":
        if len(p) < 10 or p[3:6] != b"\x9d\x01\x2a":
            return None
        bits = p[0] | p[1] << 8 | p[2] << 16
        if bits & 1 or (bits >> 1) & 7 > 3 or not (bits >> 4) & 1 or bits >> 5 >= n:
            return None
        raw = (p[6] | p[7] << 8, p[8] | p[9] << 8)
        w, h = raw[0] & 0x3FFF, raw[1] & 0x3FFF
        return (w, h, False, raw) if w and h else None
    if len(p) < 5 or p[0] != 0x2F or p[4] >> 5:
        return None
    w = (((p[2] & 0x3F) << 8) | p[1]) + 1
    h = (((p[4] & 0x0F) << 10) | (p[3] << 2) | ((p[2] & 0xC0) >> 6)) + 1
    return w, h, bool(p[4] & 0x10), (w, h)


WEBP_BYTES = 128 << 20  # the largest WebP file given to Pillow (its WebP plugin reads the file whole, several times)


def webp_problem(fd: int) -> str | None:
    """Why Pillow must not be given this WebP, or None (also for any file that is not a WebP). Pillow's
    WebP plugin reads the whole file into memory when it opens it and hands the decoder a copy: a
    sparse gigabyte costs six in every process that opens it. The largest real WebP (16383 pixels a
    side) is far smaller than WEBP_BYTES."""
    head = pread(fd, 12, 0)
    if head[:4] != b"RIFF" or head[8:12] != b"WEBP":
        return None
    size = os.fstat(fd).st_size
    if size <= WEBP_BYTES:
        return None
    return (f"it is a WebP file of {size} bytes, which Pillow would read whole into memory, several times over, to "
            f"open it (regaudit gives it no WebP over {WEBP_BYTES >> 20} MiB)")
