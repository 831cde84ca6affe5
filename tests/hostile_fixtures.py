"""What the hostile-input tests share (tests/*/test_hostile_*.py): the two small datasets they
attack, regaudit run in this process or in a child, and the one-line-error check.

A test module takes a dataset by importing its fixture: ``from tests.hostile_fixtures import ds``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from regaudit.cli import main
from tests.conftest import textured

ROOT = Path(__file__).resolve().parent.parent  # the repository: PYTHONPATH of every child run
BAD = b"\xff.png"  # a file name that is not UTF-8
CTRL = "esc\x1b[2Jx\x01.png"  # a file name with control characters


def nest(top, levels: int, name: str) -> int:
    """``levels`` folders named ``name`` inside each other under ``top`` (made relative to each
    folder's descriptor: the path soon grows past what the system takes); the innermost's fd."""
    fd = os.open(top, os.O_RDONLY)
    for _ in range(levels):
        os.mkdir(name, dir_fd=fd)
        inner = os.open(name, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    return fd


def run(capsys, *argv):
    """regaudit in this process: (exit code, stdout, stderr)."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err, needle=""):
    assert code == 2, err
    assert "Traceback" not in err and "internal error" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err, err


def cli(*argv, timeout=60, cwd=None, env=None):
    """regaudit in a child process (for what could hang or needs real file descriptors)."""
    e = dict(os.environ, **(env or {}))
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "regaudit", *map(str, argv)], capture_output=True, timeout=timeout,
                          cwd=cwd, env=e)


def child(*argv, cwd=None, env=None, stdout=subprocess.PIPE, preexec_fn=None, timeout=120):
    """regaudit in a child process, started as the installed 'regaudit' script starts it."""
    e = dict(os.environ, **(env or {}))
    e["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), e.get("PYTHONPATH")) if p)
    # as the installed 'regaudit' script starts it (python -m would put the working directory on sys.path)
    start = "import sys; sys.argv[0] = 'regaudit'; from regaudit.entry import run; run()"
    return subprocess.run([sys.executable, "-c", start, *map(str, argv)], stdout=stdout, stderr=subprocess.PIPE,
                          cwd=cwd, env=e, preexec_fn=preexec_fn, timeout=timeout)


def file_size_limit(limit: int):
    """A preexec_fn that caps the size of any file the child writes at ``limit`` bytes."""
    def set_limit():
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))  # (Python ignores SIGXFSZ: writes fail EFBIG)
    return set_limit


def peak_of(argv, cwd) -> tuple[int, float, bytes]:
    """(exit code, peak memory in MB, stdout) of regaudit in a child, measured with wait4."""
    # measured by a small Python in between: a child forked straight from this test process would
    # count this process's own memory at the fork in its peak (ru_maxrss survives exec), and this
    # process may hold hundreds of MB (torch, imported by the smoke tests)
    e = dict(os.environ, PYTHONPATH=str(ROOT))
    start = time.monotonic()
    measure = ("import os, subprocess, sys\n"
               "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)\n"
               "out = p.stdout.read()\n"
               "_, status, usage = os.wait4(p.pid, 0)\n"
               "sys.stderr.write(f'{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}\\n')\n"
               "sys.stdout.buffer.write(out)\n")
    res = subprocess.run([sys.executable, "-c", measure, sys.executable, "-m", "regaudit", *map(str, argv)], cwd=cwd,
                         env=e, capture_output=True)
    code, maxrss = (int(x) for x in res.stderr.decode().split()[-2:])
    peak = maxrss / (1 << 20 if sys.platform == "darwin" else 1 << 10)
    assert time.monotonic() - start < 30
    return code, peak, res.stdout


def dupes_cached(capsys, cache, *extra):
    """``regaudit dupes --json`` of the ``ds`` dataset with the hash cache ``cache``."""
    return run(capsys, "dupes", "--train", "train", "--reg", "reg", "--cache", cache, "--json", *extra)


def hostile_names(ds):
    """Pictures in ``ds``'s train/10_dog named with a byte that is not UTF-8 and with control
    characters, and two empty ones (findings whose paths hold \\x01 and the byte 0xfe)."""
    t = ds / "train" / "10_dog"
    textured(7, (64, 64)).save(os.path.join(os.fsencode(t), BAD), format="PNG")
    textured(8, (64, 64)).save(t / CTRL)
    (t / "zero\x01.png").write_bytes(b"")  # findings whose paths hold \x01 and the byte 0xfe
    with open(os.path.join(os.fsencode(t), b"\xfe.png"), "wb"):
        pass
    return t


@pytest.fixture
def ds(tmp_path, monkeypatch):
    """train/10_dog and reg/1_dog with distinct pictures; cwd is tmp_path; the cache in tmp_path/xdg."""
    t, r = tmp_path / "train" / "10_dog", tmp_path / "reg" / "1_dog"
    t.mkdir(parents=True)
    r.mkdir(parents=True)
    for k in range(3):
        textured(k, (64, 64)).save(t / f"t{k}.png")
        textured(20 + k, (64, 64)).save(r / f"r{k}.png")
    (t / "t1.caption").write_text("a dog")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    return tmp_path


@pytest.fixture
def ds_captioned(tmp_path, monkeypatch):
    """train/10_dog (12 captioned pictures, long names) and reg/1_dog; cwd is tmp_path."""
    t, r = tmp_path / "train" / "10_dog", tmp_path / "reg" / "1_dog"
    t.mkdir(parents=True)
    r.mkdir(parents=True)
    for k in range(12):
        textured(k, (64, 64)).save(t / f"a_rather_long_picture_name_{k:03d}.png")
        (t / f"a_rather_long_picture_name_{k:03d}.caption").write_text("a dog, sitting, in a park, " * 4)
    for k in range(3):
        textured(40 + k, (64, 64)).save(r / f"r{k}.png")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    yield tmp_path
    # the deep trees some tests make would break pytest's own (recursive) clean-up of old temp
    # folders in a later run: rm removes them without recursion
    if shutil.which("rm"):
        subprocess.run(["rm", "-rf", str(tmp_path)], check=False)
