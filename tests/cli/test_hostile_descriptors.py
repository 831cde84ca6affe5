"""The process's own limits: out of file descriptors is the run's problem (one line naming the
file and 'ulimit -n', exit 2), never a finding on a healthy file; a hard limit too low to run is
refused up front."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys

import pytest

from tests import platforms
from tests.hostile_fixtures import ROOT, one_line_error, run
from tests.hostile_fixtures import ds  # noqa: F401 (a fixture)


@pytest.mark.parametrize("where", ["image", "caption", "folder", "pillow"])
def test_no_file_descriptor_left_is_one_line_not_a_finding(capsys, ds, monkeypatch, where):
    """Out of file descriptors (EMFILE) is the run's problem: one line naming the file and what to
    do, exit 2; never an 'unreadable' finding on a healthy image, caption or folder."""
    import regaudit.sdscripts.images as images

    real_open, real_scandir = os.open, os.scandir
    emfile = OSError(errno.EMFILE, "Too many open files")

    def fake_open(path, *a, **k):
        if (where == "image" and str(path).endswith("t0.png")) or (where == "caption" and str(path).endswith(".caption")):
            raise emfile
        return real_open(path, *a, **k)

    def fake_scandir(path="."):
        if where == "folder" and str(path).endswith("1_dog"):
            raise emfile
        return real_scandir(path)

    monkeypatch.setattr(os, "open", fake_open)
    monkeypatch.setattr(os, "scandir", fake_scandir)
    if where == "pillow":  # Pillow imports a plugin and fails: the image is not at fault
        (ds / "train" / "10_dog" / "t0.png").write_bytes(b"BM" + b"\0" * 60)  # (a header Pillow must read)

        def fake_pil():
            raise emfile
        monkeypatch.setattr(images, "_pil", fake_pil)
    code, out, err = run(capsys, "scan", "--train", "train", "--reg", "reg", "--json", "-j", "1")
    one_line_error(code, err, "ulimit -n")
    assert "t0.png" in err or ".caption" in err or "1_dog" in err


@platforms.rlimits
def test_too_few_file_descriptors_are_refused_up_front(ds):
    """A hard open-files limit too low to run is one line and exit 2 before anything is read; a
    low soft limit under a higher hard one is raised and the run goes on."""
    import resource

    e = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "regaudit", "scan", "--train", "train", "--reg", "reg", "--json"]
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    low = subprocess.run(cmd, capture_output=True, env=e, timeout=60,
                         preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (24, 24)))
    one_line_error(low.returncode, low.stderr.decode(), "ulimit -n")
    if hard == resource.RLIM_INFINITY or hard >= 256:
        soft_only = subprocess.run(cmd, capture_output=True, env=e, timeout=60,
                                   preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (24, hard)))
        assert soft_only.returncode == 0, soft_only.stderr
        assert json.loads(soft_only.stdout)["command"] == "scan"


def test_no_descriptor_left_anywhere_else_is_one_line(capsys, ds, monkeypatch):
    """Out of descriptors where no file is to blame (an import, a cache): one line, exit 2."""
    import regaudit.views.scan as scan_module

    def no_fd():
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(scan_module, "shared_counter", no_fd)
    code, out, err = run(capsys, "scan", "--train", "train", "--reg", "reg", "--json")
    one_line_error(code, err, "ulimit -n")
