"""Writing an output file (``report -o``, ``check -o``) without ever harming a user's file.

* Never inside a dataset: the target's folder and every folder above it are compared with the
  dataset's folders by device and inode (``placement``), so ``..``, symlinks and bind mounts do
  not get past it. ``--force`` does not change this: regaudit never writes into a dataset.
* Never over a file regaudit did not write, unless ``force``: every document regaudit writes
  carries a generator mark near its start (``GENERATOR_*`` below, put there by the renderers);
  an existing file without one is the user's. A directory, FIFO or device is never a target.
* Never a half-written file: the text goes to a temporary file beside the target, which then
  replaces it in one ``os.replace``; a full disk or any other failure (Ctrl-C, SIGTERM) leaves
  the earlier file as it was and removes the temporary one.
* Never a pile of temporary files: a run killed outright (SIGKILL, a power cut) leaves its
  ``.NAME.XXXXXXXX.tmp``; the next run that writes NAME removes it, and only it: a regular file of
  this user with exactly that name pattern, holding regaudit's mark (or nothing at all), that no
  running regaudit holds locked (each holds a lock on its temporary file while writing it).

Symlinks are followed: ``-o link.html`` writes the file the link points to (checked as above).
"""

from __future__ import annotations

import errno
import os
import re
import stat
import tempfile
from collections.abc import Iterable

from .errors import RegauditError
from .placement import containing_root
from .safeio import cwd, hold_signals, kind_of, open_regular, short_path, temp_names, try_lock

# The marks the renderers put at the start of what they write (see render/).
GENERATOR_COMMENT = "<!-- generator: regaudit -->"  # HTML page, JUnit XML
GENERATOR_JSON_KEY = "generator"  # JSON documents: "generator": "regaudit"
GENERATOR_GITHUB = "::debug::generator: regaudit"  # GitHub annotations (a debug line, hidden in the log)
HUMAN_HEAD = "regaudit check ("  # the human check report's title line, right after its verdict

_MARKS = (
    re.compile(rb"<!-- generator: regaudit -->"),
    re.compile(rb'"generator":\s*"regaudit"'),
    re.compile(rb"\A::debug::generator: regaudit"),
    re.compile(rb"\Aregaudit check \("),  # (before the verdict line came first)
    # the verdict line (its mark: check, cross, bullet, or musubi's '?'), wrapped over a few lines, then the title line
    re.compile(rb"\A(?:\xe2\x9c\x93|\xe2\x9c\x97|\xe2\x80\xa2|\?) (?:[^\n]*\n){1,12}?regaudit check \("),
)
_HEAD = 8192  # the marks sit in the first lines


class OutputError(RegauditError):
    """An output file that may not, or cannot, be written."""


def written_by_regaudit(path: str) -> bool:
    """Whether the regular file at ``path`` carries regaudit's generator mark."""
    try:
        with open_regular(path) as fh:
            head = fh.read(_HEAD)
    except OSError:
        return False
    return any(m.search(head) for m in _MARKS)


def folder_problem(folder: str) -> str | None:
    """Why an output cannot go into ``folder`` (to follow 'the folder F'), or None when it can."""
    try:
        st = os.stat(folder)
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            return (f"is {len(os.fsencode(folder))} bytes long, more than this system takes in one path; choose a "
                    f"shorter path")
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return "does not exist; create it or choose another path"
        return f"cannot be checked: {exc.strerror or exc}"
    except ValueError:  # (an embedded NUL)
        return "is not a path this system takes; choose another path"
    return None if stat.S_ISDIR(st.st_mode) else "is not a folder; choose another path"


