"""A hostile environment: the working directory deleted under a run, and a COLUMNS that is no
terminal width."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.hostile_fixtures import child, one_line_error
from tests.hostile_fixtures import ds_captioned  # noqa: F401 (a fixture)


def _in_deleted_folder(tmp_path: Path):
    gone = tmp_path / "gone"
    gone.mkdir()
    return gone, (lambda: os.rmdir(gone))  # (runs in the child after its chdir: the shell's 'rmdir' of its cwd)


@pytest.mark.parametrize("argv", [
    ["scan", "{t}"], ["scan", "{t}", "--json"], ["balance", "--train_data_dir", "{t}", "--reg_data_dir", "{r}"],
    ["dupes", "{t}"], ["captions", "{t}"], ["check", "{t}", "--format", "junit"], ["check", "{t}", "--format", "github"],
    ["report", "{t}", "-o", "{out}"],
    # fix: every token of the command is looked up among the dataset paths (--resolution's '512' too)
    ["fix", "--train_data_dir", "{t}", "--resolution", "512", "--out", "{fixed}"],
    ["fix", "--train_data_dir", "{t}", "--resolution", "512", "--unsafe-fixes", "--out", "{fixed}"]])
def test_a_deleted_working_directory_with_absolute_paths(ds_captioned, argv):
    gone, remove = _in_deleted_folder(ds_captioned)
    values = {"t": ds_captioned / "train", "r": ds_captioned / "reg", "out": ds_captioned / "page.html",
              "fixed": ds_captioned / "fixed"}
    res = child(*[a.format(**values) for a in argv], cwd=gone, preexec_fn=remove)
    assert res.returncode == 0, res.stderr.decode()
    assert b"error" not in res.stderr


@pytest.mark.parametrize("argv, needle", [
    (["scan", "train"], "train: the current folder no longer exists"),
    (["scan", "--dataset_config", "x.toml"], "x.toml: the current folder no longer exists"),
    (["report", "{t}"], "report.html: a relative path"),
    (["check", "{t}", "-o", "out.xml"], "out.xml: a relative path"),
])
def test_a_deleted_working_directory_with_a_relative_path_is_one_line(ds_captioned, argv, needle):
    gone, remove = _in_deleted_folder(ds_captioned)
    res = child(*[a.format(t=ds_captioned / "train") for a in argv], cwd=gone, preexec_fn=remove)
    one_line_error(res.returncode, res.stderr.decode(), needle)


@pytest.mark.parametrize("columns", ["0", "-5", "abc", "", "99999999999", "1", "5", "19"])
def test_nonsense_terminal_width_is_no_width(ds_captioned, columns):
    res = child("scan", "train", cwd=ds_captioned, env={"COLUMNS": columns})
    assert res.returncode == 0 and b"sd-scripts reads 12 images" in res.stdout, res
    res = child("scan", "nowhere", cwd=ds_captioned, env={"COLUMNS": columns})
    assert b"No data found" in res.stdout, res
    res = child("--bogus", cwd=ds_captioned, env={"COLUMNS": columns})
    one_line_error(res.returncode, res.stderr.decode(), "No such option")
