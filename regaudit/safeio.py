"""Reading a file the user named without ever blocking on it, and parsing it without crashing.

A FIFO, a character device or a socket named ``x.png`` or ``regaudit.yaml`` would make a plain
``open()`` wait forever for a writer (or read ``/dev/zero`` forever). ``open_regular`` opens
with ``O_NONBLOCK`` (which makes opening a FIFO return at once) and checks with ``fstat`` on
the open descriptor, so a file swapped between a check and the open cannot slip through.
``parse_guarded`` turns a parser's recursion overflow (a deeply nested YAML, TOML or JSON
document) into a ``ConfigError`` instead of an internal error.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from collections.abc import Callable, Iterator
from itertools import chain
from typing import BinaryIO, TypeVar

from .errors import ConfigError

T = TypeVar("T")

CONFIG_LIMIT = 16 << 20  # bytes: no policy or dataset config is anywhere near this


class NotRegularFile(OSError):
    """The path is a directory, FIFO, device or socket, not a regular file."""


def kind_of(mode: int) -> str:
    """'a directory', 'a FIFO', ... for messages."""
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
_CHUNK = 2048  # bytes of path opened at once when a path is longer than the system takes (PATH_MAX 4096)


def open_path(path: str | os.PathLike, flags: int, mode: int = 0o777) -> int:
    """``os.open(path, flags)``, also for a path longer than the system takes (ENAMETOOLONG): then
    it is opened piece by piece, each piece relative to the descriptor of the folder before it, as
    a listing reaches such a file. Symlinks along the way are followed as in one open."""
    try:
        return os.open(path, flags, mode)
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG or os.open not in os.supports_dir_fd:
            raise
    text = os.fspath(path)
    sep = b"/" if isinstance(text, bytes) else "/"
    parts = [p for p in text.split(sep) if p]
    pieces, piece, size = [], [], 0
    for part in parts:
        if piece and size + len(part) + 1 > _CHUNK:
            pieces.append(sep.join(piece))
            piece, size = [], 0
        piece.append(part)
        size += len(part) + 1
    pieces.append(sep.join(piece))
    fd = os.open(sep if text.startswith(sep) else (b"." if isinstance(text, bytes) else "."), _DIR_FLAGS)
    try:
        for folder in pieces[:-1]:
            inner = os.open(folder, _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = inner
        return os.open(pieces[-1], flags, mode, dir_fd=fd)
    finally:
        os.close(fd)


def list_folder(path: str) -> list[tuple[str, bool]]:
    """(name, is a folder, symlinks not followed) of each entry of the folder ``path``, a path of
    any length; the OSError of the listing otherwise."""
    try:
        with os.scandir(path) as it:
            return [(e.name, _plain_dir(e)) for e in it]
    except OSError as exc:
        if exc.errno != errno.ENAMETOOLONG or os.scandir not in os.supports_fd:
            raise
    fd = open_path(path, _DIR_FLAGS)
    try:
        with os.scandir(fd) as it:
            return [(e.name, _plain_dir(e)) for e in it]
    finally:
        os.close(fd)


def files_below(path: str, limit: int) -> Iterator[str]:
    """The names of the files anywhere below the folder ``path``, symlinked folders not followed (no
    loops), until ``limit`` entries have been looked at. A loop over a stack of folders, not a
    recursion (os.walk recurses before Python 3.12): a dataset may nest folders thousands deep, and
    their paths may grow longer than the system takes (list_folder opens those folder by folder).
    A folder that cannot be listed is passed over."""
    seen = 0
    stack = [path]
    while stack and seen <= limit:
        folder = stack.pop()
        try:
            entries = list_folder(folder)
        except OSError:
            continue
        for name, is_dir in entries:
            seen += 1
            if is_dir:
                stack.append(os.path.join(folder, name))
            else:
                yield name


def _plain_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir(follow_symlinks=False)
    except OSError:
        return False


def open_regular(path: str | os.PathLike) -> BinaryIO:
    """Open ``path`` for binary reading if, and only if, it is a regular file (symlinks are
    followed). Never blocks. Raises ``NotRegularFile`` or the ``OSError`` of the open. A path
    longer than the system takes is opened folder by folder (``open_path``)."""
    flags = (os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
             | getattr(os, "O_BINARY", 0))  # (Windows opens text mode otherwise: CRLF read as LF, Ctrl-Z as the end)
    fd = open_path(path, flags)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFile(errno.EINVAL, f"is {kind_of(st.st_mode)}, not a regular file", os.fspath(path))
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | os.PathLike, limit: int = CONFIG_LIMIT) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; ``OSError`` otherwise. Read as large
    as the file says it is (a read of ``limit`` bytes would take a buffer that large first: a GiB
    for fine-tuning metadata), then on in 1 MiB pieces while it holds more than it said."""
    with open_regular(path) as fh:
        want = min(os.fstat(fh.fileno()).st_size, limit) + 1
        pieces, total = [], 0
        while total <= limit:
            asked = min(want, limit + 1 - total)
            piece = fh.read(asked)
            pieces.append(piece)
            total += len(piece)
            if len(piece) < asked:  # (a buffered read is short only at the end)
                break
            want = 1 << 20
    data = pieces[0] if len(pieces) == 1 else b"".join(pieces)
    if len(data) > limit:
        raise OSError(errno.EFBIG, f"is larger than {limit >> 20} MiB, far more than any such file needs",
                      os.fspath(path))
    return data


def cwd() -> str | None:
    """The working directory, or None when it no longer exists (deleted or moved away under a
    shell that still stands in it). Nothing regaudit does with absolute paths needs it."""
    try:
        return os.getcwd()
    except OSError:
        return None


