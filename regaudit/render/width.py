"""Text that fits the terminal without breaking a name inside a word: ``Breakable`` wraps only at
spaces and after path separators, and shortens a part wider than the whole line in the middle
with an ellipsis. For table cells (folders, images) and lines that carry paths."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.segment import Segment
from rich.style import Style

MIN_PART = 24  # the narrowest a cell asks to be: a longer part is shortened in the middle rather than widen it
_TOKEN = re.compile(r"[^/\\ ]*[/\\ ]|[^/\\ ]+")  # a part and the separator after it (where a line may break)


def shorten(text: str, width: int) -> str:
    """``text`` in at most ``width`` cells: its start and its end, an ellipsis between them."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return "…"[:max(width, 0)]
    keep = width - 1
    head, tail = "", ""
    i, j = 0, len(text)
    while True:  # alternately from the start and the end, so that both the name and its extension show
        if cell_len(head) <= cell_len(tail) and i < j and cell_len(head + text[i]) + cell_len(tail) <= keep:
            head += text[i]
            i += 1
        elif i < j and cell_len(head) + cell_len(text[j - 1] + tail) <= keep:
            tail = text[j - 1] + tail
            j -= 1
        elif i < j and cell_len(head + text[i]) + cell_len(tail) <= keep:
            head += text[i]
            i += 1
        else:
            break
    return head + "…" + tail


class Breakable:
    """Pieces of text, each with its style, laid out in the width given: lines break at spaces and
    after '/' or '\\' only; a part wider than the line is shortened in the middle."""

    def __init__(self, pieces: Iterable[tuple[str, str]] | str, style: str = "") -> None:
        self.pieces: list[tuple[str, str]] = [(pieces, style)] if isinstance(pieces, str) else list(pieces)

    def append(self, text: str, style: str = "") -> Breakable:
        self.pieces.append((text, style))
        return self

    def _lines(self) -> list[list[tuple[str, str]]]:
        """The hard lines (a newline in a piece ends one), each a list of (token, style)."""
        lines: list[list[tuple[str, str]]] = [[]]
        for text, style in self.pieces:
            for k, part in enumerate(text.split("\n")):
                if k:
                    lines.append([])
                lines[-1].extend((t, style) for t in _TOKEN.findall(part))
        return lines

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        lines = self._lines()
        widest = max((sum(cell_len(t) for t, _ in line) for line in lines), default=0)
        part = max((cell_len(t.rstrip(" ")) for line in lines for t, _ in line), default=0)
        return Measurement(min(part, MIN_PART, widest), widest).clamp(max_width=options.max_width)

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = max(1, options.max_width)
        for line in self._lines():
            for row in _wrap(line, width):
                for text, style in row:
                    yield Segment(text, console.get_style(style) if style else Style.null())
                yield Segment.line()


def _wrap(tokens: Sequence[tuple[str, str]], width: int) -> list[list[tuple[str, str]]]:
    rows: list[list[tuple[str, str]]] = [[]]
    used = 0
    for text, style in tokens:
        size = cell_len(text.rstrip(" "))
        if used and used + size > width:  # (the spaces at the end of a line are dropped)
            _strip_end(rows[-1])
            rows.append([])
            used = 0
        if not used and not text.strip(" ") and len(rows) > 1:
            continue  # no wrapped line starts with a space (a line's own indent stays)
        if size > width:
            text = shorten(text.rstrip(" "), width)
            size = cell_len(text)
        rows[-1].append((text, style))
        used += cell_len(text)
    _strip_end(rows[-1])
    return rows


def _strip_end(row: list[tuple[str, str]]) -> None:
    while row and not row[-1][0].rstrip(" "):
        row.pop()
    if row:
        row[-1] = (row[-1][0].rstrip(" "), row[-1][1])


def runs(paths: Sequence[str]) -> list[tuple[str, str | None, int]]:
    """Consecutive paths in one folder as runs: (first, last or None, count). ``paths`` as shown."""
    out: list[tuple[str, str | None, int]] = []
    folder = None
    for p in paths:
        head = re.split(r"[/\\](?=[^/\\]*$)", p)[0] if re.search(r"[/\\]", p) else ""
        if out and head == folder:
            first, _, n = out[-1]
            out[-1] = (first, p, n + 1)
        else:
            out.append((p, None, 1))
            folder = head
    return out


def run_text(first: str, last: str | None, n: int, noun: str = "image") -> str:
    """'reg/1_dog/img_0001.png … img_0051.png (51 images)': a run with the last one's own name."""
    if last is None:
        return first
    name = re.split(r"[/\\]", last)[-1]
    return f"{first} … {name} ({n} {noun}s)"
