"""The Typer app, the consoles, and ``main``: the one place that turns errors into exit codes."""

from __future__ import annotations

import errno
import os
import signal
import sys
from typing import Optional

import typer

from ..errors import EXHAUSTED_HINT, RegauditError, is_exhausted
from ..render.escape import display
from ..safeio import cwd

NO_CWD = ("the current folder no longer exists (deleted or moved), so a relative path means nothing: cd into an "
          "existing folder, or give absolute paths")

try:  # typer >= 0.22 vendors click
    from typer._click import exceptions as _cx
    from typer._click.utils import echo as _echo
except ImportError:  # pragma: no cover - older typer on top of click
    from click import exceptions as _cx
    from click.utils import echo as _echo

app = typer.Typer(
    name="regaudit",
    help="Audit kohya-ss/sd-scripts DreamBooth/LoRA datasets: see them exactly as sd-scripts will.",
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

class _LazyConsole:
    """A rich Console made on first use: a run that prints only JSON never imports rich's console."""

    def __init__(self, **options) -> None:
        self._options = options
        self._console = None

    def real(self):
        """The rich Console itself (for rich's own APIs, which take nothing else)."""
        if self._console is None:
            from rich.console import Console

            self._console = Console(**self._options)
        return self._console

    def __getattr__(self, name: str):
        return getattr(self.real(), name)


stdout = _LazyConsole(highlight=False, soft_wrap=False, markup=False)  # file names are never markup
stderr = _LazyConsole(stderr=True, highlight=False, markup=False, soft_wrap=True)  # a message is one line in a log
ARGV: list[str] = []  # the arguments of this run, for the report's "made by" line


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        sys.stdout.write(f"regaudit {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print regaudit's version and exit.")) -> None:
    """Audit kohya-ss/sd-scripts DreamBooth/LoRA datasets: see them exactly as sd-scripts will."""


_NOTES: list[str] = []  # notes of this run, said after its output (its first line is the verdict)
_DEFER: list[bool] = []  # [True] while main() runs a command


def note(text: str) -> None:
    """A note on stderr: during a command, after its output (so that the verdict comes first), or
    before the line that ends the run with an error."""
    line = f"regaudit: note: {display(text)}"
    if _DEFER:
        _NOTES.append(line)
    else:
        _say(line)


def _say_notes() -> None:
    lines, _NOTES[:] = list(_NOTES), []
    for line in lines:
        _say(line)


def _say(line: str) -> None:
    """One line on stderr; a closed or full stderr is not worth a traceback."""
    if _NOTES:  # (the notes of the run first)
        _say_notes()
    try:
        stderr.print(line, markup=False, soft_wrap=True)
    except OSError:
        pass


_INTERRUPTED_SAID: list[bool] = []


_SIGNALS: list[list[int]] = []  # the entry's list of the signals received (SIGINT, SIGTERM, SIGHUP)


def _signal() -> int:
    """The signal that stopped the run (SIGINT where none was recorded: Ctrl-C seen by typer)."""
    return _SIGNALS[0][0] if _SIGNALS and _SIGNALS[0] else signal.SIGINT


def _say_interrupted() -> None:
    """'interrupted' ('terminated', 'hung up'), once: Ctrl-C may be seen both here and by the process entry."""
    from ..entry import stopped_by

    if not _INTERRUPTED_SAID:
        _INTERRUPTED_SAID.append(True)
        _say(f"regaudit: {stopped_by(_signal())}")


class _PipeClosed(Exception):
    """The reader of stdout went away (``regaudit rules | head -1``): stop quietly, exit 0.
    Not an OSError, so that click does not turn it into exit 1."""


class StdoutError(RegauditError):
    """Writing stdout failed (a full disk, an I/O error)."""


class _RawWriter:
    """The bytes of standard output, written with ``os.write`` until every one is taken. Python's
    own buffered writer loses the rest of a buffer silently when the kernel takes only part of it
    (a disk that fills partway: ``write`` returns 4096 of 14669 bytes, then the run exits 0), so
    regaudit does not rely on it: a short write is retried, and the error that follows is raised."""

    LIMIT = 1 << 16  # bytes gathered before they are written

    def __init__(self, stream, fd: int):
        self._stream = stream
        self._fd = fd
        self._pending: list[bytes] = []
        self._size = 0
        self._first = True

    def write(self, data: bytes) -> None:
        if data:
            self._pending.append(bytes(data))
            self._size += len(data)
            if self._size >= self.LIMIT:
                self.flush()

    def flush(self) -> None:
        if self._first:  # what was written through the stream itself before this writer
            self._first = False
            self._stream.flush()
        if not self._pending:
            return
        view = memoryview(b"".join(self._pending))
        self._pending.clear()
        self._size = 0
        while view:
            try:
                n = os.write(self._fd, view)
            except BlockingIOError:  # a non-blocking pipe that is full: wait until it takes more
                import select

                select.select([], [self._fd], [])
                continue
            if n <= 0:
                raise OSError(errno.EIO, "the output took no bytes")
            view = view[n:]


