"""The one place that opens image files.

``probe()`` reads what sd-scripts reads and what silently changes training, and never raises:
every failure becomes data.

- The size is imagesize 1.4.1's (``imagesize_141``), bugs included; where its width is <= 0,
  Pillow's; where Pillow fails too, none (spec §5, §10.1). Where imagesize raises, the dataset
  build stops: size_via "crash" and the exception as sd-scripts would print it.
- Format, mode, transparency and EXIF orientation are what ``PIL.Image.open`` reports. For a
  clean JPEG, PNG or WebP they come from one pass over its header (``headers``), without Pillow;
  for anything else Pillow opens the file.
- Loading: a file Pillow cannot open although its header gave a size (an SVG named .png, a PNG
  with a decompression-bomb text chunk) fails when sd-scripts loads it, after the dataset was
  built and counted. So does a truncated JPEG/PNG: its missing end (the JPEG end-of-image marker,
  the PNG IEND chunk) is seen without decoding, and only such a suspect is decoded to be sure.
  ``deep`` decodes every image.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from . import exif as _exif
from . import headers
from .imagesize_141 import SizeCrash, Source, read_size
from ..errors import check_exhausted, is_exhausted
from ..model import ImageProbe
from ..safeio import open_path

HEAD_BYTES = 4096  # read at once: the headers of most JPEG/PNG/WebP files fit; more is read on demand
HUGE_PIXELS = 2 * headers.MAX_IMAGE_PIXELS  # Pillow raises DecompressionBombError above this

# Pillow formats a file extension may legitimately hold.
EXT_FORMATS = {
    ".png": {"PNG"},
    ".jpg": {"JPEG", "MPO"},
    ".jpeg": {"JPEG", "MPO"},
    ".webp": {"WEBP"},
    ".bmp": {"BMP", "DIB"},
}

HIGH_BIT_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I", "F"})
ALPHA_MODES = frozenset({"RGBA", "LA", "PA", "RGBa", "La"})
_FILE_REPR = re.compile(r" <_io\.BufferedReader name=\d+>")  # Pillow names the file object it was given
_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
               | getattr(os, "O_BINARY", 0))  # (Windows opens text mode otherwise: CRLF read as LF, Ctrl-Z as the end)


def expected_formats(ext: str) -> set[str]:
    return EXT_FORMATS.get(ext.lower(), set())


def _pil():
    """PIL.Image, imported on first use, with its warnings (large images, odd EXIF) silenced:
    they are findings here, not noise on stderr."""
    import warnings

    from PIL import Image

    warnings.filterwarnings("ignore", module=r"PIL\.")
    warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)
    return Image


def _value(width, height, via, fmt, mode, transparency, orientation, file_size, error=None, error_kind=None,
           decode_error=None, decoded=False, load_error=None, load_error_kind=None) -> ImageProbe:
    """An ImageProbe, its values passed positionally to the fast constructor (one per image)."""
    return ImageProbe.of(width, height, via, fmt, mode, transparency, orientation, file_size, error,  # type: ignore
                         error_kind, decode_error, decoded, load_error, load_error_kind)


def _fail(kind: str, msg: str, file_size: int = 0, via: str = "none") -> ImageProbe:
    return _value(0, 0, via, None, None, False, None, file_size, error=msg, error_kind=kind)


def _not_regular(mode: int) -> ImageProbe:
    return _fail("not_a_file", "is a directory with an image name" if stat.S_ISDIR(mode) else "is not a regular file")


def _unusable(st: os.stat_result) -> ImageProbe | None:
    """What a stat alone says is wrong with an image file (not a regular file, empty), or None."""
    if not stat.S_ISREG(st.st_mode):
        return _not_regular(st.st_mode)
    if st.st_size == 0:
        return _fail("zero_bytes", "is empty (0 bytes)")
    return None


def stat_probe(path: str) -> ImageProbe:
    """Only what a stat says (for commands that decode the images themselves): whether the path is
    a readable, non-empty regular file. No header is read; sizes are left at 0."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return _fail("not_a_file", f"cannot be read: {exc.strerror or exc}")
    except ValueError as exc:  # (a NUL or a lone surrogate, from fine-tuning metadata: no such file)
        return _fail("not_a_file", f"cannot be read: {exc}")
    if (unusable := _unusable(st)) is not None:
        return unusable
    return _value(0, 0, "none", None, None, False, None, st.st_size)


