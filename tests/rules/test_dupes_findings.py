"""rules/dupes.py: duplicate groups and hashing failures in, findings out."""

from __future__ import annotations

from regaudit.rules.dupes import group_findings, hashing_findings
from regaudit.views.dupes import DupGroup, Member


def test_hashing_failures():
    got = hashing_findings([("/a.png", "cannot be read: [Errno 13]"), ("/b.png", "is truncated")])
    assert [(f.code, f.path, f.message) for f in got] == [
        ("RA041", "/a.png", "image cannot be read: [Errno 13] (found while hashing)"),
        ("RA043", "/b.png", "image is truncated (found while hashing)")]


def test_leakage_counts_the_reg_images_in_use():
    g = DupGroup("exact", 0, (Member("/t/a.png", "train", "/t", 10), Member("/r/b.png", "reg", "/r", 0),
                              Member("/r/c.png", "reg", "/r", 2)), "leakage")
    (f,) = group_findings([g])
    assert (f.code, f.path) == ("RA080", "/t/a.png")
    assert f.message == ("1 train image (/t/a.png) and 2 reg images (/r/b.png, /r/c.png) are identical: the picture "
                         "is trained 10 times per epoch as a train sample and 2 times as a reg sample (1 of the 2 reg "
                         "images used by the reg balancing loop now)")
    assert f.to_json()["images"] == [{"path": "/t/a.png", "role": "train", "per_epoch": 10},
                                     {"path": "/r/b.png", "role": "reg", "per_epoch": 0},
                                     {"path": "/r/c.png", "role": "reg", "per_epoch": 2}]


def test_train_duplicates_multiply_repeats_and_exif_adds_a_finding():
    g = DupGroup("near", 3, (Member("/t/a.png", "train", "/t", 10), Member("/t/b.png", "train", "/t", 10)),
                 "within-subset", via_exif=True)
    f, exif = group_findings([g])
    assert (f.code, exif.code) == ("RA081", "RA084")
    assert "near-identical (distance 3)" in f.message
    assert f.message.endswith("the picture is trained 20 times per epoch instead of 10")
    mirror = DupGroup("mirror", 5, g.members, "cross-train")
    assert [f.code for f in group_findings([mirror])] == ["RA083"]
    reg = DupGroup("exact", 0, (Member("/r/a.png", "reg", "/r", 1), Member("/r/b.png", "reg", "/r", 1)), "cross-reg")
    assert [(f.code, f.message.split(":")[0]) for f in group_findings([reg])] == [("RA082", "2 reg images are identical")]
