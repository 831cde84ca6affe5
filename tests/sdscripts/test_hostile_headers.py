"""Reading image headers: a PNG chunk that claims a gigabyte costs little memory and is never
given to Pillow."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.conftest import textured
from tests.hostile_fixtures import peak_of
from tests.hostile_fixtures import ds_captioned  # noqa: F401 (a fixture)


def _png_with_a_huge_chunk(path: Path, claimed: int = 1_000_000_000) -> None:
    import io
    import struct

    buf = io.BytesIO()
    textured(3, (64, 64)).save(buf, format="PNG")
    data = buf.getvalue()
    # a chunk that claims a gigabyte right after IHDR (8 + 25 bytes), then sparse zeros
    with open(path, "wb") as fh:
        fh.write(data[:33] + struct.pack(">L", claimed) + b"abCd")
        os.truncate(fh.fileno(), 1 << 30)


@pytest.mark.skipif(not hasattr(os, "wait4"), reason="wait4")
@pytest.mark.parametrize("argv", [["dupes", "--no-cache", "-j", "1", "train"], ["scan", "-j", "1", "train"],
                                  ["scan", "--deep", "-j", "1", "train"]])
def test_a_sparse_gigabyte_png_costs_little_memory(ds_captioned, argv):
    _png_with_a_huge_chunk(ds_captioned / "train" / "10_dog" / "huge.png")
    code, peak, out = peak_of(argv, ds_captioned)
    assert code == 0 and peak < 400, (code, peak)
    assert b"huge.png" in out


def test_a_huge_png_chunk_is_not_given_to_pillow(tmp_path):
    from regaudit.sdscripts.headers import chunk_problem
    from regaudit.views.hashing import HashKind, encode

    path = tmp_path / "huge.png"
    _png_with_a_huge_chunk(path)
    with open(path, "rb") as fh:
        assert "'abCd' claims 1000000000 bytes" in chunk_problem(fh.fileno())
    entry = encode(str(path), HashKind.PHASH)
    assert entry.hash is None and "claims 1000000000 bytes" in entry.error and entry.digest
    plain = tmp_path / "plain.png"
    textured(3, (64, 64)).save(plain)
    with open(plain, "rb") as fh:
        assert chunk_problem(fh.fileno()) is None
