"""Listing and opening deep trees: a thousand nested folders in a subset, and a dataset whose
paths are longer than the system takes."""

from __future__ import annotations

import os

import pytest

from tests.conftest import textured
from tests.hostile_fixtures import nest as _nest
from tests.hostile_fixtures import run
from tests.hostile_fixtures import ds_captioned  # noqa: F401 (a fixture)


def _put_picture(fd: int, name: str, seed: int) -> None:
    import io

    buf = io.BytesIO()
    textured(seed, (64, 64)).save(buf, format="PNG")
    out = os.open(name, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(out, buf.getvalue())
    os.close(out)


@pytest.mark.skipif(os.open not in os.supports_dir_fd, reason="dir_fd")
@pytest.mark.parametrize("argv", [["scan", "train"], ["dupes", "train"], ["report", "train", "-o", "page.html"],
                                  ["check", "train", "--dupes"], ["captions", "train"]])
def test_a_thousand_nested_folders_in_a_subset(capsys, ds_captioned, argv):
    fd = _nest(ds_captioned / "train" / "10_dog", 1000, "dd")  # 3,000 bytes of path below the subset
    _put_picture(fd, "deep.png", 90)
    os.close(fd)
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    if argv[0] in ("scan", "check"):
        assert "1 images in nested folder 'dd' are never read" in out, out


@pytest.mark.skipif(os.open not in os.supports_dir_fd, reason="dir_fd")
def test_paths_longer_than_the_system_takes(capsys, ds_captioned, monkeypatch):
    """The dataset lies 5,000 bytes deep and is named relative to the working directory (as a
    listing reaches it): every command reads every image, finds the exact duplicate, and makes
    every thumbnail."""
    fd = _nest(ds_captioned, 20, "x" * 250)
    os.mkdir("train", dir_fd=fd)
    sub = os.open("train", os.O_RDONLY, dir_fd=fd)
    os.mkdir("10_dog", dir_fd=sub)
    leaf = os.open("10_dog", os.O_RDONLY, dir_fd=sub)
    for k in range(3):
        _put_picture(leaf, f"p{k}.png", k)
    _put_picture(leaf, "same.png", 0)
    os.fchdir(fd)
    for f in (leaf, sub, fd):
        os.close(f)
    assert len(os.getcwd()) > 5000
    code, out, err = run(capsys, "dupes", "train", "--json", "--no-cache")
    assert code == 0, err
    import json

    doc = json.loads(out)
    assert not [f for f in doc["findings"] if f["code"] == "RA041"], doc["findings"]
    assert any(g["kind"] == "exact" for g in doc["groups"]), doc["groups"]
    page = ds_captioned / "page.html"
    code, _, err = run(capsys, "report", "train", "--no-cache", "-o", page)
    assert code == 0 and "4 thumbnails" in err, err
