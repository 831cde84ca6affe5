"""regaudit fix: the fixes that change pixels (EXIF orientation; with --unsafe-fixes JPEG rotation,
CMYK, transparency) and the latent caches beside the images they change."""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

from PIL import Image, PngImagePlugin

from regaudit.cli import main
from regaudit.views.fix_images import jpeg_quality, webp_kind
from tests.conftest import make_image, tree_fingerprint


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def fingerprint(root: Path) -> dict[str, str]:
    """tree_fingerprint and every folder's mtime too."""
    out = tree_fingerprint(root)
    for dirpath, _, _ in os.walk(root):
        out["mtime:" + dirpath] = str(os.stat(dirpath).st_mtime_ns)
    return out


def oriented(path: Path, fmt: str, orientation: int = 6, fill=(10, 20, 30), **save) -> Path:
    """A 4x2 image, red at (0, 0), the rest ``fill``, with EXIF orientation and a Make tag."""
    im = Image.new("RGB", (4, 2), fill)
    im.putpixel((0, 0), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "Canon"
    path.parent.mkdir(parents=True, exist_ok=True)
    im.save(path, fmt, exif=exif.tobytes(), **save)
    return path


def by_fix(doc) -> dict[tuple[str, str], dict]:
    return {(a["fix"], os.path.basename(a["source"])): a for a in doc["actions"]}


def test_webp_kind_and_jpeg_quality(tmp_path):
    oriented(tmp_path / "l.webp", "WEBP", lossless=True)
    oriented(tmp_path / "y.webp", "WEBP", quality=80)
    assert webp_kind(str(tmp_path / "l.webp")) == "lossless"
    assert webp_kind(str(tmp_path / "y.webp")) == "lossy"
    for q in (50, 77, 90):
        buf = io.BytesIO()
        Image.new("RGB", (16, 16)).save(buf, "JPEG", quality=q)
        assert jpeg_quality(Image.open(buf).quantization) == q


def test_exif_orientation_applied_losslessly(capsys, tmp_path):
    t = tmp_path / "data" / "train" / "1_dog"
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "kept")
    oriented(t / "p.png", "PNG", pnginfo=info)
    oriented(t / "w.webp", "WEBP", lossless=True, fill=(10, 20, 31))  # (not a duplicate of p.png)
    oriented(t / "j.jpg", "JPEG", quality=90, fill=(90, 20, 30))
    make_image(t / "q.png", size=(4, 2))  # (not "plain.png": "p" would then take its cache)
    for stem in ("p", "j", "q"):  # latent caches beside each
        (t / f"{stem}_0004x0002_sd.npz").write_bytes(b"latents")
    (t / "p.npz").write_bytes(b"old latents")
    root = t.parent
    before = fingerprint(root)
    rc, out, err = run(capsys, "fix", str(root), "--json")
    assert rc == 0, err
    plan = by_fix(json.loads(out))
    assert plan[("rotate-exif", "p.png")]["safe"] and plan[("rotate-exif", "p.png")]["applied"]
    assert plan[("rotate-exif", "w.webp")]["safe"]
    assert plan[("rotate-exif", "j.jpg")] == {"code": "RA044", "fix": "rotate-exif", "source": str(t / "j.jpg"),
                                               "dest": "train/1_dog/j.jpg", "safe": False, "applied": False}
    assert plan[("drop-cache", "p_0004x0002_sd.npz")]["dest"] is None
    assert ("drop-cache", "j_0004x0002_sd.npz") not in plan  # its image is not changed without --unsafe-fixes
    out_dir = tmp_path / "fixed"
    rc, out, err = run(capsys, "fix", str(root), "--out", str(out_dir), "--json")
    assert rc == 0, err
    assert fingerprint(root) == before  # bytes, mode, mtime of every file and folder
    c = out_dir / "train" / "1_dog"
    for name in ("p.png", "w.webp"):
        im = Image.open(c / name)
        assert im.size == (2, 4)  # 4x2 stored, orientation 6: 2x4 upright
        assert im.convert("RGB").getpixel((1, 0)) == (255, 0, 0)  # the red corner turned clockwise
        assert im.convert("RGB").getpixel((0, 3)) in ((10, 20, 30), (10, 20, 31))
        assert im.getexif().get(0x0112) is None and im.getexif().get(0x010F) == "Canon"  # tag dropped, Make kept
    assert Image.open(c / "p.png").text == {"parameters": "kept"}
    assert Image.open(c / "j.jpg").size == (4, 2)  # unsafe: left as it was
    assert sorted(p.name for p in c.iterdir()) == ["j.jpg", "j_0004x0002_sd.npz", "p.png", "q.png",
                                                    "q_0004x0002_sd.npz", "w.webp"]
    doc = json.loads(out)
    assert {f["code"] for f in doc["remaining"] if f["path"].endswith("p.png") or f["path"].endswith("w.webp")} \
        == set()
    assert [f["path"] for f in doc["remaining"] if f["code"] == "RA044"] == [str(c / "j.jpg")]
    got = sorted((a["fix"], os.path.basename(a["source"])) for a in doc["actions"])
    assert got == [("drop-cache", "p.npz"), ("drop-cache", "p_0004x0002_sd.npz"), ("rotate-exif", "p.png"),
                   ("rotate-exif", "w.webp")]
    manifest = json.loads((out_dir / "regaudit-fix.json").read_text())
    rot = next(a for a in manifest["actions"] if a["source"].endswith("p.png"))
    assert rot["before"]["sha256"] == hashlib.sha256((t / "p.png").read_bytes()).hexdigest()
    assert rot["after"]["sha256"] == hashlib.sha256((c / "p.png").read_bytes()).hexdigest()
    assert "(4x2 -> 2x4)" in rot["changed"] and "lossless" in rot["changed"]
    drop = next(a for a in manifest["actions"] if a["source"].endswith("p_0004x0002_sd.npz"))
    assert drop["dest"] is None and drop["before"]["size"] == 7
