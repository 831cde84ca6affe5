"""Which caption sd-scripts reads for an image, and what it gets from it (spec §3)."""

from __future__ import annotations

import os

from .model import Caption, CaptionSource
from .safeio import open_regular


def normalize_extension(ext: str) -> str:
    """A missing leading dot is added ('txt' -> '.txt'); '' stays '' (the extension-less file)."""
    return ext if not ext or ext.startswith(".") else "." + ext


def caption_candidates(image_path: str, ext: str) -> tuple[str, str]:
    """The two files sd-scripts tries, in order (train_util.read_caption): '<stem><ext>', then the
    face-crop name: the whole path without extension split on '_', less its last 4 pieces."""
    base = os.path.splitext(image_path)[0]
    pieces = base.split("_")
    fallback = "_".join(pieces[:-4]) if len(pieces) >= 5 else base
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
        if not os.path.isfile(cand):
            continue
        via_fallback = cand != first
        try:
            with open_regular(cand) as fh:  # checked again on the open file: never blocks on a FIFO
                raw = fh.read()
        except OSError:
            return Caption(CaptionSource.FILE, cand, None, error="unreadable", via_fallback=via_fallback)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return Caption(CaptionSource.FILE, cand, None, error="not_utf8", via_fallback=via_fallback)
        lines = _text_lines(text)
        has_bom = text.startswith("\ufeff")
        if not lines:
            return Caption(CaptionSource.FILE, cand, None, error="empty_file", via_fallback=via_fallback)
        if enable_wildcard:
            caption = "\n".join(line.strip() for line in lines if line.strip() != "")
        else:
            caption = lines[0].strip()  # a BOM is not whitespace: it stays
        return Caption(CaptionSource.FILE, cand, caption, has_bom=has_bom, line_count=len(lines),
                       via_fallback=via_fallback)
    if class_tokens:
        return Caption(CaptionSource.CLASS_TOKENS, None, class_tokens)
    return Caption(CaptionSource.EMPTY, None, "")
