"""PNG: the chunks Pillow's PngImageFile reads up to the first IDAT (checksums included), in
one pass, and what imagesize reads from the IHDR (see the package docstring)."""

from __future__ import annotations

import os
import re
import struct
import zlib

from ...safeio import pread
from ..imagesize_141 import Source
from .common import MAX_IMAGE_PIXELS, View
from .common import read as _read

_MAX_TEXT_CHUNK = 1 << 20  # PngImagePlugin.MAX_TEXT_CHUNK
_MAX_TEXT_MEMORY = 64 << 20  # PngImagePlugin.MAX_TEXT_MEMORY

_PNG_MODES = {  # PngImagePlugin._MODES: (bit depth, colour type) -> mode
    (1, 0): "1", (2, 0): "L", (4, 0): "L", (8, 0): "L", (16, 0): "I;16",
    (8, 2): "RGB", (16, 2): "RGB",
    (1, 3): "P", (2, 3): "P", (4, 3): "P", (8, 3): "P",
    (8, 4): "LA", (16, 4): "RGBA",
    (8, 6): "RGBA", (16, 6): "RGBA",
}
_IS_CID = re.compile(rb"\w\w\w\w").fullmatch
_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_MIN_LENGTH = {b"gAMA": 4, b"cHRM": 32, b"sRGB": 1, b"pHYs": 9}
_HANDLED = frozenset({b"IHDR", b"IDAT", b"PLTE", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"pHYs", b"tEXt", b"zTXt",
                      b"iTXt", b"eXIf", b"iCCP"})
_pillow_handlers: frozenset[bytes] | None = None


def _other_pillow_handler(cid: bytes) -> bool:
    """Whether this Pillow has a chunk handler the reader does not reproduce (APNG, IEND before
    the data, or one added by a newer Pillow)."""
    global _pillow_handlers
    if _pillow_handlers is None:
        from PIL import PngImagePlugin

        _pillow_handlers = frozenset(name[6:].encode("ascii") for name in dir(PngImagePlugin.PngStream)
                                     if name.startswith("chunk_"))
    return cid in _pillow_handlers


PNG_CHUNK_BYTES = 64 << 20  # the largest chunk (other than image data) Pillow is let read: see chunk_problem
_CHUNKS_WALKED = 1_000_000  # chunk headers looked at before the walk gives up (a flood is Pillow's to read)



def chunk_problem(fd: int) -> str | None:
    """Why Pillow must not be given this PNG, or None (also for any file that is not a PNG).
    Pillow reads every chunk but the image data whole into memory before it checks it
    (PngStream: ImageFile._safe_read), so one chunk that claims a gigabyte — a sparse file costs no
    disk — costs a gigabyte or two in every process that opens it. Only the chunk headers are
    read here (8 bytes each)."""
    if pread(fd, 8, 0) != b"\x89PNG\r\n\x1a\n":
        return None
    size = os.fstat(fd).st_size
    if size <= PNG_CHUNK_BYTES:  # (no chunk can hold more than the file: Pillow's read stops at its end)
        return None
    pos = 8
    for _ in range(_CHUNKS_WALKED):
        hdr = pread(fd, 8, pos)
        if len(hdr) < 8:
            return None
        length, cid = struct.unpack(">L", hdr[:4])[0], hdr[4:]
        if cid == b"IEND":
            return None
        if cid != b"IDAT" and length > PNG_CHUNK_BYTES and pos + 8 + PNG_CHUNK_BYTES < size:
            return (f"its PNG chunk {cid.decode('latin-1')!r} claims {length} bytes, which Pillow would read whole "
                    f"into memory (regaudit lets it read no chunk over {PNG_CHUNK_BYTES >> 20} MiB)")
        pos += 12 + length
    return None


