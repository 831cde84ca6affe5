"""musubi-tuner configs of many datasets (issue 21, cause 6): each folder listed once, each bucket
set made once, and the config bounded as sd-scripts' configs are (one line, exit 2)."""

from __future__ import annotations

import glob
import json
import os

import pytest

pytest.importorskip("toml")

from regaudit.cli import main  # noqa: E402
from regaudit.musubi import buckets, listing, training  # noqa: E402
from tests.conftest import make_image  # noqa: E402


def _per_pattern(directory: str, caption_extension: str | None) -> list[str]:
    """media_utils.glob_images as musubi writes it: a glob per extension, then one of the captions."""
    paths = set()
    for ext in listing.IMAGE_EXTENSIONS:
        paths.update(glob.glob(os.path.join(glob.escape(directory), "*" + ext)))
    if caption_extension is not None:
        bases = {os.path.splitext(os.path.basename(p))[0]
                 for p in glob.glob(os.path.join(glob.escape(directory), "*" + caption_extension))}
        paths = {p for p in paths if os.path.splitext(os.path.basename(p))[0] in bases}
    return sorted(paths)


@pytest.fixture
def odd_folder(tmp_path):
    """Names each glob treats its own way: hidden, mixed-case and upper-case extensions, a folder
    named like an image, glob's magic characters in the folder's and the files' names."""
    d = tmp_path / "img [1]*"
    for name in ("a.png", "b.PNG", "c.Png", ".d.png", "e.jpeg", "f[x].webp", "g.avif", "h.bmp", "i.JPG", "j.gif"):
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(b"x")
    (d / "k.png").mkdir()  # a folder named like an image: glob lists it too
    for stem in ("a", "b", "c", ".d", "f[x]", "g", "k", "z"):
        (d / f"{stem}.txt").write_text("cap")
    (d / "h.caption").write_text("cap")
    return d


@pytest.mark.parametrize("caption_extension", [".txt", ".caption", None, "", "[.]txt", "*"])
def test_one_listing_globs_as_a_glob_per_extension(odd_folder, caption_extension):
    got = listing.glob_images(str(odd_folder), caption_extension)
    assert got == _per_pattern(str(odd_folder), caption_extension)
    assert got  # (each case lists something)


def test_the_listing_is_globs_own(odd_folder, tmp_path, monkeypatch):
    """The folder listed directly gives what glob gives: for a plain folder, one whose name ends
    in a separator or holds two, the working folder (''), a missing one, a file."""
    plain = tmp_path / "plain"
    plain.mkdir()
    for name in ("a.png", ".h.png", "b.txt"):
        (plain / name).write_bytes(b"x")
    (plain / "sub").mkdir()
    monkeypatch.chdir(plain)
    for folder in (str(plain), str(plain) + "/", str(tmp_path) + "//plain", "", ".", "sub", str(tmp_path / "gone"),
                   str(plain / "a.png"), glob.escape(str(odd_folder)), str(tmp_path / "pl*")):
        want = glob.glob(os.path.join(folder, "*"))
        assert [p for _, p in listing.glob_all(folder)] == want, folder


def test_a_missing_folder_lists_nothing(tmp_path):
    assert listing.glob_images(str(tmp_path / "gone"), ".txt") == _per_pattern(str(tmp_path / "gone"), ".txt") == []


def test_the_cache_folder_is_listed_once_and_read_as_a_pattern(tmp_path):
    for folder in ("c1", "c2"):
        for name in ("a_0512x0512_qi.safetensors", "a_qi_te.safetensors", "b_0512x0512_wan.safetensors",
                     ".h_0512x0512_qi.safetensors", "x.txt"):
            (tmp_path / folder).mkdir(exist_ok=True)
            (tmp_path / folder / name).write_bytes(b"")
    for pattern in (str(tmp_path / "c1"), str(tmp_path / "c*")):  # (musubi does not escape it)
        lat = [os.path.basename(p) for p in glob.glob(os.path.join(pattern, "*_qi.safetensors"))]
        te = {os.path.basename(p) for p in glob.glob(os.path.join(pattern, "*_qi_te.safetensors"))}
        assert training.existing_caches(pattern, "qi") == (sorted(lat), te)
    assert training.existing_caches(str(tmp_path / "c*"), "qi") == (
        ["a_0512x0512_qi.safetensors"] * 2, {"a_qi_te.safetensors"})


