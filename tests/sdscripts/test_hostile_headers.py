"""Reading image headers: a PNG chunk that claims a gigabyte costs little memory and is never
given to Pillow; a JPEG header run that libjpeg would skip byte by byte is left out of the decode."""

from __future__ import annotations

import os
import sys
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


def _jpeg_with_a_run(tmp_path, run: int, after_frame: bool):
    """A real 64x48 JPEG with ``run`` zero bytes (no 0xFF) put into its header: after APP0 (libjpeg
    skips them looking for the next marker), or with ``after_frame`` the file cut after its frame
    header and filled with zeros (no scan at all)."""
    import io as _io

    from PIL import Image as _Image

    buf = _io.BytesIO()
    _Image.new("RGB", (64, 48), (200, 30, 90)).save(buf, "JPEG")
    data = buf.getvalue()
    app0_end = 4 + int.from_bytes(data[4:6], "big")
    path = tmp_path / "run.jpg"
    if after_frame:
        sof = data.index(b"\xff\xc0")
        path.write_bytes(data[:sof + 2 + int.from_bytes(data[sof + 2:sof + 4], "big")] + bytes(run))
    else:
        path.write_bytes(data[:app0_end] + bytes(run) + data[app0_end:])
    return path


@pytest.mark.parametrize("after_frame", [False, True])
def test_a_jpeg_header_run_without_markers_is_left_out_of_the_decode_and_it_ends_the_same(tmp_path, monkeypatch,
                                                                                           after_frame):
    # a frame header followed by a GiB of zeros took libjpeg a minute per decode (scan --deep 62 s, report 258 s):
    # the bytes it skips looking for a marker are not given to Pillow, and the decode ends as it did
    from PIL import Image as _Image

    from regaudit.sdscripts.headers import for_pillow

    jpeg_headers = sys.modules["regaudit.sdscripts.headers.jpeg"]  # (the package's name 'jpeg' is a function)

    monkeypatch.setattr(jpeg_headers, "JPEG_SKIPPED_BYTES", 1 << 16)
    path = _jpeg_with_a_run(tmp_path, 1 << 17, after_frame)

    def decoded(source):
        try:
            with _Image.open(source) as im:
                return im.convert("RGB").tobytes()
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"

    with open(path, "rb") as fh:
        assert jpeg_headers.marker_free_run(fh.fileno()) is not None
        given = for_pillow(fh)
        assert given is not fh and len(given.getvalue()) < 1 << 16
        assert decoded(given) == decoded(open(path, "rb"))
    if after_frame:
        assert decoded(open(path, "rb")) == "OSError: cannot load this image"


def test_a_jpeg_without_a_long_run_is_given_to_pillow_as_it_is(tmp_path, monkeypatch):
    from regaudit.sdscripts.headers import for_pillow

    jpeg_headers = sys.modules["regaudit.sdscripts.headers.jpeg"]  # (the package's name 'jpeg' is a function)

    monkeypatch.setattr(jpeg_headers, "JPEG_SKIPPED_BYTES", 1 << 16)
    short = _jpeg_with_a_run(tmp_path, 1000, False)
    with open(short, "rb") as fh:
        assert for_pillow(fh) is fh
    png = tmp_path / "zeros.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(1 << 17))
    with open(png, "rb") as fh:
        assert for_pillow(fh) is fh


def test_a_sparse_webp_is_never_given_to_pillow(tmp_path, capsys):
    # Pillow's WebP plugin reads the whole file at open and copies it: a 1 GiB sparse WebP took 6.3 GB in `scan`
    import struct

    from regaudit.cli import main
    from regaudit.sdscripts.headers import WEBP_BYTES, chunk_problem

    folder = tmp_path / "train" / "5_dog"
    folder.mkdir(parents=True)
    path = folder / "sparse.webp"
    with open(path, "wb") as fh:
        fh.write(b"RIFF" + struct.pack("<I", WEBP_BYTES + (64 << 20) - 8) + b"WEBPVP8X" + struct.pack("<I", 10)
                 + b"\0\0\0\0" + (3999).to_bytes(3, "little") + (3999).to_bytes(3, "little"))
        fh.truncate(WEBP_BYTES + (64 << 20))  # (sparse: no disk)
    with open(path, "rb") as fh:
        assert "WebP file of" in chunk_problem(fh.fileno())
    small = folder / "small.webp"
    small.write_bytes(b"RIFF" + struct.pack("<I", 100) + b"WEBP" + bytes(100))
    with open(small, "rb") as fh:
        assert chunk_problem(fh.fileno()) is None
    small.unlink()
    code = main(["scan", "--json", "--no-progress", "--deep", str(tmp_path / "train")])
    out, err = capsys.readouterr()
    assert code == 0, err
    import json

    found = [f for f in json.loads(out)["findings"] if "sparse.webp" in f["path"]]
    assert found and "which Pillow would read whole into memory" in found[0]["message"]
