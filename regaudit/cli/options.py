"""One parser for every command that reads a dataset.

regaudit's own options (``--json``, ``--jobs``, ``--trainer`` ...) are declared on each Typer
command. Everything else on the command line is sd-scripts': ``app.main`` takes those tokens out
before Typer sees them (``partition``), and ``inputs()`` hands them to ``views.inputs.read_inputs``,
which reads them exactly as the chosen trainer's argparse would, so a whole pasted training command
works — ``accelerate launch [its options] sdxl_train_network.py --train_data_dir T ...``, ``python
train_network.py ...`` or bare options — and the trainer comes from the script name.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Optional

import typer

from ..errors import RegauditError
from ..render.escape import display
from ..safeio import cwd
from .app import NO_CWD, note, stderr

JSON_OPT = typer.Option(False, "--json", help="Write the result as JSON on stdout.")
JOBS_OPT = typer.Option(None, "--jobs", "-j", min=1, help="Worker processes (default: all cores).")
PROGRESS_OPT = typer.Option(True, "--progress/--no-progress", help="Progress bar on stderr (terminal only).")
TRAINER_OPT = typer.Option(None, "--trainer", metavar="SCRIPT",
                           help="sd-scripts trainer script (default train_network, or the SCRIPT.py of a pasted "
                                "command): train_network, sdxl_train_network, sd3_train_network, flux_train_network, "
                                "lumina_train_network, train_db, fine_tune, sdxl_train, sd3_train, flux_train, "
                                "lumina_train, train_textual_inversion, sdxl_train_textual_inversion, "
                                "train_control_net, sdxl_train_control_net.")
PROCESSES_OPT = typer.Option(None, "--num_processes", "--num-processes", metavar="N",
                             help="accelerate processes (GPUs); default 1, or accelerate launch's --num_processes.")
HASH_OPT = typer.Option("phash", "--hash", help="Perceptual hash: phash, dhash, whash or ahash.")
DIST_OPT = typer.Option(None, "--max-distance", "--max_distance", min=0, max=32,
                        help="Largest Hamming distance (of 64 bits) that counts as a near duplicate "
                             "(default 8, measured in benchmarks/dupes.py).")
TARGET_OS_OPT = typer.Option(None, "--target-os", metavar="OS",
                             help="linux | windows | macos: the OS that will train (its image glob is case-sensitive "
                                  "except on Windows); default: this machine.")
CACHE_PATH_OPT = typer.Option(None, "--cache", metavar="PATH", help="Hash cache file (default: user cache dir).")
NO_CACHE_OPT = typer.Option(False, "--no-cache", help="Neither read nor write the hash cache.")

SD_EPILOG = ("Any sd-scripts option of the chosen trainer is read as that script's argparse reads it "
             "(unique prefixes included): --train_data_dir/--train DIR, --reg_data_dir/--reg DIR, --dataset_config, "
             "--config_file, --resolution, --enable_bucket, --caption_extension, --max_train_epochs, ... "
             "A whole 'accelerate launch SCRIPT.py ...' command may be pasted. An option the trainer does not know is "
             "reported as the stop it causes in sd-scripts.")

# commands whose non-own options are sd-scripts'
DATASET_COMMANDS = frozenset({"scan", "balance", "dupes", "check", "smoke", "report", "captions", "inspect", "fix"})
_ALIASES = {"--train": "--train_data_dir", "--reg": "--reg_data_dir"}


def partition(command, argv: list[str]) -> tuple[list[str], list[str]]:
    """Split a dataset command's arguments into (regaudit's own, sd-scripts'). ``command`` is the
    click command; an own option is matched exactly (with its value)."""
    takes_value: dict[str, bool] = {}
    for param in command.params:
        if getattr(param, "param_type_name", "") != "option":
            continue
        for opt in list(param.opts) + list(param.secondary_opts):
            takes_value[opt] = not (param.is_flag or param.count)
    takes_value["--help"] = False
    own, sd = [], []
    pasted = False  # after SCRIPT.py the options are sd-scripts' exactly as typed: no aliases, no kebab-case
    k = 0
    while k < len(argv):
        token = argv[k]
        name, eq, _ = token.partition("=")
        short = token[:2] if len(token) > 2 and token[0] == "-" and token[1] != "-" else None
        if token in takes_value or (eq and name in takes_value and takes_value[name]):
            own.append(token)
            if token in takes_value and takes_value[token] and k + 1 < len(argv):
                own.append(argv[k + 1])
                k += 1
        elif short is not None and takes_value.get(short):  # '-j2'
            own.append(token)
        else:
            if token.endswith(".py"):
                pasted = True
            sd.append(token if pasted else _spelling(token))
        k += 1
    return own, sd


def _spelling(token: str) -> str:
    """regaudit's aliases and kebab-case for sd-scripts' options ('--train' -> '--train_data_dir',
    '--enable-bucket' -> '--enable_bucket')."""
    if not token.startswith("--") or len(token) < 3:
        return token
    name, eq, value = token.partition("=")
    name = _ALIASES.get(name, name)
    if "-" in name[2:]:
        name = "--" + name[2:].replace("-", "_")
    return name + eq + value


def number_between(value: float | None, name: str, low: float, high: float, *, open_ends: bool = False) -> None:
    """Refuse a number option that is not finite or lies outside low..high (exclusive ends with
    ``open_ends``), as every number option is: click's own range check lets nan through."""
    import math

    if value is None:
        return
    if not math.isfinite(value):
        raise RegauditError(f"{name} {value} is not a finite number")
    inside = low < value < high if open_ends else low <= value <= high
    if not inside:
        ends = f"between {low:g} and {high:g}, both excluded" if open_ends else f"within {low:g}..{high:g}"
        raise RegauditError(f"{name} {value:g} is outside the range: give a number {ends}")