def test_a_bucket_set_is_made_once_per_resolution():
    one = buckets.selector((512, 512), True, False, 16)
    assert buckets.selector((512, 512), True, False, 16) is one
    assert buckets.selector((512, 768), True, False, 16) is not one
    fresh = buckets.BucketSelector((512, 512), True, False, 16)
    assert one.bucket_resolutions == fresh.bucket_resolutions and one.get_bucket_resolution((300, 200)) == \
        fresh.get_bucket_resolution((300, 200))


def _run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_many_datasets_in_a_json_config(capsys, tmp_path, monkeypatch):
    """A JSON config (musubi reads those too) of 300 datasets, a folder each: every one listed."""
    png = make_image(tmp_path / "one.png")
    datasets = []
    for k in range(300):
        folder = tmp_path / "img" / str(k)
        folder.mkdir(parents=True)
        os.link(png, folder / "a.png")
        (folder / "a.txt").write_text("a dog")
        datasets.append({"image_directory": str(folder), "num_repeats": 1 + k % 3})
    cfg = tmp_path / "ds.json"
    cfg.write_text(json.dumps({"general": {"resolution": 512, "caption_extension": ".txt"}, "datasets": datasets}))
    rc, out, err = _run(capsys, "balance", "--json", "qwen_image_train_network.py", "--dataset_config", str(cfg),
                        "--max_train_epochs", "1")
    doc = json.loads(out)
    assert len(doc["musubi"]["datasets"]) == 300
    assert doc["musubi"]["after_caching_steps"]["batches_per_epoch"] == 100 * (1 + 2 + 3)
    # in worker processes (forked here; spawned as on macOS and Windows), the same document
    from regaudit import parallel
    from regaudit.views import musubi as musubi_view

    monkeypatch.setattr(musubi_view, "_PARALLEL_MIN", 2)
    monkeypatch.setattr(musubi_view, "_CHUNK", 7)
    for fork in (True, False):
        monkeypatch.setattr(parallel, "_FORK", fork)
        rc, again, err = _run(capsys, "balance", "--json", "-j", "2", "qwen_image_train_network.py", "--dataset_config",
                              str(cfg), "--max_train_epochs", "1")
        assert rc == 0 and again == out, err
    monkeypatch.undo()
    # the human views show the first 200 datasets, then how many more --json has
    for command in ("scan", "balance"):
        rc, out, err = _run(capsys, command, "qwen_image_train_network.py", "--dataset_config", str(cfg),
                            "--max_train_epochs", "1")
        assert rc == 0, err
        assert "dataset 199: " in out and "dataset 200: " not in out, command
        assert "… and 100 more datasets (use --json for every one)" in out, command


@pytest.mark.parametrize("name, text, says", [
    ("big.toml", "# a comment\n" * 100_000 + "[general]\nresolution = 512\n", "is larger than 1 MiB"),
    ("deep.json", '{"datasets": ' + "[" * 10_000 + "]" * 10_000 + "}", "nested more than 64 levels deep"),
    ("tables.toml", "[[datasets]]\nimage_directory = '/x'\nx = [" + ", ".join(["{}"] * 5000) + "]\n",
     "5000 inline tables"),
    ("many.json", '{"datasets": [' + ", ".join(['{"image_directory": "/x"}'] * 50_001) + "]}",
     "many.json: 50,001 [[datasets]], more than regaudit audits of a musubi-tuner config in one run (50,000)"),
])
def test_a_config_no_musubi_user_writes_is_one_line_and_exit_2(capsys, tmp_path, name, text, says):
    """musubi reads a config of any size and shape; regaudit bounds it as it bounds sd-scripts' (a
    nesting 10,000 deep was an internal RecursionError, a 1.2 MiB TOML was parsed whole)."""
    cfg = tmp_path / name
    cfg.write_text(text)
    rc, out, err = _run(capsys, "scan", "qwen_image_train_network.py", "--dataset_config", str(cfg))
    assert rc == 2 and out == "" and says in err and len(err.strip().splitlines()) == 1, err
