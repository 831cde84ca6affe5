"""A config file's text as sd-scripts reads it, parsed by the library it parses it with.

sd-scripts reads TOML with ``toml`` 0.10.2 (``toml.load(path)``: the file opened as UTF-8 text with
universal newlines) and JSON with ``json.load`` of a file opened in text mode. Parsing with the
same library gives its quirks for free: CR-only line ends read as line ends, a no-break space
before a number or boolean accepted, an inline ``subsets = [{...}]`` extended by a later
``[[datasets.subsets]]`` header, a mixed-type array refused ("Not a homogeneous array"), a byte
order mark kept as part of the first key. What the parser raises is what sd-scripts raises.

Bounded: toml 0.10.2's time grows with the nesting times the length of a file, and with the square
of the inline tables in an array or of the backslash escapes; a file over ``TOML_LIMIT``, a value
nested deeper than ``MAX_DEPTH`` or more of those than their caps is refused with one line before
the parser sees it, and ``parse_guarded`` refuses any other document nested that deep.
"""

from __future__ import annotations

import json
from typing import Any

import toml

from ..errors import ConfigError
from ..safeio import MAX_DEPTH, parse_guarded, too_deep

TOML_LIMIT = 1 << 20  # bytes; a real dataset config is a few KiB (30 subsets: about 5 KiB)
# toml 0.10.2's time grows with the square of these (measured: 16,000 inline tables in one array
# take 2.4 s, 80,000 backslash escapes 2.3 s); at these caps a file parses in well under a second
MAX_INLINE_TABLES = 4096
MAX_BACKSLASHES = 16384


def text_mode(raw: bytes) -> str:
    """``open(path, encoding="utf-8").read()``: strict UTF-8 (UnicodeDecodeError otherwise), the BOM
    kept, and "\\r\\n" and a lone "\\r" read as "\\n" (universal newlines)."""
    return raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


def shape(text: str, limit: int = MAX_DEPTH) -> tuple[int, int, int]:
    """(how deeply arrays and inline tables nest in the values, how many inline tables there are,
    how many backslashes the strings hold) of a TOML text; comments skipped, table headers are not
    values. The depth stops counting past ``limit``. Linear in the text."""
    depth = deepest = tables = backslashes = 0
    in_value = False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "\"'":
            quote = text[i:i + 3] if text[i:i + 3] in ('"""', "'''") else c
            j = i + len(quote)
            while j < n and not text.startswith(quote, j):
                if text[j] == "\\":
                    backslashes += 1
                    j += quote[0] == '"'  # an escape: the next character is not a closing quote
                elif len(quote) == 1 and text[j] == "\n":
                    break
                j += 1
            i = j + len(quote)
            continue
        if c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if depth == 0 and c == "=":
            in_value = True
        elif depth == 0 and c == "\n":
            in_value = False
        elif c in "[{" and (in_value or depth):
            depth += 1
            tables += c == "{"
            deepest = max(deepest, depth)
            if deepest > limit:
                break
        elif c in "]}" and depth:
            depth -= 1
        i += 1
    return deepest, tables, backslashes


def loads_toml(text: str, source: str) -> Any:
    """``toml.loads`` (0.10.2) of ``text``; raises what it raises (``toml.TomlDecodeError``, ...),
    or a one-line ConfigError for a document nested deeper than MAX_DEPTH or shaped so that the
    parser would take minutes."""
    deepest, tables, backslashes = shape(text)
    if deepest > MAX_DEPTH:
        raise too_deep(source)
    for count, cap, what in ((tables, MAX_INLINE_TABLES, "inline tables ({...})"),
                             (backslashes, MAX_BACKSLASHES, "backslashes in strings")):
        if count > cap:
            raise ConfigError(f"{source}: {count} {what}, more than the {cap} sd-scripts' TOML reader (toml 0.10.2) "
                              f"can parse in reasonable time; no real config file needs that")
    return parse_guarded(lambda: toml.loads(text), source)


def loads_json(text: str, source: str) -> Any:
    """``json.loads`` of ``text``; raises what it raises (``json.JSONDecodeError``), or a one-line
    ConfigError for a document nested deeper than MAX_DEPTH."""
    return parse_guarded(lambda: json.loads(text), source)
