"""Hostile standard streams: a reader that has gone (exit 0, quietly), stdout on a full disk or
cut short partway, stdout or stderr closed at start."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests import platforms
from tests.hostile_fixtures import ROOT, child, file_size_limit
from tests.hostile_fixtures import ds, ds_captioned  # noqa: F401 (fixtures)


def test_broken_pipe_exits_0_quietly(ds):
    for argv in (["rules"], ["rules", "--json"], ["scan", "--json", "train"], ["scan", "train"]):
        read, write = os.pipe()
        os.close(read)  # the reader has gone before the first write (regaudit rules | head -1)
        try:
            res = subprocess.run([sys.executable, "-m", "regaudit", *argv], stdout=write, stderr=subprocess.PIPE,
                                 cwd=ds, timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        finally:
            os.close(write)
        assert res.returncode == 0 and res.stderr == b"", (argv, res.stderr)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_stdout_on_a_full_disk_is_one_line(ds):
    for argv in (["rules"], ["scan", "--json", "train"]):
        with open("/dev/full", "w") as full:
            res = subprocess.run([sys.executable, "-m", "regaudit", *argv], stdout=full, stderr=subprocess.PIPE,
                                 cwd=ds, timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        err = res.stderr.decode()
        assert res.returncode == 2 and "standard output" in err and "No space left" in err
        assert len(err.strip().splitlines()) == 1, err


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE")
@pytest.mark.parametrize("argv", [
    ["scan", "train", "--images"],
    ["balance", "--train_data_dir", "train", "--reg_data_dir", "reg", "--images"],
    ["captions", "train"],
    ["check", "train", "--format", "junit"],
    ["scan", "train", "--json"],
])
def test_output_cut_short_by_a_full_disk_is_exit_2(ds_captioned, argv):
    """The disk fills partway (RLIMIT_FSIZE of 1 KiB: the kernel takes part of a write, then
    refuses): one line naming standard output, exit 2 (Python's buffered writer used to drop the
    rest silently and exit 0)."""
    out = ds_captioned / "out.txt"
    with open(out, "wb") as fh:
        res = child(*argv, cwd=ds_captioned, stdout=fh, preexec_fn=file_size_limit(1024))
    err = res.stderr.decode()
    assert res.returncode == 2, (argv, err, out.stat().st_size)
    assert "standard output" in err and len(err.strip().splitlines()) == 1, err


@platforms.preexec
def test_closed_stdout_or_stderr(ds):
    """Started with stdout closed: one line on stderr, exit 2. With stderr closed: the output as
    usual."""
    e = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "regaudit", "scan", "--train", "train", "--reg", "reg", "--json"]
    no_out = subprocess.run(cmd, capture_output=False, stdout=None, stderr=subprocess.PIPE, env=e, timeout=60,
                            preexec_fn=lambda: os.close(1))
    assert no_out.returncode == 2 and b"standard output" in no_out.stderr and b"Traceback" not in no_out.stderr
    no_err = subprocess.run(cmd, stdout=subprocess.PIPE, env=e, timeout=60, preexec_fn=lambda: os.close(2))
    assert no_err.returncode == 0 and json.loads(no_err.stdout)["command"] == "scan"
