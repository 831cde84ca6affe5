"""The EXIF orientation, as ``PIL.Image.Exif().load(data).get(0x0112)`` gives it.

A well-formed EXIF block (one ``Exif\\0\\0`` prefix at most, a TIFF header, a first IFD whose
entries and out-of-line values all lie inside the block, one orientation entry of type SHORT) is
read here directly; anything else goes to Pillow, whose versions differ on malformed blocks.
"""

from __future__ import annotations

import struct

_UNIT = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}  # TIFF type -> bytes
_DPI_TAGS = {0x011A: (5, 1), 0x0128: (3, 1)}  # XResolution, ResolutionUnit: Pillow's JPEG reader reads them
_PILLOW = object()


def orientation(data: object) -> int | None:
    """1..8, or None where there is no (valid) orientation. ``data`` is Pillow's info["exif"],
    which a PNG text chunk can make a string."""
    if not data:
        return None
    if not isinstance(data, bytes):
        return pillow_orientation(data)  # type: ignore[arg-type]
    value = _direct(data)
    return pillow_orientation(data) if value is _PILLOW else value  # type: ignore[return-value]


def is_plain(data: bytes) -> bool:
    """Whether the block is well formed as above, and its DPI tags (which Pillow's JPEG reader
    reads while opening) are of the types it expects, so opening the file cannot fail on them."""
    return _direct(data, check_dpi=True) is not _PILLOW


def _direct(data: bytes, check_dpi: bool = False) -> object:
    d = data[6:] if data[:6] == b"Exif\x00\x00" else data
    if d[:6] == b"Exif\x00\x00" or len(d) < 8:
        return _PILLOW
    if d[:4] == b"II*\x00":
        order = "<"
    elif d[:4] == b"MM\x00*":
        order = ">"
    else:
        return _PILLOW
    n_bytes = len(d)
    ifd = struct.unpack(order + "L", d[4:8])[0]
    if ifd + 2 > n_bytes:
        return _PILLOW
    count = struct.unpack_from(order + "H", d, ifd)[0]
    if ifd + 2 + 12 * count > n_bytes:
        return _PILLOW
    found = None
    outside = 0
    for tag, kind, n, value in struct.iter_unpack(order + "HHL4s", d[ifd + 2:ifd + 2 + 12 * count]):
        unit = _UNIT.get(kind)
        if unit is None:
            return _PILLOW
        size = n * unit
        if size > 4:
            outside += size
            if struct.unpack(order + "L", value)[0] + size > n_bytes or outside > n_bytes:
                return _PILLOW
        if tag == 0x0112:
            if found is not None or kind != 3 or n != 1:
                return _PILLOW
            found = struct.unpack(order + "H", value[:2])[0]
        elif check_dpi and tag in _DPI_TAGS and (kind, n) != _DPI_TAGS[tag]:
            return _PILLOW
    return found if found is not None and 1 <= found <= 8 else None


def pillow_orientation(data: bytes) -> int | None:
    from PIL import Image

    try:
        exif = Image.Exif()
        exif.load(data)
        value = exif.get(0x0112)
    except Exception:  # a broken EXIF block is not our finding to make
        return None
    return int(value) if isinstance(value, int) and 1 <= value <= 8 else None
