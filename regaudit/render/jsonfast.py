"""``json.dumps(obj, indent=2, ensure_ascii=False)``, byte for byte, several times faster, and
able to stream.

The standard library encodes indented JSON in pure Python, one generator step per value: half a
second for a 20,000-image scan, longer than scanning. Here a dict or list whose values are all
plain scalars (an image, a finding, a list of paths) is encoded in one call to the C encoder with
the separators the indentation needs, and only the levels above it in Python. ``Lazy`` stands for
a list whose items are made while they are written, so a million images never exist as dicts at
once; ``write`` sends the text to a stream in pieces.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain

from ..parallel import alternate
from typing import Any, TextIO

_SCALARS = frozenset({str, int, float, bool, type(None)})
_INDENT = 2


class Lazy:
    """A JSON array of ``fn(item)`` for each item, made while it is written."""

    __slots__ = ("fn", "items")

    def __init__(self, fn: Callable[[Any], Any], items: Sequence[Any]):
        self.fn = fn
        self.items = items

    def __iter__(self) -> Iterator[Any]:
        return map(self.fn, self.items)

    def __len__(self) -> int:
        return len(self.items)


class Rows(Lazy):
    """A JSON array of objects that all have the same keys: ``fn(item)`` gives the values (mostly
    plain scalars; lists and dicts are written the general way) in ``keys`` order. Written from a
    template, a few times faster than a dict per item through the encoder (a scan writes one per
    image)."""

    __slots__ = ("keys",)

    def __init__(self, keys: Sequence[str], fn: Callable[[Any], Sequence[Any]], items: Sequence[Any]):
        super().__init__(fn, items)
        self.keys = tuple(keys)

    def __iter__(self) -> Iterator[Any]:
        keys = self.keys
        return (dict(zip(keys, self.fn(item))) for item in self.items)


def _floatstr(f: float) -> str:
    if f != f:
        return "NaN"
    if f in (float("inf"), float("-inf")):
        return "Infinity" if f > 0 else "-Infinity"
    return float.__repr__(f)


_BOOL = {True: "true", False: "false"}
_SCALAR_TEXT: dict[type, Callable[[Any], str]] = {
    str: json.encoder.encode_basestring,  # type: ignore[attr-defined]
    int: int.__repr__,
    bool: _BOOL.__getitem__,
    type(None): lambda v: "null",
    float: _floatstr,
}
def _value(v: Any, level: int) -> str:
    """The text of a value inside a row; a short list of ints (a size, a bucket) directly."""
    if type(v) is list and v and all(type(x) is int for x in v):
        inner = ",\n" + " " * (_INDENT * (level + 1))
        return "[" + inner[1:] + inner.join(map(int.__repr__, v)) + "\n" + " " * (_INDENT * level) + "]"
    out: list[str] = []
    _encode(v, level, out, None)
    return "".join(out)


_ROWS_AT_ONCE = 256  # rows encoded per round: a few C calls per column, not one Python call per value
_SEP = "\x00"  # the C encoder's item separator for a column: never in its output (it escapes control characters)


def _rows(obj: Rows, level: int, out: list[str], flush: Callable[[], None] | None) -> None:
    """The rows, a round of them at a time, column by column: a column of plain scalars goes through
    the C encoder in one call (its values separated by _SEP), any other column value by value (its
    lists, few distinct ones, each written once); the values then go between the keys of a
    template for the whole round, and one join makes the text."""
    keys = obj.keys
    flat = _flat_column()
    seen: dict[tuple, str] = {}

    def value_text(v: Any) -> str:
        if type(v) in _SCALAR_TEXT:
            return _SCALAR_TEXT[type(v)](v)
        if type(v) in (list, tuple) and all(type(x) is int for x in v):
            # sizes and buckets: few distinct ones, each written once (ints only: 1, 1.0 and True
            # are equal keys with other texts)
            key = v if type(v) is tuple else tuple(v)
            t = seen.get(key)
            if t is None:
                t = _value(v, level + 2)
                if len(seen) < 4096:
                    seen[key] = t
            return t
        return _value(v, level + 2)

    items = obj.items
    fn = obj.fn
    n_items = len(items)

    def render(k: int) -> str:
        """The text of round ``k`` (the first opens the list)."""
        rows = [fn(item) for item in items[k * _ROWS_AT_ONCE:(k + 1) * _ROWS_AT_ONCE]]
        if set(map(len, rows)) != {len(keys)}:
            raise ValueError(f"a row of {len(keys)} keys has another number of values")
        texts = [_column(col, flat, value_text) for col in zip(*rows)]
        pieces = _round_pieces(keys, level, len(rows), k == 0).copy()
        pieces[1::2] = list(chain.from_iterable(zip(*texts)))  # row by row
        return "".join(pieces)

    rounds = -(-n_items // _ROWS_AT_ONCE)
    # many rounds: a forked child writes every other one meanwhile (two cores, the same text); not
    # for a huge list, whose rows the child would copy page by page as it reads them
    share = _ROUNDS_TO_SHARE <= rounds <= _ROUNDS_TO_SHARE_MAX
    for text in (alternate(render, rounds) if share else map(render, range(rounds))):
        out.append(text)
        if flush is not None:
            flush()
    out.append("\n" + " " * (_INDENT * level) + "]")


_ROUNDS_TO_SHARE = 8  # from this many rounds on, sharing them with a child pays for starting it
_ROUNDS_TO_SHARE_MAX = 256  # (65,536 rows): beyond, the child's copy of the pages it reads costs too much memory


_STR_SEP = json.encoder.encode_basestring(_SEP)[1:-1]  # type: ignore[attr-defined]  # how _SEP is escaped


def _column(col: tuple, flat: Callable[[Any], str], value_text: Callable[[Any], str]) -> list[str]:
    """The texts of one column of a round of rows (see _rows), by the cheapest way its types allow."""
    types = set(map(type, col))
    if types == _STR:  # paths, captions: one escape of them all, joined by _SEP, cut apart again
        joined = json.encoder.encode_basestring(_SEP.join(col))  # type: ignore[attr-defined]
        if joined.count(_STR_SEP) == len(col) - 1:  # (no value holds _SEP, nor text that escapes like it)
            return joined.replace(_STR_SEP, '"' + _SEP + '"').split(_SEP)
    if not _SCALARS.issuperset(types):
        if _TUPLE_OR_NONE.issuperset(types) and _INT.issuperset(map(type, chain.from_iterable(filter(None, col)))):
            # sizes and buckets (tuples of ints, or None): each distinct one written once
            known = {v: value_text(v) for v in set(col)}
            return list(map(known.__getitem__, col))
        return list(map(value_text, col))
    if types == _INT:
        return list(map(int.__repr__, col))
    # the same few values again and again (formats, modes, None): each written once; not where equal
    # keys have other texts (1 and True, 0.0 and -0.0, NaN)
    if float not in types and not (bool in types and int in types):
        distinct = set(col)
        if len(distinct) * 8 <= len(col):
            known = {v: value_text(v) for v in distinct}
            return list(map(known.__getitem__, col))
    return flat(col)[1:-1].split(_SEP)


_INT = frozenset({int})
_TUPLE_OR_NONE = frozenset({tuple, type(None)})


_round_cache: dict[tuple, list] = {}


def _round_pieces(keys: tuple[str, ...], level: int, n: int, first: bool) -> list:
    """The text of ``n`` objects of ``keys``, items of a list at ``level``, as a list of pieces with
    a place (None) for each value: the first round opens the list, the others go on from a row."""
    t = _round_cache.get((keys, level, n, first))
    if t is None:
        inner = " " * (_INDENT * (level + 2))
        close = "\n" + " " * (_INDENT * (level + 1)) + "}"
        opener = "[\n" + " " * (_INDENT * (level + 1)) if first else ",\n" + " " * (_INDENT * (level + 1))
        between = close + ",\n" + " " * (_INDENT * (level + 1))
        names = [_key(k) + ": " for k in keys]
        t = []
        for r in range(n):
            for c, name in enumerate(names):
                t.append(((opener if r == 0 else between) + "{\n" if c == 0 else ",\n") + inner + name)
                t.append(None)
        t.append(close)
        if len(_round_cache) > 64:
            _round_cache.clear()
        _round_cache[(keys, level, n, first)] = t
    return t


_encoders: dict[str, Callable[[Any], str]] = {}


def _encoder(sep: str) -> Callable[[Any], str]:
    """The C encoder with ``sep`` between items (no indentation of its own)."""
    enc = _encoders.get(sep)
    if enc is None:
        make = getattr(json.encoder, "c_make_encoder", None)
        if make is None:  # no C accelerator: the slower encoder, same text
            enc = json.JSONEncoder(ensure_ascii=False, check_circular=False, separators=(sep, ": ")).encode
        else:
            chunks = make(None, _no_default, json.encoder.encode_basestring, None, ": ", sep, False, False, True)
            enc = lambda o, _c=chunks, _j="".join: _j(_c(o, 0))  # noqa: E731
        _encoders[sep] = enc
    return enc


def _flat_column() -> Callable[[Any], str]:
    """'[' + the values' texts joined by _SEP + ']'."""
    return _encoder(_SEP)


