"""`regaudit dupes` cold (empty hash cache) against warm (cache filled), as whole processes.

    python benchmarks/dupes_cache.py [N] [--keep DIR] [--repeat 3] [--no-bytecode-cache]

Generates N (default 5,000) distinct pictures (gradients and shapes, 192-320 px JPEG/PNG) in four
subsets, then runs `regaudit dupes --json` with a fresh cache and again with the filled one,
alternately, and prints the medians. It also reports which heavy modules the warm run imports:
a warm run decodes nothing and finds its pair search in the cache, so it should load none of
numpy, scipy, imagehash or Pillow.

The runs use compiled bytecode, as an installed regaudit does (pip compiles it): a private
``PYTHONPYCACHEPREFIX``, filled by one untimed cold and warm run first, so that an environment with
``PYTHONDONTWRITEBYTECODE`` set does not add the compilation of every module (about 0.1 s) to every
run. ``--no-bytecode-cache`` runs with the environment as it is.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FOLDERS = ("train/10_sks dog", "train/5_style", "reg/1_dog", "reg/1_cat")


def generate(root: Path, n: int) -> None:
    from PIL import Image, ImageDraw

    rnd = random.Random(0)
    folders = [root / f for f in FOLDERS]
    for f in folders:
        f.mkdir(parents=True)
    for k in range(n):
        w, h = rnd.randrange(192, 321), rnd.randrange(192, 321)
        im = Image.linear_gradient("L").resize((w, h)).convert("RGB")
        d = ImageDraw.Draw(im)
        for _ in range(6):
            x, y = rnd.randrange(w), rnd.randrange(h)
            box = [x, y, x + rnd.randrange(20, w), y + rnd.randrange(20, h)]
            (d.ellipse if rnd.random() < 0.5 else d.rectangle)(box, fill=tuple(rnd.randrange(256) for _ in range(3)))
        ext = ".jpg" if k % 4 else ".png"
        im.save(folders[k % 4] / f"img_{k:05d}{ext}", quality=90)


def cmd(root: Path, cache: Path, *extra: str) -> list[str]:
    return [sys.executable, *extra, "-m", "regaudit", "dupes", "--train", str(root / "train"), "--reg",
            str(root / "reg"), "--cache", str(cache), "--json", "--no-progress"]


def timed(args: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(args, stdout=subprocess.DEVNULL, check=True, env=env)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int, nargs="?", default=5000)
    ap.add_argument("--keep")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--no-bytecode-cache", action="store_true",
                    help="run with the environment as it is (with PYTHONDONTWRITEBYTECODE: every module compiled "
                         "in every run)")
    a = ap.parse_args()
    tmp = None
    if a.keep:
        root = Path(a.keep)
        if not (root / "train").exists():
            generate(root, a.n)
    else:
        tmp = tempfile.mkdtemp(prefix="regaudit-dupes-")
        root = Path(tmp)
        generate(root, a.n)
    caches = Path(tempfile.mkdtemp(prefix="regaudit-cache-"))
    env = None
    try:
        if not a.no_bytecode_cache:
            env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
            env["PYTHONPYCACHEPREFIX"] = str(caches / "bytecode")
            timed(cmd(root, caches / "warm-up.sqlite"), env)  # compiles what a cold run imports, workers too
            timed(cmd(root, caches / "warm-up.sqlite"), env)  # and what a warm one does
        colds, warms = [], []
        for k in range(a.repeat):
            cache = caches / f"c{k}.sqlite"
            colds.append(timed(cmd(root, cache), env))
            warms.append(timed(cmd(root, cache), env))
        c, w = statistics.median(colds), statistics.median(warms)
        print(f"cold: {' '.join(f'{t:.2f}' for t in colds)} s; warm: {' '.join(f'{t:.2f}' for t in warms)} s")
        print(f"median: cold {c:.2f} s ({a.n / c:.0f} images/s), warm {w:.2f} s ({c / w:.1f}x faster) "
              f"({os.cpu_count()} cores; {'environment as it is' if env is None else 'compiled bytecode'})")
        run = subprocess.run(cmd(root, caches / "c0.sqlite", "-X", "importtime"), capture_output=True, text=True,
                             env=env)
        loaded = {line.rsplit("|", 1)[-1].strip() for line in run.stderr.splitlines() if "|" in line}
        heavy = [m for m in ("scipy", "imagehash", "numpy", "PIL.Image", "torch") if m in loaded]
        print(f"warm run imports: {', '.join(heavy) or 'none of scipy, imagehash, numpy, PIL, torch'}")
    finally:
        shutil.rmtree(caches, ignore_errors=True)
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
