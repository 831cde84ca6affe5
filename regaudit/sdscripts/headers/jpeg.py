"""JPEG: the markers Pillow's JpegImageFile reads up to the start of scan, and imagesize's walk
to the first frame header, in one pass (see the package docstring)."""

from __future__ import annotations

import os
import struct

from ...safeio import pread
from ..imagesize_141 import Source
from .common import MAX_IMAGE_PIXELS, View

_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # both imagesize's and Pillow's frame markers
_SKIP = frozenset({0xC4, 0xCC, 0xDC, 0xDD, 0xDF})  # read and ignored by Pillow
_APP = frozenset(range(0xE0, 0xF0)) | {0xFE}
_APP_READ = frozenset({0xE0, 0xE1, 0xE2, 0xED, 0xEE})  # the segments Pillow parses
_EOI_TAIL = 1 << 16
_MODE_BY_LAYERS = {1: "L", 3: "RGB", 4: "CMYK"}


# Headers already walked: the bytes up to the start-of-scan marker's length -> the views (its end
# found, or not) and where the scan header ends. Files from one camera or tool at one size share
# their header bytes; the walk is a function of those bytes (and of the file being long enough).
_SEEN: dict[bytes, tuple[View, View, int]] = {}
_SEEN_MAX = 1024


def jpeg(src: Source) -> View | None:
    head = src.head
    k = head.find(b"\xff\xda", 2)
    key = head[:k + 4] if 0 < k and k + 4 <= len(head) else None
    seen = _SEEN.get(key) if key is not None else None  # type: ignore[arg-type]
    if seen is not None and seen[2] <= src.size:
        return seen[0] if jpeg_ends(src, seen[2]) else seen[1]
    walked = _walk(src)
    if walked is None:
        return None
    view, scan_pos, scan_end = walked
    if key is not None and scan_pos == k:  # (the first FF DA in the bytes is the marker the walk stopped at)
        if len(_SEEN) >= _SEEN_MAX:
            _SEEN.clear()
        _SEEN[key] = (view._replace(whole=True), view._replace(whole=False), scan_end)
    return view


def _walk(src: Source) -> tuple[View, int, int] | None:
    """The view of a clean JPEG, where its start-of-scan marker is and where that segment ends."""
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
    return View("JPEG", mode, False, exif, (w, h), (w, h), jpeg_ends(src, pos + 2 + length)), pos, pos + 2 + length


def jpeg_ends(src: Source, data_start: int) -> bool:
    """Whether the JPEG's end-of-image marker is there: the last two bytes, or within the last
    64 KiB after the scan header (data after the marker, such as a phone's trailer, is fine)."""
    size = src.size
    if src.read(size - 2, 2) == b"\xff\xd9":
        return True
    start = max(data_start, size - _EOI_TAIL)
    return b"\xff\xd9" in src.read(start, size - start)


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


JPEG_SKIPPED_BYTES = 64 << 20  # a run of bytes without 0xFF this long, in a JPEG's header, is not given to Pillow
_FIND = 8 << 20  # bytes read at once looking for the next 0xFF


def marker_free_run(fd: int) -> tuple[int, int] | None:
    """(start, end) of a run of at least JPEG_SKIPPED_BYTES holding no 0xFF byte where libjpeg looks for
    the next marker of a JPEG's header (before its first scan); None for any other file. libjpeg skips
    such bytes one by one (a gigabyte of zeros after the frame header takes it a minute) and its
    decode of the file without them ends the same way, so Pillow is given the file without the run
    (``for_pillow``). ``end`` is the file's size where no 0xFF follows."""
    size = os.fstat(fd).st_size
    if size < JPEG_SKIPPED_BYTES or pread(fd, 2, 0) != b"\xff\xd8":
        return None
    pos = 2
    for _ in range(65536):  # (header segments: a flood of them is Pillow's to read)
        head = pread(fd, 4, pos)
        if len(head) < 2:
            return None
        if head[0] != 0xFF:
            break  # not a marker: libjpeg skips to the next 0xFF from here
        if head[1] == 0xFF:  # fill byte
            pos += 1
            continue
        if head[1] == 0xDA or head[1] == 0xD9 or len(head) < 4:
            return None  # the first scan (or the end): what follows is decoded, not searched
        if 0xD0 <= head[1] <= 0xD8 or head[1] == 0x01:
            pos += 2
            continue
        pos += 2 + struct.unpack(">H", head[2:4])[0]
    else:
        return None
    end = pos
    while end < size:
        chunk = pread(fd, _FIND, end)
        if not chunk:
            break
        k = chunk.find(b"\xff")
        if k >= 0:
            end += k
            break
        end += len(chunk)
    end = min(end, size)
    return (pos, end) if end - pos >= JPEG_SKIPPED_BYTES else None
