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

import re
import struct
import zlib
from typing import NamedTuple

from .imagesize_141 import Source

# Pillow's limits (PIL.Image.MAX_IMAGE_PIXELS, PngImagePlugin.MAX_TEXT_CHUNK/MAX_TEXT_MEMORY)
MAX_IMAGE_PIXELS = 1024 * 1024 * 1024 // 4 // 3
_MAX_TEXT_CHUNK = 1 << 20
_MAX_TEXT_MEMORY = 64 << 20


class View(NamedTuple):
    format: str  # as Pillow names it
    mode: str  # as Pillow names it
    transparency: bool  # Pillow's mode has alpha, or its info has "transparency"
    exif: bytes | None  # Pillow's info["exif"]
    size: tuple[int, int]  # what imagesize 1.4.1 returns (sd-scripts' size)
    pil_size: tuple[int, int]  # what Pillow reads
    whole: bool  # the file ends where it should (False: it may be truncated)


def view(src: Source) -> View | None:
    head = src.head
    if head[:3] == b"\xff\xd8\xff":
        return jpeg(src)
    if head[:8] == b"\x89PNG\r\n\x1a\n":
        return png(src)
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return webp(src)
    return None


def _read(src: Source, pos: int, n: int) -> bytes:
    head = src.head
    end = pos + n
    return head[pos:end] if end <= len(head) else src.read(pos, n)


# ---------------------------------------------------------------- JPEG

_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # both imagesize's and Pillow's frame markers
_SKIP = frozenset({0xC4, 0xCC, 0xDC, 0xDD, 0xDF})  # read and ignored by Pillow
_APP = frozenset(range(0xE0, 0xF0)) | {0xFE}
_APP_READ = frozenset({0xE0, 0xE1, 0xE2, 0xED, 0xEE})  # the segments Pillow parses
_EOI_TAIL = 1 << 16
_MODE_BY_LAYERS = {1: "L", 3: "RGB", 4: "CMYK"}


def jpeg(src: Source) -> View | None:
    # Pillow's JpegImageFile._open walks FF xx markers up to the start of scan; imagesize hops the
    # same segments up to the first frame header. On a clean file the two walks are the same.
    head, size = src.head, src.size
    hl = len(head)
    pos = 2
    frame = None
    exif = None
    icc_ok = True
    while True:
        if pos + 4 <= hl:
            if head[pos] != 0xFF:
                return None
            marker = head[pos + 1]
            length = (head[pos + 2] << 8) | head[pos + 3]
        else:
            hdr = src.read(pos, 4)
            if len(hdr) < 4 or hdr[0] != 0xFF:
                return None  # fill bytes, stray bytes or the end of the file: not clean
            marker = hdr[1]
            length = (hdr[2] << 8) | hdr[3]
        end = pos + 2 + length
        if length < 2 or end > size:
            return None
        if marker in _SKIP:  # DHT (the most frequent), DAC, DNL, DRI, EXP
            pass
        elif marker == 0xDB:
            if not _dqt_ok(head[pos + 4:end] if end <= hl else src.read(pos + 4, length - 2)):
                return None
        elif marker == 0xDA:
            break
        elif marker in _SOF:
            s = head[pos + 4:min(end, pos + 10)] if pos + 10 <= hl else src.read(pos + 4, min(length - 2, 6))
            if frame is not None or not icc_ok or len(s) < 6 or s[0] != 8 or s[5] not in _MODE_BY_LAYERS:
                return None
            frame = ((s[3] << 8) | s[4], (s[1] << 8) | s[2], _MODE_BY_LAYERS[s[5]])
        elif marker in _APP:
            if marker in _APP_READ:
                s = head[pos + 4:min(end, pos + 18)] if pos + 18 <= hl else src.read(pos + 4, min(length - 2, 14))
                if marker == 0xE1:
                    if s[:6] == b"Exif\x00\x00":
                        if exif is not None:
                            return None  # Pillow versions differ on several EXIF segments
                        exif = head[pos + 4:end] if end <= hl else src.read(pos + 4, length - 2)
                elif marker == 0xE0:
                    if s[:4] == b"JFIF" and len(s) < 7:
                        return None
                elif marker == 0xE2:
                    if s[:4] == b"MPF\x00":
                        return None  # may be an MPO
                    if s[:12] == b"ICC_PROFILE\x00" and len(s) < 14:
                        icc_ok = False
                elif marker == 0xEE:
                    if s[:5] == b"Adobe" and len(s) < 7:
                        return None
                elif s[:14] == b"Photoshop 3.0\x00":  # APP13
                    if not _photoshop_ok(head[pos + 4:end] if end <= hl else src.read(pos + 4, length - 2)):
                        return None
        else:
            return None  # markers without a length (RSTn, SOI, ...), DHP, JPG and unknown ones
        pos = end
    if frame is None:
        return None
    w, h, mode = frame
    if w == 0 or h == 0 or w * h > 2 * MAX_IMAGE_PIXELS:
        return None
    return View("JPEG", mode, False, exif, (w, h), (w, h), jpeg_ends(src, pos + 2 + length))


def jpeg_ends(src: Source, data_start: int) -> bool:
    """Whether the JPEG's end-of-image marker is there: the last two bytes, or within the last
    64 KiB after the scan header (data after the marker, such as a phone's trailer, is fine)."""
    size = src.size
    if src.read(size - 2, 2) == b"\xff\xd9":
        return True
    start = max(data_start, size - _EOI_TAIL)
    return b"\xff\xd9" in src.read(start, size - start)


def png_ends(src: Source) -> bool:
    """Whether the PNG ends with its IEND chunk."""
    return src.read(src.size - 12, 12) == _IEND


def _dqt_ok(s: bytes) -> bool:
    k, n = 0, len(s)
    while k < n:
        k += 65 if s[k] < 16 else 129
        if k > n:
            return False
    return True


def _photoshop_ok(s: bytes) -> bool:
    # Pillow reads the 8BIM resource blocks and stops quietly at a short number, but fails on a
    # name length past the end of the segment
    offset, n = 14, len(s)
    while s[offset:offset + 4] == b"8BIM":
        offset += 4
        if offset + 2 > n:
            return True
        offset += 2
        if offset >= n:
            return False
        offset += 1 + s[offset]
        offset += offset & 1
        if offset + 4 > n:
            return True
        size = struct.unpack_from(">L", s, offset)[0]
        offset += 4 + size
        offset += offset & 1
    return True


# ---------------------------------------------------------------- PNG

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


# ---------------------------------------------------------------- WebP

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
