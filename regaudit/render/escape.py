"""File names as they may be shown: any name a file system allows, made harmless for a reader.

On Linux a file name is bytes. Python carries bytes that are not UTF-8 as lone surrogates
('\\udcff' for the byte 0xff), which no encoder accepts; and a name may hold control characters
('\\x1b[2J' clears a terminal, '\\x01' makes XML unparseable) or Unicode bidi controls that make
a name read backwards. Three ways out, each lossless where the format allows:

* ``display``: for people (terminal, HTML, JUnit, GitHub annotations): such a character becomes a
  visible escape: ``\\xff`` for a byte that is not UTF-8, ``\\x1b``, ``\\n``, ``\\u202e``.
* ``json_text``: for JSON: a lone surrogate becomes the JSON escape ``\\udcff``, which ``json.loads``
  turns back into the same string (``os.fsencode`` then gives back the original bytes).
"""

from __future__ import annotations

import re

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
_SURROGATE = re.compile("[\ud800-\udfff]")


def _escape(m: re.Match) -> str:
    ch = m.group()
    code = ord(ch)
    if ch in _NAMED:
        return _NAMED[ch]
    if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the undecodable byte itself
        return f"\\x{code - 0xDC00:02x}"
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def display(text: object) -> str:
    """``text`` with control characters, bidi controls and undecodable bytes shown as escapes."""
    s = str(text)
    return _UNSAFE.sub(_escape, s) if _UNSAFE.search(s) else s


def json_text(encoded: str) -> str:
    """A JSON text (from ``json.dumps(..., ensure_ascii=False)``) with every lone surrogate written
    as a ``\\uXXXX`` escape, so it can be encoded as UTF-8. Raw surrogates can only occur inside
    JSON strings, where that escape means the same character."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", encoded) if _SURROGATE.search(encoded) else encoded
