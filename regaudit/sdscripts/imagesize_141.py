"""The size sd-scripts reads from an image file: ``imagesize.get()`` of imagesize **1.4.1**, the
version sd-scripts pins, reproduced result for result and exception for exception (spec §5, §10.1,
§10.8). Written from its behaviour; none of its code is used.

imagesize goes by the first bytes of the content, never by the file name, and knows GIF, PNG,
JPEG, JPEG 2000, TIFF (both byte orders), BigTIFF, SVG, Netpbm and WebP. For anything else it
returns (-1, -1) and sd-scripts asks Pillow. Its mistakes are kept on purpose, because sd-scripts
buckets by them:

- WebP with a ``VP8X`` header: the stored width-1 and height-1 are returned as they are.
- WebP ``VP8``: the two scale bits above each 14-bit dimension are not masked off.
- GIF: the dimensions are read as *signed* 16-bit numbers.
- PNG whose first chunk is not ``IHDR`` (Apple's CgBI PNG): the first chunk's length and type
  are returned as width and height.
- JPEG: the segment walk takes whatever byte follows the ``FF`` fill as the marker, so stray bytes
  between segments derail it; running off the end raises ``ValueError: Invalid JPEG file``.
- SVG (a file that starts ``<svg`` or ``<?xml``): ``width="…"``/``height="…"`` in the first 1024
  bytes, converted to float pixels; a percentage or missing attribute raises ``ValueError``.
- little-endian TIFF takes the width/height entries' values whatever their type; big-endian
  shifts a SHORT down by 16 bits; BigTIFF with a wrong byte-size field raises UnboundLocalError.
- Netpbm: a size that ends at the end of the file is read again from its last digit.

``read_size`` raises :class:`SizeCrash` where imagesize raises, carrying the exception's class
name and message as Python 3.11 prints them (sd-scripts does not catch them: the dataset build
stops).
"""

from __future__ import annotations

import os
import re
import struct

from ..safeio import pread

Number = int | float


class SizeCrash(Exception):
    """``imagesize.get()`` raises on this file; ``exception`` is the class name, ``message`` its text."""

    def __init__(self, exception: str, message: str):
        super().__init__(f"{exception}: {message}")
        self.exception = exception
        self.message = message


class Source:
    """Random access to a file's bytes with file semantics: reading past the end gives fewer
    bytes (or none). ``head`` holds the first bytes; the rest is read with ``pread`` on ``fd``."""

    __slots__ = ("fd", "head", "size", "whole", "_win", "_win_pos")

    def __init__(self, head: bytes, fd: int | None = None, size: int | None = None):
        self.head = head
        self.fd = fd
        self.size = len(head) if size is None else size
        self.whole = fd is None or len(head) >= self.size
        self._win = b""  # the last block read past the head
        self._win_pos = 0

    @classmethod
    def from_bytes(cls, data: bytes) -> Source:
        return cls(data)

    def read(self, pos: int, n: int) -> bytes:
        end = pos + n
        if end <= len(self.head) or self.whole:
            return self.head[pos:end]
        if pos >= self.size:
            return b""
        at = pos - self._win_pos
        if 0 <= at and end - self._win_pos <= len(self._win):
            return self._win[at:at + n]
        assert self.fd is not None
        block = pread(self.fd, max(n, 4096), pos)  # the next segments are likely in it
        self._win, self._win_pos = block, pos
        return block[:n]

    def seek_check(self, pos: int) -> None:
        """What seeking a Python file object to ``pos`` raises, if anything."""
        if pos >= 1 << 63:
            raise SizeCrash("ValueError", "cannot fit 'int' into an offset-sized integer")
        if self.fd is not None and pos > self.size:
            try:
                os.lseek(self.fd, pos, os.SEEK_SET)
            except OSError as exc:
                raise SizeCrash("OSError", str(exc)) from None


_STRUCT_MSG = "unpack requires a buffer of {} bytes"
_JP2_SIG = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
_PNG_SIG = b"\x89PNG\r\n\x1a\n"
_JPEG_NOT_SOF = (0xC4, 0xC8, 0xCC)
_SVG_ATTR = {k: re.compile(r"[^-]" + k + r'="(.*?)"') for k in ("width", "height")}
_LENGTH = re.compile(r"(\d+(?:\.\d+)?)?([a-z]*)$")
# the same float operations in the same order ("pt" is converted like "pc", as imagesize does)
_UNIT_PX = {"": lambda x: x, "px": lambda x: x, "cm": lambda x: x * 96 / 2.54, "mm": lambda x: x * 96 / 2.54 / 10,
            "in": lambda x: x * 96, "pc": lambda x: x * 96 / 6, "pt": lambda x: x * 96 / 6}
_WHITESPACE = frozenset(b" \t\n\r\x0b\x0c")


