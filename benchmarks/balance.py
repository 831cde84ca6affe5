"""Balance cost: registration, the reg loop, buckets and steps for 100,000 images in memory.

    python benchmarks/balance.py [N]

The images are synthetic records (no files), so this times the simulation alone: 20% train in
four subsets at 100 repeats, 80% reg in two subsets, 30 distinct sizes, bucketing at 1024.
"""

from __future__ import annotations

import argparse
import random
import time

from regaudit.balance import BalanceOptions, plan
from regaudit.model import (
    Caption,
    CaptionSource,
    Dataset,
    DatasetParams,
    ImageProbe,
    ImageRecord,
    ScanResult,
    Subset,
    SubsetConfig,
)


def synthetic(n: int) -> ScanResult:
    rnd = random.Random(0)
    sizes = [(rnd.randrange(400, 3000), rnd.randrange(400, 3000)) for _ in range(30)]
    layout = [("t0", False, 100), ("t1", False, 100), ("t2", False, 100), ("t3", False, 100),
              ("r0", True, 1), ("r1", True, 1)]
    share = {"t": 0.05, "r": 0.40}
    subsets = []
    for name, is_reg, repeats in layout:
        count = int(n * share[name[0]])
        cap = Caption(CaptionSource.CLASS_TOKENS, None, name)
        recs = []
        for i in range(count):
            w, h = sizes[rnd.randrange(len(sizes))]
            probe = ImageProbe(w, h, "header", "JPEG", "RGB", False, None, 1000)
            path = f"/data/{name}/img{i:07d}.jpg"
            recs.append(ImageRecord(path, path, ".jpg", probe, cap))
        cfg = SubsetConfig(f"/data/{name}", is_reg, repeats, name)
        subsets.append(Subset(cfg, cfg.image_dir, tuple(recs)))
    params = DatasetParams((1024, 1024), 4, True, 256, 2048, 64, False)
    return ScanResult((Dataset(0, params, tuple(subsets)),), (), (), ".caption", False, ("/data",))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int, nargs="?", default=100_000)
    n = ap.parse_args().n
    result = synthetic(n)
    images = sum(len(s.images) for s in result.subsets)
    samples = sum(s.samples for s in result.subsets if not s.config.is_reg)
    t0 = time.perf_counter()
    p = plan(result, BalanceOptions(max_train_epochs=10))
    dt = time.perf_counter() - t0
    d = p.datasets[0]
    print(f"balance: {images} images ({samples} train samples, {d.num_reg_images} reg samples raw) "
          f"in {dt * 1000:.0f} ms; {d.batches} batches per epoch, {len(d.buckets)} buckets, "
          f"{len(d.unused_reg)} reg images unused")


if __name__ == "__main__":
    main()
