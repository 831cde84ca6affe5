"""File names as they may be shown: any name a file system allows, made harmless for a reader.

On Linux a file name is bytes. Python carries bytes that are not UTF-8 as lone surrogates
('\\udcff' for the byte 0xff), which no encoder accepts; and a name may hold control characters
('\\x1b[2J' clears a terminal, '\\x01' makes XML unparseable) or Unicode bidi controls that make
a name read backwards. ``display`` shows such a name to people (terminal, HTML, JUnit, GitHub
annotations), losslessly: such a character becomes a visible escape: ``\\xff`` for a byte that is
not UTF-8, ``\\x1b``, ``\\n``, ``\\u202e``. (JSON text has its own way, ``regaudit.jsontext.json_text``:
a lone surrogate becomes the JSON escape ``\\udcff``, which ``json.loads`` turns back into the same string.)
"""

from __future__ import annotations

import re

_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


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