def read_size(src: Source) -> tuple[Number, Number]:
    """``imagesize.get()`` on this file: (width, height), (-1, -1) for an unknown format."""
    head = src.read(0, 31)
    n = len(head)
    if n >= 10 and head[:6] in (b"GIF87a", b"GIF89a"):
        return struct.unpack("<hh", head[6:10])
    if n >= 24 and head.startswith(_PNG_SIG) and head[12:16] == b"IHDR":
        return struct.unpack(">LL", head[16:24])
    if n >= 16 and head.startswith(_PNG_SIG):
        return struct.unpack(">LL", head[8:16])  # the first chunk's length and type (CgBI)
    if n >= 2 and head.startswith(b"\xff\xd8"):
        return _jpeg(src)
    if n >= 12 and head.startswith(_JP2_SIG):
        raw = src.read(48, 8)
        if len(raw) < 8:
            raise SizeCrash("ValueError", "Invalid JPEG2000 file")
        h, w = struct.unpack(">LL", raw)
        return w, h
    if n >= 8 and head.startswith(b"MM\x00\x2a"):
        return _tiff(src, struct.unpack(">L", head[4:8])[0], ">", big_endian_short=True)
    if n >= 8 and head.startswith(b"II\x2a\x00"):
        return _tiff(src, struct.unpack("<L", head[4:8])[0], "<", big_endian_short=False)
    if n >= 8 and head.startswith(b"II\x2b\x00"):
        return _bigtiff(src, head)
    if n >= 5 and (head.startswith(b"<?xml") or head.startswith(b"<svg")):
        return _svg(src.read(0, 1024))
    if head[:1] == b"P" and head[1:2] in b"123456":  # b"" is "in" any bytes: a lone "P" counts
        return _netpbm(src)
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return _webp(head)
    return -1, -1


def _jpeg(src: Source) -> tuple[int, int]:
    # Hop from segment to segment by the declared lengths until a SOFn marker. The byte after any
    # run of FF is taken as the marker, whatever it is. A length below 2 steps backwards, but the
    # position still grows by at least one byte per hop, so the walk always ends.
    invalid = SizeCrash("ValueError", "Invalid JPEG file")
    buf, base = src.head, 0
    pos, skip, marker = 0, 2, 0
    while not 0xC0 <= marker <= 0xCF or marker in _JPEG_NOT_SOF:
        pos += skip
        while True:
            i = pos - base
            if i < 0 or i + 3 > len(buf):
                buf, base = src.read(pos, 4096), pos
                i = 0
            if i >= len(buf):
                raise invalid  # nothing left to read where a marker should be
            b = buf[i]
            pos += 1
            if b != 0xFF:
                break
        marker = b
        i = pos - base
        if i + 2 > len(buf):
            buf, base = src.read(pos, 4096), pos
            i = 0
        if i + 2 > len(buf):
            raise invalid
        skip = ((buf[i] << 8) | buf[i + 1]) - 2
        pos += 2
    raw = src.read(pos + 1, 4)  # skip the sample precision byte
    if len(raw) < 4:
        raise invalid
    h, w = struct.unpack(">HH", raw)
    return w, h


def _tiff(src: Source, offset: int, order: str, big_endian_short: bool) -> tuple[int, int]:
    src.seek_check(offset)
    raw = src.read(offset, 2)
    if len(raw) < 2:
        raise SizeCrash("struct.error", _STRUCT_MSG.format(2))  # struct.error, not caught by imagesize
    count = struct.unpack(order + "H", raw)[0]
    table = src.read(offset + 2, 12 * count)
    width = height = -1
    for k in range(count):
        entry = table[12 * k:12 * k + 12]
        if len(entry) < 12:
            raise SizeCrash("struct.error", _STRUCT_MSG.format(12))
        tag, kind, _, value = struct.unpack(order + "HHLL", entry)
        if tag in (256, 257):
            if big_endian_short:
                if kind == 3:
                    value = value >> 16  # a SHORT sits in the high half of the big-endian field
                elif kind != 4:
                    what = "width" if tag == 256 else "height"
                    raise SizeCrash("ValueError", f"Invalid TIFF file: {what} column data type should be SHORT/LONG.")
            if tag == 256:
                width = value
            else:
                height = value
        if width != -1 and height != -1:
            break
    if width == -1 or height == -1:
        raise SizeCrash("ValueError", "Invalid TIFF file: width and/or height IDS entries are missing.")
    return width, height


