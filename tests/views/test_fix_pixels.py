"""regaudit fix: the fixes that change pixels (EXIF orientation; with --unsafe-fixes JPEG rotation,
CMYK, transparency) and the latent caches beside the images they change."""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path

import pytest
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


def picture(path: Path, kind: str, turn=None) -> Path:
    """A 64x64 RGB gradient (uniform images would all be near duplicates of each other)."""
    im = (Image.linear_gradient("L") if kind == "linear" else Image.radial_gradient("L")).resize((64, 64))
    if turn is not None:
        im = im.transpose(turn)
    path.parent.mkdir(parents=True, exist_ok=True)
    im.convert("RGB").save(path)
    return path


@pytest.fixture
def unsafe_tree(tmp_path):
    """One subset with a problem for each unsafe fix."""
    t = tmp_path / "data" / "train" / "1_dog"
    oriented(t / "j.jpg", "JPEG", quality=90, fill=(90, 20, 30))
    (t / "j_0004x0002_sd.npz").write_bytes(b"latents")
    Image.new("CMYK", (4, 2), (0, 255, 255, 0)).save(t / "k.jpg", "JPEG", quality=95)  # no ICC profile
    rgba = Image.new("RGBA", (4, 2), (0, 0, 255, 255))
    rgba.putpixel((0, 0), (255, 0, 0, 128))
    rgba.save(t / "t.png")
    picture(t / "a.png", "linear")
    picture(t / "b.png", "linear")  # byte-identical to a.png
    (t / "a.caption").write_text("a one")
    (t / "b.caption").write_text("b two")
    (t / "b_0064x0064_sd.npz").write_bytes(b"latents")  # beside a dropped duplicate
    (t / "t_0004x0002_sd.npz").write_bytes(b"latents")  # beside an image to flatten
    (t / "m.caption").write_bytes(b"a dog\r\nin snow,\n\n")
    picture(t / "m.png", "radial")
    picture(t / "extra" / "deeper" / "n.png", "linear", Image.Transpose.ROTATE_90)
    (t / "extra" / "deeper" / "n.caption").write_text("nested")
    picture(t / "extra" / "a.png", "radial", Image.Transpose.ROTATE_90)  # 'a' is taken in the subset
    (t / "extra" / "notes.md").write_text("kept in place")
    oriented(t / "extra" / "r.png", "PNG", fill=(40, 50, 60))  # moved up, then rotated (never audited before)
    return t


def test_unsafe_fixes_listed_not_applied_by_default(capsys, unsafe_tree):
    rc, out, err = run(capsys, "fix", str(unsafe_tree.parent), "--json")
    assert rc == 0, err
    doc = json.loads(out)
    unsafe = sorted((a["code"], a["fix"], os.path.basename(a["source"])) for a in doc["actions"] if not a["safe"])
    assert unsafe == [("RA004", "move-up", "a.png"), ("RA004", "move-up", "n.png"), ("RA004", "move-up", "r.png"),
                      ("RA025", "join-caption", "m.caption"), ("RA044", "rotate-exif", "j.jpg"),
                      ("RA045", "flatten-alpha", "t.png"), ("RA046", "cmyk-to-srgb", "k.jpg"),
                      ("RA081", "drop-duplicate", "b.png")]
    assert not any(a["applied"] for a in doc["actions"] if not a["safe"])
    why = {u["code"]: u["why"] for u in doc["unfixed"]}
    assert why["RA044"] == why["RA045"] == why["RA046"] == why["RA004"] == why["RA025"] == \
        "unsafe fix planned: needs --unsafe-fixes"


