"""The output formats of ``regaudit check`` (``--format``; ``--json`` is ``json``): one renderer
per format, each a pure function of the verdict, in one table that covers every format (a test
checks it, as pip-audit's ``OutputFormatChoice`` maps each choice to its formatter)."""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, Union

from . import ci, json_out

if TYPE_CHECKING:
    from rich.console import RenderableType

    from ..views.check import Verdict

Rendered = Union[str, "RenderableType"]  # text to write as it is, or a rich renderable to print


class OutputFormat(str, Enum):
    HUMAN = "human"
    JSON = "json"
    GITHUB = "github"
    JUNIT = "junit"


def _human(verdict: Verdict) -> Rendered:
    from . import human  # (rich, only for people)

    return human.check_view(verdict)


def _json(verdict: Verdict) -> Rendered:
    return json_out.dumps(ci.check_json(verdict)) + "\n"


def _github(verdict: Verdict) -> Rendered:
    return ci.github(list(verdict.findings))


def _junit(verdict: Verdict) -> Rendered:
    return ci.junit(list(verdict.findings), {id(f) for f in verdict.failing})


RENDERERS: dict[OutputFormat, Callable[[Verdict], Rendered]] = {
    OutputFormat.HUMAN: _human,
    OutputFormat.JSON: _json,
    OutputFormat.GITHUB: _github,
    OutputFormat.JUNIT: _junit,
}


def render(fmt: OutputFormat, verdict: Verdict) -> Rendered:
    """The verdict in format ``fmt``."""
    return RENDERERS[fmt](verdict)
