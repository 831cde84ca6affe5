"""``regaudit fix``: the temporary folders the copy is built in, and those an earlier fix killed
mid-way (SIGKILL, a power cut) left behind.

A temporary copy is ``.<DIR name>.<random>.tmp`` beside DIR with a marker file naming the process
that writes it; an earlier output being replaced is moved aside to ``.<DIR name>.old.<pid>.<random>``
for the instant of the swap. The next fix that writes in the same folder removes such folders whose
process is gone; a folder without regaudit's name and marker (or manifest) is never touched.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import tempfile

MARKER = ".regaudit-fix-tmp"
_TMP = re.compile(r"\..+\.[A-Za-z0-9_]{8}\.tmp")
_OLD = re.compile(r"\..+\.old\.(\d+)\.[A-Za-z0-9_]{8}")


def make_tmp(parent: str, base: str) -> str:
    """A new temporary folder for the copy of ``base`` in ``parent``, with its marker."""
    tmp = tempfile.mkdtemp(prefix=f".{base}.", suffix=".tmp", dir=parent)
    with open(os.path.join(tmp, MARKER), "x", encoding="utf-8") as fh:
        fh.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname()}))
    return tmp


def unmark(tmp: str) -> None:
    """Remove the marker: the folder is about to become DIR."""
    os.unlink(os.path.join(tmp, MARKER))


def old_name(out: str) -> str:
    """A free name beside ``out`` to move an earlier output to while the new one takes its place."""
    parent, base = os.path.split(out)
    path = tempfile.mkdtemp(prefix=f".{base}.old.{os.getpid()}.", dir=parent)
    os.rmdir(path)
    return path


def _alive(pid: int) -> bool:
    if os.name == "nt":  # (os.kill(pid, 0) would send CTRL_C_EVENT there): never judged gone
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # (PermissionError: it exists, another user's)
        return True
    return True


def _stale_tmp(path: str) -> bool:
    marker = os.path.join(path, MARKER)
    try:
        if os.path.islink(path) or os.path.islink(marker) or os.path.getsize(marker) > 4096:
            return False
        with open(marker, encoding="utf-8") as fh:
            doc = json.loads(fh.read())
        pid, host = int(doc["pid"]), doc["host"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return host == socket.gethostname() and pid != os.getpid() and not _alive(pid)


def remove_stale(parent: str, is_fix_output) -> list[str]:
    """Remove, in ``parent``, the temporary folders of a fix whose process is gone (regaudit's name
    and marker, or for a moved-aside earlier output its name and manifest); their paths."""
    removed = []
    try:
        with os.scandir(parent) as it:
            names = [e.name for e in it if e.name.startswith(".")]
    except OSError:
        return removed
    for name in sorted(names):
        path = os.path.join(parent, name)
        if _TMP.fullmatch(name):
            stale = _stale_tmp(path)
        else:
            m = _OLD.fullmatch(name)
            stale = m is not None and int(m[1]) != os.getpid() and not _alive(int(m[1])) and is_fix_output(path)
        if stale:
            remove(path)
            if not os.path.lexists(path):
                removed.append(path)
    return removed


def remove(tmp: str) -> None:
    """Remove a temporary copy, read-only folders in it included (never the original: ``tmp`` is ours)."""
    def writable(func, path, _exc):
        try:
            os.chmod(os.path.dirname(path), 0o700)
            func(path)
        except OSError:
            pass
    shutil.rmtree(tmp, onerror=writable)