def png(src: Source) -> View | None:
    head = src.head
    if head[8:16] != b"\x00\x00\x00\x0dIHDR":
        return None
    size = src.size
    pos = 8
    mode = None
    w = h = 0
    transparency = False
    exif = None
    text_memory = 0
    while True:
        hdr = _read(src, pos, 8)
        if len(hdr) < 8:
            return None
        length = struct.unpack(">L", hdr[:4])[0]
        cid = hdr[4:]
        if not _IS_CID(cid):
            return None
        if cid == b"IDAT":
            break
        if length > PNG_CHUNK_BYTES:  # (Pillow's to refuse: see chunk_problem)
            return None
        data_end = pos + 8 + length
        if data_end + 4 > size:
            return None
        body = _read(src, pos + 8, length + 4)
        data = body[:length]
        if zlib.crc32(data, zlib.crc32(cid)) != struct.unpack(">L", body[length:])[0]:
            return None
        if cid == b"IHDR":
            if mode is not None or data[11] != 0 or data[10] != 0 or data[12] > 1:
                return None
            w, h = struct.unpack(">LL", data[:8])
            mode = _PNG_MODES.get((data[8], data[9]))
            if mode is None or w == 0 or h == 0:
                return None
        elif mode is None:
            return None
        elif cid == b"tRNS":
            if mode == "P":
                transparency = True
            elif mode in ("1", "L", "I;16", "RGB"):
                if length < (6 if mode == "RGB" else 2):
                    return None
                transparency = True
        elif cid in _MIN_LENGTH:
            if length < _MIN_LENGTH[cid]:
                return None
        elif cid == b"tEXt" or cid == b"zTXt" or cid == b"iTXt":
            counted = _text_length(cid, data)
            if counted is None:
                return None
            text_memory += counted
            if text_memory > _MAX_TEXT_MEMORY:
                return None
        elif cid == b"eXIf":
            exif = b"Exif\x00\x00" + data
        elif cid == b"iCCP":
            i = data.find(b"\x00")
            if i + 1 >= len(data) or data[i + 1] != 0 or _inflate(data[i + 2:])[0] == _BIG:
                return None
        elif cid not in _HANDLED and _other_pillow_handler(cid):
            return None
        pos = data_end + 4
    if mode is None or w * h > 2 * MAX_IMAGE_PIXELS:
        return None
    if exif is None:
        exif = png_tail_exif(src)  # before png_ends, which then reads from the same block
    return View("PNG", mode, transparency or mode in ("LA", "RGBA"), exif, (w, h), (w, h), png_ends(src))


_OK, _BIG, _BAD = 0, 1, 2


def _inflate(data: bytes) -> tuple[int, bytes]:
    """PngImagePlugin._safe_zlib_decompress: _BIG where it raises ValueError (more than
    MAX_TEXT_CHUNK), _BAD where zlib raises."""
    d = zlib.decompressobj()
    try:
        out = d.decompress(data, _MAX_TEXT_CHUNK)
    except zlib.error:
        return _BAD, b""
    return (_BIG, b"") if d.unconsumed_tail else (_OK, out)


_KEYS_READ = (b"exif", b"transparency")  # info keys the probe reads: a text chunk may set them


def _text_length(cid: bytes, data: bytes) -> int | None:
    """What a text chunk adds to Pillow's text memory, or None where Pillow fails on it or where
    it would set an info key the probe reads."""
    k, sep, v = data.partition(b"\x00")
    if cid == b"tEXt":
        if k in _KEYS_READ:
            return None
        return len(v) if k else 0
    if cid == b"zTXt":
        if v and v[0] != 0:
            return None  # unknown compression method
        status, text = _inflate(v[1:])
        if status == _BIG or k in _KEYS_READ:
            return None
        return len(text) if k else 0
    # iTXt: key NUL flag method language NUL translated-key NUL text
    if not sep or len(v) < 2:
        return 0
    flag, method = v[0], v[1]
    parts = v[2:].split(b"\x00", 2)
    if len(parts) < 3:
        return 0
    lang, tkey, text = parts
    if flag != 0:
        if method != 0:
            return 0
        status, text = _inflate(text)
        if status == _BIG:
            return None
        if status == _BAD:
            return 0
    try:
        lang.decode("utf-8")
        tkey.decode("utf-8")
        value = text.decode("utf-8")
    except UnicodeError:
        return 0
    if k in _KEYS_READ:
        return None
    return len(value)


_EXIF_TAIL = 8192


def png_tail_exif(src: Source) -> bytes | None:
    """An eXIf chunk after the image data, which Pillow sees only when it decodes. Such a chunk
    sits just before IEND, so only the last 8 KiB are searched (an EXIF block with a large
    thumbnail placed there is missed)."""
    tail = min(src.size, _EXIF_TAIL)
    data = src.read(src.size - tail, tail)
    at = data.rfind(b"eXIf")
    if at < 4:
        return None
    length = struct.unpack(">L", data[at - 4:at])[0]
    body = data[at + 4:at + 4 + length]
    return b"Exif\x00\x00" + body if len(body) == length else None


def png_ends(src: Source) -> bool:
    """Whether the PNG ends with its IEND chunk."""
    return src.read(src.size - 12, 12) == _IEND