class _GuardedBinary:
    """``sys.stdout.buffer`` for one run (click writes there when the text stream's encoding is
    ASCII): the same checked writer."""

    def __init__(self, guard: "_GuardedStdout"):
        self._guard = guard

    def write(self, data) -> int:
        self._guard._call(self._guard._raw.write, data)
        return len(data)

    def flush(self) -> None:
        self._guard.flush()

    def __getattr__(self, name):
        return getattr(self._guard._stream.buffer, name)


class _GuardedStdout:
    """sys.stdout for one run: a failed write becomes _PipeClosed or a one-line StdoutError. On a
    real file descriptor every byte goes through ``_RawWriter``, so no short write goes unseen."""

    def __init__(self, stream):
        self._stream = stream
        self._raw: _RawWriter | None = None
        try:
            fd = stream.fileno()
            stream.encoding.encode  # noqa: B018  (a text stream)
        except Exception:  # a test's capture, a closed stdout: written as it is
            return
        self._raw = _RawWriter(stream, fd)
        self._encoding = stream.encoding or "utf-8"
        self._errors = getattr(stream, "errors", None) or "strict"

    def _call(self, fn, *args):
        try:
            return fn(*args)
        except BrokenPipeError:
            raise _PipeClosed() from None
        except OSError as exc:
            raise StdoutError(f"standard output: cannot be written: {exc.strerror or exc}") from None

    def write(self, text):
        if self._raw is None:
            return self._call(self._stream.write, text)
        self._call(self._raw.write, text.encode(self._encoding, self._errors))
        return len(text)

    def flush(self):
        if self._raw is None:
            return self._call(self._stream.flush)
        return self._call(self._raw.flush)

    @property
    def buffer(self):
        return _GuardedBinary(self) if self._raw is not None else self._stream.buffer

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _silence(stream) -> None:
    """Point the failed stdout at /dev/null, so the interpreter's last flush of what is still
    buffered neither fails nor prints 'Exception ignored'."""
    try:
        fd = stream.fileno()
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)
    except Exception:  # not a real file (a test's capture): nothing to flush at exit
        pass


class _ClosedStdout:
    """Standard output for a process started with it closed: writing fails as a closed file does
    (one line, exit 2, from the guard); a command that writes nothing there still runs."""

    encoding = "utf-8"

    def write(self, text: str) -> int:
        if not text:
            return 0
        raise OSError(errno.EBADF, "it is closed (started with >&-)")

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        raise OSError(errno.EBADF, "it is closed")


def _closed_streams() -> None:
    """A process started with stdout or stderr closed has None there: messages to a closed stderr
    go nowhere, and data for a closed stdout fails with one line."""
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115  (for the life of the process)
    if sys.stdout is None:
        sys.stdout = _ClosedStdout()  # type: ignore[assignment]


MIN_DESCRIPTORS = 64  # free file descriptors a run needs (caches, workers' pipes, images, imports)


def _descriptors_short() -> str | None:
    """Why this process has too few file descriptors to run (after raising its soft limit towards
    the hard one), or None. Caught up front: met halfway, a cache would quietly be left out."""
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        used = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else 3
    except (ImportError, OSError, ValueError):
        return None  # (no way to tell here: the checks where files are opened still stand)
    if soft == resource.RLIM_INFINITY or soft - used >= MIN_DESCRIPTORS:
        return None
    want = used + MIN_DESCRIPTORS
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want if hard == resource.RLIM_INFINITY else min(want, hard), hard))
        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ValueError, OSError):
        pass
    if soft - used >= MIN_DESCRIPTORS:
        return None
    return (f"only {max(0, soft - used)} file descriptors are free (open-files limit {soft}, {used} open); regaudit "
            f"needs {MIN_DESCRIPTORS}: raise the limit (ulimit -n)")


def _refuse(why: str) -> int:
    _say(f"regaudit: error: {why}")
    return 2


def run(interrupted: Optional[list[int]] = None) -> None:
    """The ``regaudit`` process (``regaudit.entry`` calls it): main() on sys.argv, then exit at
    once with its code. The objects of a large scan are not torn down one by one (a million images
    take seconds to free), which is safe because everything regaudit writes is flushed or closed by
    then. ``interrupted`` is filled when Ctrl-C arrives."""
    _quiet_gc()
    _closed_streams()
    short = _descriptors_short()
    if interrupted is not None:
        _SIGNALS[:] = [interrupted]
    code = main() if short is None else _refuse(short)
    if interrupted and code == 130:  # (typer turns Ctrl-C into a quiet exit 130)
        _say_interrupted()
        code = 128 + _signal()  # (143 for SIGTERM, 129 for SIGHUP, as the default action gives)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass  # the reader went away: as everywhere, a quiet end
    except (OSError, ValueError) as exc:  # what is still buffered cannot be written: say so
        _say(f"regaudit: error: cannot write the output: {getattr(exc, 'strerror', None) or exc}")
        code = 2
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os._exit(code)