def test_unsafe_fixes_applied(capsys, unsafe_tree, tmp_path):
    root = unsafe_tree.parent
    before = fingerprint(root)
    out_dir = tmp_path / "fixed"
    rc, out, err = run(capsys, "fix", str(root), "--out", str(out_dir), "--unsafe-fixes", "--json")
    assert rc == 0, err
    assert fingerprint(root) == before
    c = out_dir / "train" / "1_dog"
    assert sorted(p.name for p in c.iterdir()) == ["a-2.png", "a.caption", "a.png", "extra", "j.jpg", "k.jpg",
                                                    "m.caption", "m.png", "n.caption", "n.png", "r.png", "t.png"]
    assert sorted(p.name for p in (c / "extra").iterdir()) == ["deeper", "notes.md"]
    j = Image.open(c / "j.jpg")  # rotated, re-encoded with the source's tables: quality 90 as before
    assert j.size == (2, 4) and j.getexif().get(0x0112) is None and jpeg_quality(j.quantization) == 90
    k = Image.open(c / "k.jpg")
    # CMYK (0, 255, 255, 0): (255, 0, 0) by the plain conversion, (254, 0, 0) once re-encoded as JPEG
    assert k.mode == "RGB" and k.getpixel((1, 1)) == (254, 0, 0)
    flat = Image.open(c / "t.png")
    assert flat.mode == "RGB" and flat.getpixel((0, 0)) == (255, 127, 127)  # (255, 0, 0, 128) over white
    assert flat.getpixel((1, 0)) == (0, 0, 255)
    assert (c / "m.caption").read_bytes() == b"a dog, in snow,\n"  # (the last line as written)
    assert (c / "n.caption").read_text() == "nested"
    assert (c / "a-2.png").read_bytes() == (unsafe_tree / "extra" / "a.png").read_bytes()
    doc = json.loads(out)
    acts = {(a["fix"], os.path.basename(a["source"])): a for a in doc["actions"]}
    assert acts[("drop-duplicate", "b.png")]["dest"] is None and acts[("drop-duplicate", "b.caption")]["dest"] is None
    assert acts[("drop-cache", "j_0004x0002_sd.npz")]["code"] == "RA044"
    assert acts[("drop-cache", "t_0004x0002_sd.npz")]["code"] == "RA045"
    assert acts[("drop-cache", "b_0064x0064_sd.npz")]["code"] == "RA081"
    assert acts[("move-up", "n.png")]["dest"] == str(c / "n.png")
    assert acts[("rotate-exif", "r.png")]["safe"] and Image.open(c / "r.png").size == (2, 4)
    assert not {f["code"] for f in doc["remaining"]} & {"RA004", "RA025", "RA044", "RA045", "RA046"}
    manifest = json.loads((out_dir / "regaudit-fix.json").read_text())
    m = {(a["fix"], os.path.basename(a["source"])): a for a in manifest["actions"]}
    assert "quality about 90" in m[("rotate-exif", "j.jpg")]["changed"]
    assert "plain conversion (no embedded ICC profile)" in m[("cmyk-to-srgb", "k.jpg")]["changed"]
    assert m[("join-caption", "m.caption")]["before"]["size"] == 17
    assert m[("join-caption", "m.caption")]["after"]["size"] == 16


def test_background_option(capsys, unsafe_tree, tmp_path):
    rc, _, err = run(capsys, "fix", str(unsafe_tree.parent), "--background", "nocolour")
    assert rc == 2 and "--background 'nocolour' is not a colour" in err
    rc, _, err = run(capsys, "fix", str(unsafe_tree.parent), "--background", "300,0,0")
    assert rc == 2 and "is not a colour" in err
    out_dir = tmp_path / "black"
    rc, _, err = run(capsys, "fix", str(unsafe_tree.parent), "--out", str(out_dir), "--unsafe-fixes",
                     "--background", "#000")
    assert rc == 0, err
    assert Image.open(out_dir / "train/1_dog/t.png").getpixel((0, 0)) == (128, 0, 0)  # (255, 0, 0, 128) over black


def test_cmyk_with_an_unusable_profile_says_so(tmp_path):
    from regaudit.rules.fixes import FixKind
    from regaudit.views.fix_images import rewrite
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()  # an RGB profile on CMYK data
    Image.new("CMYK", (2, 2), (0, 0, 0, 0)).save(tmp_path / "c.jpg", "JPEG", icc_profile=srgb)
    data, note = rewrite(str(tmp_path / "c.jpg"), (FixKind.TO_SRGB,), (255, 255, 255))
    assert note.startswith("CMYK converted by Pillow's plain conversion (the embedded ICC profile could not be used)")
    assert Image.open(io.BytesIO(data)).getpixel((0, 0)) == (255, 255, 255)


def test_hardlink_never_links_a_changed_image(capsys, unsafe_tree, tmp_path):
    root = unsafe_tree.parent
    before = fingerprint(root)
    out_dir = tmp_path / "linked"
    rc, _, err = run(capsys, "fix", str(root), "--out", str(out_dir), "--unsafe-fixes", "--hardlink")
    assert rc == 0, err
    c = out_dir / "train" / "1_dog"
    assert os.stat(c / "t.png").st_ino != os.stat(unsafe_tree / "t.png").st_ino  # flattened: a new file
    assert os.stat(c / "m.png").st_ino == os.stat(unsafe_tree / "m.png").st_ino  # unchanged: linked
    assert fingerprint(root) == before


