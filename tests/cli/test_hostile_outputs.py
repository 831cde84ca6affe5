"""Hostile inputs for the files regaudit writes (-o, the report page, the GitHub job summary):
never a user's file or one inside the dataset, never a FIFO or a folder, the earlier output kept
when a write fails, and a disk that fills partway is one line and exit 2."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import sys

import pytest

from tests import platforms
from tests.conftest import tree_fingerprint
from tests.hostile_fixtures import child, cli, file_size_limit, nest, one_line_error, run
from tests.hostile_fixtures import ds, ds_captioned  # noqa: F401 (fixtures)


@pytest.mark.parametrize("target", ["train/10_dog/t0.png", "train/10_dog/t1.caption", "reg/1_dog/../1_dog/r0.png",
                                    "train/new.html"])
@pytest.mark.parametrize("command", ["report", "check"])
def test_output_inside_the_dataset_is_refused(capsys, ds, command, target):
    before = tree_fingerprint(ds / "train"), tree_fingerprint(ds / "reg")
    extra = ["--no-dupes", "--no-cache"] if command == "report" else []
    code, _, err = run(capsys, command, "--train", "train", "--reg", "reg", *extra, "-o", target, "--force")
    one_line_error(code, err, "inside the dataset folder")
    assert (tree_fingerprint(ds / "train"), tree_fingerprint(ds / "reg")) == before


@platforms.symlinks
def test_output_through_a_symlink_or_from_inside_the_dataset_is_refused(capsys, ds, monkeypatch):
    os.symlink(ds / "train" / "10_dog" / "t0.png", ds / "link.html")
    os.symlink(ds / "train" / "10_dog", ds / "dir")
    before = tree_fingerprint(ds / "train")
    for target in ("link.html", "dir/report.html"):
        code, _, err = run(capsys, "report", "--train", "train", "--no-dupes", "--no-cache", "-o", target)
        one_line_error(code, err, "inside the dataset folder")
    monkeypatch.chdir(ds / "train")  # cd T && regaudit report --train .
    code, _, err = run(capsys, "report", "--train", ".", "--no-dupes", "--no-cache")
    one_line_error(code, err, "inside the dataset folder")
    assert tree_fingerprint(ds / "train") == before
    assert os.path.islink(ds / "link.html")


@pytest.mark.skipif(not platforms.ROOT_USER or not shutil.which("mount"), reason="bind mounts need root")
def test_output_and_cache_inside_the_dataset_through_a_bind_mount_are_refused(capsys, ds):
    mnt = ds / "mnt"
    mnt.mkdir()
    if subprocess.run(["mount", "--bind", str(ds / "train"), str(mnt)], capture_output=True).returncode != 0:
        pytest.skip("mount --bind is not permitted here")
    try:
        before = tree_fingerprint(ds / "train")
        code, _, err = run(capsys, "check", "--train", "train", "-o", mnt / "10_dog" / "out.txt")
        one_line_error(code, err, "inside the dataset folder")
        code, _, err = run(capsys, "dupes", "--train", "train", "--cache", mnt / "c.sqlite")
        assert code == 2 and "never writes into a dataset" in err
        assert tree_fingerprint(ds / "train") == before
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


@pytest.mark.parametrize("fmt", ["human", "json", "junit", "github"])
def test_check_output_replaces_only_its_own_files(capsys, ds, fmt):
    out = ds / f"out.{fmt}"
    out.write_text("my notes\n")
    code, _, err = run(capsys, "check", "--train", "train", "--format", fmt, "-o", out)
    one_line_error(code, err, "was not written by regaudit; pass --force")
    assert out.read_text() == "my notes\n"
    code, _, err = run(capsys, "check", "--train", "train", "--format", fmt, "-o", out, "--force")
    assert code == 0 and out.read_text() != "my notes\n"
    first = out.read_bytes()
    code, _, err = run(capsys, "check", "--train", "train", "--format", fmt, "-o", out)  # its own: no --force needed
    assert code == 0 and out.read_bytes() == first
    assert sorted(p.name for p in ds.iterdir() if p.name.startswith(".out")) == []  # no temporary file left


def test_report_replaces_only_its_own_page(capsys, ds):
    page = ds / "report.html"
    page.write_text("<html>mine</html>")
    code, _, err = run(capsys, "report", "--train", "train", "--no-dupes", "--no-cache")
    one_line_error(code, err, "pass --force")
    assert page.read_text() == "<html>mine</html>"
    assert run(capsys, "report", "--train", "train", "--no-dupes", "--no-cache", "--force")[0] == 0
    assert run(capsys, "report", "--train", "train", "--no-dupes", "--no-cache")[0] == 0
    assert "<!-- generator: regaudit -->" in page.read_text()


@platforms.fifos
def test_output_that_is_not_a_regular_file_is_refused_without_waiting(ds):
    os.mkfifo(ds / "fifo.html")
    (ds / "folder.html").mkdir()
    for target in ("fifo.html", "folder.html"):
        res = cli("report", "--train", "train", "--no-dupes", "--no-cache", "-o", target, "--force", cwd=ds, timeout=60)
        assert res.returncode == 2 and b"regular file" in res.stderr
    assert stat.S_ISFIFO(os.stat(ds / "fifo.html").st_mode)


@platforms.fifos
def test_github_step_summary_that_is_a_fifo_never_blocks(ds):
    os.mkfifo(ds / "summary")
    res = cli("check", "--train", "train", cwd=ds, env={"GITHUB_STEP_SUMMARY": str(ds / "summary")}, timeout=60)
    assert res.returncode == 2 and b"job summary" in res.stderr


def test_a_failed_write_keeps_the_earlier_output(capsys, ds, monkeypatch):
    out = ds / "out.json"
    assert run(capsys, "check", "--train", "train", "--format", "json", "-o", out)[0] == 0
    earlier = out.read_bytes()
    import regaudit.outputs as outputs

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(outputs.os, "write", full)
    code, _, err = run(capsys, "check", "--train", "train", "--format", "json", "-o", out)
    one_line_error(code, err, "No space left on device")
    assert str(out) in err or "out.json" in err
    assert out.read_bytes() == earlier
    assert [p.name for p in ds.iterdir() if p.name.endswith(".tmp")] == []


def test_missing_output_folder_is_one_line(capsys, ds):
    code, _, err = run(capsys, "check", "--train", "train", "-o", ds / "nope" / "out.txt")
    one_line_error(code, err, "does not exist")


def test_an_output_folder_longer_than_the_system_takes_is_named_so(capsys, ds):
    """A folder 4,800 bytes deep exists, but no call takes its whole path: one line that says so."""
    os.close(nest(ds, 24, "o" * 200))
    deep = str(ds) + ("/" + "o" * 200) * 24
    for argv in (["check", "--train", "train", "-o", f"{deep}/out.txt"],
                 ["report", "train", "--no-dupes", "-o", f"{deep}/r.html"]):
        code, _, err = run(capsys, *argv)
        one_line_error(code, err, "bytes long, more than this system takes in one path; choose a shorter path")


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE")
@pytest.mark.parametrize("argv", [["report", "train", "-o", "out.html", "--no-dupes"],
                                  ["check", "train", "--format", "junit", "-o", "out.xml"]])
def test_output_file_cut_short_by_a_full_disk_is_exit_2(ds_captioned, argv):
    res = child(*argv, cwd=ds_captioned, preexec_fn=file_size_limit(1024))
    err = res.stderr.decode()
    assert res.returncode == 2 and "out." in err and "cannot be written" in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert sorted(p.name for p in ds_captioned.iterdir()) == ["reg", "train"]  # no temp file left


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE")
def test_job_summary_cut_short_by_a_full_disk_is_exit_2(ds_captioned):
    summary = ds_captioned / "summary.md"
    summary.write_text("earlier step\n")
    res = child("check", "train", "--format", "github", cwd=ds_captioned, env={"GITHUB_STEP_SUMMARY": str(summary)},
                preexec_fn=file_size_limit(200))
    err = res.stderr.decode()
    assert res.returncode == 2 and "GITHUB_STEP_SUMMARY" in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert summary.read_text() == "earlier step\n"  # no fragment of ours left appended
