"""Duplicate and leakage detection on crafted variants; the search on literal hashes; the cache."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageOps

from regaudit import search
from regaudit.dedupe import DupesOptions, find_dupes
from regaudit.scan import load_specs, scan
from tests.conftest import textured, tree_fingerprint


def dupes(tmp_path, train="train", reg="reg", **opts):
    opts.setdefault("jobs", 1)
    specs = load_specs(str(tmp_path / train), str(tmp_path / reg) if reg else None)
    return find_dupes(scan(specs, jobs=1), DupesOptions(**opts))


@pytest.fixture
def tree(tmp_path):
    t, r = tmp_path / "train" / "10_sks dog", tmp_path / "reg" / "1_dog"
    t.mkdir(parents=True)
    r.mkdir(parents=True)
    for k in range(6):
        textured(k).save(t / f"t{k}.jpg", quality=92)
    for k in range(10, 16):
        textured(k).save(r / f"r{k}.jpg", quality=92)
    return tmp_path


def groups_by_member(result):
    return {m.path.rsplit("/", 1)[1]: g for g in result.groups for m in g.members}


def test_unrelated_pictures_are_not_grouped(tree):
    assert dupes(tree).groups == ()


def test_byte_copy_is_exact_and_doubles_repeats(tree):
    t = tree / "train" / "10_sks dog"
    shutil.copy(t / "t0.jpg", t / "t0_copy.jpg")
    res = dupes(tree)
    (g,) = res.groups
    assert (g.kind, g.distance, g.label, g.train_repeats) == ("exact", 0, "within-subset", 20)
    assert [f.code for f in res.findings] == ["RA081"]


def test_same_pixels_in_another_encoding_is_exact(tree):
    t = tree / "train" / "10_sks dog"
    textured(99).save(t / "a.png")
    Image.open(t / "a.png").save(t / "a.bmp")
    (g,) = dupes(tree).groups
    assert g.kind == "exact" and len(g.members) == 2


@pytest.mark.parametrize("variant", ["reencode", "resize", "brighter", "darker", "crop"])
def test_near_duplicate_variants_leak_into_reg(tree, variant):
    src = Image.open(tree / "train" / "10_sks dog" / "t1.jpg")
    src.load()
    out = tree / "reg" / "1_dog" / f"leak_{variant}.jpg"
    if variant == "reencode":
        src.save(out, quality=55)
    elif variant == "resize":
        src.resize((src.width // 2, src.height // 2)).save(out, quality=90)
    elif variant == "brighter":
        ImageEnhance.Brightness(src).enhance(1.2).save(out, quality=90)
    elif variant == "darker":
        ImageEnhance.Brightness(src).enhance(0.8).save(out, quality=90)
    else:
        src.crop((3, 3, src.width - 3, src.height - 3)).save(out, quality=90)
    res = dupes(tree)
    g = groups_by_member(res)[f"leak_{variant}.jpg"]
    assert g.label == "leakage" and g.kind == "near" and {m.role for m in g.members} == {"train", "reg"}
    assert "RA080" in {f.code for f in res.findings}


def test_mirror_counts_only_with_flip_aug(tree):
    t = tree / "train" / "10_sks dog"
    ImageOps.mirror(Image.open(t / "t2.jpg")).save(t / "t2_mirror.jpg", quality=92)
    assert dupes(tree).groups == ()
    (g,) = dupes(tree, flip_aug=True).groups
    assert g.kind == "mirror" and g.label == "within-subset"
    assert "RA083" in {f.code for f in dupes(tree, flip_aug=True).findings}


def test_duplicate_hidden_by_exif_rotation(tree):
    t = tree / "train" / "10_sks dog"
    upright = textured(42)
    upright.save(t / "upright.jpg", quality=95)
    exif = Image.Exif()
    exif[0x0112] = 6  # viewers rotate 90 degrees clockwise to show it
    upright.transpose(Image.Transpose.ROTATE_90).save(t / "sideways.jpg", quality=95, exif=exif.tobytes())
    res = dupes(tree)
    (g,) = res.groups
    assert g.via_exif and {f.code for f in res.findings} >= {"RA081", "RA084"}


def test_reg_duplicates_and_unused_repeats(tree):
    r = tree / "reg" / "1_dog"
    shutil.copy(r / "r10.jpg", r / "r10_copy.jpg")
    (g,) = dupes(tree).groups
    assert g.label == "within-subset" and {m.role for m in g.members} == {"reg"}
    assert [m.effective_repeats for m in g.members] == [9, 9]  # 60 train samples over 7 reg images: 9,9,9,9,8,8,8


def test_broken_images_become_findings(tree):
    t = tree / "train" / "10_sks dog"
    data = (t / "t3.jpg").read_bytes()
    (t / "t3.jpg").write_bytes(data[: len(data) // 3])
    res = dupes(tree)
    assert "RA043" in {f.code for f in res.findings}


def test_cache_makes_second_run_decode_nothing_and_survives_corruption(tree, tmp_path):
    cache = tmp_path / "cache" / "h.sqlite"
    before = tree_fingerprint(tree)
    first = dupes(tree, cache=cache)
    assert first.hashed == 12
    again = dupes(tree, cache=cache)
    assert again.hashed == 0 and again.groups == first.groups
    (tree / "train" / "10_sks dog" / "t0.jpg").write_bytes((tree / "reg" / "1_dog" / "r10.jpg").read_bytes())
    assert dupes(tree, cache=cache).hashed == 1
    data = cache.read_bytes()  # corrupt, but still regaudit's (its header and mark intact): replaced
    cache.write_bytes(data[:100] + b"this is not a database" * ((len(data) - 100) // 22 + 1))
    assert dupes(tree, cache=cache).hashed == 12
    assert dupes(tree, cache=cache).hashed == 0
    after = tree_fingerprint(tree)
    changed = {k for k in before if before[k] != after.get(k)}
    assert changed == {"train/10_sks dog/t0.jpg"}  # only what the test itself rewrote


def test_search_literal_hashes_brute_and_multi_index_agree(monkeypatch):
    base = np.array([0, 0b1111, 0xFFFF_0000_0000_0000, 0xFFFF_0000_0000_00FF, 1 << 63, 0x5555], dtype=np.uint64)
    i, j, d = search.pairs_within(base, 8)
    assert list(zip(i.tolist(), j.tolist(), d.tolist())) == [(0, 1, 4), (0, 4, 1), (0, 5, 8), (1, 4, 5),
                                                               (1, 5, 8), (2, 3, 8)]
    rng = np.random.default_rng(1)
    h = rng.integers(0, np.iinfo(np.int64).max, size=3000, dtype=np.int64).astype(np.uint64)
    h[100] = h[7] ^ np.uint64(0b10110101)
    h[200] = h[9] ^ np.uint64(1 << 60 | 1 << 3)
    brute = search.pairs_within(h, 7)
    monkeypatch.setattr(search, "BRUTE_FORCE_MAX", 10)
    for d in (3, 7, 9):
        multi = search.pairs_within(h, d)
        monkeypatch.setattr(search, "BRUTE_FORCE_MAX", 40_000)
        ref = search.pairs_within(h, d)
        monkeypatch.setattr(search, "BRUTE_FORCE_MAX", 10)
        assert all(np.array_equal(a, b) for a, b in zip(multi, ref))
    assert (7, 100) in set(zip(brute[0].tolist(), brute[1].tolist()))


def test_cache_inside_the_dataset_is_refused(tree, capsys):
    from regaudit.cli import main

    code = main(["dupes", "--train", str(tree / "train"), "--cache", str(tree / "train" / "10_sks dog" / "c.sqlite")])
    err = capsys.readouterr().err
    assert code == 2 and "never writes into a dataset" in err
    assert not (tree / "train" / "10_sks dog" / "c.sqlite").exists()


def test_cli_dupes_json_contract(tree, capsys, monkeypatch):
    from regaudit.cli import main

    monkeypatch.setenv("XDG_CACHE_HOME", str(tree / "xdg"))
    shutil.copy(tree / "train" / "10_sks dog" / "t0.jpg", tree / "reg" / "1_dog" / "copy.jpg")
    code = main(["dupes", "--train", str(tree / "train"), "--reg", str(tree / "reg"), "--json"])
    import json

    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and doc["schema_version"] == 1
    (g,) = doc["groups"]
    assert {"kind", "distance", "members", "roles"} <= set(g) and g["kind"] == "exact"
    assert g["roles"] == ["train", "reg"] and all(p.startswith("/") for p in g["members"])
    assert (tree / "xdg" / "regaudit" / "hashes.sqlite").exists()  # the default cache lives in the user cache dir
