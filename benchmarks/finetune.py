"""Fine-tuning metadata of many images (``--in_json``), measured as a user runs it: whole processes.

    python benchmarks/finetune.py [N] [--keep DIR] [--only CMD ...] [--no-size] [--images]
        A metadata file of N (default 1,000,000) keys as finetune/merge_captions_to_metadata.py and
        prepare_buckets_latents.py write it: absolute image paths, a caption each (a sentence that
        names the image, so no two are alike), booru tags from a vocabulary of 2,000 and the image
        size. The images themselves are not made: sd-scripts takes the sizes from the metadata and
        fails only when it first loads one, so every key is reported (RA098) and the load stop is
        the verdict; --images makes each key a symbolic link to one small PNG instead (the dataset
        as it trains: regaudit stats every key, and `dupes` hashes every link).
        --no-size leaves the sizes out and writes a latent cache file for every tenth key, each
        named for no key (sd-scripts then searches its cache file list once per key). Runs
        fine_tune.py's `scan --json`, `balance --json`, `check`, `captions --json`, `dupes --json
        --no-cache`, `fix --out` and `report -o` (--only CMD ...: those) and prints for each the wall
        time, the CPU time (user + system, all processes) and the peak memory of the largest process.
        Other programs on the machine stretch the wall time: compare CPU times, and repeat.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
from pathlib import Path

from many_datasets import measure

COMMANDS = (["scan", "--json"], ["balance", "--json"], ["check"], ["captions", "--json"],
            ["dupes", "--json", "--no-cache"], ["fix", "--out", "{out}"], ["report", "-o", "{out}.html"])
WORDS = ("dog", "cat", "woman", "man", "sitting", "standing", "on", "a", "the", "in", "with", "red", "blue", "green",
         "field", "street", "beach", "room", "window", "light", "smiling", "looking", "at", "camera", "old", "young")


def generate(root: Path, n: int, sizes: bool, links: bool) -> Path:
    rng = random.Random(0)
    vocabulary = [f"tag{k}" for k in range(2000)]
    images = root / "img"
    images.mkdir(parents=True, exist_ok=True)
    if links:
        from PIL import Image

        Image.new("RGB", (64, 64), (200, 100, 50)).save(root / "pixel.png")
    metadata = {}
    for k in range(n):
        entry = {"caption": f"photo {k}: " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 14))),
                 "tags": ", ".join(rng.sample(vocabulary, rng.randint(3, 25)))}
        if sizes:
            entry["image_size"] = [rng.choice((512, 640, 768, 1024)), rng.choice((512, 640, 768, 1024))]
        elif k % 10 == 0:
            (images / f"cache{k:07d}_0512x0512_sd.npz").write_bytes(b"")
        metadata[(images / f"{k:07d}.png").as_posix()] = entry
        if links:
            os.symlink(root / "pixel.png", images / f"{k:07d}.png")
    path = root / f"meta{n}{'' if sizes else '-nosize'}{'-images' if links else ''}.json"
    path.write_text(json.dumps(metadata))
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", type=int, default=1_000_000)
    ap.add_argument("--keep", type=Path, help="make (or reuse) the metadata here and keep it")
    ap.add_argument("--only", nargs="+", metavar="CMD", help="only these commands (e.g. 'scan --json' check)")
    ap.add_argument("--no-size", action="store_true", help="no image_size: sizes from cache file names")
    ap.add_argument("--images", action="store_true", help="each key a symbolic link to one small PNG")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="regaudit-finetune-"))
    try:
        name = f"meta{args.n}{'-nosize' if args.no_size else ''}{'-images' if args.images else ''}.json"
        meta = root / name if (root / name).exists() else generate(root, args.n, not args.no_size, args.images)
        print(f"{args.n:,} keys in {meta} ({meta.stat().st_size / 2**20:.0f} MiB)")
        out = root / "out"
        for cmd in COMMANDS if not args.only else [c.split() for c in args.only]:
            cmd = [c.replace("{out}", out.as_posix()) for c in cmd]
            shutil.rmtree(out, ignore_errors=True)
            code, wall, cpu, peak = measure([*cmd, "fine_tune.py", "--in_json", str(meta), "--train_data_dir",
                                             str(root / "img"), "--resolution", "512", "--enable_bucket",
                                             "--cache_latents"])
            shutil.rmtree(out, ignore_errors=True)
            Path(f"{out}.html").unlink(missing_ok=True)
            shown = " ".join("OUT" if out.as_posix() in c else c for c in cmd)
            print(f"  regaudit {shown:<24} exit {code}  wall {wall:6.1f} s  CPU {cpu:6.1f} s  "
                  f"peak {peak / (1 << 20 if sys.platform == 'darwin' else 1024):6.0f} MiB")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
