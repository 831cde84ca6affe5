"""Spec §5 sizes and what silently changes training, read from headers."""

from __future__ import annotations

import io
import os
import struct
import zlib

from PIL import Image

from regaudit.sdscripts.images import probe
from tests.conftest import make_image
from tests import platforms


def test_sizes_from_headers(tmp_path):
    for ext, fmt in ((".png", "PNG"), (".jpg", "JPEG"), (".webp", "WEBP"), (".bmp", "BMP")):
        p = make_image(tmp_path / f"a{ext}", size=(70, 33))
        r = probe(str(p))
        assert (r.width, r.height, r.format, r.error) == (70, 33, fmt, None)
        assert r.size_via == ("pillow" if ext == ".bmp" else "header")  # BMP always goes through Pillow


def test_lossless_webp_header(tmp_path):
    p = make_image(tmp_path / "a.webp", size=(301, 157), lossless=True)
    assert (probe(str(p)).width, probe(str(p)).height) == (301, 157)


def test_exif_orientation_jpeg_and_png(tmp_path):
    j = make_image(tmp_path / "a.jpg", exif_orientation=6)
    assert probe(str(j)).exif_orientation == 6
    p = make_image(tmp_path / "a.png", exif_orientation=8)
    assert probe(str(p)).exif_orientation == 8
    assert probe(str(make_image(tmp_path / "b.jpg"))).exif_orientation is None


def _png_with_late_exif(path, orientation):
    buf = io.BytesIO()
    Image.new("RGB", (20, 10)).save(buf, "PNG")
    data = buf.getvalue()
    exif = Image.Exif()
    exif[0x0112] = orientation
    body = exif.tobytes()[6:] if exif.tobytes().startswith(b"Exif") else exif.tobytes()
    chunk = struct.pack(">L", len(body)) + b"eXIf" + body + struct.pack(">L", zlib.crc32(b"eXIf" + body))
    iend = data.rfind(b"IEND") - 4
    path.write_bytes(data[:iend] + chunk + data[iend:])


def test_png_exif_after_image_data_found_without_decoding(tmp_path):
    p = tmp_path / "late.png"
    _png_with_late_exif(p, 6)
    assert probe(str(p)).exif_orientation == 6


def test_modes(tmp_path):
    assert probe(str(make_image(tmp_path / "a.png", mode="RGBA"))).has_transparency
    assert probe(str(make_image(tmp_path / "c.jpg", mode="CMYK"))).mode == "CMYK"
    pal = probe(str(make_image(tmp_path / "p.png", mode="P")))
    assert pal.mode == "P" and not pal.has_transparency
    assert probe(str(make_image(tmp_path / "t.png", mode="P", transparency=7))).has_transparency
    assert probe(str(make_image(tmp_path / "g.png", mode="I;16"))).mode in ("I;16", "I")


def test_zero_byte_and_garbage(tmp_path):
    (tmp_path / "z.png").write_bytes(b"")
    z = probe(str(tmp_path / "z.png"))
    assert (z.width, z.height, z.error_kind) == (0, 0, "zero_bytes")
    (tmp_path / "g.png").write_bytes(b"<html>not an image</html>")
    g = probe(str(tmp_path / "g.png"))
    assert (g.width, g.height, g.error_kind) == (0, 0, "no_size")


def test_jpeg_marker_then_garbage_crashes_header_reader(tmp_path):
    # imagesize 1.4.1 raises this (checked on the real package); sd-scripts stops building
    (tmp_path / "bad.jpg").write_bytes(b"\xff\xd8" + b"\x00garbage")
    r = probe(str(tmp_path / "bad.jpg"))
    assert (r.size_via, r.error_kind, r.error) == ("crash", "header_crash", "ValueError: Invalid JPEG file")


def test_truncated_jpeg_found_by_its_missing_end_then_deep(tmp_path):
    p = make_image(tmp_path / "t.jpg", size=(256, 256), quality=95)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    r = probe(str(p))
    assert r.error is None and (r.width, r.height) == (256, 256)
    assert r.load_error_kind == "truncated" and r.load_error.startswith("OSError: image file is truncated")
    deep = probe(str(p), deep=True)
    assert deep.decode_error and deep.decoded


def test_truncated_png_found_by_its_missing_iend(tmp_path):
    p = tmp_path / "t.png"
    im = Image.effect_noise((128, 128), 50).convert("RGB")
    im.save(p)
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    r = probe(str(p))
    assert r.error is None and r.load_error_kind == "truncated"
    assert probe(str(p), deep=True).decode_error


