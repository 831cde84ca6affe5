"""The command line: parse, call the core, render, exit. Nothing else lives here.

Exit codes: 0 the command ran (findings or not); 1 a check or smoke test failed; 2 usage,
config or I/O error (one line on stderr, never a traceback).
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from .captions import normalize_extension
from .config import TrainingArgs
from .errors import RegauditError
from .render import human, json_out
from .rules import REGISTRY, lookup

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

stdout = Console(highlight=False, soft_wrap=False)
stderr = Console(stderr=True, highlight=False)

TRAIN_OPT = typer.Option(None, "--train", "--train_data_dir", "--train-data-dir", metavar="DIR",
                         help="sd-scripts train_data_dir: a folder of '<repeats>_<class tokens>' subfolders.")
REG_OPT = typer.Option(None, "--reg", "--reg_data_dir", "--reg-data-dir", metavar="DIR",
                       help="sd-scripts reg_data_dir (regularization images).")
CONFIG_OPT = typer.Option(None, "--dataset-config", "--dataset_config", metavar="FILE",
                          help="sd-scripts dataset config (.toml or .json); --train/--reg are then ignored.")
CAPTION_OPT = typer.Option(".caption", "--caption-extension", "--caption_extension", "--caption_extention",
                           metavar="EXT", help="Caption file extension, as sd-scripts' --caption_extension.")
JSON_OPT = typer.Option(False, "--json", help="Write the result as JSON on stdout.")
JOBS_OPT = typer.Option(None, "--jobs", "-j", min=1, help="Worker processes (default: all cores).")
PROGRESS_OPT = typer.Option(True, "--progress/--no-progress", help="Progress bar on stderr (terminal only).")


@contextmanager
def _progress(enabled: bool, label: str):
    if not (enabled and stderr.is_terminal):
        yield None
        return
    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=stderr, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _resolve_roots(folder: Optional[str], train: Optional[str]) -> Optional[str]:
    if folder is not None and train is not None:
        raise RegauditError("give the train folder either as DIR or as --train, not both")
    return folder if folder is not None else train


@app.command()
def scan(
    folder: Optional[str] = typer.Argument(None, metavar="[DIR]", help="A train_data_dir-style root."),
    train: Optional[str] = TRAIN_OPT,
    reg: Optional[str] = REG_OPT,
    dataset_config: Optional[str] = CONFIG_OPT,
    caption_extension: str = CAPTION_OPT,
    deep: bool = typer.Option(False, "--deep", help="Also decode every image to catch truncated files."),
    as_json: bool = JSON_OPT,
    jobs: Optional[int] = JOBS_OPT,
    progress: bool = PROGRESS_OPT,
) -> None:
    """Show what sd-scripts will see: subsets, images, captions, and everything it ignores or chokes on."""
    from .scan import load_specs, scan as run_scan

    train = _resolve_roots(folder, train)
    args = TrainingArgs(caption_extension=caption_extension)
    specs = load_specs(train, reg, dataset_config, args)
    sources = [p for p in (train, reg, dataset_config) if p]
    with _progress(progress, "scanning images") as cb:
        result = run_scan(specs, deep=deep, jobs=jobs, progress=cb,
                          caption_extension=normalize_extension(caption_extension), sources=sources)
    if as_json:
        sys.stdout.write(json_out.dumps(json_out.scan_document(result)) + "\n")
    else:
        stdout.print(human.scan_view(result))


@app.command()
def rules(code: Optional[str] = typer.Argument(None, help="A code (RA001) or name to explain."),
          as_json: bool = JSON_OPT) -> None:
    """List every finding code, or explain one."""
    if code is None:
        if as_json:
            doc = [{"code": r.code, "name": r.name, "severity": r.severity.value, "summary": r.summary}
                   for r in REGISTRY.values()]
            sys.stdout.write(json_out.dumps(doc) + "\n")
            return
        for r in REGISTRY.values():
            stdout.print(f"{r.code}  {r.severity.value:<7}  {r.name:<28} {r.summary}")
        return
    r = lookup(code)
    if r is None:
        raise RegauditError(f"unknown rule '{code}'; 'regaudit rules' lists them all")
    if as_json:
        sys.stdout.write(json_out.dumps({"code": r.code, "name": r.name, "severity": r.severity.value,
                                         "summary": r.summary, "why": r.why, "hint": r.hint}) + "\n")
        return
    stdout.print(f"{r.code} {r.name} (default severity: {r.severity.value})\n\nWhat it checks: {r.summary}\n\n"
                 f"Why it matters: {r.why}\n\nHow to fix: {r.hint}")


def main(argv: Optional[list[str]] = None) -> int:
    command = typer.main.get_command(app)
    try:
        rv = command.main(args=argv, prog_name="regaudit", standalone_mode=False)
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
    return rv if isinstance(rv, int) else 0