def probe(path: str, deep: bool = False) -> ImageProbe:
    """Everything regaudit needs to know about one image file; never raises."""
    try:
        fd = open_path(path, _OPEN_FLAGS)  # never blocks, even on a FIFO; a path of any length
    except OSError as exc:
        check_exhausted(exc, path)
        return _unopened(path, exc)
    except ValueError as exc:  # (a NUL or a lone surrogate, from fine-tuning metadata: no such file)
        return _fail("not_a_file", f"cannot be read: {exc}")
    try:
        st = os.fstat(fd)
        if (unusable := _unusable(st)) is not None:
            return unusable
        try:
            head = os.read(fd, HEAD_BYTES)
        except OSError as exc:
            return _fail("unreadable", f"cannot be opened: {exc.strerror or exc}", st.st_size)
        src = Source(head, fd, st.st_size)
        try:
            return _probe(src, deep)
        except OSError as exc:  # the file went away or became unreadable while we read it
            check_exhausted(exc, path)
            return _fail("unreadable", f"cannot be read: {exc.strerror or exc}", st.st_size)
    finally:
        os.close(fd)


def _unopened(path: str, exc: OSError) -> ImageProbe:
    # classified in the order a stat-first reader sees it: missing, not a file, empty, unreadable
    try:
        st = os.stat(path)
    except OSError as exc2:
        return _fail("not_a_file", f"cannot be read: {exc2.strerror or exc2}")
    if (unusable := _unusable(st)) is not None:
        return unusable
    return _fail("unreadable", f"cannot be opened: {exc.strerror or exc}", st.st_size)


def _probe(src: Source, deep: bool) -> ImageProbe:
    try:
        view = None if deep else headers.view(src)
    except Exception:  # a reader's own mistake must not stop a scan: Pillow reads this file instead
        view = None
    if view is not None and view.format == "JPEG" and view.exif and not _exif.is_plain(view.exif):
        view = None  # Pillow reads DPI from this EXIF while opening: let Pillow say what happens
    if view is None:
        return _probe_pillow(src, deep)
    w, h = view.size
    via = "header"
    if w <= 0:  # sd-scripts asks Pillow (a 1-pixel-wide VP8X WebP reads as width 0)
        (w, h), via = view.pil_size, "pillow"
    error = error_kind = load_error = load_kind = None
    if w <= 0 or h <= 0:
        error, error_kind = f"size reads as {w}x{h}", "no_size"
    elif not view.whole:
        load_error = _verify_load(src)
        load_kind = _kind_of(load_error)
    return _value(w, h, via, view.format, view.mode, view.transparency, _exif.orientation(view.exif), src.size,
                  error, error_kind, None, False, load_error, load_kind)


@contextmanager
def _opened(src: Source) -> Iterator[tuple[Any, str | None, bool]]:
    """Pillow's image of the file (or None), why Pillow cannot open it, whether that is its size limit."""
    Image = _pil()
    with os.fdopen(os.dup(src.fd), "rb") as fh:  # type: ignore[arg-type]  # our descriptor stays open
        im, why, too_large = None, None, False
        problem = headers.chunk_problem(src.fd) if src.fd is not None else None
        try:
            if problem is not None:  # (what Pillow would do with it costs gigabytes: not asked)
                raise OSError(problem)
            im = Image.open(headers.for_pillow(fh))
        except Image.DecompressionBombError as exc:
            why, too_large = f"DecompressionBombError: {exc}", True
        except Exception as exc:  # Pillow raises many types for unknown or broken files
            if is_exhausted(exc):
                raise  # (the caller names the file: not this file's fault)
            why = f"{type(exc).__name__}: {_FILE_REPR.sub('', str(exc))}"
        try:
            yield im, why, too_large
        finally:
            if im is not None:
                im.close()