def test_data_after_the_end_marker_is_not_truncation(tmp_path):
    j = make_image(tmp_path / "a.jpg", size=(40, 30))
    j.write_bytes(j.read_bytes() + b"\0" * 100 + b"motion photo trailer" * 5000)  # a phone's MP4 trailer
    p = make_image(tmp_path / "a.png", size=(40, 30))
    p.write_bytes(p.read_bytes()[:-12])  # no IEND, but every pixel is there: Pillow loads it
    assert probe(str(j)).load_error is None and probe(str(p)).load_error is None


@platforms.symlinks
def test_not_a_file(tmp_path):
    (tmp_path / "d.png").mkdir()
    assert probe(str(tmp_path / "d.png")).error_kind == "not_a_file"
    os.symlink(tmp_path / "nowhere", tmp_path / "l.png")
    assert probe(str(tmp_path / "l.png")).error_kind == "not_a_file"


def test_format_mismatch_still_reads(tmp_path):
    p = make_image(tmp_path / "a.jpg", fmt="PNG", size=(10, 20))
    r = probe(str(p))
    assert (r.format, r.width, r.height) == ("PNG", 10, 20)


def test_permission_denied_is_data_not_a_crash(tmp_path, monkeypatch):
    from regaudit.sdscripts.captions import read_caption

    p = make_image(tmp_path / "a.png")
    (tmp_path / "a.caption").write_text("x")
    real_open = os.open

    def denying(file, *a, **k):
        if str(file).startswith(str(tmp_path)):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *a, **k)

    monkeypatch.setattr(os, "open", denying)
    r = probe(str(p))
    assert r.error_kind == "unreadable" and "Permission denied" in r.error
    assert read_caption(str(p), ".caption", "t").error == "unreadable"