def _bigtiff(src: Source, head: bytes) -> tuple[int, int]:
    if struct.unpack("<L", head[4:8])[0] != 8:
        # imagesize formats its message with a variable that is not set yet
        raise SizeCrash("UnboundLocalError",
                        "cannot access local variable 'offset' where it is not associated with a value")
    if len(head) < 16:
        raise SizeCrash("struct.error", _STRUCT_MSG.format(8))
    offset = struct.unpack("<Q", head[8:16])[0]
    src.seek_check(offset)
    raw = src.read(offset, 8)
    if len(raw) < 8:
        raise SizeCrash("struct.error", _STRUCT_MSG.format(8))
    count = struct.unpack("<Q", raw)[0]
    pos, done = offset + 8, 0
    width = height = -1
    while done < count:  # the count may be absurd: the end of the file stops the walk
        want = min(count - done, 4096)
        block = src.read(pos, 20 * want)
        for j in range(len(block) // 20):
            tag, _, _, value = struct.unpack_from("<HHQQ", block, 20 * j)
            if tag == 256:
                width = value
            elif tag == 257:
                height = value
            if width != -1 and height != -1:
                return width, height
        if len(block) < 20 * want:
            raise SizeCrash("struct.error", _STRUCT_MSG.format(20))
        done += want
        pos += 20 * want
    raise SizeCrash("ValueError", "Invalid BigTIFF file: width and/or height IDS entries are missing.")


def _svg(data: bytes) -> tuple[float, float]:
    try:
        text = data.decode("utf-8")
        width = _SVG_ATTR["width"].search(text).group(1)  # type: ignore[union-attr]
        height = _SVG_ATTR["height"].search(text).group(1)  # type: ignore[union-attr]
    except (UnicodeDecodeError, AttributeError):
        raise SizeCrash("ValueError", "Invalid SVG file") from None
    return _svg_px(width), _svg_px(height)


def _svg_px(value: str) -> float:
    m = _LENGTH.match(value)
    if not m:
        raise SizeCrash("ValueError", f"unknown length value: {value}")
    number, unit = m.groups()
    if unit not in _UNIT_PX:
        raise SizeCrash("ValueError", f"unknown unit type: {unit}")
    if number is None:
        raise SizeCrash("TypeError", "float() argument must be a string or a real number, not 'NoneType'")
    return _UNIT_PX[unit](float(number))


def _netpbm(src: Source) -> tuple[int, int]:
    # Two decimal numbers after the 2-byte magic, with whitespace and '#' comments (to the end of
    # the line) before each. imagesize reads one byte past a number and steps back one, so the
    # byte that ended the first number is looked at again; when the number ended at the end of
    # the file, its last digit is read again instead.
    data = src.read(0, 1 << 16)

    def more(need: int) -> bytes:
        nonlocal data
        while len(data) < need and len(data) < src.size:
            chunk = src.read(len(data), max(1 << 16, len(data)))
            if not chunk:
                break
            data += chunk
        return data

    pos = 2
    sizes: list[int] = []
    while True:
        if pos >= len(more(pos + 1)):
            raise SizeCrash("ValueError", "Invalid Netpbm file")
        c = data[pos]
        pos += 1
        if c in _WHITESPACE:
            continue
        if c == 0x23:  # '#': skip to the end of the line
            nl = data.find(b"\n", pos)
            while nl < 0:
                before = len(data)
                if len(more(before + 1)) == before:
                    break
                nl = data.find(b"\n", before)
            pos = len(data) if nl < 0 else nl + 1
            continue
        if not 0x30 <= c <= 0x39:
            raise SizeCrash("ValueError", "Invalid character found on Netpbm file")
        start = pos - 1
        while pos < len(more(pos + 1)) and 0x30 <= data[pos] <= 0x39:
            pos += 1
        try:
            sizes.append(int(data[start:pos]))
        except ValueError as exc:  # more digits than int() converts
            raise SizeCrash("ValueError", str(exc)) from None
        if len(sizes) == 2:
            return sizes[0], sizes[1]
        if pos >= len(data):
            pos -= 1  # ended at the end of the file: the last digit is read again


def _webp(head: bytes) -> tuple[int, int]:
    kind = head[12:16]
    if kind == b"VP8 ":
        raw = head[26:30]
        if len(raw) != 4:
            raise SizeCrash("struct.error", _STRUCT_MSG.format(4))
        return struct.unpack("<HH", raw)  # the scale bits stay in
    if kind == b"VP8X":
        w, h = head[24:27] + b"\0", head[27:30] + b"\0"
        if len(w) != 4 or len(h) != 4:
            raise SizeCrash("struct.error", _STRUCT_MSG.format(4))
        return struct.unpack("<I", w)[0], struct.unpack("<I", h)[0]  # width-1, height-1 as stored
    if kind == b"VP8L":
        b = head[21:25]
        if len(b) < 4:
            raise SizeCrash("IndexError", "index out of range")
        return (((b[1] & 63) << 8) | b[0]) + 1, (((b[3] & 15) << 10) | (b[2] << 2) | ((b[1] & 192) >> 6)) + 1
    raise SizeCrash("ValueError", "Unsupported WebP file")