def sd_argv(ctx: typer.Context) -> list[str]:
    return list((ctx.obj or {}).get("sd_argv", []))


def inputs(ctx: typer.Context, trainer: Optional[str], num_processes: Optional[int] = None,
           overrides: dict | None = None, require_source: bool = True, target_os: Optional[str] = None):
    """The command's sd-scripts options read into a views.inputs.Inputs; its notes on stderr."""
    from ..views.inputs import read_inputs

    try:
        inp = read_inputs(sd_argv(ctx), trainer, num_processes, overrides, require_source, target_os)
    except FileNotFoundError as exc:
        if cwd() is None:
            named = f"{display(os.fsdecode(exc.filename))}: " if exc.filename else ""
            raise RegauditError(f"{named}{NO_CWD}") from None
        raise
    if cwd() is None:  # a relative folder would be looked up in a folder that is gone
        named = list(inp.sources) + [sc.image_dir for spec in inp.specs for sc in spec.subsets]
        relative = next((p for p in named if p and not os.path.isabs(p)), None)
        if relative is not None:
            raise RegauditError(f"{display(relative)}: {NO_CWD}")
    for n in inp.notes:
        note(n)
    return inp


def run_scan(inp, **kwargs):
    """views.scan.scan_inputs: the scan with every finding the commands print."""
    from ..views.scan import scan_inputs

    return scan_inputs(inp, **kwargs)


_FORCE_TERMINAL = ("FORCE_COLOR", "TTY_INTERACTIVE", "TTY_COMPATIBLE", "JUPYTER_COLUMNS", "JUPYTER_LINES")


@contextmanager
def progress_bar(enabled: bool, label: str):
    if not enabled or not (sys.stderr.isatty() or any(os.environ.get(k) for k in _FORCE_TERMINAL)) \
            or not stderr.is_terminal:  # (rich's own test, reached only where it may say yes)
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=stderr.real(), transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def dataset_folders(specs, sources) -> list[str]:
    """Every folder of the dataset (roots and subsets) and its metadata files: no output may be
    written inside or over one."""
    out = [s for s in sources if s]  # a dataset config among them: refused as an output too
    out += [p for spec in specs for sc in spec.subsets for p in (sc.image_dir, sc.metadata_file) if p]
    return list(dict.fromkeys(out))


def dupes_options(hash_kind: str, max_distance: Optional[int], flip_aug: bool, cache: Optional[str],
                  no_cache: bool, jobs: Optional[int], specs, sources):
    """Duplicate-detection options; the cache may not lie inside any folder of the dataset."""
    from ..views.dupes import DEFAULT_MAX_DISTANCE, DupesOptions
    from ..views.hashcache import check_outside, default_path
    from ..views.hashing import HashKind

    if hash_kind not in {h.value for h in HashKind}:
        raise RegauditError(f"--hash '{hash_kind}' is not one of: {', '.join(h.value for h in HashKind)}")
    cache_path = None if no_cache else Path(cache) if cache else default_path()
    if cache_path is None and not no_cache and not cache:
        note("no hash cache: neither XDG_CACHE_HOME nor HOME is an absolute path (give --cache PATH to keep hashes)")
    if cache_path is not None:
        check_outside(cache_path, dataset_folders(specs, sources), named=bool(cache))
    return DupesOptions(HashKind(hash_kind), DEFAULT_MAX_DISTANCE if max_distance is None else max_distance,
                        flip_aug, cache_path, jobs, cache_named=bool(cache))
