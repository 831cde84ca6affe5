"""Reading captions: a huge (sparse) caption file is read only up to the cap, and a caption cut
at the cap inside a character is still UTF-8."""

from __future__ import annotations

import os

import pytest

from tests.hostile_fixtures import peak_of
from tests.hostile_fixtures import ds_captioned  # noqa: F401 (a fixture)


@pytest.mark.skipif(not hasattr(os, "wait4"), reason="wait4")
def test_a_sparse_gigabyte_caption_is_read_only_up_to_the_cap(ds_captioned):
    import json

    cap = ds_captioned / "train" / "10_dog" / "a_rather_long_picture_name_000.caption"
    with open(cap, "r+b") as fh:
        fh.write(b"a dog, ")
        os.truncate(fh.fileno(), 1 << 30)  # sparse: 1 GiB that costs no disk
    code, peak, out = peak_of(["scan", "--json", "-j", "1", "train"], ds_captioned)
    assert code == 0 and peak < 400, peak
    doc = json.loads(out)
    found = [f for f in doc["findings"] if f["code"] == "RA094"]
    assert len(found) == 1 and "1.0 GiB (1073741824 bytes)" in found[0]["message"], found
    assert len(out) < 1 << 20  # (the caption in the JSON is the part read, not the file: 64 KiB of \\u0000)
    code, peak, _ = peak_of(["captions", "-j", "1", "train"], ds_captioned)
    assert code == 0 and peak < 400, peak


def test_a_caption_cut_inside_a_character_is_still_utf8(tmp_path):
    from regaudit.limits import CAPTION_BYTES
    from regaudit.sdscripts.captions import read_caption

    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "a.caption").write_bytes(b"x" * (CAPTION_BYTES - 1) + "é".encode() * 10)
    cap = read_caption(str(tmp_path / "a.png"), ".caption", None)
    assert cap.error is None and cap.oversize == CAPTION_BYTES + 19 and cap.text == "x" * (CAPTION_BYTES - 1)
