"""JSON text exactly as ``json.dumps(doc, indent=2, ensure_ascii=False)`` writes it, made by orjson.

orjson writes the same bytes for almost everything. Where it would not, the standard library
writes that part, and orjson places its text as a fragment:

- a string with a lone surrogate (a file name that is not UTF-8): orjson refuses it; json keeps
  it, and ``json_text`` then writes it as a ``\\udcXX`` escape;
- an int beyond 64 bits: orjson refuses it;
- a float orjson writes otherwise: NaN and ±Infinity (orjson: ``null``) and 1e-9 <= |x| < 1e-4
  (orjson: ``0.00001`` for ``1e-05``, ``1e-7`` for ``1e-07``);
- any other type (an Enum member, a dataclass, a subclass) and dict keys other than str and int.

Every part is checked by type before orjson sees it (``_plain``); what orjson refuses it says.
A fragment must carry its own indentation: json never puts a raw line break inside a string, so
indenting a text is adding spaces after each line break.

``Rows`` stands for a list of objects made while written, a chunk at a time: a million images
never exist as dicts at once.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Sequence
from itertools import chain
from typing import Any, TextIO

import orjson


_OPTIONS = orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS
_PLAIN = frozenset({str, int, bool, type(None)})  # orjson writes them as json does, or refuses them
_KEYS = frozenset({str, int})
_SURROGATE = re.compile("[\ud800-\udfff]")
_CHUNK = 1024  # rows made into dicts and written at a time
_MARK = "\x00"  # where a Rows goes: orjson and json write no raw NUL otherwise (they escape it)


class Rows:
    """A JSON array of objects: ``dict(zip(keys, fn(item)))`` for each item (``keys`` None: ``fn(item)``
    itself, which may hold Rows of its own), made while written."""

    __slots__ = ("keys", "fn", "items")

    def __init__(self, keys: Sequence[str] | None, fn: Callable[[Any], Any], items: Sequence[Any]):
        self.keys, self.fn, self.items = None if keys is None else tuple(keys), fn, items

    def dicts(self, start: int, stop: int) -> list:
        keys, fn = self.keys, self.fn
        if keys is None:
            return [fn(item) for item in self.items[start:stop]]
        return [dict(zip(keys, fn(item), strict=True)) for item in self.items[start:stop]]


_KNOWN = _PLAIN | {float, dict, list, tuple, Rows, orjson.Fragment}  # what _plain looks at (anything else: no)
INLINE = 64  # a Rows of at most this many items is written as a list in its parent's text (rows_of)


def rows_of(keys: Sequence[str] | None, fn: Callable[[Any], Any], items: Sequence[Any]) -> Rows | list:
    """``Rows(keys, fn, items)``, or for a few items the list of their objects at once: written in the
    text of the chunk of rows that holds it (one orjson call for a chunk of 1,024 subsets of one image
    each, not one per subset). The text is the same."""
    r = Rows(keys, fn, items)
    return r.dicts(0, len(items)) if len(items) <= INLINE else r


def _plain(obj: Any) -> bool:
    """Whether orjson writes ``obj`` as json does, unless it refuses it: every part of a type it
    writes alike (a float only where its text is repr's), dict keys str or int; a Rows or a fragment
    is not looked into. Level by level: the parts of a whole chunk of rows are checked a level at a
    time, in bulk, not with a call per container."""
    level = [obj]
    while level:
        kinds = set(map(type, level))
        if not _KNOWN.issuperset(kinds):
            return False
        if float in kinds and not all(orjson.dumps(x) == float.__repr__(x).encode() for x in level if type(x) is float):
            return False
        inner: list = []
        if dict in kinds:
            dicts = [o for o in level if type(o) is dict]
            if not _KEYS.issuperset(map(type, chain.from_iterable(dicts))):
                return False
            inner += chain.from_iterable(map(dict.values, dicts))
        if list in kinds or tuple in kinds:
            inner += chain.from_iterable(o for o in level if type(o) is list or type(o) is tuple)
        level = [v for v in inner if type(v) not in _PLAIN]  # (strings and numbers need nothing more)
    return True


def json_text(encoded: str) -> str:
    """A JSON text (from ``json.dumps(..., ensure_ascii=False)``) with every lone surrogate written
    as a ``\\uXXXX`` escape, so it can be encoded as UTF-8. Raw surrogates can only occur inside
    JSON strings, where that escape means the same character (a file name that is not UTF-8:
    ``os.fsencode`` of what ``json.loads`` gives back is the original bytes)."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", encoded) if _SURROGATE.search(encoded) else encoded


