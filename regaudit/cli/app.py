"""The Typer app, the consoles, and ``main``: the one place that turns errors into exit codes."""

from __future__ import annotations

import os
import sys
from typing import Optional

import typer
from rich.console import Console

from ..errors import RegauditError

try:  # typer >= 0.22 vendors click
    from typer._click import exceptions as _cx
    from typer._click.utils import echo as _echo
except ImportError:  # pragma: no cover - older typer on top of click
    from click import exceptions as _cx
    from click.utils import echo as _echo

app = typer.Typer(
    name="regaudit",
    help="Audit kohya-ss/sd-scripts DreamBooth/LoRA datasets: see them exactly as sd-scripts will.",
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

stdout = Console(highlight=False, soft_wrap=False, markup=False)  # file names are never markup
stderr = Console(stderr=True, highlight=False, markup=False)
ARGV: list[str] = []  # the arguments of this run, for the report's "made by" line


def note(text: str) -> None:
    stderr.print(f"regaudit: note: {text}", markup=False, soft_wrap=True)


def _extention_last(argv: list[str]) -> list[str]:
    """sd-scripts lets the misspelt --caption_extention override --caption_extension; both are one
    option here, and the last occurrence wins, so move the misspelt one to the end."""
    out, tail, k = [], [], 0
    while k < len(argv):
        arg = argv[k]
        if arg == "--caption_extention" and k + 1 < len(argv):
            tail += argv[k:k + 2]
            k += 2
            continue
        (tail if arg.startswith("--caption_extention=") else out).append(arg)
        k += 1
    return out + tail


def main(argv: Optional[list[str]] = None) -> int:
    ARGV[:] = list(sys.argv[1:] if argv is None else argv)
    for stream in (sys.stdout, sys.stderr):  # file names need not be valid UTF-8; never crash printing them
        if hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="backslashreplace")
            except (ValueError, OSError):
                pass
    command = typer.main.get_command(app)
    try:
        rv = command.main(args=_extention_last(list(ARGV)), prog_name="regaudit", standalone_mode=False)
    except _cx.UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # click >= 8.2 raises this for a bare command
            _echo(exc.ctx.get_help() if exc.ctx else str(exc))
            return 0
        where = f" (see 'regaudit {exc.ctx.info_name} --help')" if exc.ctx and exc.ctx.info_name != "regaudit" else ""
        stderr.print(f"regaudit: error: {exc.format_message()}{where}", markup=False, soft_wrap=True)
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        stderr.print("regaudit: aborted", markup=False)
        return 130
    except RegauditError as exc:
        stderr.print(f"regaudit: error: {exc}", markup=False, soft_wrap=True)
        return exc.exit_code
    except BrokenPipeError:
        return 0
    except KeyboardInterrupt:
        stderr.print("regaudit: interrupted", markup=False)
        return 130
    except Exception as exc:  # never a traceback for a user; REGAUDIT_DEBUG=1 shows it
        if os.environ.get("REGAUDIT_DEBUG"):
            raise
        stderr.print(f"regaudit: internal error: {type(exc).__name__}: {exc} (set REGAUDIT_DEBUG=1 for details, "
                     f"and please report it)", markup=False, soft_wrap=True)
        return 2
    return rv if isinstance(rv, int) else 0


from . import check, commands  # noqa: E402,F401  (registers the commands on app)
