"""Duplicate search on hostile files: exact hashing streams a huge file, an undecodable image is
named the same every run, and a distance out of range is refused."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import make_image


def test_exact_hashing_streams_the_file(tmp_path):
    import tracemalloc

    from regaudit.views.hashing import HashKind, encode, file_digest

    big = tmp_path / "big.png"
    with open(big, "wb") as fh:
        fh.truncate(64 << 20)  # sparse: 64 MiB of zeros
    tracemalloc.start()
    entry = encode(str(big), HashKind.PHASH)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert entry.digest == file_digest(str(big)) and entry.error  # read, digested, not an image
    assert peak < 16 << 20


def test_an_undecodable_image_found_while_hashing_is_named_the_same_every_run(tmp_path):
    d = tmp_path / "train" / "1_x"
    d.mkdir(parents=True)
    (d / "bad.png").write_bytes(b"not an image at all")
    make_image(d / "good.png")
    outs = [subprocess.run([sys.executable, "-m", "regaudit", "dupes", "--train", str(tmp_path / "train"),
                            "--no-cache", "--json"], capture_output=True, text=True, timeout=120).stdout
            for _ in range(2)]
    assert outs[0] == outs[1]
    messages = [f["message"] for f in json.loads(outs[0])["findings"] if f["code"] == "RA043"]
    assert messages and all(" at 0x" not in m for m in messages)


def test_dupes_options_validate_the_distance():
    from regaudit.views.dupes import DupesOptions
    from regaudit.errors import OptionError

    with pytest.raises(OptionError, match="outside 0..32"):
        DupesOptions(max_distance=-5)
