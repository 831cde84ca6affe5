"""Signals: Ctrl-C ignored stays ignored, SIGTERM, SIGINT and SIGHUP mid-write leave no temporary
file and exit 143 / 130 / 129 with one line, and what a SIGKILL left is removed by the next run (and nothing
else)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.hostile_fixtures import ROOT, child
from tests.hostile_fixtures import ds_captioned  # noqa: F401 (a fixture)


@pytest.mark.parametrize("inherited", ["ignored", "default"])
def test_ctrl_c_handling_keeps_an_ignored_sigint_ignored(monkeypatch, inherited):
    """A run started with Ctrl-C ignored (a background job of a script) keeps ignoring it; otherwise
    regaudit handles it from its first step (so it can say 'interrupted')."""
    import regaudit.cli  # noqa: F401  (its module 'app' is shadowed by the Typer object of that name)
    from regaudit import entry

    app_mod = sys.modules["regaudit.cli.app"]
    seen = []
    monkeypatch.setattr(app_mod, "run", lambda interrupted: seen.append(signal.getsignal(signal.SIGINT)))
    before = signal.getsignal(signal.SIGINT)
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN if inherited == "ignored" else signal.default_int_handler)
        entry.run()
        if inherited == "ignored":
            assert seen == [signal.SIG_IGN]
        else:
            assert seen and seen[0] not in (signal.SIG_IGN, signal.default_int_handler)
    finally:
        signal.signal(signal.SIGINT, before)


_SIGNAL_MID_WRITE = """
import os, signal, sys
import regaudit.outputs as outputs
real = outputs.os.fchmod
def fchmod(fd, mode):  # the text is in the temporary file: the signal arrives now
    os.kill(os.getpid(), signal.{sig})
    return real(fd, mode)
outputs.os.fchmod = fchmod
sys.argv[0] = "regaudit"
from regaudit.entry import run
run()
"""


def _default_signals() -> None:
    """In the child, as a terminal would start it (a test run in the background inherits these ignored)."""
    for name in ("SIGINT", "SIGTERM", "SIGHUP"):
        signal.signal(getattr(signal, name), signal.SIG_DFL)


def _child_with(code: str, *argv, cwd):
    e = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", code, *map(str, argv)], capture_output=True, cwd=cwd, env=e,
                          timeout=120, preexec_fn=_default_signals)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signals")
@pytest.mark.parametrize("sig, code, said", [("SIGTERM", 143, "terminated"), ("SIGINT", 130, "interrupted"),
                                             ("SIGHUP", 129, "hung up")])
@pytest.mark.parametrize("argv", [["report", "train", "--no-dupes", "-o", "out/page.html"],
                                  ["check", "train", "--format", "junit", "-o", "out/result.xml"]])
def test_a_signal_mid_write_leaves_no_temp_file(ds_captioned, sig, code, said, argv):
    (ds_captioned / "out").mkdir()
    res = _child_with(_SIGNAL_MID_WRITE.replace("{sig}", sig), *argv, cwd=ds_captioned)
    assert res.returncode == code, res.stderr.decode()
    assert list((ds_captioned / "out").iterdir()) == [], list((ds_captioned / "out").iterdir())
    err = res.stderr.decode()
    assert err.strip() == f"regaudit: {said}", err


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signals")
def test_sigterm_while_scanning_exits_143(ds_captioned):
    """SIGTERM at any moment of a run: exit 143 and one line, never a traceback."""
    e = dict(os.environ, PYTHONPATH=str(ROOT))
    for delay in (0.0, 0.3, 0.8):
        p = subprocess.Popen([sys.executable, "-m", "regaudit", "dupes", "train", "--no-cache"], cwd=ds_captioned,
                             env=e, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(delay)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=60)
        assert p.returncode in (143, 0, -signal.SIGTERM), err  # (0: done first; -15: before the handler)
        assert b"Traceback" not in err and b"internal error" not in err, err


@pytest.mark.skipif(not hasattr(signal, "SIGKILL") or not hasattr(os, "geteuid"), reason="POSIX")
def test_temp_files_a_killed_run_left_are_removed_by_the_next_and_nothing_else(ds_captioned):
    out = ds_captioned / "out"
    out.mkdir()
    killed = _child_with(_SIGNAL_MID_WRITE.replace("{sig}", "SIGKILL"), "report", "train", "--no-dupes",
                         "-o", "out/page.html", cwd=ds_captioned)
    assert killed.returncode == -signal.SIGKILL
    left = [p.name for p in out.iterdir()]
    assert len(left) == 1 and left[0].startswith(".page.html.") and left[0].endswith(".tmp"), left
    (out / ".page.html.abcd1234.tmp").write_bytes(b"")  # an empty one (killed before the first byte)
    keep = {".page.html.user0001.tmp": b"my notes", ".page.html.tmp": b"<!-- generator: regaudit -->",
            ".page.html.abcd12345.tmp": b"<!-- generator: regaudit -->", ".other.html.abcd1234.tmp": b"",
            "page.html.abcd1234.tmp": b""}
    for name, data in keep.items():
        (out / name).write_bytes(data)
    os.symlink(ds_captioned / "train" / "10_dog" / "a_rather_long_picture_name_000.png",
               out / ".page.html.link0001.tmp")
    res = child("report", "train", "--no-dupes", "-o", "out/page.html", cwd=ds_captioned)
    assert res.returncode == 0, res.stderr.decode()
    assert sorted(p.name for p in out.iterdir()) == sorted([*keep, ".page.html.link0001.tmp", "page.html"])
    for name, data in keep.items():
        assert (out / name).read_bytes() == data
