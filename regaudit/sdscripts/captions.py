"""Which caption sd-scripts reads for an image, and what it gets from it (spec §3)."""

from __future__ import annotations

import os
import stat

from ..errors import check_exhausted
from ..limits import CAPTION_BYTES
from ..model import Caption, CaptionSource
from ..safeio import open_path


def normalize_extension(ext: str) -> str:
    """A missing leading dot is added ('txt' -> '.txt'); '' stays '' (the extension-less file)."""
    return ext if not ext or ext.startswith(".") else "." + ext


def caption_candidates(image_path: str, ext: str) -> tuple[str, str]:
    """The two files sd-scripts tries, in order (train_util.read_caption): '<stem><ext>', then the
    face-crop name: the whole path without extension split on '_', less its last 4 pieces."""
    base = os.path.splitext(image_path)[0]
    if base.count("_") < 4:  # (the common case: no face-crop name to fall back on)
        return base + ext, base + ext
    pieces = base.split("_")
    fallback = "_".join(pieces[:-4])
    return base + ext, fallback + ext


def _text_lines(text: str) -> list[str]:
    # Text-mode readlines() with universal newlines: only \r\n, \r and \n end a line.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return lines


def read_caption(image_path: str, ext: str, class_tokens: str | None,
                 enable_wildcard: bool = False) -> Caption:
    """The caption sd-scripts registers for ``image_path`` (train_util.read_caption and
    load_dreambooth_dir). ``text`` is None where sd-scripts would crash instead."""
    first, fallback = caption_candidates(image_path, ext)
    for cand in (first, fallback) if fallback != first else (first,):
        via_fallback = cand != first
        try:
            raw = _read_if_file(cand)
        except OSError as exc:
            check_exhausted(exc, cand)
            return Caption.of(CaptionSource.FILE, cand, None, "unreadable", False, 0, via_fallback, 0)
        if raw is None:
            continue
        raw, oversize = raw
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            if oversize and exc.start >= len(raw) - 3:  # the cut went through a character
                text = raw[:exc.start].decode("utf-8", "replace")
            else:
                return Caption.of(CaptionSource.FILE, cand, None, "not_utf8", False, 0, via_fallback, oversize)
        lines = _text_lines(text)
        has_bom = text.startswith("\ufeff")
        if not lines:
            return Caption.of(CaptionSource.FILE, cand, None, "empty_file", False, 0, via_fallback, oversize)
        if enable_wildcard:
            caption = "\n".join(line.strip() for line in lines if line.strip() != "")
        else:
            caption = lines[0].strip()  # a BOM is not whitespace: it stays
        return Caption.of(CaptionSource.FILE, cand, caption, None, has_bom, len(lines), via_fallback, oversize)
    if class_tokens:
        return Caption(CaptionSource.CLASS_TOKENS, None, class_tokens)
    return Caption(CaptionSource.EMPTY, None, "")


_OPEN_FLAGS = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
               | getattr(os, "O_BINARY", 0))  # (Windows opens text mode otherwise: CRLF read as LF, Ctrl-Z as the end)


def _read_if_file(path: str) -> tuple[bytes, int] | None:
    """(the bytes, 0) of ``path`` where ``os.path.isfile`` (what sd-scripts asks) is true, else
    None; OSError where it is a file that cannot be read. One open, checked with fstat on the open
    descriptor: never blocks on a FIFO, and costs no separate stat (this runs once per image). A
    file larger than ``CAPTION_BYTES`` gives only its first CAPTION_BYTES, and its size."""
    try:
        fd = open_path(path, _OPEN_FLAGS)  # (a path of any length)
    except FileNotFoundError:
        return None  # the common case (no caption): no second look needed
    except OSError:
        if os.path.isfile(path):
            raise  # there, but not readable
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            return None
        want = min(st.st_size, CAPTION_BYTES) + 1
        data = os.read(fd, want)
        if len(data) == want:  # it grew, or is large: read on up to the limit
            rest = [data]
            size = len(data)
            while size <= CAPTION_BYTES and (chunk := os.read(fd, CAPTION_BYTES + 1 - size)):
                rest.append(chunk)
                size += len(chunk)
            data = b"".join(rest)
        if len(data) > CAPTION_BYTES:
            return data[:CAPTION_BYTES], max(st.st_size, len(data))
        return data, 0
    finally:
        os.close(fd)