MAX_COLUMNS = 1000  # a wider COLUMNS is nonsense (rich would lay out lines of that width)
MIN_COLUMNS = 20  # a narrower one too: rich cuts every word to '…' or prints a character per line


def _sane_terminal_size() -> None:
    """COLUMNS/LINES (and Jupyter's) that are 0, negative, not a number, absurdly small or large mean
    'no width given': rich then asks the terminal, or takes 80. Taken as they are, 0 made rich print
    nothing at all (every exit-2 message too), 1 a character per line, and a huge one exhausted memory."""
    for key, least, most in (("COLUMNS", MIN_COLUMNS, MAX_COLUMNS), ("LINES", 1, 100_000),
                             ("JUPYTER_COLUMNS", MIN_COLUMNS, MAX_COLUMNS), ("JUPYTER_LINES", 1, 100_000)):
        value = os.environ.get(key)
        if value is None:
            continue
        value = value.strip()
        if not (value.isascii() and value.isdigit() and least <= int(value) <= most):
            del os.environ[key]


def main(argv: Optional[list[str]] = None) -> int:
    ARGV[:] = list(sys.argv[1:] if argv is None else argv)
    _sane_terminal_size()
    _INTERRUPTED_SAID.clear()
    for stream in (sys.stdout, sys.stderr):  # file names need not be valid UTF-8; never crash printing them
        if hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="backslashreplace")
            except (ValueError, OSError):
                pass
    real = sys.stdout
    sys.stdout = _GuardedStdout(real)  # type: ignore[assignment]
    _NOTES.clear()
    _DEFER[:] = [True]
    try:
        code = _main()
        sys.stdout.flush()
        return code
    except _PipeClosed:
        _silence(real)
        return 0
    except StdoutError as exc:
        _silence(real)
        _say(f"regaudit: error: {exc}")
        return 2
    finally:
        sys.stdout = real
        _DEFER.clear()
        _say_notes()  # after the output


def _quiet_gc() -> None:
    """For the process of the command (not a caller's): a scan makes a few objects per image and
    almost no reference cycles, so the cycle collector's passes over every record are wasted time.
    What the imports made is frozen out of its sight, and it runs far less often."""
    import gc

    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


def _split(command, argv: list[str]) -> tuple[list[str], dict]:
    """For a command that reads a dataset, take sd-scripts' options out of the arguments: Typer
    sees regaudit's own options, the command reads the rest as the trainer's argparse would."""
    from .options import DATASET_COMMANDS, partition

    k = next((i for i, a in enumerate(argv) if not a.startswith("-")), None)
    if k is None or argv[k] not in DATASET_COMMANDS or argv[k] not in getattr(command, "commands", {}):
        return argv, {}
    own, sd = partition(command.commands[argv[k]], argv[k + 1:])
    return argv[:k + 1] + own, {"sd_argv": sd}


def _main() -> int:
    command = typer.main.get_command(app)
    try:
        args, obj = _split(command, list(ARGV))
        rv = command.main(args=args, prog_name="regaudit", standalone_mode=False, obj=obj)
    except _cx.UsageError as exc:
        if type(exc).__name__ == "NoArgsIsHelpError":  # click >= 8.2 raises this for a bare command
            _echo(exc.ctx.get_help() if exc.ctx else str(exc))
            return 0
        where = f" (see 'regaudit {exc.ctx.info_name} --help')" if exc.ctx and exc.ctx.info_name != "regaudit" else ""
        _say(f"regaudit: error: {display(exc.format_message())}{where}")
        return 2
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        _say("regaudit: aborted")
        return 130
    except (_PipeClosed, StdoutError):
        raise
    except RegauditError as exc:
        _say(f"regaudit: error: {display(exc)}")
        return exc.exit_code
    except BrokenPipeError:
        raise _PipeClosed() from None
    except KeyboardInterrupt:
        _say_interrupted()
        return 130
    except Exception as exc:  # never a traceback for a user; REGAUDIT_DEBUG=1 shows it
        if isinstance(exc, FileNotFoundError) and cwd() is None:  # (a relative path met somewhere)
            named = f"{display(os.fsdecode(exc.filename))}: " if exc.filename else ""
            _say(f"regaudit: error: {named}{NO_CWD}")
            return 2
        if is_exhausted(exc):  # (met where no file was to blame: an import, a cache)
            _say(f"regaudit: error: {display(getattr(exc, 'strerror', None) or exc)}: {EXHAUSTED_HINT}")
            return 2
        if os.environ.get("REGAUDIT_DEBUG"):
            raise
        _say(f"regaudit: internal error: {type(exc).__name__}: {display(exc)} (set REGAUDIT_DEBUG=1 for details, "
             f"and please report it)")
        return 2
    return rv if isinstance(rv, int) else 0


from . import captions, check, commands, fix, inspect  # noqa: E402,F401  (registers the commands on app)
