"""Duplicate and leakage detection on crafted variants; the search on literal hashes; the cache."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image, ImageEnhance, ImageOps

from regaudit.views import search
from regaudit.views.dupes import DupesOptions, find_dupes
from regaudit.views.scan import load_specs, scan
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


def test_a_file_under_several_names_is_decoded_once(tree, tmp_path, monkeypatch):
    """Hard links (one folder linked into a folder per dataset) are one file: decoded once, each
    name with its hashes, grouped as byte-identical as copies are; all of them still in the cache."""
    import os

    from regaudit.views import dupes as dupes_view

    t = tree / "train" / "10_sks dog"
    os.link(t / "t0.jpg", t / "t0_link.jpg")
    os.link(t / "t0.jpg", tree / "reg" / "1_dog" / "t0_link.jpg")
    decoded: list[str] = []
    real = dupes_view.encode
    monkeypatch.setattr(dupes_view, "encode", lambda path, **kw: decoded.append(path) or real(path, **kw))
    cache = tmp_path / "cache" / "h.sqlite"
    res = dupes(tree, cache=cache)
    assert res.images == res.hashed == 14 and len(decoded) == 12  # 14 names, 12 files
    assert not any(p.endswith("t0_link.jpg") for p in decoded)
    (g,) = res.groups
    assert (g.kind, g.label, [m.relation.value for m in g.members]) == \
        ("exact", "leakage", ["reference", "byte-identical", "byte-identical"])
    assert dupes(tree, cache=cache).hashed == 0  # every name was put in the cache


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


def test_a_search_of_nearly_alike_hashes_stops_at_its_bound(monkeypatch):
    # 150,000 nearly alike images were 10^10 candidate pairs: MemoryError (82 GiB) in the multi-index search
    rng = np.random.default_rng(2)
    base = np.uint64(0x0123_4567_89AB_CDEF)
    h = base ^ (np.uint64(1) << rng.integers(0, 64, size=50_000).astype(np.uint64))  # all within 2 bits
    i, j, d, complete = search.bounded_pairs_within(h, 8, pairs_max=200_000, candidates_max=None)
    assert not complete and 200_000 <= len(i) < 200_000 + 2 * (1 << 23)
    assert bool((d <= 8).all()) and bool((i < j).all())
    for brute_max in (10, 40_000):  # the multi-index search and the block search alike
        monkeypatch.setattr(search, "BRUTE_FORCE_MAX", brute_max)
        small = h[:3000]
        full = search.pairs_within(small, 8)
        # (a pair may be met in several chunks: the bound counts each meeting)
        *bounded, complete = search.bounded_pairs_within(small, 8, pairs_max=100 * len(full[0]))
        assert complete and all(np.array_equal(a, b) for a, b in zip(full, bounded))
        *_, complete = search.bounded_pairs_within(small, 8, pairs_max=1000)
        assert not complete
        *_, complete = search.bounded_pairs_within(small, 8, pairs_max=None, candidates_max=1000)
        assert not complete


def test_dupes_says_when_its_near_search_stopped(tree, monkeypatch):
    from regaudit.views import dupes as dedupe  # noqa: F401

    _with_copies(tree)
    full = dupes(tree)
    assert not any("near-duplicate search stopped" in n for n in full.notes)
    monkeypatch.setattr(search, "PAIRS_MAX", 1)
    real = search.bounded_pairs_within
    monkeypatch.setattr(search, "bounded_pairs_within", lambda h, d: real(h, d, pairs_max=1, candidates_max=None))
    stopped = dupes(tree)
    assert any("near-duplicate search stopped after" in n and "exact copies are all found" in n
               for n in stopped.notes)
    exact = [g for g in full.groups if g.kind == "exact"]
    assert exact and all(g in stopped.groups for g in exact)  # the copies by their bytes: still every one


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


# --- the warm path: entries, pair search and imports from the cache ------------------------------

def _with_copies(tree):
    t, r = tree / "train" / "10_sks dog", tree / "reg" / "1_dog"
    shutil.copy(t / "t0.jpg", r / "t0_leak.jpg")
    ImageOps.mirror(Image.open(t / "t2.jpg")).save(t / "t2_mirror.jpg", quality=92)
    Image.open(t / "t1.jpg").save(r / "t1_again.jpg", quality=60)
    return tree


def test_hash_entry_row_round_trip():
    from regaudit.views.hashing import HashEntry

    for e in (HashEntry("d" * 32, (1 << 64) - 1, 1 << 63, None, None, ((1 << 256) - 1, 5, None)),
              HashEntry("", None, None, None, "cannot be decoded: OSError: x"),
              HashEntry("ab", 0, 7, 9, None, (None, None, None))):
        back = HashEntry.from_row(e.to_row())
        assert back == e and type(back) is HashEntry
        assert back.to_row() == e.to_row()
    assert HashEntry.from_row(("x", 1, 2, 3, None, "")).fine == (None, None, None)


def test_second_run_finds_its_pairs_in_the_cache_and_matches_an_uncached_run(tree, tmp_path, monkeypatch):
    from regaudit.views import dupes as dedupe

    _with_copies(tree)
    cache = tmp_path / "cache" / "h.sqlite"
    plain, unflipped = dupes(tree, flip_aug=True), dupes(tree, flip_aug=False)
    assert len(plain.groups) >= 2 and plain.groups != unflipped.groups
    assert dupes(tree, flip_aug=True, cache=cache).groups == plain.groups
    searched = []
    real = search.bounded_pairs_within
    monkeypatch.setattr(search, "bounded_pairs_within", lambda *a: searched.append(1) or real(*a))
    again = dupes(tree, flip_aug=True, cache=cache)
    assert again.hashed == 0 and again.groups == plain.groups and again.findings == plain.findings
    assert searched == []  # the answer came from the cache
    assert dupes(tree, flip_aug=False, cache=cache).groups == unflipped.groups  # other options: searched
    assert len(searched) == 1
    # a byte copy adds no hash to search (it is grouped by its digest): the answer still applies
    t = tree / "train" / "10_sks dog"
    shutil.copy(t / "t4.jpg", t / "t4_copy.jpg")
    assert dupes(tree, flip_aug=True, cache=cache).groups == dupes(tree, flip_aug=True).groups != plain.groups
    assert len(searched) == 2  # the uncached run's
    # a new picture adds hashes: the remembered answer no longer applies
    Image.open(t / "t3.jpg").save(t / "t3_again.jpg", quality=50)
    fresh = dupes(tree, flip_aug=True)
    searched.pop()
    assert len(searched) == 2
    assert dupes(tree, flip_aug=True, cache=cache).groups == fresh.groups != plain.groups
    assert len(searched) == 3
    assert dupes(tree, flip_aug=True, cache=cache).groups == fresh.groups
    assert len(searched) == 3
    monkeypatch.setattr(dedupe, "_PAIRS_KEEP_MAX", 0)  # too many pairs to keep: searched every time, still right
    for k in range(2):
        assert dupes(tree, flip_aug=True, cache=cache).groups == fresh.groups
        assert len(searched) == 4 + k


@pytest.mark.parametrize("damage", ["garbage", "other digest", "wrong distance", "unsorted", "out of range",
                                    "no text", "not text"])
def test_a_damaged_remembered_search_is_not_trusted(tree, tmp_path, damage):
    import sqlite3

    from regaudit.views import dupes as dedupe

    _with_copies(tree)
    cache = tmp_path / "h.sqlite"
    first = dupes(tree, cache=cache)
    db = sqlite3.connect(cache)
    (path, value), = db.execute("SELECT path, value FROM extras WHERE kind = ?", (dedupe._PAIRS_KIND,)).fetchall()
    assert path.startswith(dedupe._PAIRS_PATH)
    digest, _, body = value.partition(" ")
    flat = [int(v) for v in body.split(",")]
    assert flat  # the tree has near pairs
    if damage == "garbage":
        value = digest + " 1,2,x"
    elif damage == "other digest":
        value = "0" * 32 + " " + body
    elif damage == "wrong distance":
        value = digest + " " + ",".join(map(str, flat[:2] + [(flat[2] + 1) % 9] + flat[3:]))
    elif damage == "unsorted":
        value = digest + " " + ",".join(map(str, flat[:3] + flat[:3]))
    elif damage == "out of range":
        value = digest + " " + ",".join(map(str, flat[:1] + [10 ** 6] + flat[2:]))
    elif damage == "no text":
        value = None
    else:
        value = b"\x00binary"
    db.execute("UPDATE extras SET value = ? WHERE kind = ?", (value, dedupe._PAIRS_KIND))
    db.commit()
    db.close()
    again = dupes(tree, cache=cache)
    assert again.groups == first.groups and again.findings == first.findings
    db = sqlite3.connect(cache)
    (value,), = db.execute("SELECT value FROM extras WHERE kind = ?", (dedupe._PAIRS_KIND,)).fetchall()
    db.close()
    assert value.startswith(digest + " ")  # searched again, and remembered right


def test_decoded_pairs_must_be_exactly_what_the_search_returns():
    from regaudit.views.dupes import _decode_pairs, _encode_pairs, _values_digest

    values = [0, 0b1111, 0xFFFF_0000_0000_0000, 0xFFFF_0000_0000_00FF, 1 << 63, 0x5555]
    pairs = [(0, 1, 4), (0, 4, 1), (0, 5, 8), (1, 4, 5), (1, 5, 8), (2, 3, 8)]
    d = _values_digest(values, 8)
    assert _decode_pairs(_encode_pairs(d, pairs), d, values, 8) == pairs
    assert _decode_pairs(_encode_pairs(d, []), d, values, 8) == []
    assert _decode_pairs(_encode_pairs(d, pairs), _values_digest(values, 7), values, 8) is None
    assert _values_digest(values, 8) != _values_digest(values[:-1] + [0x5554], 8)
    assert _decode_pairs(_encode_pairs(d, pairs[:1] + [(0, 4, 2)]), d, values, 8) is None  # a false distance
    assert _decode_pairs(_encode_pairs(d, [(1, 0, 4)]), d, values, 8) is None  # i > j


def test_cache_lookup_by_key_matches_one_pass(tree, tmp_path, monkeypatch):
    from regaudit.views import hashcache
    from regaudit.views.hashcache import HashCache
    from regaudit.views.hashing import HashEntry

    cache = HashCache(tmp_path / "h.sqlite")
    rows = [(str(tree / f"img{k}.jpg"), 100 + k, 10 ** 18 + k, HashEntry(f"{k:032x}", k, k + 1, None, None,
                                                                         (k, None, 3)))
            for k in range(40)]
    cache.put_many(rows, "phash:64:v1")
    cache.put_many(rows[:10], "dhash:64:v1")
    keys = [(p, s, m) for p, s, m, _ in rows[:30]] + [(rows[30][0], 1, 1), (str(tree / "new.jpg"), 5, 5)]
    whole = cache.get_many(keys, "phash:64:v1")
    assert set(whole) == {p for p, _, _ in keys[:30]}  # a changed size/mtime or an unknown path: not found
    assert all(whole[p] == e for p, _, _, e in rows[:30])
    monkeypatch.setattr(hashcache, "_IN_CHUNK", 4)  # 50 rows > 2 * 32 keys + 4: looked up by key, in chunks
    assert cache.get_many(keys, "phash:64:v1") == whole
    assert cache.get_many(keys[:3], "dhash:64:v1") == {p: e for p, _, _, e in rows[:3]}
    assert cache.get_many([], "phash:64:v1") == {}
    cache.close()


def test_a_cache_found_locked_for_writing_is_not_waited_on_again(tmp_path):
    import sqlite3

    from regaudit.views.hashcache import HashCache
    from regaudit.views.hashing import HashEntry

    path = tmp_path / "h.sqlite"
    HashCache(path).close()
    other = sqlite3.connect(path)
    other.execute("BEGIN EXCLUSIVE")
    other.execute("INSERT INTO meta VALUES ('theirs', '1')")
    cache = HashCache(path)
    statements = []
    cache.db.set_trace_callback(statements.append)
    cache.put_many([("/x.jpg", 1, 1, HashEntry("d", 1, 2, None))], "phash:64:v1")
    assert cache.write_busy and any("locked" in n for n in cache.notes)
    statements.clear()
    cache.put_extra("pixels", "/x.jpg", 1, 1, "v")
    cache.put_many([("/y.jpg", 1, 1, HashEntry("d", 1, 2, None))], "phash:64:v1")
    assert not any("INSERT" in s for s in statements)
    assert cache.get_many([("/x.jpg", 1, 1)], "phash:64:v1") == {}  # reading still works
    cache.close()
    other.commit()
    other.close()


def test_a_warm_run_imports_neither_numpy_nor_pillow(tree, tmp_path):
    import json
    import subprocess
    import sys

    _with_copies(tree)
    cache = tmp_path / "h.sqlite"
    args = ["dupes", "--train", str(tree / "train"), "--reg", str(tree / "reg"), "--cache", str(cache), "--json",
            "--flip_aug"]
    code = ("import json, sys\nfrom regaudit.cli import main\ncode = main(sys.argv[1:])\n"
            "heavy = sorted(m for m in ('numpy', 'scipy', 'imagehash', 'PIL', 'PIL.Image') if m in sys.modules)\n"
            "print(json.dumps(heavy), file=sys.stderr)\nraise SystemExit(code)\n")
    runs = [subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120)
            for _ in range(2)]
    assert [r.returncode for r in runs] == [0, 0], runs[0].stderr
    cold, warm = (json.loads(r.stdout) for r in runs)
    assert json.loads(runs[0].stderr.strip().splitlines()[-1]) != []  # the cold run decoded images
    assert json.loads(runs[1].stderr.strip().splitlines()[-1]) == []
    assert warm["hashed"] == 0 and cold["hashed"] > 0 and warm["groups"] == cold["groups"] and warm["groups"]


# --- each member's relation within its group ------------------------------------------------------

def _relations(group):
    return [(m.path.rsplit("/", 1)[1], m.role, m.relation.value, m.distance, m.of and m.of.rsplit("/", 1)[1])
            for m in group.members]


def test_a_byte_copy_is_exact_in_a_group_that_also_holds_a_near_copy(tree):
    t = tree / "train" / "10_sks dog"
    textured(50).save(t / "IMG_4023.jpg", quality=92)
    shutil.copy(t / "IMG_4023.jpg", t / "IMG_4023 (1).jpg")
    textured(50).resize((80, 60)).save(t / "IMG_4023_small.jpg", quality=60)
    (g,) = dupes(tree).groups
    # (before: one "near · 0" for all three)
    # the original name is the reference (the one a fix keeps), not the browser's second download '(1)'
    assert _relations(g)[0] == ("IMG_4023.jpg", "train", "reference", 0, None)
    assert _relations(g)[1:] == [("IMG_4023 (1).jpg", "train", "byte-identical", 0, "IMG_4023.jpg"),
                                 ("IMG_4023_small.jpg", "train", "near", 0, "IMG_4023 (1).jpg")]
    assert (g.kind, g.distance, g.train_repeats) == ("near", 0, 30)


def test_the_same_pixels_in_another_file_is_pixel_identical(tree):
    t = tree / "train" / "10_sks dog"
    textured(99).save(t / "a.png")
    Image.open(t / "a.png").save(t / "a.bmp")
    (g,) = dupes(tree).groups
    assert _relations(g) == [("a.bmp", "train", "reference", 0, None), ("a.png", "train", "pixel-identical", 0, "a.bmp")]


def test_flip_aug_train_mirror_pair_beside_a_reg_copy_is_not_leakage(tree):
    """Reproduced with generated images before the fix: the mirror pair t2.jpg / t2_mirror.jpg formed a second
    group with the reg copy of t2.jpg, reported as RA080 '2 train images ... are mirror images'."""
    t, r = tree / "train" / "10_sks dog", tree / "reg" / "1_dog"
    ImageOps.mirror(Image.open(t / "t2.jpg")).save(t / "t2_mirror.jpg", quality=92)
    Image.open(t / "t2.jpg").save(r / "t2_reg.jpg", quality=60)
    res = dupes(tree, flip_aug=True)
    (g,) = res.groups  # one group, no second "mirror" group
    assert g.label == "leakage"
    assert _relations(g) == [("t2.jpg", "train", "reference", 0, None),
                             ("t2_mirror.jpg", "train", "mirror", 0, "t2.jpg"),
                             ("t2_reg.jpg", "reg", "near", 2, "t2.jpg")]
    by_code = {f.code: f for f in res.findings}
    assert sorted(f.code for f in res.findings) == ["RA080", "RA083"]
    assert [i["path"].rsplit("/", 1)[1] for i in by_code["RA080"].to_json()["images"]] == ["t2.jpg", "t2_reg.jpg"]
    assert "t2_mirror" not in by_code["RA080"].message
    # 7 train images x 10 = 70 train samples over 7 reg images: t2_reg.jpg is registered 10 times
    assert "it trains 10 times per epoch as a train sample and 10 times as a reg sample" in by_code["RA080"].message
    assert "trains 20 times per epoch (2 copies × 10 repeats) instead of 10" in by_code["RA083"].message
    # without flip_aug the mirror image is no duplicate at all
    assert [_relations(g) for g in dupes(tree).groups] == [[("t2.jpg", "train", "reference", 0, None),
                                                            ("t2_reg.jpg", "reg", "near", 2, "t2.jpg")]]


def test_cli_dupes_human_shows_relations_and_samples_per_epoch(tree, capsys, monkeypatch):
    from regaudit.cli import main

    t = tree / "train" / "10_sks dog"
    for name in ("t0 (1).jpg", "t0 (2).jpg"):
        shutil.copy(t / "t0.jpg", t / name)
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.chdir(tree)
    assert main(["dupes", "--train", "train", "--reg", "reg", "--no-cache"]) == 0
    out = capsys.readouterr().out
    assert "30× = 3 × 10" in out  # the picture's samples per epoch, in the table
    assert "train ×10, byte-identical to t0.jpg" in out
    assert ("3 training images are the same picture, so it trains 30 times per epoch (3 copies × 10 repeats) "
            "instead of 10") in " ".join(out.split())
    main(["dupes", "--train", "train", "--reg", "reg", "--no-cache", "--json"])
    import json

    (g,) = json.loads(capsys.readouterr().out)["groups"]
    assert [(i["path"].rsplit("/", 1)[1], i["relation"], i["distance"], i["per_epoch"]) for i in g["images"]] == [
        ("t0.jpg", "reference", 0, 10), ("t0 (1).jpg", "byte-identical", 0, 10), ("t0 (2).jpg", "byte-identical", 0, 10)]


def test_cli_dupes_human_names_the_first_50_files_of_a_group(tree, capsys, monkeypatch):
    """A group of 60 copies (a file linked into a folder per dataset: 100,000 of them took minutes to
    lay out) shows its reference and 49 more, then how many the JSON adds."""
    import json
    import os

    from regaudit.cli import main

    t = tree / "train" / "10_sks dog"
    for k in range(59):
        os.link(t / "t0.jpg", t / f"t0_{k:02d}.jpg")
    monkeypatch.setenv("COLUMNS", "120")
    monkeypatch.chdir(tree)
    assert main(["dupes", "--train", "train", "--reg", "reg", "--no-cache"]) == 0
    out = capsys.readouterr().out
    assert "600× = 60 × 10" in out and "… and 10 more files (use --json for the full list)" in out
    assert "t0_48.jpg" in out and "t0_49.jpg" not in out.split("… and 10 more")[0]
    assert main(["dupes", "--train", "train", "--reg", "reg", "--no-cache", "--json"]) == 0
    (g,) = json.loads(capsys.readouterr().out)["groups"]
    assert len(g["images"]) == 60


def test_a_name_like_a_copys_is_never_the_reference():
    from regaudit.views.dupes import looks_like_a_copy

    copies = ["d/IMG_4023 (1).jpg", "a - Copy.jpg", "a - Copy (2).png", "a copy.jpg", "a copy 2.jpg", "a (copy).jpg",
              "a (another copy).jpg", "a (3rd copy).jpg", "Copy of a.jpg"]
    assert all(looks_like_a_copy(n) for n in copies)
    assert not any(looks_like_a_copy(n) for n in ["IMG_4023.jpg", "IMG_4023-edited.jpg", "copycat.jpg",
                                                  "10_ohwx (1)/a.jpg", "scan copy of x.jpg"])


def test_a_metadata_key_naming_no_file_is_unreadable_without_a_decode(tmp_path, capsys, monkeypatch):
    """Fine-tuning metadata registers its keys without looking for the files (the sizes are in it):
    a key naming no file is RA041 with the reason open gives, and no worker is asked to decode it."""
    import json

    from regaudit.cli import main
    from regaudit.views import dupes as dupes_view

    (tmp_path / "img").mkdir()
    Image.new("RGB", (64, 64), (9, 99, 199)).save(tmp_path / "img" / "there.png")
    meta = {str(tmp_path / "img" / name): {"caption": "a dog", "image_size": [64, 64]} for name in ("there.png", "gone.png")}
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    decoded: list[str] = []
    real = dupes_view.encode
    monkeypatch.setattr(dupes_view, "encode", lambda path, **kw: decoded.append(path) or real(path, **kw))
    code = main(["dupes", "--json", "--no-cache", "fine_tune.py", "--in_json", str(tmp_path / "meta.json"),
                 "--train_data_dir", str(tmp_path / "img"), "--cache_latents"])
    doc = json.loads(capsys.readouterr().out)
    assert code == 0 and decoded == [str(tmp_path / "img" / "there.png")]
    assert [(f["code"], f["path"], f["message"]) for f in doc["findings"]] == [
        ("RA041", str(tmp_path / "img" / "gone.png"), "image cannot be read: No such file or directory (found while hashing)")]


@pytest.mark.parametrize("cache", [False, True])
def test_metadata_keys_no_system_takes_are_unreadable_not_an_internal_error(tmp_path, capsys, cache):
    """A metadata key with a NUL or a lone surrogate outside surrogateescape's range (JSON can write
    both) names no file: RA041 with the reason, with the hash cache on or off."""
    import json

    from regaudit.cli import main

    (tmp_path / "img").mkdir()
    Image.new("RGB", (64, 64), (9, 99, 199)).save(tmp_path / "img" / "there.png")
    keys = [str(tmp_path / "img" / "there.png"), str(tmp_path / "img" / "nul\x00.png"),
            str(tmp_path / "img" / "half\ud800.png")]
    (tmp_path / "meta.json").write_text(json.dumps({k: {"caption": "x", "image_size": [64, 64]} for k in keys}))
    where = ["--cache", str(tmp_path / "h.sqlite")] if cache else ["--no-cache"]
    for _ in range(2 if cache else 1):  # (cold, then warm)
        code = main(["dupes", "--json", *where, "fine_tune.py", "--in_json", str(tmp_path / "meta.json"),
                     "--train_data_dir", str(tmp_path / "img"), "--cache_latents"])
        out, err = capsys.readouterr()
        assert code == 0 and "internal error" not in err, err
        found = {f["path"] for f in json.loads(out)["findings"] if f["code"] == "RA041"}
        assert found == set(keys[1:])