def test_train_reg_duplicate_keeps_the_train_image(capsys, tmp_path):
    """A reg image byte-identical to a train image (leakage, RA080): the train one is kept even
    where the reg path sorts first."""
    picture(tmp_path / "a_reg" / "1_dog" / "x.png", "linear")
    picture(tmp_path / "b_train" / "1_sks dog" / "y.png", "linear")
    picture(tmp_path / "b_train" / "1_sks dog" / "z.png", "radial")
    rc, out, err = run(capsys, "fix", "--train_data_dir", str(tmp_path / "b_train"), "--reg_data_dir",
                       str(tmp_path / "a_reg"), "--out", str(tmp_path / "out"), "--unsafe-fixes", "--json")
    assert rc == 0, err
    drops = [(a["code"], a["source"], a["dest"]) for a in json.loads(out)["actions"] if a["fix"] == "drop-duplicate"]
    assert drops == [("RA080", str(tmp_path / "a_reg" / "1_dog" / "x.png"), None)]
    assert (tmp_path / "out" / "b_train" / "1_sks dog" / "y.png").is_file()
    assert sorted(p.name for p in (tmp_path / "out" / "a_reg" / "1_dog").iterdir()) == []


def test_a_duplicate_keeps_the_original_name_not_the_second_copy(capsys, tmp_path):
    """'IMG_4023 (1).jpg' sorts before 'IMG_4023.jpg' (' ' < '.'), but the browser's second copy is
    the one dropped: the fix keeps the file dupes names the reference."""
    t = tmp_path / "train" / "1_dog"
    picture(t / "IMG_4023.png", "linear")
    picture(t / "IMG_4023 (1).png", "linear")
    rc, out, err = run(capsys, "fix", str(tmp_path / "train"), "--out", str(tmp_path / "o"), "--unsafe-fixes",
                       "--json")
    assert rc == 0, err
    drops = [a["source"] for a in json.loads(out)["actions"] if a["fix"] == "drop-duplicate"]
    assert drops == [str(t / "IMG_4023 (1).png")]
    assert sorted(p.name for p in (tmp_path / "o" / "train" / "1_dog").iterdir()) == ["IMG_4023.png"]


def test_caption_of_a_dropped_duplicate_stays_when_its_stem_stays(capsys, tmp_path):
    t = tmp_path / "train" / "1_dog"
    picture(t / "a.png", "linear")
    picture(t / "b.png", "linear")  # dropped: identical to a.png
    picture(t / "b.webp", "radial")  # the same stem, kept: 'b.caption' is its caption too
    (t / "b.caption").write_text("b")
    rc, out, err = run(capsys, "fix", str(tmp_path / "train"), "--out", str(tmp_path / "o"), "--unsafe-fixes",
                       "--json")
    assert rc == 0, err
    assert sorted(p.name for p in (tmp_path / "o" / "train" / "1_dog").iterdir()) == ["a.png", "b.caption", "b.webp"]


def test_huge_image_gets_no_pixel_fix(capsys, tmp_path, monkeypatch):
    """An image over Pillow's decompression-bomb limit (RA050) with an EXIF orientation: nothing is
    planned for it (Pillow cannot load it), the fix goes on and copies it as it is."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 3)  # 4x2 = 8 pixels: more than twice the limit (6)
    t = tmp_path / "train" / "1_dog"
    oriented(t / "p.png", "PNG")
    rc, out, err = run(capsys, "fix", str(tmp_path / "train"), "--out", str(tmp_path / "o"), "--json")
    assert rc == 0, err
    doc = json.loads(out)
    assert [a["fix"] for a in doc["actions"]] == []
    assert [(u["code"], u["why"]) for u in doc["unfixed"] if u["code"] == "RA050"] == [
        ("RA050", "downscaling a huge image changes its pixels and size: do it by hand")]
    assert (tmp_path / "o/train/1_dog/p.png").read_bytes() == (t / "p.png").read_bytes()


def test_animated_png_is_not_saved_again(capsys, tmp_path):
    t = tmp_path / "train" / "1_dog"
    t.mkdir(parents=True)
    frames = [Image.new("RGBA", (4, 2), (255, 0, 0, 128)), Image.new("RGBA", (4, 2), (0, 255, 0, 128))]
    frames[0].save(t / "a.png", save_all=True, append_images=frames[1:])
    from regaudit.views.fix_images import is_animated_png

    assert is_animated_png(str(t / "a.png")) and Image.open(t / "a.png").n_frames == 2
    rc, out, err = run(capsys, "fix", str(tmp_path / "train"), "--unsafe-fixes", "--json")
    assert rc == 0, err
    doc = json.loads(out)
    assert doc["actions"] == []
    assert [u["why"] for u in doc["unfixed"] if u["code"] == "RA045"] == [
        "transparency kept: the subset uses alpha_mask, or the image is animated"]
