"""The one place that opens image files.

``probe()`` reads what sd-scripts reads (the size, from the header first, spec §5) and what
silently changes training (mode, transparency, EXIF orientation), from headers only: no pixel
is decoded unless ``deep`` asks for it. It never raises: every failure becomes data.
"""

from __future__ import annotations

import os
import stat
import struct
import warnings
from typing import BinaryIO

from PIL import Image

from .model import ImageProbe

_PNG_SIG = b"\x89PNG\r\n\x1a\n"
_JP2_SIG = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
_JPEG_SCAN_LIMIT = 10_000  # marker hops before we call a JPEG header unparseable (imagesize would loop)
# Pillow's own warnings (large images, odd EXIF) are findings here, not noise on stderr.
warnings.filterwarnings("ignore", module=r"PIL\.")
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

HUGE_PIXELS = 2 * Image.MAX_IMAGE_PIXELS if Image.MAX_IMAGE_PIXELS else 178_956_970

# Pillow formats a file extension may legitimately hold.
_EXT_FORMATS = {
    ".png": {"PNG"},
    ".jpg": {"JPEG", "MPO"},
    ".jpeg": {"JPEG", "MPO"},
    ".webp": {"WEBP"},
    ".bmp": {"BMP", "DIB"},
}

HIGH_BIT_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I", "F"})
ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})


class HeaderCrash(Exception):
    """The header reader sd-scripts uses would raise on this file."""


def expected_formats(ext: str) -> set[str]:
    return _EXT_FORMATS.get(ext.lower(), set())


def header_size(fh: BinaryIO) -> tuple[int, int] | None:
    """The size sd-scripts' header reader (the ``imagesize`` package) returns, or None where it
    returns none (-1), for the formats an image glob can pick up. Raises HeaderCrash where it
    would raise. BMP is left to Pillow, as in sd-scripts."""
    fh.seek(0)
    head = fh.read(64)
    n = len(head)
    try:
        if n >= 10 and head[:6] in (b"GIF87a", b"GIF89a"):
            w, h = struct.unpack("<hh", head[6:10])
            return w, h
        if n >= 24 and head.startswith(_PNG_SIG) and head[12:16] == b"IHDR":
            return struct.unpack(">LL", head[16:24])
        if n >= 16 and head.startswith(_PNG_SIG):
            return struct.unpack(">LL", head[8:16])  # pre-IHDR layout, as imagesize reads it
        if n >= 2 and head.startswith(b"\xff\xd8"):
            return _jpeg_size(fh)
        if n >= 12 and head.startswith(_JP2_SIG):
            fh.seek(48)
            h, w = struct.unpack(">LL", fh.read(8))
            return w, h
        if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
            return _webp_size(head)
    except struct.error as exc:
        raise HeaderCrash(f"malformed header ({exc})") from None
    return None


def _jpeg_size(fh: BinaryIO) -> tuple[int, int]:
    # Mirrors imagesize's JPEG walk: hop from marker to marker by the declared segment lengths
    # until a SOFn marker (C0..CF except C4, C8, CC); any short read is an error.
    fh.seek(0)
    skip, marker = 2, 0
    for _ in range(_JPEG_SCAN_LIMIT):
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            break
        try:
            fh.seek(skip, 1)
        except (OSError, ValueError):
            raise HeaderCrash("malformed JPEG header (bad segment length)") from None
        byte = fh.read(1)
        while byte == b"\xff":
            byte = fh.read(1)
        if not byte:
            raise HeaderCrash("malformed JPEG header (no frame marker before end of file)")
        marker = byte[0]
        raw = fh.read(2)
        if len(raw) < 2:
            raise HeaderCrash("malformed JPEG header (truncated segment)")
        skip = struct.unpack(">H", raw)[0] - 2
    else:
        raise HeaderCrash("malformed JPEG header (segment chain does not end)")
    fh.seek(1, 1)
    raw = fh.read(4)
    if len(raw) < 4:
        raise HeaderCrash("malformed JPEG header (truncated frame header)")
    h, w = struct.unpack(">HH", raw)
    return w, h


def _webp_size(head: bytes) -> tuple[int, int]:
    chunk = head[12:16]
    if chunk == b"VP8 ":
        return struct.unpack("<HH", head[26:30])  # scale bits not masked, as imagesize does
    if chunk == b"VP8X":
        w = struct.unpack("<I", head[24:27] + b"\0")[0] + 1
        h = struct.unpack("<I", head[27:30] + b"\0")[0] + 1
        return w, h
    if chunk == b"VP8L":
        b = head[21:25]
        if len(b) < 4:
            raise HeaderCrash("malformed WebP header (truncated)")
        w = (((b[1] & 63) << 8) | b[0]) + 1
        h = (((b[3] & 15) << 10) | (b[2] << 2) | ((b[1] & 192) >> 6)) + 1
        return w, h
    raise HeaderCrash("unsupported WebP chunk layout")


