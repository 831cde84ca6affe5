"""Duplicate detection: speed (cold and warm), recall and false positives, against imagededup.

    pip install scikit-image            # sample photographs (benchmark only)
    python benchmarks/dupes.py [--distinct 2000] [--planted 300] [--keep DIR]

Builds a photo set from scikit-image's bundled photographs: random crops, scales, rotations and
colour changes make thousands of distinct pictures; for some of them it plants variants (JPEG
re-encode, 50% resize, +20% and -20% brightness, a 4% crop, a mirror). Then it reports:
- images/s for `regaudit dupes` (scan and hashing, as a user runs it) cold (empty cache) and warm
  (cache filled), all cores;
- recall per variant kind (variant in the same group as its original) and false pairs (two
  unrelated pictures grouped) at the default max distance, and at other distances;
- how many bits of the hash draft decoding moves, against imagehash on the fully decoded image;
- the same throughput/recall/false pairs for imagededup's PHash, when it can be imported;
- search time over 1,000,000 random hashes.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageEnhance, ImageOps

PHOTOS = ["astronaut", "camera", "chelsea", "coffee", "coins", "hubble_deep_field", "moon", "motorcycle_left",
          "motorcycle_right", "retina", "rocket", "grass", "gravel", "brick", "immunohistochemistry", "cell",
          "microaneurysms", "page", "text", "clock"]
VARIANTS = ("reencode", "resize", "brighter", "darker", "crop", "mirror")


@lru_cache(maxsize=1)
def sources() -> list[Image.Image]:
    from skimage import data

    out = []
    for name in PHOTOS:
        try:
            arr = getattr(data, name)()
        except Exception:
            continue
        im = Image.fromarray(arr if arr.dtype == np.uint8 else (arr / arr.max() * 255).astype(np.uint8))
        out.append(im.convert("RGB"))
    return out


def _tile(rnd: random.Random, srcs: list[Image.Image], size: tuple[int, int]) -> Image.Image:
    src = srcs[rnd.randrange(len(srcs))]
    scale = rnd.uniform(1.0, 2.5)
    big = src.resize((int(src.width * scale), int(src.height * scale)), Image.Resampling.BICUBIC)
    cw, ch = int(big.width * rnd.uniform(0.3, 0.6)), int(big.height * rnd.uniform(0.3, 0.6))
    x, y = rnd.randrange(big.width - cw), rnd.randrange(big.height - ch)
    tile = big.crop((x, y, x + cw, y + ch)).rotate(rnd.choice([0, 90, 180, 270]), expand=True)
    gains = [rnd.uniform(0.5, 1.5) for _ in range(3)]
    tile = Image.merge("RGB", [c.point(lambda v, g=g: min(255, int(v * g))) for c, g in zip(tile.split(), gains)])
    return tile.resize(size, Image.Resampling.LANCZOS)


def _distinct(args) -> None:
    # A distinct picture: a random 2x2 mosaic of crops from random photographs, rescaled and
    # recoloured, so that no two pictures share their layout.
    k, out_dir, seed = args
    rnd = random.Random(seed)
    srcs = sources()
    w = rnd.randrange(512, 1025)
    h = int(w * rnd.uniform(0.66, 1.5))
    cut_x, cut_y = int(w * rnd.uniform(0.3, 0.7)), int(h * rnd.uniform(0.3, 0.7))
    im = Image.new("RGB", (w, h))
    for x0, y0, x1, y1 in ((0, 0, cut_x, cut_y), (cut_x, 0, w, cut_y), (0, cut_y, cut_x, h), (cut_x, cut_y, w, h)):
        im.paste(_tile(rnd, srcs, (x1 - x0, y1 - y0)), (x0, y0))
    im.save(out_dir / f"p{k:05d}.jpg", quality=90)


def _variants(args) -> None:
    k, out_dir = args
    src = Image.open(out_dir / f"p{k:05d}.jpg")
    src.load()
    src.save(out_dir / f"p{k:05d}_reencode.jpg", quality=60)
    src.resize((src.width // 2, src.height // 2), Image.Resampling.LANCZOS).save(out_dir / f"p{k:05d}_resize.png")
    ImageEnhance.Brightness(src).enhance(1.2).save(out_dir / f"p{k:05d}_brighter.jpg", quality=90)
    ImageEnhance.Brightness(src).enhance(0.8).save(out_dir / f"p{k:05d}_darker.jpg", quality=90)
    dw, dh = int(src.width * 0.02), int(src.height * 0.02)
    src.crop((dw, dh, src.width - dw, src.height - dh)).save(out_dir / f"p{k:05d}_crop.jpg", quality=90)
    ImageOps.mirror(src).save(out_dir / f"p{k:05d}_mirror.jpg", quality=90)


def build(root: Path, distinct: int, planted: int) -> Path:
    d = root / "train" / "1_photos"
    d.mkdir(parents=True, exist_ok=True)
    with ProcessPoolExecutor() as pool:
        list(pool.map(_distinct, [(k, d, 1000 + k) for k in range(distinct)], chunksize=16))
        list(pool.map(_variants, [(k, d) for k in range(planted)], chunksize=8))
    return d


def truth(path: str) -> tuple[str, str]:
    stem = Path(path).stem
    base, _, kind = stem.partition("_")
    return base, kind or "original"


def evaluate(groups: list[list[str]], planted: int, with_mirror: bool) -> tuple[dict, int]:
    group_of = {}
    for gi, members in enumerate(groups):
        for m in members:
            group_of[Path(m).name] = gi
    recall = {}
    for kind in VARIANTS:
        if kind == "mirror" and not with_mirror:
            continue
        hits = 0
        for k in range(planted):
            a, b = f"p{k:05d}.jpg", f"p{k:05d}_{kind}." + ("png" if kind == "resize" else "jpg")
            hits += a in group_of and group_of.get(a) == group_of.get(b)
        recall[kind] = hits / planted
    false_pairs = 0
    for members in groups:
        bases = defaultdict(int)
        for m in members:
            bases[truth(m)[0]] += 1
        counts = list(bases.values())
        total = sum(counts)
        false_pairs += (total * (total - 1) - sum(c * (c - 1) for c in counts)) // 2
    return recall, false_pairs


def run_regaudit(root: Path, cache: Path, max_distance: int, flip: bool, jobs: int | None):
    from regaudit.views.dupes import DupesOptions, find_dupes
    from regaudit.views.scan import load_specs, scan

    t0 = time.perf_counter()
    specs = load_specs(str(root / "train"), None, None)
    result = scan(specs, jobs=jobs, listing_only=True)
    found = find_dupes(result, DupesOptions(max_distance=max_distance, flip_aug=flip, cache=cache, jobs=jobs))
    return found, time.perf_counter() - t0


def draft_bits(folder: Path, n: int = 300) -> tuple[float, int]:
    import imagehash

    from regaudit.views.hashing import HashKind, encode

    files = sorted(folder.glob("*.jpg"))[:n]
    diffs = []
    for f in files:
        ours = encode(str(f), HashKind.PHASH, False).hash
        with Image.open(f) as im:
            full = imagehash.phash(im)
        ref = int("".join("1" if b else "0" for b in full.hash.flatten()), 2)
        diffs.append(bin(ours ^ ref).count("1"))
    return float(np.mean(diffs)), int(max(diffs))


def imagededup_phash(folder: Path, planted: int, threshold: int):
    try:
        import types

        if "torchvision" not in sys.modules:  # imagededup imports its CNN module (torchvision) eagerly
            try:
                import torchvision  # noqa: F401
            except ImportError:
                # no CPU build of torchvision here; imagededup's hashing methods never use it,
                # its CNN module only needs the names to exist at import time
                class _Anything:
                    def __init__(self, *a, **k):
                        pass

                    def __call__(self, *a, **k):
                        return _Anything()

                    def __getattr__(self, name):
                        return _Anything()

                def _attr(name):
                    if name.startswith("__"):
                        raise AttributeError(name)
                    return _Anything()

                mods = {}
                for name in ("torchvision", "torchvision.models", "torchvision.transforms",
                             "torchvision.models.vision_transformer"):
                    mod = types.ModuleType(name)
                    mod.__getattr__ = _attr
                    mods[name] = mod
                sys.modules.update(mods)
        from imagededup.methods import PHash
    except Exception as exc:
        return f"imagededup not importable here ({type(exc).__name__}: {exc})"
    ph = PHash(verbose=False)
    t0 = time.perf_counter()
    enc = ph.encode_images(image_dir=str(folder))
    dt = time.perf_counter() - t0
    dupes = ph.find_duplicates(encoding_map=enc, max_distance_threshold=threshold)
    uf = {}

    def find(x):
        while uf.setdefault(x, x) != x:
            x = uf[x]
        return x
    for a, bs in dupes.items():
        for b in bs:
            uf[find(a)] = find(b)
    comps = defaultdict(list)
    for name in enc:
        comps[find(name)].append(name)
    groups = [v for v in comps.values() if len(v) > 1]
    recall, fp = evaluate(groups, planted, False)
    return len(enc) / dt, recall, fp


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--distinct", type=int, default=2000)
    ap.add_argument("--planted", type=int, default=300)
    ap.add_argument("--keep", help="build into (or reuse) this folder")
    ap.add_argument("--jobs", type=int, default=None)
    a = ap.parse_args()
    from regaudit.views.dupes import DEFAULT_MAX_DISTANCE

    root = Path(a.keep) if a.keep else Path(tempfile.mkdtemp(prefix="regaudit-dupes-"))
    folder = root / "train" / "1_photos"
    if not folder.exists():
        t0 = time.perf_counter()
        build(root, a.distinct, a.planted)
        print(f"built {a.distinct} distinct pictures + {a.planted} x {len(VARIANTS)} variants "
              f"in {time.perf_counter() - t0:.0f} s")
    n = sum(1 for _ in folder.iterdir())
    cache_dir = Path(tempfile.mkdtemp(prefix="regaudit-cache-"))
    cache = cache_dir / "hashes.sqlite"
    try:
        found, cold = run_regaudit(root, cache, DEFAULT_MAX_DISTANCE, False, a.jobs)
        print(f"regaudit cold: {n} images in {cold:.1f} s = {n / cold:.0f} images/s ({os.cpu_count()} cores)")
        found, warm = run_regaudit(root, cache, DEFAULT_MAX_DISTANCE, False, a.jobs)
        print(f"regaudit warm: {n} images in {warm:.2f} s = {n / warm:.0f} images/s ({cold / warm:.0f}x faster)")
        for d in sorted({4, 6, DEFAULT_MAX_DISTANCE, 10, 12}):
            found, _ = run_regaudit(root, cache, d, True, a.jobs)
            groups = [[m.path for m in g.members] for g in found.groups]
            recall, fp = evaluate(groups, a.planted, True)
            mark = " (default)" if d == DEFAULT_MAX_DISTANCE else ""
            print(f"max distance {d:2d}{mark}: recall " + ", ".join(f"{k} {v:.3f}" for k, v in recall.items())
                  + f"; false pairs {fp}")
        mean, worst = draft_bits(folder)
        print(f"draft decoding moves the 64-bit phash by {mean:.2f} bits on average, {worst} at most "
              f"(against imagehash.phash on the full decode)")
        ref = imagededup_phash(folder, a.planted, 10)
        if isinstance(ref, str):
            print(ref)
        else:
            speed, recall, fp = ref
            print(f"imagededup PHash (threshold 10): {speed:.0f} images/s; recall "
                  + ", ".join(f"{k} {v:.3f}" for k, v in recall.items()) + f"; false pairs {fp}")
        from regaudit.views.search import pairs_within

        rng = np.random.default_rng(0)
        hashes = rng.integers(0, np.iinfo(np.int64).max, size=1_000_000, dtype=np.int64).astype(np.uint64)
        hashes ^= rng.integers(0, 2, size=1_000_000).astype(np.uint64) << np.uint64(63)
        t0 = time.perf_counter()
        i, _, _ = pairs_within(hashes, DEFAULT_MAX_DISTANCE)
        print(f"search over 1,000,000 random hashes at distance {DEFAULT_MAX_DISTANCE}: "
              f"{time.perf_counter() - t0:.1f} s, {len(i)} pairs")
    finally:
        shutil.rmtree(cache_dir, ignore_errors=True)
        if not a.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
