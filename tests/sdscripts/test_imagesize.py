"""imagesize 1.4.1, as sd-scripts calls it (spec §5, §10.1, §10.8), pinned quirk by quirk.

Every expected value below is what the real imagesize 1.4.1 returned (or raised) on the same bytes
under Python 3.11 (tests/differential/imagesize_diff.py runs the whole comparison when the
oracle's virtualenv is there)."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from regaudit.sdscripts.imagesize_141 import SizeCrash, Source, read_size


def size(data: bytes):
    return read_size(Source.from_bytes(data))


def crash(data: bytes) -> str:
    with pytest.raises(SizeCrash) as info:
        read_size(Source.from_bytes(data))
    return str(info.value)


def saved(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">L", len(data)) + kind + data + struct.pack(">L", zlib.crc32(kind + data))


PNG_SIG = b"\x89PNG\r\n\x1a\n"


def test_unknown_content_is_minus_one_whatever_the_name():
    assert size(b"") == (-1, -1)
    assert size(b"BM" + b"\0" * 60) == (-1, -1)  # no BMP reader: sd-scripts asks Pillow
    assert size(bytes(range(5))) == (-1, -1)


def test_png_ihdr_and_apple_cgbi():
    ihdr = struct.pack(">LLBBBBB", 300, 200, 8, 2, 0, 0, 0)
    assert size(PNG_SIG + chunk(b"IHDR", ihdr)) == (300, 200)
    # CgBI before IHDR: the first chunk's length (4) and type b"CgBI" read as numbers
    assert size(PNG_SIG + chunk(b"CgBI", b"\x50\x00\x20\x02") + chunk(b"IHDR", ihdr)) == (4, 1130840649)
    assert size(PNG_SIG + b"\0\0\1\0\0\0\0\x80" + b"\0" * 20) == (256, 128)


def test_webp_vp8x_is_one_short_and_vp8_keeps_scale_bits():
    im = Image.new("RGBA", (300, 200), (1, 2, 3, 100))  # real transparency: a VP8X file
    assert size(saved(im, "WEBP")) == (299, 199)
    assert size(saved(Image.new("RGBA", (1, 200), (1, 2, 3, 100)), "WEBP")) == (0, 199)
    assert size(saved(Image.new("RGBA", (300, 1), (1, 2, 3, 100)), "WEBP")) == (299, 0)
    lossy = bytearray(saved(Image.new("RGB", (300, 200)), "WEBP"))
    assert lossy[12:16] == b"VP8 "
    assert size(bytes(lossy)) == (300, 200)
    lossy[27] |= 0x40  # the width's scale bits
    assert size(bytes(lossy)) == (16684, 200)
    assert size(saved(Image.new("RGBA", (301, 157)), "WEBP", lossless=True)) == (301, 157)


def test_webp_short_or_unknown_headers_raise():
    assert crash(b"RIFF\x10\0\0\0WEBPVP8 \x00") == "struct.error: unpack requires a buffer of 4 bytes"
    assert crash(b"RIFF\x10\0\0\0WEBPVP8L\x05\0\0\0\x2f\x01") == "IndexError: index out of range"
    assert crash(b"RIFF\x10\0\0\0WEBPVP8X\x0a\0\0\0\0\0\0\0\x01") == "struct.error: unpack requires a buffer of 4 bytes"
    assert crash(b"RIFF\x16\0\0\0WEBPABCD\x0a\0\0\0" + b"\0" * 10) == "ValueError: Unsupported WebP file"


def test_jpeg_walk_and_stray_bytes():
    base = saved(Image.new("RGB", (300, 200)), "JPEG")
    assert size(base) == (300, 200)
    sof = base.index(b"\xff\xc0")
    assert size(base[:sof] + b"\xff\xff\xff" + base[sof:]) == (300, 200)  # FF fill bytes are skipped
    assert crash(base[:sof] + b"\x00\x00" + base[sof:]) == "ValueError: Invalid JPEG file"
    assert crash(b"\xff\xd8\x00garbage") == "ValueError: Invalid JPEG file"
    assert crash(b"\xff\xd8") == "ValueError: Invalid JPEG file"


def test_gif_reads_signed_numbers():
    assert size(b"GIF89a" + struct.pack("<HH", 40000, 100) + b"\0" * 20) == (-25536, 100)
    assert size(b"GIF89a" + struct.pack("<HH", 100, 40000) + b"\0" * 20) == (100, -25536)


def test_svg_sizes_are_floats_or_crash():
    assert size(b'<svg width="512" height="768"></svg>') == (512.0, 768.0)
    assert size(b'<?xml version="1.0"?>\n<svg\nwidth="64"\nheight="48"></svg>') == (64.0, 48.0)
    assert size(b'<svg width="2in" height="3cm"></svg>') == (192.0, 113.38582677165354)
    assert size(b'<svg width="10mm" height="10pt"></svg>') == (37.795275590551185, 160.0)  # pt as pc
    assert size(b'<svg stroke-width="3" width="40" height="30"></svg>') == (40.0, 30.0)
    assert size(b'<svg width="0" height="10"></svg>') == (0.0, 10.0)
    assert size('<svg width="\u0663\u0662" height="7"></svg>'.encode()) == (32.0, 7.0)  # \d is Unicode
    assert crash(b'<svg width="100%" height="50%"></svg>') == "ValueError: unknown length value: 100%"
    assert crash(b'<svg width="5PX" height="5"></svg>') == "ValueError: unknown length value: 5PX"
    assert crash(b'<svg width="3em" height="4em"></svg>') == "ValueError: unknown unit type: em"
    assert crash(b'<svg viewBox="0 0 10 10"></svg>') == "ValueError: Invalid SVG file"
    assert crash(b'<?xml version="1.0"?><html></html>') == "ValueError: Invalid SVG file"
    assert crash(b'<svg ' + b" " * 1100 + b'width="5" height="5"></svg>') == "ValueError: Invalid SVG file"
    assert crash(b'<svg width="5" height="5">' + b" " * 997 + "é".encode()) == "ValueError: Invalid SVG file"
    assert crash(b'<svg width="" height="5"></svg>') == \
        "TypeError: float() argument must be a string or a real number, not 'NoneType'"


def _tiff(order: str, entries, offset=8) -> bytes:
    magic = b"MM\x00\x2a" if order == ">" else b"II\x2a\x00"
    return magic + struct.pack(order + "L", offset) + struct.pack(order + "H", len(entries)) + b"".join(
        struct.pack(order + "HHLL", *e) for e in entries) + b"\0\0\0\0"


def test_tiff_both_byte_orders_and_bigtiff():
    assert size(_tiff(">", [(256, 3, 1, 300 << 16), (257, 3, 1, 200 << 16)])) == (300, 200)
    assert size(_tiff(">", [(256, 4, 1, 0), (257, 4, 1, 200)])) == (0, 200)
    assert crash(_tiff(">", [(256, 1, 1, 300), (257, 4, 1, 200)])) == \
        "ValueError: Invalid TIFF file: width column data type should be SHORT/LONG."
    assert size(_tiff("<", [(256, 7, 1, 300), (257, 11, 1, 200)])) == (300, 200)  # any type, little-endian
    assert crash(_tiff("<", [(256, 3, 1, 300)])) == \
        "ValueError: Invalid TIFF file: width and/or height IDS entries are missing."
    assert crash(b"II\x2a\x00" + struct.pack("<L", 4000)) == "struct.error: unpack requires a buffer of 2 bytes"
    assert crash(_tiff("<", [(256, 3, 1, 300), (257, 3, 1, 200)])[:20]) == \
        "struct.error: unpack requires a buffer of 12 bytes"
    big = b"II\x2b\x00\x08\x00\x00\x00" + struct.pack("<QQ", 16, 2) + struct.pack("<HHQQ", 256, 4, 1, 123) + \
        struct.pack("<HHQQ", 257, 4, 1, 45)
    assert size(big) == (123, 45)
    assert crash(b"II\x2b\x00\x09\x00\x00\x00" + b"\0" * 16) == \
        "UnboundLocalError: cannot access local variable 'offset' where it is not associated with a value"
    assert crash(b"II\x2b\x00\x08\x00\x00\x00" + struct.pack("<Q", 2 ** 64 - 1) + b"\0" * 8) == \
        "ValueError: cannot fit 'int' into an offset-sized integer"


def test_jpeg2000_and_netpbm():
    assert crash(b"\x00\x00\x00\x0cjP  \r\n\x87\n" + b"\0" * 30) == "ValueError: Invalid JPEG2000 file"
    assert size(b"P1\n# comment\n12 7\n" + b"0 " * 84) == (12, 7)
    assert size(b"P2 12 # c\n 9 255\n") == (12, 9)
    assert size(b"P5 12#c\n9 255\n") == (12, 9)
    assert size(b"P3 12") == (12, 2)  # the first number ended the file: its last digit is read again
    assert size(b"P3 12 34") == (12, 34)
    assert crash(b"P6 12x9 255\n") == "ValueError: Invalid character found on Netpbm file"
    assert crash(b"P") == "ValueError: Invalid Netpbm file"
    assert crash(b"P4 # no newline") == "ValueError: Invalid Netpbm file"