def _indent(text: str, depth: int) -> str:
    """``text`` as a value at ``depth`` (its lines after the first indented by two spaces a level)."""
    return text.replace("\n", "\n" + "  " * depth) if depth and "\n" in text else text


def _orjson(obj: Any, rows: list[Rows]) -> str | None:
    """orjson's text of ``obj``, each Rows in it a _MARK (and added to ``rows``); None where orjson
    would write it otherwise than json or refuses it."""
    if not _plain(obj):
        return None
    found: list[Rows] = []

    def mark(o: Any) -> orjson.Fragment:
        if type(o) is not Rows:
            raise TypeError
        found.append(o)
        return orjson.Fragment(_MARK)

    try:
        text = orjson.dumps(obj, default=mark, option=_OPTIONS).decode()
    except TypeError:  # (orjson.JSONEncodeError is one) a lone surrogate, an int beyond 64 bits
        return None
    rows += found
    return text


def _exact(obj: Any, depth: int, rows: list[Rows]) -> Any:
    """``obj`` for orjson: each part it would write otherwise or refuse replaced by json's text."""
    if _orjson(obj, []) is not None:
        return obj
    t = type(obj)
    if t is dict and all(type(k) is str and _utf8(k) for k in obj):
        return {k: _exact(v, depth + 1, rows) for k, v in obj.items()}
    if t is list or t is tuple:
        return [_exact(v, depth + 1, rows) for v in obj]
    return orjson.Fragment(_indent(json_text(json.dumps(obj, indent=2, ensure_ascii=False)), depth))


def _utf8(s: str) -> bool:
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _text(obj: Any, depth: int, rows: list[Rows]) -> str:
    """The text of ``obj`` as a value at ``depth``; each Rows in it a _MARK, added to ``rows``."""
    text = _orjson(obj, rows)
    if text is None:
        try:
            text = _orjson(_exact(obj, 0, rows), rows)
        except RecursionError:
            text = None
    if text is None:  # nested deeper than orjson writes (255 levels: a user's metadata can be): json's own text
        text = json_text(json.dumps(obj, indent=2, ensure_ascii=False))
    return _indent(text, depth)


def _write_rows(r: Rows, depth: int, stream: TextIO) -> None:
    """The list ``r`` at ``depth``, a chunk of rows at a time: each chunk's text is a whole list; the
    brackets between two chunks become a comma."""
    n = len(r.items)
    if not n:
        stream.write("[]")
        return
    close = len("\n" + "  " * depth + "]")
    for start in range(0, n, _CHUNK):
        nested: list[Rows] = []
        text = _text(r.dicts(start, start + _CHUNK), depth, nested)
        _write_marked(("[" if start == 0 else ",") + text[1:-close if start + _CHUNK < n else None], nested, stream)


def _write_marked(text: str, rows: list[Rows], stream: TextIO) -> None:
    """``text`` with each _MARK in it replaced by the next of ``rows``, written where it stands."""
    pieces = text.split(_MARK)
    for piece, r in zip(pieces, rows):
        stream.write(piece)
        line = piece[piece.rfind("\n") + 1:]
        _write_rows(r, (len(line) - len(line.lstrip(" "))) // 2, stream)
    stream.write(pieces[-1])


def write(doc: Any, stream: TextIO) -> None:
    """Write ``json.dumps(doc, indent=2, ensure_ascii=False)`` to ``stream`` (a lone surrogate as a
    ``\\udcXX`` escape, so the text encodes and ``json.loads`` gives back the same string)."""
    rows: list[Rows] = []
    _write_marked(_text(doc, 0, rows), rows, stream)


def dumps(doc: Any) -> str:
    """The text ``write`` writes."""
    out = io.StringIO()
    write(doc, out)
    return out.getvalue()
