"""regaudit fix on hostile trees: a subset nested 1,100 folders deep (each folder looked at once, not
resolved from the root again), and a caption file far larger than any caption (copied as it is,
never cut short by a caption fix)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from regaudit.views import fix_walk
from tests.conftest import make_image
from tests.hostile_fixtures import nest
from tests.views.test_fix import run


@pytest.fixture
def deep_tmp(tmp_path):
    """tmp_path, removed with rm (pytest's own recursive clean-up cannot remove a tree 1,100 deep)."""
    yield tmp_path
    if shutil.which("rm"):
        subprocess.run(["rm", "-rf", str(tmp_path)], check=False)


@pytest.mark.skipif(shutil.which("rm") is None, reason="removes its deep tree with rm")
def test_a_deep_tree_is_copied_without_resolving_every_folder_from_the_root(deep_tmp, capsys, monkeypatch):
    tmp_path = deep_tmp
    sub = tmp_path / "train" / "10_dog"
    sub.mkdir(parents=True)
    make_image(sub / "a.png")
    (sub / "a.caption").write_text("a dog")
    fd = nest(sub, 1100, "n")
    os.close(os.open("deep.txt", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd))
    os.close(fd)
    resolved = []
    real = os.path.realpath
    monkeypatch.setattr(fix_walk.os.path, "realpath", lambda p, *a, **k: resolved.append(p) or real(p, *a, **k))
    code, out, err = run(capsys, "fix", "--train_data_dir", str(tmp_path / "train"), "--resolution", "64",
                         "--out", str(tmp_path / "fixed"))
    assert code in (0, 1), err
    assert "Traceback" not in err and len(resolved) < 50, len(resolved)  # (it was one per folder: 1,100)
    copied = tmp_path / "fixed" / "train" / "10_dog" / "a.png"
    assert copied.is_file()


def test_a_huge_caption_is_copied_whole_never_cut_by_a_caption_fix(tmp_path, capsys):
    sub = tmp_path / "train" / "10_dog"
    sub.mkdir(parents=True)
    make_image(sub / "a.png")
    big = "\ufeffa dog,\r\n" + "x" * (200 << 10) + "\r\n\r\n"  # a BOM and CRLF: what the safe caption fix cleans
    (sub / "a.caption").write_bytes(big.encode("utf-8"))
    (sub / "b.caption").write_bytes("\ufeffa dog\r\n".encode("utf-8"))
    make_image(sub / "b.png", color=(10, 200, 30))
    code, out, err = run(capsys, "fix", "--train_data_dir", str(tmp_path / "train"), "--resolution", "64",
                         "--unsafe-fixes", "--out", str(tmp_path / "fixed"))
    assert code in (0, 1), err
    dest = tmp_path / "fixed" / "train" / "10_dog"
    assert (dest / "a.caption").read_bytes() == big.encode("utf-8")  # as it was, byte for byte
    assert (dest / "b.caption").read_bytes() == b"a dog\n"  # (a caption of a normal size is still cleaned)


@pytest.mark.parametrize("name", ["meta.json", "meta.jsonl"])
def test_fine_tuning_metadata_with_a_lone_surrogate_is_copied(capsys, tmp_path, name):
    """A caption holding a '\\udc80' escape reads as a lone surrogate, which has no UTF-8: the copy of
    the metadata writes that escape again instead of stopping with an internal error (the other
    characters as they are), and reads back to the same entries."""
    import json

    imgs = tmp_path / "imgs"
    make_image(imgs / "a.png")
    key = str(imgs / "a.png")
    entry = {"caption": "a dog \udc80 café", "image_size": [64, 64]}
    meta = tmp_path / name
    if name.endswith(".jsonl"):
        meta.write_text(json.dumps({"image_path": key, **entry}) + "\n")
    else:
        meta.write_text(json.dumps({key: entry}))
    out_dir = tmp_path / "out"
    rc, _, err = run(capsys, "fix", "fine_tune.py", "--train_data_dir", str(imgs), "--in_json", str(meta),
                     "--cache_latents", "--resolution", "64", "--out", str(out_dir))
    assert rc == 0 and "internal error" not in err
    text = (out_dir / name).read_text(encoding="utf-8")
    assert "\\udc80" in text and "café" in text
    new = str(out_dir / "imgs" / "a.png")
    if name.endswith(".jsonl"):
        assert json.loads(text) == {"image_path": new, **entry}
    else:
        assert json.loads(text) == {new: entry}


def test_a_metadata_key_is_pointed_at_the_first_copied_folder_holding_it():
    """The copied folder a key lies in, found by its parent folders: the first one copied (a folder
    before the folders inside it), never the root."""
    from regaudit.placement import first_folder_above as _first_folder

    order = {"/d/a/b": 0, "/d/a": 1, "/d/c": 2}
    assert _first_folder("/d/a/b/x.png", order) == "/d/a/b"
    assert _first_folder("/d/a/x.png", order) == "/d/a"
    assert _first_folder("/d/ab/x.png", order) is None and _first_folder("/x.png", {"/": 0}) is None
    assert _first_folder("/d/a/b/x.png", {"/d/a": 0, "/d/a/b": 1}) == "/d/a"


def test_fine_tuning_metadata_nested_deeper_than_orjson_writes_is_copied(capsys, tmp_path):
    """A metadata entry holding a value nested 900 deep (json reads it; orjson writes 255 levels) is
    copied as it is, no internal error."""
    import json

    imgs = tmp_path / "imgs"
    make_image(imgs / "a.png")
    meta = tmp_path / "meta.json"
    meta.write_text('{"%s": {"caption": "a", "image_size": [64, 64], "extra": %s}}' % (imgs / "a.png", "[" * 900 + "]" * 900))
    rc, _, err = run(capsys, "fix", "fine_tune.py", "--train_data_dir", str(imgs), "--in_json", str(meta),
                     "--cache_latents", "--resolution", "64", "--out", str(tmp_path / "out"))
    assert rc == 0 and "internal error" not in err
    copied = json.loads((tmp_path / "out" / "meta.json").read_text())
    assert list(copied) == [str(tmp_path / "out" / "imgs" / "a.png")]
    assert copied[str(tmp_path / "out" / "imgs" / "a.png")]["extra"] == json.loads(meta.read_text())[str(imgs / "a.png")]["extra"]