def here() -> str:
    """The working directory for messages and relative lookups: '.' when it no longer exists."""
    return cwd() or "."


def shown(path: str) -> str:
    """``path`` as people want to read it: relative to the working directory when it lies inside
    it, else as it is (also when there is no working directory, or it is on another drive)."""
    here = cwd()
    if here is None or not os.path.isabs(path):
        return path
    try:
        rel = os.path.relpath(path, here)
    except ValueError:  # another drive (Windows)
        return path
    return path if rel.startswith("..") else rel


def describe(exc: OSError) -> str:
    """An OSError's reason without the path (``[Errno 2] No such file...`` -> ``No such file...``)."""
    return exc.strerror or str(exc)


MAX_DEPTH = 64  # levels of lists/tables; the deepest real policy or dataset config has 4


def depth(value: object, limit: int = MAX_DEPTH) -> int:
    """How deeply lists and mappings nest in ``value``, counted level by level without recursion;
    stops counting past ``limit``. Each level visits its distinct containers once: shared
    (YAML-aliased) parts cost no more than their number, and a structure that contains itself
    counts as deeper than ``limit``. Linear in the size of a tree (a 100,000-dataset config: 0.1 s)."""
    nests = (list, tuple, dict)
    level = [value] if isinstance(value, nests) else []
    levels = 0
    while level:
        levels += 1
        if levels > limit:
            return limit + 1
        # the distinct containers one level down, in order (one comprehension: 600,000 of them in a
        # 200,000-dataset config)
        level = list({id(child): child for node in level
                      for child in (chain(node.values(), node.keys()) if isinstance(node, dict) else node)  # type: ignore[attr-defined]
                      if isinstance(child, nests)}.values())
    return levels


def parse_guarded(parse: Callable[[], T], source: str, limit: int = MAX_DEPTH) -> T:
    """Run ``parse()``; a document nested too deeply for the parser, or more than ``limit`` levels
    deep, becomes a one-line ConfigError instead of a RecursionError later on."""
    error = too_deep(source, limit)
    try:
        data = parse()
    except RecursionError:
        raise error from None
    if depth(data, limit) > limit:
        raise error
    return data


def too_deep(source: str, limit: int = MAX_DEPTH) -> ConfigError:
    """The one-line error for a document nested more than ``limit`` levels deep."""
    return ConfigError(f"{source}: nested more than {limit} levels deep (lists or tables inside each other); "
                       f"no policy or dataset config needs that")


def pread(fd: int, n: int, pos: int) -> bytes:
    """Up to ``n`` bytes of ``fd`` at ``pos`` (os.pread; Windows has none: a seek and a read there)."""
    if hasattr(os, "pread"):
        return os.pread(fd, n, pos)
    os.lseek(fd, pos, os.SEEK_SET)
    return os.read(fd, n)


def try_lock(fd: int) -> bool:
    """An exclusive flock on ``fd`` without waiting: False where another open file holds it, or where
    there is no flock (Windows). A run holds it on a temporary file it is making, so that no other run
    takes that file for one a killed run left."""
    try:
        import fcntl
    except ImportError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


TEMP_TAIL = re.compile(r"\.[A-Za-z0-9_]{8}\.tmp")  # tempfile.mkstemp's 8 random characters and regaudit's suffix


def temp_names(folder: str, name: str) -> list[str]:
    """The names in ``folder`` of temporary files made for ``name`` (``.NAME.XXXXXXXX.tmp``); none where
    the folder cannot be listed."""
    head = f".{name}"
    try:
        with os.scandir(folder) as it:
            return [e.name for e in it if e.name.startswith(head) and TEMP_TAIL.fullmatch(e.name, len(head))]
    except OSError:
        return []


_HOLDS = [0]  # hold_signals calls not released yet
_PENDING: list[int] = []  # signals regaudit's handler put off meanwhile


def signal_put_off(signum: int) -> bool:
    """For regaudit's signal handler (regaudit.entry): True where a hold is on, the signal then being
    handled when it is released (as KeyboardInterrupt); False: handle it now."""
    if _HOLDS[0]:
        _PENDING.append(signum)
        return True
    return False


def hold_signals() -> Callable[[], None]:
    """Hold Ctrl-C, SIGTERM and SIGHUP until the function returned is called: a temporary file is then
    made and its removal armed as one step (between the two, a signal would leave it behind). Called
    as the first statement of the ``try`` that removes it, a held signal raises KeyboardInterrupt there.
    regaudit's own handler puts the signal off (it runs in the main thread, whichever thread the signal
    was delivered to); Python's default one is held by the main thread's signal mask where there is one."""
    import signal
    import threading

    before = None
    if hasattr(signal, "pthread_sigmask") and threading.current_thread() is threading.main_thread():
        held = {getattr(signal, n) for n in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, n)}
        before = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    _HOLDS[0] += 1

    def release() -> None:
        _HOLDS[0] -= 1
        if before is not None:
            signal.pthread_sigmask(signal.SIG_SETMASK, before)  # (a blocked signal is handled here)
        if not _HOLDS[0] and _PENDING:
            _PENDING.clear()
            raise KeyboardInterrupt

    return release


def short_path(path: str, keep: int = 120) -> str:
    """``path`` for a one-line message: a path longer than 2 * ``keep`` characters (folders nested
    thousands deep) by its start and its end."""
    return path if len(path) <= 2 * keep + 1 else f"{path[:keep]}…{path[-keep:]}"
