"""What counting caption tokens costs a scan: N images with distinct tag-list captions (8-45 tags;
about three in four past 75 CLIP tokens, a worst case), scanned with and without the caption
work (token counts and budgets, made where each caption is read, and the audit that gathers them),
then the audit and the tokenizer alone, in one process.

    python benchmarks/captions.py [N] [--keep DIR] [--repeat 3]

Needs nothing beyond the core install. Prints seconds (best of --repeat).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import tempfile
import time
import types
from pathlib import Path

from PIL import Image

import regaudit.views.scan as scan_mod
from regaudit.sdscripts import tokens as clip_tokens
from regaudit.sdscripts import caption_budgets
from regaudit.views import captions as prompts
from regaudit.sdscripts.config import TrainingArgs
from regaudit.views.scan import load_specs

WORDS = ["1girl", "solo", "long hair", "looking at viewer", "smile", "blue eyes", "blonde hair", "dress",
         "outdoors", "sky", "cloud", "holding", "standing", "flower", "short sleeves", "open mouth", "day",
         "tree", "white shirt", "skirt", "black hair", "red eyes", "upper body", "simple background"]


def generate(root: Path, n: int) -> None:
    rnd = random.Random(0)
    vocab = WORDS + [f"tag{i}" for i in range(600)] + [f"artist {i}" for i in range(100)]
    proto = root / "proto.png"
    Image.new("RGB", (64, 64), (90, 40, 20)).save(proto)
    folders = [root / "train" / "10_ohwx woman", root / "train" / "5_style", root / "reg" / "1_woman"]
    for f in folders:
        f.mkdir(parents=True)
    for k in range(n):
        d = folders[k % len(folders)]
        os.link(proto, d / f"img_{k:06d}.png")
        tags = rnd.sample(vocab, rnd.randint(8, 45))
        if d.name.startswith("10_"):
            tags.insert(0, "ohwx woman")
        (d / f"img_{k:06d}.txt").write_text(", ".join(tags) + "\n")


def _skip(datasets, text=None, detail=False, known=None):
    return types.SimpleNamespace(datasets=datasets, tokenizer=types.SimpleNamespace(library=None), findings=())


class _NoCounter:
    """Counts nothing: the scan with its caption work (token counts, budgets, audit) switched off."""

    def count(self, text, bang_is_pad=False):
        return None

    def remember(self, text, n):
        pass


def _caption_work(on: bool, real: dict) -> None:
    """Switch the scan's caption work on (the real functions) or off (stand-ins); the workers are
    forked, so they take the same."""
    for name, off in (("audit_captions", _skip), ("part_budgets", lambda images, *a: [None] * len(images)),
                      ("shared_counter", _NoCounter)):
        setattr(scan_mod, name, real[name] if on else off)


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int, nargs="?", default=20_000)
    ap.add_argument("--keep")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    if not clip_tokens.status().available:
        raise SystemExit(clip_tokens.status().reason)
    tmp = None
    if a.keep:
        root = Path(a.keep)
        if not (root / "train").exists():
            root.mkdir(parents=True, exist_ok=True)
            generate(root, a.n)
    else:
        root = Path(tmp := tempfile.mkdtemp(prefix="regaudit-captions-"))
        generate(root, a.n)
    try:
        specs = load_specs(str(root / "train"), str(root / "reg"), None, TrainingArgs(caption_extension=".txt"))
        clip_tokens._backend()  # loading the vocabulary and ftfy: about 0.15 s, once per process
        real = {name: getattr(scan_mod, name) for name in ("audit_captions", "part_budgets", "shared_counter")}
        result = scan_mod.scan(specs, jobs=1)  # warm the page cache
        n = sum(len(s.images) for s in result.subsets)
        texts = list({i.caption.text for s in result.subsets for i in s.images if i.caption.text})

        def cold_scan(on: bool):
            def run():
                caption_budgets._SHARED.clear()
                _caption_work(on, real)
                scan_mod.scan(specs, jobs=None)
            return run

        without = best(cold_scan(False), a.repeat)
        with_audit = best(cold_scan(True), a.repeat)
        _caption_work(True, real)

        def audit_cold():
            caption_budgets._SHARED.clear()
            prompts.audit(result.datasets, detail=False)

        audit_alone = best(audit_cold, a.repeat)
        tokenize = best(lambda: [clip_tokens.TokenCounter().count(t) for t in texts], a.repeat)
        over = sum(1 for t in texts if (clip_tokens.TokenCounter().count(t) or 0) > 75)
        print(f"{n} images, {len(texts)} distinct captions, {over} past 75 tokens")
        print(f"scan without the caption work    {without:6.2f} s  (no token counts, budgets or audit)")
        print(f"scan with it (cold token cache)  {with_audit:6.2f} s  (+{with_audit - without:.2f} s; counted and "
              f"budgeted where each caption is read, in every worker)")
        print(f"caption audit alone, cold cache  {audit_alone:6.2f} s")
        print(f"CLIP tokenization alone          {tokenize:6.2f} s  ({tokenize / len(texts) * 1e6:.0f} µs a caption)")
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
