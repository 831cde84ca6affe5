"""regaudit fix: the corrected copy, the original untouched, the refusals."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

import pytest

from regaudit.cli import main
from regaudit.rules.fixes import (FIXED_CODES, cache_owner_stems, caption_rename, clean_caption, extension_rename,
                                  folder_rename, join_caption)
from tests.conftest import make_image, tree_fingerprint


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def messy(tmp_path):
    """A root with every safe fix: a mixed-case extension, '.txt' captions under '.caption', a
    BOM + CRLF + trailing blank lines, a '5 cat' folder, a zero-byte and a truncated image, a latent cache."""
    t = tmp_path / "data" / "train"
    make_image(t / "10_dog" / "a.png")
    make_image(t / "10_dog" / "b.Jpg", fmt="JPEG")
    (t / "10_dog" / "a.txt").write_bytes(b"\xef\xbb\xbfa dog\r\n\r\n")  # 12 bytes -> 'a dog\n' (6 bytes)
    (t / "10_dog" / "b.txt").write_text("b dog")
    (t / "10_dog" / "z.png").write_bytes(b"")
    (t / "10_dog" / "a_64x48_sd.npz").write_bytes(b"latents")
    full = make_image(t / "10_dog" / "c.png", size=(256, 256), color=(1, 2, 3)).read_bytes()
    (t / "10_dog" / "c.png").write_bytes(full[: len(full) // 2])  # truncated
    make_image(t / "5 cat" / "d.png")
    (t / "5 cat" / "d.caption").write_bytes(b"a cat\r\nsecond\r\n")
    return t


def test_rules_of_each_fix():
    assert folder_rename("10 dog") == "10_dog"
    assert folder_rename("10-dog") == "10_dog"
    assert folder_rename("dog") is None and folder_rename("dog 10") is None  # a guess, not plain
    assert folder_rename("2023-05 trip") is None  # a date, not repeats
    assert folder_rename("10_dog") is None  # sd-scripts reads it already
    assert extension_rename("a.Jpg", False) == "a.jpg"
    assert extension_rename("a.JPG", False) is None and extension_rename("a.jpg", False) is None
    assert extension_rename("a.Jpg", True) is None  # Windows' glob sees it
    assert caption_rename("a.txt", {"a"}, ".caption", {"a.txt", "a.png"}) == "a.caption"
    assert caption_rename("a.txt", {"a"}, ".caption", {"a.txt", "a.caption"}) is None  # taken
    assert caption_rename("n.txt", {"a"}, ".caption", {"n.txt"}) is None  # no image of that stem
    assert clean_caption(b"\xef\xbb\xbfa dog\r\n\r\n") == b"a dog\n"
    assert clean_caption(b"a\rb") == b"a\nb"
    assert clean_caption(b"a dog") is None  # nothing to change
    assert clean_caption(b"\xef\xbb\xbf\r\n") is None  # would leave an empty caption: sd-scripts stops on it
    assert clean_caption(b"\xff\xfe") is None  # not UTF-8: left as it is
    # lines as sd-scripts' enable_wildcard reading takes them (universal newlines, stripped, blanks dropped)
    assert join_caption(b"a dog \r\n\n  in snow,\rsmiling\n") == b"a dog, in snow, smiling\n"
    assert join_caption(b"one line\n\n") is None
    assert cache_owner_stems("a_0064x0048_sd.npz") == ("a_0064x0048_sd", "a")
    assert cache_owner_stems("a.npz") == ("a",) and cache_owner_stems("a.png") == ()


def test_plan_writes_nothing(capsys, messy):
    before = tree_fingerprint(messy.parent)
    rc, out, _ = run(capsys, "fix", str(messy), "--json")
    assert rc == 0
    doc = json.loads(out)
    got = sorted((a["code"], a["fix"], os.path.basename(a["source"]), a["dest"]) for a in doc["actions"])
    assert got == [
        ("RA001", "rename-folder", "5 cat", "train/5_cat"),
        ("RA006", "rename-extension", "b.Jpg", "train/10_dog/b.jpg"),
        ("RA023", "clean-caption", "a.txt", "train/10_dog/a.caption"),
        ("RA023", "clean-caption", "d.caption", "train/5_cat/d.caption"),
        ("RA025", "join-caption", "d.caption", "train/5_cat/d.caption"),  # listed, unsafe: not applied
        ("RA026", "rename-caption", "a.txt", "train/10_dog/a.caption"),
        ("RA026", "rename-caption", "b.txt", "train/10_dog/b.caption"),
        ("RA040", "leave-out", "z.png", None),
        ("RA043", "leave-out", "c.png", None),
    ]
    assert [a["fix"] for a in doc["actions"] if not a["safe"]] == ["join-caption"]
    assert all(a["applied"] == a["safe"] for a in doc["actions"])
    assert doc["command"] is None and doc["remaining"] is None
    assert tree_fingerprint(messy.parent) == before


def test_copy_fixes_everything_and_leaves_the_original(capsys, messy, tmp_path):
    before = tree_fingerprint(messy.parent)
    out_dir = tmp_path / "fixed"
    rc, out, err = run(capsys, "fix", str(messy), "--out", str(out_dir), "--json")
    assert rc == 0, err
    assert tree_fingerprint(messy.parent) == before  # bytes, mode and mtime of every file and folder
    doc = json.loads(out)
    c = out_dir / "train"
    assert sorted(p.name for p in (c / "10_dog").iterdir()) == ["a.caption", "a.png", "a_64x48_sd.npz",
                                                                "b.caption", "b.jpg"]
    assert (c / "10_dog" / "a.caption").read_bytes() == b"a dog\n"
    assert (c / "10_dog" / "b.caption").read_bytes() == b"b dog"
    assert (c / "10_dog" / "a_64x48_sd.npz").read_bytes() == b"latents"  # caches kept: no pixel changed
    assert (c / "5_cat" / "d.png").read_bytes() == (messy / "5 cat" / "d.png").read_bytes()
    assert (c / "5_cat" / "d.caption").read_bytes() == b"a cat\nsecond\n"
    assert os.stat(c / "10_dog" / "a.png").st_mtime_ns == os.stat(messy / "10_dog" / "a.png").st_mtime_ns
    # none of the fixed kinds remain in the copy's audit
    assert not {f["code"] for f in doc["remaining"]} & FIXED_CODES
    assert {f["code"] for f in doc["gone"]} >= {"RA001", "RA006", "RA026", "RA040", "RA043"}
    assert doc["command"] == str(c)
    manifest = json.loads((out_dir / "regaudit-fix.json").read_text())
    assert manifest["generator"] == "regaudit" and manifest["kind"] == "regaudit fix"
    clean = next(a for a in manifest["actions"] if a["code"] == "RA023" and a["source"].endswith("a.txt"))
    assert clean["before"] == {"size": 12, "sha256": hashlib.sha256(b"\xef\xbb\xbfa dog\r\n\r\n").hexdigest()}
    assert clean["after"] == {"size": 6, "sha256": hashlib.sha256(b"a dog\n").hexdigest()}
    assert len(manifest["actions"]) == len(doc["actions"])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".fixed.")]  # no temporary folder left
    # an earlier output is replaced; the original still untouched
    rc, _, err = run(capsys, "fix", str(messy), "--out", str(out_dir))
    assert rc == 0, err
    assert tree_fingerprint(messy.parent) == before


def test_hardlink_only_when_asked(capsys, messy, tmp_path):
    rc, _, err = run(capsys, "fix", str(messy), "--out", str(tmp_path / "a"))
    assert rc == 0, err
    assert os.stat(tmp_path / "a/train/10_dog/a.png").st_ino != os.stat(messy / "10_dog/a.png").st_ino
    rc, _, err = run(capsys, "fix", str(messy), "--out", str(tmp_path / "b"), "--hardlink")
    assert rc == 0, err
    assert os.stat(tmp_path / "b/train/10_dog/a.png").st_ino == os.stat(messy / "10_dog/a.png").st_ino
    assert os.stat(tmp_path / "b/train/10_dog/a.caption").st_ino != os.stat(messy / "10_dog/a.txt").st_ino


def test_refusals(capsys, messy, tmp_path):
    before = tree_fingerprint(messy.parent)
    rc, _, err = run(capsys, "fix", str(messy), "--out", str(messy / "10_dog" / "out"))
    assert rc == 2 and "inside the dataset folder" in err
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep")
    rc, _, err = run(capsys, "fix", str(messy), "--out", str(foreign))
    assert rc == 2 and "not an earlier 'regaudit fix' output" in err
    assert (foreign / "notes.txt").read_text() == "keep"
    rc, _, err = run(capsys, "fix", str(messy), "--out", str(tmp_path))  # holds the dataset
    assert rc == 2
    assert tree_fingerprint(messy.parent) == before


def test_failure_mid_copy_leaves_nothing_and_keeps_earlier_output(capsys, messy, tmp_path, monkeypatch):
    out_dir = tmp_path / "fixed"
    assert run(capsys, "fix", str(messy), "--out", str(out_dir))[0] == 0
    earlier = tree_fingerprint(out_dir)
    before = tree_fingerprint(messy.parent)
    calls = []

    def failing(src, dst, **kw):  # a full disk on the third file
        calls.append(src)
        if len(calls) == 3:
            raise OSError(28, "No space left on device", dst)
        return real(src, dst, **kw)

    real = shutil.copy2
    monkeypatch.setattr(shutil, "copy2", failing)
    rc, _, err = run(capsys, "fix", str(messy), "--out", str(out_dir))
    assert rc == 2 and "No space left on device" in err and "nothing was written" in err
    assert tree_fingerprint(out_dir) == earlier
    assert tree_fingerprint(messy.parent) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "fixed"]


def test_read_only_target(capsys, messy, tmp_path, monkeypatch):
    import tempfile

    def refuse(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkdtemp", refuse)  # (as root, a chmod-ed folder is still writable)
    rc, _, err = run(capsys, "fix", str(messy), "--out", str(tmp_path / "x"))
    assert rc == 2 and "Permission denied" in err and "nothing was written" in err
    assert not (tmp_path / "x").exists()


def test_dataset_config_and_pasted_command_rewritten(capsys, tmp_path):
    make_image(tmp_path / "imgs" / "a.Png")
    (tmp_path / "imgs" / "a.txt").write_text("a dog")
    cfg = tmp_path / "ds.toml"
    cfg.write_text(f'[[datasets]]\nresolution = 64\n[[datasets.subsets]]\nimage_dir = "{tmp_path / "imgs"}"\n'
                   f'num_repeats = 2\ncaption_extension = ".caption"\n')
    before = tree_fingerprint(tmp_path)
    out_dir = tmp_path.parent / (tmp_path.name + "-fixed")
    cmd = f"accelerate launch train_network.py --dataset_config {cfg} --output_dir /x"
    rc, out, err = run(capsys, "fix", cmd, "--out", str(out_dir), "--json")
    assert rc == 0, err
    assert tree_fingerprint(tmp_path) == before
    doc = json.loads(out)
    assert doc["command"] == f"accelerate launch train_network.py --dataset_config {out_dir / 'ds.toml'} --output_dir /x"
    assert f'image_dir = "{out_dir / "imgs"}"' in (out_dir / "ds.toml").read_text()
    assert sorted(p.name for p in (out_dir / "imgs").iterdir()) == ["a.caption", "a.png"]
    assert not {f["code"] for f in doc["remaining"]} & FIXED_CODES
    shutil.rmtree(out_dir)


def test_config_file_rewritten_into_dir(capsys, tmp_path):
    """--config_file (sd-scripts' read_config_from_file, sections flattened) naming train_data_dir:
    a rewritten copy in DIR points at the copied root; the user's file is left as it was."""
    make_image(tmp_path / "train" / "2_dog" / "a.Png")
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(f'[paths]\ntrain_data_dir = "{tmp_path / "train"}"\noutput_dir = "/x"\n[model]\nresolution = "64"\n')
    before = tree_fingerprint(tmp_path)
    out_dir = tmp_path.parent / (tmp_path.name + "-cf")
    rc, out, err = run(capsys, "fix", f"accelerate launch train_network.py --config_file {tmp_path / 'cfg'}",
                       "--out", str(out_dir), "--json")
    assert rc == 0, err
    assert tree_fingerprint(tmp_path) == before
    doc = json.loads(out)
    assert doc["command"] == f"accelerate launch train_network.py --config_file {out_dir / 'cfg.toml'}"
    text = (out_dir / "cfg.toml").read_text()
    assert f'train_data_dir = "{out_dir / "train"}"' in text and 'output_dir = "/x"' in text
    assert sorted(p.name for p in (out_dir / "train" / "2_dog").iterdir()) == ["a.png"]
    assert not {f["code"] for f in doc["remaining"]} & FIXED_CODES  # the copy was audited, not the original
    assert {f["code"] for f in doc["gone"]} >= {"RA006"}
    manifest = json.loads((out_dir / "regaudit-fix.json").read_text())
    assert manifest["config_file"] == {"source": str(cfg), "dest": "cfg.toml"}
    shutil.rmtree(out_dir)


def test_config_file_naming_a_dataset_config(capsys, tmp_path):
    make_image(tmp_path / "imgs" / "a.Png")
    ds = tmp_path / "ds.toml"
    ds.write_text(f'[[datasets]]\nresolution = 64\n[[datasets.subsets]]\nimage_dir = "{tmp_path / "imgs"}"\n')
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(f'dataset_config = "{ds}"\n')
    before = tree_fingerprint(tmp_path)
    out_dir = tmp_path.parent / (tmp_path.name + "-cf2")
    rc, out, err = run(capsys, "fix", f"train_network.py --config_file {cfg}", "--out", str(out_dir), "--json")
    assert rc == 0, err
    assert tree_fingerprint(tmp_path) == before
    doc = json.loads(out)
    assert doc["command"] == f"train_network.py --config_file {out_dir / 'cfg.toml'}"
    assert f'dataset_config = "{out_dir / "ds.toml"}"' in (out_dir / "cfg.toml").read_text()
    assert f'image_dir = "{out_dir / "imgs"}"' in (out_dir / "ds.toml").read_text()
    assert sorted(p.name for p in (out_dir / "imgs").iterdir()) == ["a.png"]
    shutil.rmtree(out_dir)


@pytest.mark.skipif(os.name == "nt", reason="SIGKILL")
def test_a_fix_killed_mid_copy_is_cleaned_by_the_next(capsys, messy, tmp_path):
    """A fix killed with SIGKILL on its third copied file leaves its marked temporary folder (and
    the earlier output intact); the next fix writing beside it removes it, and nothing else."""
    import subprocess
    import sys

    out_dir = tmp_path / "fixed"
    assert run(capsys, "fix", str(messy), "--out", str(out_dir))[0] == 0
    earlier = tree_fingerprint(out_dir)
    before = tree_fingerprint(messy.parent)
    foreign = tmp_path / ".fixed.abcdefgh.tmp"  # regaudit's name, no marker: not ours
    foreign.mkdir()
    script = (
        "import os, shutil, signal, sys\n"
        "from regaudit.cli import main\n"
        "real, calls = shutil.copy2, []\n"
        "def dying(src, dst, **kw):\n"
        "    calls.append(src)\n"
        "    if len(calls) == 3:\n"
        "        os.kill(os.getpid(), signal.SIGKILL)\n"
        "    return real(src, dst, **kw)\n"
        "shutil.copy2 = dying\n"
        "main(sys.argv[1:])\n")
    proc = subprocess.run([sys.executable, "-c", script, "fix", str(messy), "--out", str(out_dir)],
                          cwd=str(Path(__file__).resolve().parents[2]), capture_output=True)
    assert proc.returncode == -9
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp") and p != foreign)
    assert len(left) == 1 and (tmp_path / left[0] / ".regaudit-fix-tmp").is_file()
    assert tree_fingerprint(out_dir) == earlier and tree_fingerprint(messy.parent) == before
    rc, _, err = run(capsys, "fix", str(messy), "--out", str(tmp_path / "other"))
    assert rc == 0, err
    assert sorted(p.name for p in tmp_path.iterdir()) == [".fixed.abcdefgh.tmp", "data", "fixed", "other"]
    assert tree_fingerprint(out_dir) == earlier and tree_fingerprint(messy.parent) == before


def test_copy_progress_is_reported(messy, tmp_path):
    from regaudit.render.fix import manifest
    from regaudit.views.fix import make_plan, write_copy
    from regaudit.views.inputs import read_inputs

    inp = read_inputs([str(messy)], None)
    plan = make_plan(inp, [str(messy)], None, None)
    seen = []
    write_copy(plan, str(tmp_path / "p"), False, manifest, progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, len(plan.entries)) and seen[-1] == (len(plan.entries), len(plan.entries))
    assert len(plan.entries) == 12  # the messy tree: 3 folders (train, 10_dog, 5 cat), 9 files


@pytest.fixture
def finetune(tmp_path):
    """A fine-tuning folder: a.png keyed by its full path, b.png by its file name, z.png (0 bytes)
    by its full path, c.png (cut short) by its file name; the metadata beside the folder."""
    imgs = tmp_path / "ft" / "imgs"
    for n in "abc":
        make_image(imgs / f"{n}.png")
    (imgs / "z.png").write_bytes(b"")
    full = (imgs / "c.png").read_bytes()
    (imgs / "c.png").write_bytes(full[: len(full) // 2])
    meta = tmp_path / "ft" / "meta.json"
    meta.write_text(json.dumps({str(imgs / "a.png"): {"caption": "a dog"}, "b.png": {"caption": "b"},
                                str(imgs / "z.png"): {"caption": "z"}, "c.png": {"caption": "c"}}, indent=2))
    return imgs, meta


def test_fine_tuning_metadata_copied_and_rewritten(capsys, finetune, tmp_path):
    """fine_tune.py --in_json: the oracle (sd-scripts' fine_tune.train(), --cache_latents --resolution 64)
    stops on the original with ZeroDivisionError in select_bucket (z.png, 0x0) and registers the
    copy's 2 images: '<copy>/imgs/a.png' (caption 'a dog') and 'b.png' (caption 'b'), 64x48 each."""
    imgs, meta = finetune
    before = tree_fingerprint(tmp_path / "ft")
    out_dir = tmp_path / "fixed"
    cmd = (f"fine_tune.py --train_data_dir {imgs} --in_json {meta} --cache_latents --resolution 64 "
           f"--pretrained_model_name_or_path m --output_dir /o")
    rc, out, err = run(capsys, "fix", cmd, "--json")  # the plan says what the fine-tuning fix does
    assert rc == 0, err
    doc = json.loads(out)
    assert sorted((a["code"], a["fix"], os.path.basename(a["source"])) for a in doc["actions"]) == [
        ("RA040", "leave-out", "z.png"), ("RA043", "leave-out", "c.png")]
    assert doc["notes"] and "no renames, no pixel fixes" in doc["notes"][0]
    # a key naming no file (a stem key: merge_captions_to_metadata.py without --full_path) stays, and says why
    # (the oracle: FileNotFoundError from make_buckets, train_util.py:1482, on a key naming no file)
    stem_meta = tmp_path / "ft" / "stems.json"
    stem_meta.write_text(json.dumps({"a": {"caption": "a dog"}}))
    rc, out, err = run(capsys, "fix", cmd.replace(str(meta), str(stem_meta)), "--json")
    assert rc == 0, err
    assert [(u["code"], u["path"], u["why"].split(":")[0]) for u in json.loads(out)["unfixed"]] == [
        ("RA012", str(imgs / "a"), "a fine-tuning metadata key that names no file")]
    stem_meta.unlink()
    rc, out, err = run(capsys, "fix", cmd, "--out", str(out_dir), "--json")
    assert rc == 0, err
    assert tree_fingerprint(tmp_path / "ft") == before
    doc = json.loads(out)
    assert doc["command"] == (f"fine_tune.py --train_data_dir {out_dir / 'imgs'} --in_json {out_dir / 'meta.json'} "
                              f"--cache_latents --resolution 64 --pretrained_model_name_or_path m --output_dir /o")
    assert sorted(p.name for p in (out_dir / "imgs").iterdir()) == ["a.png", "b.png"]
    assert json.loads((out_dir / "meta.json").read_text()) == {str(out_dir / "imgs" / "a.png"): {"caption": "a dog"},
                                                               "b.png": {"caption": "b"}}
    assert doc["remaining"] == [] and {f["code"] for f in doc["gone"]} == {"RA040", "RA043"}
    manifest = json.loads((out_dir / "regaudit-fix.json").read_text())
    assert manifest["metadata"] == [{"source": str(meta), "dest": "meta.json", "keys": 2, "rewritten": 1,
                                     "dropped": [str(imgs / "z.png"), "c.png"]}]
    rc, out, err = run(capsys, "fix", cmd, "--out", str(out_dir))  # the human view: the metadata line and the note
    assert rc == 0, err
    text = "".join(out.split())  # (long paths break anywhere)
    assert "".join(f"metadata {meta} -> meta.json: 2 keys, 1 full paths pointed at the copy, 2 removed".split()) in text
    assert "note:fine-tuningmetadata:theimagefolderiscopiedasitis" in text


def test_fine_tuning_metadata_inside_the_folder_hardlinked_and_jsonl(capsys, finetune, tmp_path):
    """A JSON Lines metadata file inside the image folder (a dataset config's metadata_file subset):
    rewritten in its place in the copy; with --hardlink the user's file is unlinked in the copy,
    never written through. The oracle (fine_tune.train(), --cache_latents, resolution 64, stopped at
    prepare_accelerator, before the latents are cached) registers the original's 3 keys ('<abs>/a.png',
    'c.png', 'b.png', 64x48 each: c.png's header is whole, its pixels are cut short and fail when
    cached) and the copy's 2 ('<copy>/imgs/a.png' 'a dog', 'b.png' 'b')."""
    imgs, _ = finetune
    meta = imgs / "meta.jsonl"
    meta.write_text(f'{{"image_path": "{imgs / "a.png"}", "caption": "a dog"}}\n'
                    f'{{"image_path": "c.png", "caption": "c"}}\n{{"image_path": "b.png", "caption": "b"}}\n')
    cfg = tmp_path / "ft" / "ds.toml"
    cfg.write_text(f'[[datasets]]\nresolution = 64\n[[datasets.subsets]]\nimage_dir = "{imgs}"\n'
                   f'metadata_file = "{meta}"\n')
    before = tree_fingerprint(tmp_path / "ft")
    out_dir = tmp_path / "fixed"
    cmd = f"fine_tune.py --dataset_config {cfg} --cache_latents --pretrained_model_name_or_path m --output_dir /o"
    rc, out, err = run(capsys, "fix", cmd, "--out", str(out_dir), "--hardlink", "--json")
    assert rc == 0, err
    assert tree_fingerprint(tmp_path / "ft") == before
    assert meta.read_text().count("\n") == 3  # the user's file, untouched
    doc = json.loads(out)
    assert doc["command"] == (f"fine_tune.py --dataset_config {out_dir / 'ds.toml'} --cache_latents "
                              f"--pretrained_model_name_or_path m --output_dir /o")
    assert f'metadata_file = "{out_dir / "imgs" / "meta.jsonl"}"' in (out_dir / "ds.toml").read_text()
    lines = [json.loads(x) for x in (out_dir / "imgs" / "meta.jsonl").read_text().splitlines()]
    assert lines == [{"image_path": str(out_dir / "imgs" / "a.png"), "caption": "a dog"},
                     {"image_path": "b.png", "caption": "b"}]
    assert os.stat(out_dir / "imgs" / "meta.jsonl").st_ino != os.stat(meta).st_ino
    assert os.stat(out_dir / "imgs" / "a.png").st_ino == os.stat(imgs / "a.png").st_ino
    # (z.png is in no key of this metadata: sd-scripts never opens it, so it is copied as it is)
    assert sorted(p.name for p in (out_dir / "imgs").iterdir()) == ["a.png", "b.png", "meta.jsonl", "z.png"]
    assert not {f["code"] for f in doc["remaining"]} & FIXED_CODES


def test_fine_tuning_config_file_naming_in_json(capsys, finetune, tmp_path):
    """--config_file holding train_data_dir and in_json: its copy in DIR names the copied folder and metadata."""
    imgs, meta = finetune
    cfg = tmp_path / "ft" / "cfg.toml"
    cfg.write_text(f'[dataset]\ntrain_data_dir = "{imgs}"\nin_json = "{meta}"\ncache_latents = true\n'
                   f'resolution = "64"\n')
    before = tree_fingerprint(tmp_path / "ft")
    out_dir = tmp_path / "fixed"
    rc, out, err = run(capsys, "fix", f"sdxl_train.py --config_file {cfg}", "--out", str(out_dir), "--json")
    assert rc == 0, err
    assert tree_fingerprint(tmp_path / "ft") == before
    doc = json.loads(out)
    assert doc["command"] == f"sdxl_train.py --config_file {out_dir / 'cfg.toml'}"
    text = (out_dir / "cfg.toml").read_text()
    assert f'train_data_dir = "{out_dir / "imgs"}"' in text and f'in_json = "{out_dir / "meta.json"}"' in text
    assert sorted(json.loads((out_dir / "meta.json").read_text())) == [str(out_dir / "imgs" / "a.png"), "b.png"]
    assert doc["remaining"] == []


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PATH_MAX of 4096 bytes and dir_fd: Linux")
def test_a_working_directory_deeper_than_a_path_can_name_is_refused_not_an_empty_copy(capsys, tmp_path):
    # from a cwd over 4096 bytes deep, `fix --train_data_dir train --out DIR` wrote a copy without the dataset and
    # exited 0 (the folder's absolute path could not be opened, so it was left out)
    fd = os.open(tmp_path, os.O_RDONLY)
    for k in range(25):
        name = f"L{k:02d}_" + "x" * 200
        os.mkdir(name, dir_fd=fd)
        inner = os.open(name, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    cwd = os.getcwd()
    os.fchdir(fd)
    os.close(fd)
    try:
        make_image(Path("train/5_dog/a.png"))
        code, _, err = run(capsys, "fix", "--train_data_dir", "train", "--out", str(tmp_path / "copy"))
    finally:
        os.chdir(cwd)
    assert code == 2 and "train: its absolute path is" in err and "nothing was written" in err
    assert not (tmp_path / "copy").exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PATH_MAX of 4096 bytes and dir_fd: Linux")
def test_a_folder_nested_deeper_than_a_path_can_name_is_one_short_line(capsys, tmp_path):
    # fix stopped with one line of 4,174 characters (the whole path); now its start and end and what to do
    subset = tmp_path / "train" / "5_dog"
    make_image(subset / "a.png")
    fds = [os.open(subset, os.O_RDONLY)]
    for _ in range(2100):
        os.mkdir("a", dir_fd=fds[-1])
        fds.append(os.open("a", os.O_RDONLY, dir_fd=fds[-1]))
    try:
        code, _, err = run(capsys, "fix", str(tmp_path / "train"))
    finally:  # (removed from the bottom up: shutil.rmtree recurses, and pytest's cleanup with it)
        os.close(fds.pop())
        while len(fds) > 0:
            os.rmdir("a", dir_fd=fds[-1])
            os.close(fds.pop())
    assert code == 2 and len(err.strip().splitlines()) == 1 and len(err) < 700
    assert "more than this system can name" in err and "move it out of the dataset; nothing was written" in err
