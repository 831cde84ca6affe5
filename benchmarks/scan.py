"""Scan throughput: generate a tree of N images, then time `scan` (headers only) and `scan --deep`.

    python benchmarks/scan.py [N] [--keep DIR]

The tree is generated once per run in a temporary folder (or DIR): 80% JPEG, 15% PNG, 5% WebP,
480-1024 px, half with .txt captions, spread over train and reg subsets. Prints images/second.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import time
from pathlib import Path

from PIL import Image

from regaudit.config import TrainingArgs
from regaudit.scan import load_specs, scan


def generate(root: Path, n: int) -> None:
    rnd = random.Random(0)
    bases = []
    for i in range(40):
        w, h = rnd.choice([(512, 768), (768, 512), (1024, 1024), (640, 480), (480, 640)])
        im = Image.effect_noise((w // 8, h // 8), 40).convert("RGB").resize((w, h))
        fmt = "JPEG" if i % 20 < 16 else ("PNG" if i % 20 < 19 else "WEBP")
        path = root / f"base{i}.{fmt.lower().replace('jpeg', 'jpg')}"
        im.save(path, fmt, **({"quality": 85} if fmt != "PNG" else {}))
        bases.append(path)
    folders = [root / "train" / "10_sks dog", root / "train" / "5_style", root / "reg" / "1_dog", root / "reg" / "1_cat"]
    for f in folders:
        f.mkdir(parents=True)
    for k in range(n):
        src = bases[k % len(bases)]
        dst = folders[k % len(folders)] / f"img_{k:06d}{src.suffix}"
        shutil.copyfile(src, dst)
        if k % 2 == 0:
            dst.with_suffix(".txt").write_text(f"caption {k}\n")


def timed(root: Path, deep: bool, jobs: int | None) -> float:
    specs = load_specs(str(root / "train"), str(root / "reg"), None, TrainingArgs(caption_extension=".txt"))
    t0 = time.perf_counter()
    result = scan(specs, deep=deep, jobs=jobs)
    dt = time.perf_counter() - t0
    assert sum(len(s.images) for s in result.subsets) > 0
    return dt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int, nargs="?", default=20_000)
    ap.add_argument("--keep", help="generate into (or reuse) this folder instead of a temporary one")
    ap.add_argument("--jobs", type=int, default=None)
    a = ap.parse_args()
    tmp = None
    if a.keep:
        root = Path(a.keep)
        if not (root / "train").exists():
            root.mkdir(parents=True, exist_ok=True)
            generate(root, a.n)
    else:
        tmp = tempfile.mkdtemp(prefix="regaudit-bench-")
        root = Path(tmp)
        t0 = time.perf_counter()
        generate(root, a.n)
        print(f"generated {a.n} images in {time.perf_counter() - t0:.1f} s")
    try:
        n = sum(1 for p in list((root / "train").rglob("img_*")) + list((root / "reg").rglob("img_*"))
                if p.suffix != ".txt")
        cores = os.cpu_count()
        for label, deep in (("scan (headers)", False), ("scan --deep", True)):
            dt = timed(root, deep, a.jobs)
            print(f"{label:16s} {n} images in {dt:6.2f} s = {n / dt:8.0f} images/s ({cores} cores)")
        dt = timed(root, False, 1)
        print(f"{'scan, 1 process':16s} {n} images in {dt:6.2f} s = {n / dt:8.0f} images/s")
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