def check_target(path: str, dataset_roots: Iterable[str] = (), force: bool = False) -> str:
    """The file that writing to ``path`` would replace (symlinks resolved), after making sure
    that is allowed; raises OutputError naming the path and what to do."""
    if not os.path.isabs(path) and cwd() is None:
        raise OutputError(f"{path}: a relative path, but the current folder no longer exists (deleted or moved); "
                          f"give an absolute path")
    target = os.path.realpath(path)
    root = containing_root(target, dataset_roots)
    if root is not None:
        outside = os.path.join(os.path.dirname(os.path.realpath(root)), os.path.basename(target))
        raise OutputError(f"{path}: lies inside the dataset folder {os.path.abspath(root)}; regaudit never writes "
                          f"into a dataset: write it elsewhere, e.g. -o {outside}")
    folder = os.path.dirname(target)
    problem = folder_problem(folder)
    if problem is not None:
        raise OutputError(f"{short_path(path)}: the folder {short_path(folder)} {problem}")
    try:
        st = os.stat(target)
    except FileNotFoundError:
        return target
    except OSError as exc:
        raise OutputError(f"{path}: cannot be checked: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise OutputError(f"{path}: is {kind_of(st.st_mode)}; regaudit writes only regular files, choose a file name")
    if not force and not written_by_regaudit(target):
        raise OutputError(f"{path}: exists and was not written by regaudit; pass --force to replace it, or choose "
                          f"another name")
    return target


def _mode_for(target: str) -> int:
    try:
        return os.stat(target).st_mode & 0o7777
    except OSError:
        mask = os.umask(0)
        os.umask(mask)
        return 0o666 & ~mask




def remove_stale_temps(folder: str, name: str) -> int:
    """Remove what a killed regaudit left while writing ``name`` in ``folder`` (see the module
    docstring for what counts as that); returns how many were removed. Never raises."""
    removed = 0
    candidates = temp_names(folder, name)
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    uid = os.geteuid() if hasattr(os, "geteuid") else None
    for candidate in candidates:
        path = os.path.join(folder, candidate)
        try:
            fd = os.open(path, flags)
        except OSError:
            continue
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode) or (uid is not None and st.st_uid != uid) or not try_lock(fd):
                continue  # not a file of ours, or a live regaudit is writing it
            data = os.read(fd, _HEAD)
            if data and not any(m.search(data) for m in _MARKS):
                continue
            now = os.lstat(path)
            if (now.st_dev, now.st_ino) == (st.st_dev, st.st_ino):  # (still the file that was checked)
                os.unlink(path)
                removed += 1
        except OSError:
            continue
        finally:
            os.close(fd)
    return removed


def write_text(path: str, text: str, dataset_roots: Iterable[str] = (), force: bool = False) -> int:
    """Write ``text`` (UTF-8) to ``path`` atomically, after ``check_target``; returns the size in
    bytes. A name that is not valid UTF-8 in ``text`` (a surrogate escape) is written as a
    backslash escape rather than failing."""
    target = check_target(path, dataset_roots, force)
    data = text.encode("utf-8", "backslashreplace")
    folder, name = os.path.split(target)
    remove_stale_temps(folder, name)
    release = hold_signals()
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        release()
        raise OutputError(f"{path}: cannot write in {folder}: {exc.strerror or exc}") from None
    try:
        release()  # (a signal held since before mkstemp is handled here: the temporary file is removed)
        try_lock(fd)  # held until closed: no other run takes this file for a stale one
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            if hasattr(os, "fchmod"):  # (not on Windows before Python 3.13, where modes are only read-only or not)
                os.fchmod(fd, _mode_for(target))
            try:
                os.fsync(fd)
            except OSError as exc:
                if exc.errno not in (errno.EINVAL, errno.ENOTSUP):  # file systems that cannot sync
                    raise
        finally:
            os.close(fd)
        os.replace(tmp, target)
    except OSError as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise OutputError(f"{path}: cannot be written: {exc.strerror or exc}; nothing was changed") from None
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return len(data)


def append_text(path: str, text: str, what: str) -> None:
    """Append ``text`` to a file another program hands us to append to (GitHub's step summary):
    created if missing, only ever a regular file (a FIFO without a reader is an error, never a
    wait). Raises OutputError naming ``what``; what was appended before a write failed (a full disk)
    is cut off again, so the file holds no fragment."""
    flags = (os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
             | getattr(os, "O_BINARY", 0))  # (Windows: no newline translation)
    try:
        fd = os.open(path, flags, 0o666)
    except OSError as exc:
        raise OutputError(f"{path}: cannot append {what}: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise OutputError(f"{path}: cannot append {what}: it is {kind_of(st.st_mode)}")
        view = memoryview(text.encode("utf-8", "backslashreplace"))
        try:
            while view:
                view = view[os.write(fd, view):]
        except OSError:
            try:
                os.ftruncate(fd, st.st_size)  # (our own part only: the file's size when it was opened)
            except OSError:
                pass
            raise
    except OSError as exc:
        raise OutputError(f"{path}: cannot append {what}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
