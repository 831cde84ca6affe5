"""Shared helpers: tiny images made on the fly, and a fingerprint of a tree to prove regaudit
changed nothing in it."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from PIL import Image


def make_image(path: Path, size=(64, 48), mode="RGB", fmt=None, color=(120, 30, 200), exif_orientation=None,
               **save):
    path.parent.mkdir(parents=True, exist_ok=True)
    if mode in ("RGB", "RGBA", "CMYK"):
        fill = tuple(color[: len(mode)]) + (255,) * max(0, len(mode) - len(color))
    elif mode == "I;16":
        fill = 40000
    else:
        fill = 7
    im = Image.new(mode, size, fill)
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        save["exif"] = exif.tobytes()
    im.save(path, format=fmt, **save)
    return path


def tree_fingerprint(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            st = os.lstat(p)
            if p.is_symlink():
                out[rel] = "link:" + os.readlink(p)
            elif p.is_file():
                out[rel] = f"{st.st_mode}:{st.st_mtime_ns}:" + hashlib.sha256(p.read_bytes()).hexdigest()
            else:
                out[rel] = f"dir:{st.st_mode}"
    return out


@pytest.fixture
def img():
    return make_image


def build_tree(base: Path, folders: dict[str, int], size=(64, 64)) -> Path:
    """Create ``count`` tiny PNGs in each folder, named img0000.png ..."""
    for folder, count in folders.items():
        for i in range(count):
            make_image(base / folder / f"img{i:04d}.png", size=size)
    return base


def write_toml(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def textured(seed: int, size=(160, 120)) -> Image.Image:
    """A deterministic picture with structure (gradient and shapes), distinct per seed."""
    import random

    from PIL import ImageDraw

    rnd = random.Random(seed)
    w, h = size
    im = Image.linear_gradient("L").resize(size).convert("RGB")
    im = Image.merge("RGB", [c.point(lambda v, k=rnd.random(): int(v * k)) for c in im.split()])
    d = ImageDraw.Draw(im)
    for _ in range(8):
        x0, y0 = rnd.randrange(w), rnd.randrange(h)
        box = [x0, y0, x0 + rnd.randrange(10, w // 2), y0 + rnd.randrange(10, h // 2)]
        color = tuple(rnd.randrange(256) for _ in range(3))
        (d.ellipse if rnd.random() < 0.5 else d.rectangle)(box, fill=color)
    return im
