"""The rule table: every code has a family, and the families partition the table."""

from __future__ import annotations

import re

from regaudit.rules import REGISTRY, Family, rule
from regaudit.rules.registry import _RULES


def test_every_code_has_a_family():
    for r in REGISTRY.values():
        assert isinstance(r.family, Family), r.code
        assert re.fullmatch(r"R[AM]\d{3}", r.code)


def test_families_partition_the_table():
    by_family = {f: {r.code for r in _RULES if r.family is f} for f in Family}
    assert all(by_family.values()), "a family without a code"
    union = set().union(*by_family.values())
    assert union == set(REGISTRY) and sum(map(len, by_family.values())) == len(_RULES)


def test_families_follow_the_code_ranges():
    assert rule("RA001").family is Family.LAYOUT
    assert {rule(c).family for c in ("RA020", "RA031", "RA038")} == {Family.CAPTIONS}
    assert rule("RA043").family is Family.IMAGES
    assert {rule(c).family for c in ("RA076", "RA077", "RA078", "RA079", "RA091")} == {Family.START}
    assert {rule(c).family for c in ("RA060", "RA066", "RA074", "RA075", "RA090")} == {Family.RUN}
    assert {rule(c).family for c in ("RA080", "RA084")} == {Family.DUPES}


def test_a_finding_lists_at_most_finding_images_of_its_images():
    from regaudit.limits import FINDING_IMAGES
    from regaudit.rules import rule
    from regaudit.rules.naming import rows

    paths = [f"/d/{k}.png" for k in range(FINDING_IMAGES + 5)]
    f = rule("RA029").finding("/d", f"{len(paths)} of {len(paths)} images", images=rows(paths))
    assert FINDING_IMAGES == 1000 and len(f.images) == 1000 and f.images[-1] == (("path", "/d/999.png"),)
    g = rule("RA029").finding("/d", "m", images=tuple((("path", p),) for p in paths))
    assert len(g.images) == 1000


def test_named_gives_the_folder_where_the_images_are_in_several():
    # RA071 named 'tiny_thumb.jpg, woman_0000.jpg' for one train and one reg image under a train image's path
    import os

    from regaudit.rules.naming import named

    assert named(["/d/a.png", "/d/b.png", "/d/c.png", "/d/e.png"]) == "a.png, b.png, c.png and 1 more"
    train, reg = os.path.join("img", "10_ohwx woman", "tiny.jpg"), os.path.join("reg", "1_woman", "w0.jpg")
    assert named([train, reg]) == f"{os.path.join('10_ohwx woman', 'tiny.jpg')}, {os.path.join('1_woman', 'w0.jpg')}"