def _probe_pillow(src: Source, deep: bool) -> ImageProbe:
    crash: SizeCrash | None = None
    size: tuple = (-1, -1)
    try:
        size = read_size(src)
    except SizeCrash as exc:
        crash = exc
    with _opened(src) as (im, pil_error, too_large):
        probe = _from_pillow(src, deep, size, crash, im, pil_error, too_large)
    if probe.load_error_kind == "suspect":  # its end looks missing: decode it to be sure
        load_error = _verify_load(src)
        probe = probe._replace(load_error=load_error, load_error_kind=_kind_of(load_error))
    return probe


def _from_pillow(src: Source, deep: bool, size: tuple, crash: SizeCrash | None, im, pil_error: str | None,
                 too_large: bool) -> ImageProbe:
    fmt = im.format if im is not None else None
    mode = im.mode if im is not None else None
    transparency = bool(im is not None and (mode in ALPHA_MODES or "transparency" in im.info))
    orientation = None
    if im is not None and fmt in ("JPEG", "MPO", "WEBP", "PNG"):
        exif = im.info.get("exif")
        if exif is None and fmt == "PNG":
            exif = headers.png_tail_exif(src)
        orientation = _exif.orientation(exif)

    if crash is not None:  # imagesize raises before anything else happens: the build stops
        return _value(0, 0, "crash", fmt, mode, transparency, orientation, src.size,
                      error=str(crash), error_kind="header_crash")
    if size[0] > 0:
        w, h, via = size[0], size[1], "header"
    elif im is not None:
        w, h, via = im.size[0], im.size[1], "pillow"
    else:
        return _value(0, 0, "none", fmt, mode, transparency, orientation, src.size,
                      error=f"size cannot be read: {_pillow_says(pil_error)}", error_kind="no_size")
    error = error_kind = load_error = load_kind = None
    if w <= 0 or h <= 0:
        error, error_kind = f"size reads as {w}x{h}", "no_size"
    if im is None:  # the header gave a size; loading the pixels fails
        load_error, load_kind = pil_error, ("too_large" if too_large else "unopenable")
    decode_error = None
    if deep and im is not None and error is None:
        decode_error = _decode(im)
    elif not deep and im is not None and error is None and not _ends_whole(src, fmt):
        load_kind = "suspect"  # decoded by the caller, once this image is closed
    return _value(w, h, via, fmt, mode, transparency, orientation, src.size, error=error, error_kind=error_kind,
                  decode_error=decode_error, decoded=deep, load_error=load_error, load_error_kind=load_kind)


def _pillow_says(pil_error: str | None) -> str:
    if pil_error and pil_error.startswith("DecompressionBombError"):
        return "too large for Pillow"
    return f"not an image Pillow can open ({(pil_error or '').split(':')[0]})"


def _ends_whole(src: Source, fmt: str | None) -> bool:
    if fmt in ("JPEG", "MPO"):
        return headers.jpeg_ends(src, 2)
    if fmt == "PNG":
        # Apple's CgBI PNG (a chunk before IHDR) holds raw deflate data Pillow cannot decode
        return headers.png_ends(src) and src.head[12:16] == b"IHDR"
    return True


def _kind_of(load_error: str | None) -> str | None:
    if load_error is None:
        return None
    return "truncated" if "truncated" in load_error.lower() else "corrupt"


def _verify_load(src: Source) -> str | None:
    """Decode a suspect file (its end looks missing) as sd-scripts loads it; why that fails, or None."""
    with _opened(src) as (im, pil_error, _):
        return pil_error if im is None else _decode(im)


def _decode(im) -> str | None:
    """Decode the pixels as cheaply as still proves them whole; the reason when that fails."""
    try:
        if im.format in ("JPEG", "MPO"):
            # DCT scaling still reads every coefficient, so truncation is still caught
            im.draft("RGB", (max(1, im.size[0] // 8), max(1, im.size[1] // 8)))
        if im.size[0] * im.size[1] > HUGE_PIXELS:
            return None  # reported as huge-image; decoding it would only exhaust memory
        im.load()
    except Exception as exc:
        if is_exhausted(exc):
            raise
        return f"{type(exc).__name__}: {exc}"
    return None