def test_huge_image_header_is_read_without_decoding(tmp_path):
    # a PNG that claims 30000 x 20000 pixels: the header gives the size, Pillow refuses to open it
    ihdr = struct.pack(">LLBBBBB", 30000, 20000, 8, 2, 0, 0, 0)
    chunk = lambda t, d: struct.pack(">L", len(d)) + t + d + struct.pack(">L", zlib.crc32(t + d))  # noqa: E731
    (tmp_path / "huge.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))
    r = probe(str(tmp_path / "huge.png"))
    assert (r.width, r.height, r.size_via, r.error) == (30000, 20000, "header", None)

    from regaudit.model import Caption, CaptionSource, ImageRecord, Subset, SubsetConfig
    from regaudit.rules.images import image_findings

    rec = ImageRecord(str(tmp_path / "huge.png"), str(tmp_path / "huge.png"), ".png", r,
                      Caption(CaptionSource.EMPTY, None, ""))
    sub = Subset(SubsetConfig(str(tmp_path), False, 1, "x"), str(tmp_path), (rec,))
    assert "RA050" in {f.code for f in image_findings(sub)}


def _webp(tmp_path, name, size, rgba=True):
    return make_image(tmp_path / name, size=size, mode="RGBA" if rgba else "RGB", color=(1, 2, 3, 100), fmt="WEBP")


def test_webp_vp8x_sizes_as_sd_scripts_reads_them(tmp_path):
    # imagesize 1.4.1 returns the stored width-1, height-1 of a VP8X header (spec §10.1)
    r = probe(str(_webp(tmp_path, "a.webp", (300, 200))))
    assert (r.width, r.height, r.size_via, r.mode, r.has_transparency) == (299, 199, "header", "RGBA", True)
    r = probe(str(_webp(tmp_path, "b.webp", (1, 200))))  # width 0: sd-scripts asks Pillow
    assert (r.width, r.height, r.size_via, r.error) == (1, 200, "pillow", None)
    r = probe(str(_webp(tmp_path, "c.webp", (300, 1))))  # height 0: a division by zero in the build
    assert (r.width, r.height, r.error_kind) == (299, 0, "no_size")
    r = probe(str(_webp(tmp_path, "d.webp", (300, 200), rgba=False)))
    assert (r.width, r.height, r.mode) == (300, 200, "RGB")


def test_svg_named_png_builds_then_fails_to_load(tmp_path):
    # spec §10.8: imagesize reads (512.0, 768.0); Pillow cannot open it
    p = tmp_path / "b.png"
    p.write_text('<svg width="512" height="768" xmlns="http://www.w3.org/2000/svg"></svg>')
    r = probe(str(p))
    assert (r.width, r.height, r.size_via, r.error, r.format) == (512.0, 768.0, "header", None, None)
    assert isinstance(r.width, float)
    assert r.load_error_kind == "unopenable" and r.load_error.startswith("UnidentifiedImageError")
    p.write_text('<svg width="100%" height="100%"></svg>')
    assert probe(str(p)).error == "ValueError: unknown length value: 100%"


def test_png_text_bomb_is_unopenable(tmp_path):
    ihdr = struct.pack(">LLBBBBB", 30, 20, 8, 2, 0, 0, 0)
    chunk = lambda t, d: struct.pack(">L", len(d)) + t + d + struct.pack(">L", zlib.crc32(t + d))  # noqa: E731
    body = zlib.compress(b"a" * (2 << 20))
    idat = chunk(b"IDAT", zlib.compress(b"\0" * 91 * 20))
    (tmp_path / "bomb.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"zTXt", b"k\0\0" + body)
                                        + idat + chunk(b"IEND", b""))
    r = probe(str(tmp_path / "bomb.png"))
    assert (r.width, r.height, r.load_error_kind) == (30, 20, "unopenable")
    assert "Decompressed data too large" in r.load_error


def test_header_reader_reports_what_pillow_reports(tmp_path):
    # the one-pass header readers against the Pillow-based probe on generated files
    from regaudit.sdscripts import images
    from regaudit.sdscripts.imagesize_141 import Source

    cases = []
    for mode in ("1", "L", "LA", "P", "RGB", "RGBA", "I;16"):
        cases.append(make_image(tmp_path / f"m{mode.replace(';', '')}.png", mode=mode))
    cases.append(make_image(tmp_path / "pt.png", mode="P", transparency=3))
    cases.append(make_image(tmp_path / "lt.png", mode="L", transparency=3))
    cases.append(make_image(tmp_path / "rt.png", mode="RGB", transparency=(1, 2, 3)))
    for mode in ("L", "RGB", "CMYK"):
        cases.append(make_image(tmp_path / f"j{mode}.jpg", mode=mode))
        cases.append(make_image(tmp_path / f"jp{mode}.jpg", mode=mode, progressive=True))
    for o in (3, 6, 8):
        cases.append(make_image(tmp_path / f"e{o}.jpg", exif_orientation=o))
        cases.append(make_image(tmp_path / f"e{o}.png", exif_orientation=o))
        cases.append(make_image(tmp_path / f"e{o}.webp", exif_orientation=o))
    cases.append(make_image(tmp_path / "ll.webp", mode="RGBA", lossless=True))
    cases.append(make_image(tmp_path / "ly.webp", mode="RGB"))
    for p in cases:
        fd = os.open(p, os.O_RDONLY)
        try:
            n = os.fstat(fd).st_size
            src = Source(os.read(fd, images.HEAD_BYTES), fd, n)
            assert images.headers.view(src) is not None, p.name  # read without Pillow
            assert images._probe(src, False) == images._probe_pillow(src, False), p.name
        finally:
            os.close(fd)


def test_scan_flags_images_that_fail_only_when_loaded(tmp_path):
    from regaudit.sdscripts.config import TrainingArgs
    from regaudit.views.scan import load_specs, scan

    sub = tmp_path / "train" / "2_dog"
    make_image(sub / "ok.png")
    (sub / "vector.png").write_text('<svg width="512" height="768"></svg>')
    Image.effect_noise((128, 128), 50).convert("RGB").save(sub / "cut.jpg", quality=95)
    (sub / "cut.jpg").write_bytes((sub / "cut.jpg").read_bytes()[:-3000])  # into the scan data
    result = scan(load_specs(str(tmp_path / "train"), None, None, TrainingArgs()), jobs=1)
    by_code = {(f.code, os.path.basename(f.path)): f for f in result.findings}
    unloadable = by_code[("RA052", "vector.png")]
    assert unloadable.severity.value == "error" and "fails when it loads this image" in unloadable.message
    assert "512.0x768.0" in unloadable.message
    truncated = by_code[("RA043", "cut.jpg")]
    assert "cut short" in truncated.message and "fails when it loads this image" in truncated.message
    assert not any(name == "ok.png" for _, name in by_code)


def test_scan_balance_and_help_import_no_heavy_library(tmp_path):
    # numpy, scipy, imagehash and torch are for dupes and smoke only
    import subprocess
    import sys

    make_image(tmp_path / "train" / "2_dog" / "a.jpg")
    make_image(tmp_path / "train" / "2_dog" / "b.png", mode="RGBA")
    code = (
        "import sys, contextlib, io\n"
        "from regaudit.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['--help'])\n"
        f"    main(['scan', {str(tmp_path / 'train')!r}, '--json'])\n"
        f"    main(['balance', '--train', {str(tmp_path / 'train')!r}, '--resolution', '512'])\n"
        "print(sorted(m for m in ('numpy', 'scipy', 'imagehash', 'torch') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_clean_images_short_way_says_what_the_long_way_says(monkeypatch):
    """image_findings skips a plainly clean image before its checks; on random probes (clean ones
    and each way of not being clean) the findings are those of the checks run on every image."""
    import random

    import regaudit.rules.images as image_rules
    from regaudit.model import Caption, CaptionSource, ImageProbe, ImageRecord, Subset, SubsetConfig

    rnd = random.Random(7)
    choices = {
        "size_via": ["header", "pillow", "none", "crash"], "format": ["JPEG", "PNG", "WEBP", "MPO", "BMP", None],
        "mode": ["RGB", "L", "P", "RGBA", "LA", "CMYK", "I;16", "1", None], "has_transparency": [False, True],
        "exif_orientation": [None, 1, 3, 6], "error": [None, "size reads as 0x0"],
        "error_kind": [None, "zero_bytes", "not_a_file", "unreadable", "header_crash", "no_size"],
        "decode_error": [None, "OSError: broken"], "decoded": [False, True], "load_error": [None, "OSError: x"],
        "load_error_kind": [None, "unopenable", "too_large", "truncated", "corrupt"],
    }
    images = []
    for k in range(4000):
        probe = ImageProbe(640, 480, "header", "JPEG", "RGB", False, None, 100)
        for name in rnd.sample(sorted(choices), rnd.choice([0, 0, 1, 2])):
            probe = probe._replace(**{name: rnd.choice(choices[name])})
        ext = rnd.choice([".jpg", ".JPG", ".png", ".PNG", ".webp", ".jpeg", ".bmp", ".Jpg"])
        cache = rnd.choice([(), (), (("_sd.npz", (640, 480)),), (("_sd.npz", (64, 48)),)])
        images.append(ImageRecord(f"/d/{k}{ext}", f"/d/{k}{ext}", ext, probe,
                                  Caption(CaptionSource.EMPTY, None, ""), cache))
    sub = Subset(SubsetConfig("/d", False, 1, "x"), "/d", tuple(images))
    short = list(image_rules.image_findings(sub))
    monkeypatch.setattr(image_rules, "_CLEAN_ENDS", frozenset())  # every image the long way
    assert short == list(image_rules.image_findings(sub))
    assert len(short) > 1000


def test_jpeg_headers_seen_before_read_as_walked():
    """The JPEG reader remembers headers it walked (the bytes up to the start-of-scan marker);
    whatever the order of files sharing header bytes (same encoder and size, other pixels, cut
    short, a comment holding FF DA, a short file), the view is the walk's."""
    import io
    import random

    from PIL import Image

    import importlib

    from regaudit.sdscripts.imagesize_141 import Source

    jpeg_mod = importlib.import_module("regaudit.sdscripts.headers.jpeg")  # (the module: the package exports its function)

    rnd = random.Random(5)
    blobs = []
    for size in [(64, 48), (64, 48), (33, 17)]:
        for quality in (75, 90):
            im = Image.effect_noise(size, rnd.randint(5, 90)).convert("RGB")
            out = io.BytesIO()
            im.save(out, "JPEG", quality=quality, comment=b"x\xff\xday" if rnd.random() < 0.5 else b"plain")
            data = out.getvalue()
            scan_end = jpeg_mod._walk(Source(data))[2]
            blobs += [data, data[:len(data) // 2], data[:-2] + b"\x00\x00", data[:300], data + b"trailer",
                      data[:scan_end - 1]]  # (cut inside the scan header: the same header bytes, too short)
    jpeg_mod._SEEN.clear()
    for _ in range(3):
        rnd.shuffle(blobs)
        for data in blobs:
            src = lambda: Source(data)  # noqa: E731
            walked = jpeg_mod._walk(src())
            assert jpeg_mod.jpeg(src()) == (walked[0] if walked else None)
    assert jpeg_mod._SEEN  # (some were remembered)
