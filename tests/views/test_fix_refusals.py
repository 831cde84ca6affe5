"""regaudit fix: each refusal of the done-when, for real (a read-only folder, a full target through
RLIMIT_FSIZE, SIGTERM and SIGKILL mid-copy), in a subprocess running the ``regaudit`` entry: the
original and any earlier output stay as they were, exit 2 (143 / -9 for the signals) and one line."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from regaudit.cli import main
from tests.conftest import make_image, tree_fingerprint

REPO = str(Path(__file__).resolve().parents[2])
posix = pytest.mark.skipif(os.name == "nt", reason="POSIX signals, modes and rlimits")

# the regaudit entry (Ctrl-C and SIGTERM handled as `regaudit` does), with shutil.copy2 wrapped: on its
# third call it runs the hook given in REGAUDIT_TEST_HOOK (a signal to send to itself)
_ENTRY = (
    "import os, shutil, signal, sys\n"
    "hook = os.environ.get('REGAUDIT_TEST_HOOK')\n"
    "real, calls = shutil.copy2, []\n"
    "def hooked(src, dst, **kw):\n"
    "    calls.append(src)\n"
    "    if hook and len(calls) == 3:\n"
    "        os.kill(os.getpid(), getattr(signal, hook))\n"
    "    return real(src, dst, **kw)\n"
    "shutil.copy2 = hooked\n"
    "sys.argv = ['regaudit'] + sys.argv[1:]\n"
    "from regaudit.entry import run\n"
    "run()\n")


@pytest.fixture
def world(tmp_path):
    """A small dataset (one file of 64 KiB: over the RLIMIT_FSIZE below)."""
    t = tmp_path / "data" / "train"
    make_image(t / "10_dog" / "a.png")
    make_image(t / "10_dog" / "b.Jpg", fmt="JPEG")
    (t / "10_dog" / "a.txt").write_text("a dog")
    (t / "10_dog" / "a_64x48_sd.npz").write_bytes(bytes(range(256)) * 256)  # 65,536 bytes
    make_image(t / "5 cat" / "d.png")
    return tmp_path


def _drop_root_override() -> None:
    """Root writes into a read-only folder: as root, CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH are
    dropped from the capability bounding set (prctl PR_CAPBSET_DROP), so that the command run next
    meets the folder's mode as any user would."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, cap, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def _run(*argv, env=None, user=False, fsize=None):
    def limit():
        if fsize is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        if user and os.geteuid() == 0:
            _drop_root_override()

    return subprocess.run([sys.executable, "-c", _ENTRY, *argv], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200", **(env or {})}, preexec_fn=limit, timeout=120)


def _one_line(err: str) -> str:
    lines = [x for x in err.splitlines() if x.strip()]
    assert len(lines) == 1, err
    return lines[0]


def _earlier(world):
    out = world / "fixed"
    assert main(["fix", str(world / "data" / "train"), "--out", str(out)]) == 0
    return out


def test_refusals_are_one_line_and_exit_2(capsys, world):
    src = world / "data" / "train"
    out = _earlier(world)
    capsys.readouterr()
    before, earlier = tree_fingerprint(world / "data"), tree_fingerprint(out)
    foreign = world / "mine"
    foreign.mkdir()
    for target, says in [(src / "10_dog" / "out", "lies inside the dataset folder"),
                         (foreign, "exists and is not an earlier 'regaudit fix' output"),
                         (world, "holds the dataset folder")]:
        rc = main(["fix", str(src), "--out", str(target)])
        _, err = capsys.readouterr()
        assert rc == 2 and says in _one_line(err)
    assert tree_fingerprint(world / "data") == before and tree_fingerprint(out) == earlier
    assert sorted(p.name for p in foreign.iterdir()) == []


@posix
def test_read_only_target_folder(world):
    """The folder DIR is to be made in is read-only (mode 0555; when the tests run as root, without
    root's override of modes): exit 2, one line, nothing written; an earlier output in it stays."""
    if sys.platform != "linux" and os.geteuid() == 0:
        pytest.skip("root ignores folder modes here")
    out = _earlier(world)
    before, earlier = tree_fingerprint(world / "data"), tree_fingerprint(out)
    os.chmod(world, 0o555)
    try:
        for target in (world / "new", out):
            try:
                proc = _run("fix", str(world / "data" / "train"), "--out", str(target), "--no-progress", user=True)
            except subprocess.SubprocessError as exc:  # (a container without CAP_SETPCAP)
                pytest.skip(f"cannot drop root's override of folder modes: {exc}")
            line = _one_line(proc.stderr)
            assert proc.returncode == 2 and "Permission denied" in line and "nothing was written" in line, proc.stderr
    finally:
        os.chmod(world, 0o755)
    assert not (world / "new").exists()
    assert tree_fingerprint(world / "data") == before and tree_fingerprint(out) == earlier
    assert sorted(p.name for p in world.iterdir()) == ["data", "fixed"]


@posix
def test_full_target(world):
    """RLIMIT_FSIZE of 32 KiB: writing the 64 KiB latent cache fails with EFBIG (Python ignores
    SIGXFSZ) as a full disk would: exit 2, one line, the temporary folder removed, the earlier
    output intact."""
    out = _earlier(world)
    before, earlier = tree_fingerprint(world / "data"), tree_fingerprint(out)
    proc = _run("fix", str(world / "data" / "train"), "--out", str(out), "--no-progress", fsize=32 * 1024)
    line = _one_line(proc.stderr)
    assert proc.returncode == 2 and "File too large" in line and "nothing was written" in line, proc.stderr
    assert tree_fingerprint(world / "data") == before and tree_fingerprint(out) == earlier
    assert sorted(p.name for p in world.iterdir()) == ["data", "fixed"]


@posix
def test_sigterm_mid_copy(world):
    """SIGTERM on the third copied file: the temporary folder removed, exit 143, 'regaudit:
    terminated'; the earlier output and the original intact."""
    out = _earlier(world)
    before, earlier = tree_fingerprint(world / "data"), tree_fingerprint(out)
    proc = _run("fix", str(world / "data" / "train"), "--out", str(out), "--no-progress",
                env={"REGAUDIT_TEST_HOOK": "SIGTERM"})
    assert proc.returncode == 143 and _one_line(proc.stderr) == "regaudit: terminated", proc.stderr
    assert tree_fingerprint(world / "data") == before and tree_fingerprint(out) == earlier
    assert sorted(p.name for p in world.iterdir()) == ["data", "fixed"]


@posix
def test_sigkill_mid_copy(world):
    """SIGKILL on the third copied file (137 in a shell): only the marked temporary folder is left,
    the earlier output and the original intact; the next fix removes it."""
    out = _earlier(world)
    before, earlier = tree_fingerprint(world / "data"), tree_fingerprint(out)
    proc = _run("fix", str(world / "data" / "train"), "--out", str(out), "--no-progress",
                env={"REGAUDIT_TEST_HOOK": "SIGKILL"})
    assert proc.returncode == -signal.SIGKILL and proc.stderr == ""
    assert tree_fingerprint(world / "data") == before and tree_fingerprint(out) == earlier
    left = [p.name for p in world.iterdir() if p.name not in ("data", "fixed")]
    assert len(left) == 1 and left[0].startswith(".fixed.") and left[0].endswith(".tmp")
    assert main(["fix", str(world / "data" / "train"), "--out", str(out)]) == 0
    assert sorted(p.name for p in world.iterdir()) == ["data", "fixed"]
