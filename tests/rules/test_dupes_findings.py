"""rules/dupes.py: duplicate groups and hashing failures in, findings out."""

from __future__ import annotations

from regaudit.rules.dupes import group_findings, hashing_findings, per_epoch
from regaudit.views.dupes import DupGroup, Member, Relation

B, N, M = Relation.BYTES, Relation.NEAR, Relation.MIRROR


def test_hashing_failures():
    got = hashing_findings([("/a.png", "cannot be read: [Errno 13]"), ("/b.png", "is truncated")])
    assert [(f.code, f.path, f.message) for f in got] == [
        ("RA041", "/a.png", "image cannot be read: [Errno 13] (found while hashing)"),
        ("RA043", "/b.png", "image is truncated (found while hashing)")]


def test_leakage_counts_the_reg_images_in_use():
    g = DupGroup("exact", 0, (Member("/t/a.png", "train", "/t", 10), Member("/r/b.png", "reg", "/r", 0, B, 0, "/t/a.png"),
                              Member("/r/c.png", "reg", "/r", 2, Relation.PIXELS, 0, "/t/a.png")), "leakage")
    (f,) = group_findings([g])
    assert (f.code, f.path) == ("RA080", "/t/a.png")
    assert f.message == ("train ↔ reg: 1 train image (/t/a.png) and 2 reg images (/r/b.png: byte-identical to /t/a.png; "
                         "/r/c.png: pixel-identical to /t/a.png (other bytes, the same pixels)) are the same picture: it "
                         "trains 10 times per epoch as a train sample and 2 times as a reg sample (1 of the 2 reg "
                         "images used by the reg balancing loop now)")
    assert f.to_json()["images"] == [
        {"path": "/t/a.png", "role": "train", "per_epoch": 10, "relation": "reference", "distance": 0, "of": None},
        {"path": "/r/b.png", "role": "reg", "per_epoch": 0, "relation": "byte-identical", "distance": 0,
         "of": "/t/a.png"},
        {"path": "/r/c.png", "role": "reg", "per_epoch": 2, "relation": "pixel-identical", "distance": 0,
         "of": "/t/a.png"}]


def test_train_duplicates_multiply_repeats_and_exif_adds_a_finding():
    g = DupGroup("near", 3, (Member("/t/a.png", "train", "/t", 10),
                             Member("/t/b.png", "train", "/t", 10, N, 3, "/t/a.png", upright=True)),
                 "within-subset", via_exif=True)
    f, exif = group_findings([g])
    assert (f.code, exif.code) == ("RA081", "RA084")
    assert f.message == ("2 training images are the same picture, so it trains 20 times per epoch (2 copies × 10 "
                         "repeats) instead of 10: /t/a.png; /t/b.png: near a.png, distance 3 once EXIF rotation is "
                         "applied")
    mirror = DupGroup("mirror", 5, (g.members[0], Member("/u/b.png", "train", "/u", 4, M, 5, "/t/a.png")),
                      "cross-train")
    (f,) = group_findings([mirror])
    assert f.code == "RA083" and f.message == (
        "2 training images are the same sample under flip_aug (mirror images), so the picture trains 14 times per "
        "epoch (2 copies, 10 + 4 repeats) instead of 10: /t/a.png; /u/b.png: mirror image of /t/a.png, distance 5")
    reg = DupGroup("exact", 0, (Member("/r/a.png", "reg", "/r", 1), Member("/r/b.png", "reg", "/r", 1, B, 0, "/r/a.png")),
                   "cross-reg")
    assert [(f.code, f.message.split(",")[0]) for f in group_findings([reg])] == [
        ("RA082", "2 reg images are the same picture")]


def test_a_train_mirror_pair_is_never_leakage():
    """flip_aug: a.png and its mirror image m.png train; r.png (reg) is a near copy of a.png. The leakage
    names a.png and r.png only; the mirror pair is RA083; no train copy is counted twice (no RA081)."""
    g = DupGroup("mirror", 2, (Member("/t/a.png", "train", "/t", 10),
                               Member("/t/m.png", "train", "/t", 10, M, 0, "/t/a.png"),
                               Member("/r/r.png", "reg", "/r", 3, N, 2, "/t/a.png")), "leakage")
    got = {f.code: f for f in group_findings([g])}
    assert sorted(got) == ["RA080", "RA083"]
    assert got["RA080"].message.startswith("train ↔ reg: 1 train image (/t/a.png) and 1 reg image (/r/r.png: near "
                                           "/t/a.png, distance 2) are the same picture: it trains 10 times per epoch")
    assert [i["path"] for i in got["RA080"].to_json()["images"]] == ["/t/a.png", "/r/r.png"]
    assert [i["path"] for i in got["RA083"].to_json()["images"]] == ["/t/a.png", "/t/m.png"]
    # the mirror image's own reg copy is leakage in its own right: two RA080, each naming its own pair
    g2 = DupGroup("mirror", 2, g.members + (Member("/r/s.png", "reg", "/r", 3, B, 0, "/t/m.png"),), "leakage")
    leaks = [f for f in group_findings([g2]) if f.code == "RA080"]
    assert [[i["path"] for i in f.to_json()["images"]] for f in leaks] == [["/t/a.png", "/r/r.png"],
                                                                          ["/t/m.png", "/r/s.png"]]


def test_per_epoch_figures():
    ms = [Member("/a", "train", "/", 10), Member("/b", "train", "/", 10), Member("/c", "train", "/", 10)]
    assert per_epoch(ms) == "30 times per epoch (3 copies × 10 repeats)"
    assert per_epoch(ms, short=True) == "30× = 3 × 10"
    ms[2] = Member("/c", "train", "/", 5)
    assert per_epoch(ms) == "25 times per epoch (3 copies, 10 + 10 + 5 repeats)"
    assert per_epoch(ms, short=True) == "25× = 10 + 10 + 5"
    assert per_epoch(ms[:1]) == "10 times per epoch" and per_epoch(ms[:1], short=True) == "10×"
    assert per_epoch([Member("/a", "train", "/", 1)]) == "1 time per epoch"