def exif_orientation(data: bytes | None) -> int | None:
    if not data:
        return None
    try:
        exif = Image.Exif()
        exif.load(data)
        value = exif.get(0x0112)
    except Exception:  # a broken EXIF block is not our finding to make
        return None
    return int(value) if isinstance(value, int) and 1 <= value <= 8 else None


def _png_tail_exif(fh: BinaryIO, file_size: int) -> bytes | None:
    # Pillow sees an eXIf chunk only before IDAT without decoding; one placed after the image
    # data sits near the end of the file, so read the tail instead of walking every chunk.
    tail = min(file_size, 1 << 16)
    fh.seek(file_size - tail)
    data = fh.read(tail)
    at = data.rfind(b"eXIf")
    if at < 4:
        return None
    length = struct.unpack(">L", data[at - 4:at])[0]
    body = data[at + 4:at + 4 + length]
    return b"Exif\x00\x00" + body if len(body) == length else None


def _fail(kind: str, msg: str, file_size: int = 0, via: str = "none") -> ImageProbe:
    return ImageProbe(0, 0, via, None, None, False, None, file_size, error=msg, error_kind=kind)


def stat_probe(path: str) -> ImageProbe:
    """Only what a stat says (for commands that decode the images themselves): whether the path is
    a readable, non-empty regular file. No header is read; sizes are left at 0."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return _fail("not_a_file", f"cannot be read: {exc.strerror or exc}")
    if not stat.S_ISREG(st.st_mode):
        return _fail("not_a_file", "is a directory with an image name" if stat.S_ISDIR(st.st_mode)
                     else "is not a regular file")
    if st.st_size == 0:
        return _fail("zero_bytes", "is empty (0 bytes)")
    return ImageProbe(0, 0, "none", None, None, False, None, st.st_size)


def probe(path: str, deep: bool = False) -> ImageProbe:
    """Everything regaudit needs to know about one image file; never raises."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return _fail("not_a_file", f"cannot be read: {exc.strerror or exc}")
    if stat.S_ISDIR(st.st_mode):
        return _fail("not_a_file", "is a directory with an image name")
    if not stat.S_ISREG(st.st_mode):
        return _fail("not_a_file", "is not a regular file")
    if st.st_size == 0:
        return _fail("zero_bytes", "is empty (0 bytes)")
    try:
        with open(path, "rb") as fh:
            return _probe_open(fh, st.st_size, deep)
    except OSError as exc:
        return _fail("unreadable", f"cannot be opened: {exc.strerror or exc}", st.st_size)


def _probe_open(fh: BinaryIO, file_size: int, deep: bool) -> ImageProbe:
    crash = None
    try:
        size = header_size(fh)
    except HeaderCrash as exc:
        size, crash = None, str(exc)
    fh.seek(0)
    try:
        im = Image.open(fh)
    except Image.DecompressionBombError:
        im = None
        pil_error = "too large for Pillow"
    except Exception as exc:  # Pillow raises many types for unknown or broken files
        im = None
        pil_error = f"not an image Pillow can open ({type(exc).__name__})"
    else:
        pil_error = None

    fmt = im.format if im is not None else None
    mode = im.mode if im is not None else None
    transparency = bool(im is not None and (mode in ALPHA_MODES or "transparency" in im.info))
    orientation = None
    if im is not None and fmt in ("JPEG", "MPO", "WEBP", "PNG"):
        exif = im.info.get("exif")
        if exif is None and fmt == "PNG":
            exif = _png_tail_exif(fh, file_size)
        orientation = exif_orientation(exif)

    if crash is not None:
        # sd-scripts' size reader raises before anything else happens
        return ImageProbe(0, 0, "crash", fmt, mode, transparency, orientation, file_size,
                          error=f"header crashes sd-scripts' size reader: {crash}", error_kind="header_crash")
    if size is not None and size[0] > 0:
        w, h, via = size[0], size[1], "header"
    elif im is not None:
        w, h, via = im.size[0], im.size[1], "pillow"
    else:
        return ImageProbe(0, 0, "none", fmt, mode, transparency, orientation, file_size,
                          error=f"size cannot be read: {pil_error}", error_kind="no_size")
    error = error_kind = None
    if w <= 0 or h <= 0:
        error, error_kind = f"size reads as {w}x{h}", "no_size"

    decode_error = None
    if deep and im is not None and error is None:
        decode_error = _decode(im)
    return ImageProbe(w, h, via, fmt, mode, transparency, orientation, file_size,
                      error=error, error_kind=error_kind, decode_error=decode_error, decoded=deep)


def _decode(im: Image.Image) -> str | None:
    """Decode the pixels as cheaply as still proves them whole; the reason when that fails."""
    try:
        if im.format in ("JPEG", "MPO"):
            # DCT scaling still reads every coefficient, so truncation is still caught
            im.draft("RGB", (max(1, im.size[0] // 8), max(1, im.size[1] // 8)))
        if im.size[0] * im.size[1] > HUGE_PIXELS:
            return None  # reported as huge-image; decoding it would only exhaust memory
        im.load()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None