def _flat(level: int) -> Callable[[Any], str]:
    """The C encoder with the item separator of values at ``level`` (its output lacks only the
    line breaks after the opening and before the closing bracket)."""
    return _encoder(",\n" + " " * (_INDENT * level))


def _no_default(o: Any) -> Any:
    raise TypeError(f"Object of type {o.__class__.__name__} is not JSON serializable")


_STR = frozenset({str})


def _flat_dict(d: dict) -> bool:
    return _SCALARS.issuperset(map(type, d.values())) and _STR.issuperset(map(type, d))


def _flat_list(values: Iterable[Any]) -> bool:
    return _SCALARS.issuperset(map(type, values))


def _scalar(o: Any) -> str:
    return json.dumps(o, ensure_ascii=False)  # also str/int subclasses, and json's TypeError for others


def _encode(obj: Any, level: int, out: list[str], flush: Callable[[], None] | None) -> None:
    """Append the pieces of ``obj`` at indentation ``level`` to ``out``; ``flush`` (when given) is
    called between the items of a list to let a writer empty ``out``."""
    if isinstance(obj, dict):
        if not obj:
            out.append("{}")
            return
        inner = " " * (_INDENT * (level + 1))
        outer = "\n" + " " * (_INDENT * level)
        if _flat_dict(obj):
            out.append("{\n" + inner + _flat(level + 1)(obj)[1:-1] + outer + "}")
            return
        sep = "{\n" + inner
        for key, value in obj.items():
            out.append(sep + _key(key) + ": ")
            sep = ",\n" + inner
            _encode(value, level + 1, out, flush)
        out.append(outer + "}")
    elif isinstance(obj, (list, tuple, Lazy)):
        if not len(obj):
            out.append("[]")
            return
        if isinstance(obj, Rows):
            _rows(obj, level, out, flush)
            return
        inner = " " * (_INDENT * (level + 1))
        outer = "\n" + " " * (_INDENT * level)
        if not isinstance(obj, Lazy) and _flat_list(obj):
            out.append("[\n" + inner + _flat(level + 1)(list(obj))[1:-1] + outer + "]")
            return
        sep = "[\n" + inner
        item_sep = ",\n" + inner
        flat = _flat(level + 2)
        inner2 = "{\n" + " " * (_INDENT * (level + 2))
        close = "\n" + inner + "}"
        for value in obj:
            if type(value) is dict and value and _flat_dict(value):  # the common case: an image, a finding
                out.append(sep + inner2 + flat(value)[1:-1] + close)
            else:
                out.append(sep)
                _encode(value, level + 1, out, flush)
            sep = item_sep
            if flush is not None and len(out) >= 256:
                flush()
        out.append(outer + "]")
    else:
        out.append(_scalar(obj))


def iterencode(obj: Any) -> Iterator[str]:
    """The pieces of ``json.dumps(obj, indent=2, ensure_ascii=False)``."""
    out: list[str] = []
    _encode(obj, 0, out, None)
    return iter(out)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return json.encoder.encode_basestring(key)  # type: ignore[attr-defined]
    # json turns these keys into strings the same way
    return json.encoder.encode_basestring(json.loads(json.dumps({key: 0}))  # type: ignore[attr-defined]
                                          .popitem()[0])


def dumps(obj: Any) -> str:
    out: list[str] = []
    _encode(obj, 0, out, None)
    return "".join(out)


def write(obj: Any, stream: TextIO, fix: Callable[[str], str] = lambda s: s) -> None:
    """Write ``dumps(obj)`` to ``stream`` in pieces, each passed through ``fix`` first."""
    out: list[str] = []

    def flush() -> None:
        stream.write(fix("".join(out)))
        out.clear()

    _encode(obj, 0, out, flush)
    flush()
