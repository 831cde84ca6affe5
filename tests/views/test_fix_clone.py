"""regaudit fix: unchanged files cloned (FICLONE) where the filesystem offers it, else copied."""

from __future__ import annotations

import errno
import json
import os

import pytest

from regaudit.cli import main
from regaudit.views import fix_clone
from regaudit.views.fix_clone import FICLONE, Copier
from tests.conftest import make_image


def _src(tmp_path):
    src = tmp_path / "a.png"
    src.write_bytes(b"\x89PNG pixels")
    os.chmod(src, 0o640)
    os.utime(src, ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    return src


def test_no_reflink_here_falls_back_to_a_copy_and_stops_asking(tmp_path, monkeypatch):
    """ext4 and tmpfs (this machine) refuse FICLONE with EOPNOTSUPP: a plain copy, same bytes, mode
    and mtime; the next file of that device is copied without a second ioctl."""
    fcntl = pytest.importorskip("fcntl")
    src = _src(tmp_path)
    calls = []

    def refuse(fd, request, arg):
        calls.append(request)
        raise OSError(errno.EOPNOTSUPP, "Operation not supported")

    monkeypatch.setattr(fcntl, "ioctl", refuse)
    c = Copier(clone=True)
    c.copy(str(src), str(tmp_path / "b.png"))
    c.copy(str(src), str(tmp_path / "c.png"))
    assert calls == [FICLONE] and (c.cloned, c.copied) == (0, 2)
    for name in ("b.png", "c.png"):
        st = os.stat(tmp_path / name)
        assert (tmp_path / name).read_bytes() == b"\x89PNG pixels"
        assert (st.st_mode & 0o777, st.st_mtime_ns) == (0o640, 1_600_000_000_000_000_000)


def test_the_real_ioctl_on_this_filesystem(tmp_path):
    """Unpatched: cloned where the filesystem has reflink (btrfs, XFS), copied elsewhere; the bytes
    are the same either way."""
    src = _src(tmp_path)
    c = Copier()
    c.copy(str(src), str(tmp_path / "b.png"))
    assert (tmp_path / "b.png").read_bytes() == b"\x89PNG pixels" and c.cloned + c.copied == 1


def test_reflink_path(tmp_path, monkeypatch):
    """Where the ioctl succeeds (a monkeypatched FICLONE that fills the new file as the kernel's
    clone would), no copy is made and the mode and mtime are the source's."""
    fcntl = pytest.importorskip("fcntl")
    src = _src(tmp_path)
    seen = []

    def clone(fd, request, src_fd):
        seen.append(request)
        os.write(fd, os.pread(src_fd, 1 << 20, 0))
        return 0

    monkeypatch.setattr(fcntl, "ioctl", clone)
    monkeypatch.setattr(fix_clone.shutil, "copy2", lambda *a, **k: pytest.fail("copied instead of cloned"))
    c = Copier(clone=True)
    c.copy(str(src), str(tmp_path / "b.png"))
    assert seen == [0x40049409] and (c.cloned, c.copied) == (1, 0)
    st = os.stat(tmp_path / "b.png")
    assert (tmp_path / "b.png").read_bytes() == b"\x89PNG pixels"
    assert (st.st_mode & 0o777, st.st_mtime_ns) == (0o640, 1_600_000_000_000_000_000)


def test_another_filesystem_is_asked_once_per_source_device(tmp_path, monkeypatch):
    """EXDEV (the source on another filesystem than DIR): that device's files are copied from then on,
    while the target may still clone the files of other devices."""
    fcntl = pytest.importorskip("fcntl")
    src = _src(tmp_path)
    calls = []

    def cross(fd, request, arg):
        calls.append(request)
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(fcntl, "ioctl", cross)
    c = Copier(clone=True)
    c.copy(str(src), str(tmp_path / "b.png"))
    c.copy(str(src), str(tmp_path / "c.png"))
    assert calls == [FICLONE] and c.clone and c.refused == {os.stat(src).st_dev} and (c.cloned, c.copied) == (0, 2)


def test_a_real_error_of_the_clone_is_raised(tmp_path, monkeypatch):
    fcntl = pytest.importorskip("fcntl")
    src = _src(tmp_path)

    def fail(fd, request, arg):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(fcntl, "ioctl", fail)
    with pytest.raises(OSError) as exc:
        Copier(clone=True).copy(str(src), str(tmp_path / "b.png"))
    assert exc.value.errno == errno.ENOSPC


def test_not_linux_copies(tmp_path):
    src = _src(tmp_path)
    c = Copier(clone=False)
    c.copy(str(src), str(tmp_path / "b.png"))
    assert (c.cloned, c.copied) == (0, 1) and (tmp_path / "b.png").read_bytes() == b"\x89PNG pixels"


def test_manifest_counts_the_unchanged_files(capsys, tmp_path):
    """The messy tree of test_fix: 5 unchanged files (a.png, b.Jpg -> b.jpg, b.txt -> b.caption, the
    latent cache, d.png) cloned or copied; 2 captions written new; with --hardlink the 5 linked."""
    t = tmp_path / "data" / "train"
    make_image(t / "10_dog" / "a.png")
    make_image(t / "10_dog" / "b.Jpg", fmt="JPEG")
    (t / "10_dog" / "a.txt").write_bytes(b"\xef\xbb\xbfa dog\r\n\r\n")
    (t / "10_dog" / "b.txt").write_text("b dog")
    (t / "10_dog" / "a_64x48_sd.npz").write_bytes(b"latents")
    make_image(t / "5 cat" / "d.png")
    (t / "5 cat" / "d.caption").write_bytes(b"a cat\r\nsecond\r\n")
    assert main(["fix", str(t), "--out", str(tmp_path / "o")]) == 0
    copies = json.loads((tmp_path / "o" / "regaudit-fix.json").read_text())["copies"]
    assert copies["cloned"] + copies["copied"] == 5 and copies["hardlinked"] == 0
    assert main(["fix", str(t), "--out", str(tmp_path / "h"), "--hardlink"]) == 0
    out, _ = capsys.readouterr()
    assert json.loads((tmp_path / "h" / "regaudit-fix.json").read_text())["copies"] == {
        "cloned": 0, "copied": 0, "hardlinked": 5}
    assert "unchanged files: 5 hardlinked" in out


def test_a_sparse_file_is_copied_with_its_holes(tmp_path):
    """A file with holes (a 64 MiB caption of three short runs of data) is copied byte for byte, its
    holes left holes: not written out as zeros."""
    import hashlib

    src = tmp_path / "big.txt"
    with open(src, "wb") as fh:
        fh.write(b"a dog")
        fh.seek(32 << 20)
        fh.write(b", sitting")
        fh.seek((64 << 20) - 4)
        fh.write(b"tail")
    st = os.stat(src)
    if not hasattr(os, "SEEK_DATA") or st.st_blocks * 512 >= st.st_size:
        pytest.skip("this filesystem keeps no holes")
    copier = Copier(clone=False)
    copier.copy(str(src), str(tmp_path / "copy.txt"))
    new = os.stat(tmp_path / "copy.txt")
    assert copier.copied == 1 and new.st_size == st.st_size and new.st_blocks * 512 < 1 << 20
    assert hashlib.sha256((tmp_path / "copy.txt").read_bytes()).digest() == hashlib.sha256(src.read_bytes()).digest()
    assert new.st_mtime_ns == st.st_mtime_ns and new.st_mode == st.st_mode
