"""Reading a dataset: FIFOs named like images and captions never block a command."""

from __future__ import annotations

import os

from tests import platforms
from tests.hostile_fixtures import cli
from tests.hostile_fixtures import ds  # noqa: F401 (a fixture)


@platforms.fifos
def test_fifos_with_image_and_caption_names_never_block(ds):
    t = ds / "train" / "10_dog"
    os.mkfifo(t / "x.png")
    os.mkfifo(t / "t2.caption")
    for argv in (["scan", "train"], ["dupes", "--train", "train", "--no-cache"],
                 ["check", "--train", "train", "--dupes", "--no-cache"],
                 ["report", "--train", "train", "--no-cache", "-o", ds / "r.html"]):
        res = cli(*argv, cwd=ds, timeout=90)
        assert res.returncode in (0, 1), res.stderr
        assert b"internal error" not in res.stderr
