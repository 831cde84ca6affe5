"""Differential check: the probe's one-pass header readers against Pillow, on every file of the
corpus (``corpus.py``).

    python tests/differential/probe_diff.py [--seeds 0:3] [--mutations 6] [--keep DIR] [-v]

For each file it compares
1. the probe as ``scan`` runs it (header readers first) with the probe forced through Pillow
   (what regaudit did before the readers existed): every field must be equal;
2. format, mode, transparency and EXIF orientation with a plain ``PIL.Image.open`` of the file,
   read the way the Pillow-based probe read them (plus the last 8 KiB searched for an eXIf chunk
   after a PNG's image data, which Pillow sees only when decoding).
Needs only Pillow. Prints every disagreement and the counts; exits 1 on any disagreement.
"""

from __future__ import annotations

import argparse
import os
import shutil
import struct
import sys
import tempfile
import warnings
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, REPO)

from corpus import write_corpus  # noqa: E402

from regaudit.sdscripts import headers

from regaudit.sdscripts import images  # noqa: E402
from regaudit.sdscripts.imagesize_141 import Source  # noqa: E402

warnings.filterwarnings("ignore")


def forced_pillow(path: str):
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        if size == 0:
            return images.probe(path)
        return images._probe_pillow(Source(os.read(fd, images.HEAD_BYTES), fd, size), False)
    finally:
        os.close(fd)


def plain_pillow(path: str) -> dict:
    """The Pillow-based probe's reading of format, mode, transparency and orientation."""
    from PIL import Image

    with open(path, "rb") as fh:
        try:
            im = Image.open(fh)
        except Exception:
            return {"format": None, "mode": None, "transparency": False, "orientation": None}
        fmt, mode = im.format, im.mode
        transparency = mode in images.ALPHA_MODES or "transparency" in im.info
        orientation = None
        if fmt in ("JPEG", "MPO", "WEBP", "PNG"):
            data = im.info.get("exif")
            if data is None and fmt == "PNG":
                size = os.fstat(fh.fileno()).st_size
                tail = min(size, 8192)  # regaudit's own look for an eXIf chunk after the image data
                fh.seek(size - tail)
                blob = fh.read(tail)
                at = blob.rfind(b"eXIf")
                if at >= 4:
                    n = struct.unpack(">L", blob[at - 4:at])[0]
                    body = blob[at + 4:at + 4 + n]
                    data = b"Exif\x00\x00" + body if len(body) == n else None
            if data:
                try:
                    ex = Image.Exif()
                    ex.load(data)
                    v = ex.get(0x0112)
                    orientation = int(v) if isinstance(v, int) and 1 <= v <= 8 else None
                except Exception:
                    orientation = None
        return {"format": fmt, "mode": mode, "transparency": bool(transparency), "orientation": orientation}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0:2")
    ap.add_argument("--mutations", type=int, default=6)
    ap.add_argument("--keep")
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    start, stop = (int(x) for x in a.seeds.split(":"))
    tmp = a.keep or tempfile.mkdtemp(prefix="regaudit-probe-")
    try:
        paths: list[Path] = []
        for seed in range(start, stop):
            paths += write_corpus(Path(tmp) / f"seed{seed}", seed, a.mutations)
        bad = fast = 0
        kinds: dict[str, int] = {}
        for p in paths:
            s = str(p)
            new = images.probe(s)
            old = forced_pillow(s)
            fd = os.open(s, os.O_RDONLY)
            try:
                size = os.fstat(fd).st_size
                used_view = size > 0 and headers.view(Source(os.read(fd, images.HEAD_BYTES), fd, size)) is not None
            finally:
                os.close(fd)
            fast += used_view
            ref = plain_pillow(s)
            mine = {"format": new.format, "mode": new.mode, "transparency": new.has_transparency,
                    "orientation": new.exif_orientation}
            kind = (new.format or "-") + ("/fast" if used_view else "/pillow") + (
                f"/{new.load_error_kind}" if new.load_error_kind else "")
            kinds[kind] = kinds.get(kind, 0) + 1
            if new != old or mine != ref:
                bad += 1
                print(f"DIFF {p.name}:\n  fast   {new}\n  pillow {old}\n  plain  {ref}")
            elif a.v:
                print(f"ok   {p.name}: {kind}")
        print(f"{len(paths) - bad}/{len(paths)} files agree ({fast} read without Pillow); "
              + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
        return 1 if bad else 0
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
