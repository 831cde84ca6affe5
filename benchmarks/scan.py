"""Scan speed and memory, measured as a user runs it: whole processes.

    python benchmarks/scan.py ratio [N] [--keep DIR] [--repeat 5]
        `regaudit scan --json` against the floor (benchmarks/floor.py: a bare loop that calls
        imagesize.get() on every image and reads its caption) on the same N-image tree (default
        20,000: 80% JPEG, 15% PNG, 5% WebP, 480-1024 px, half captioned). Runs them alternately,
        prints every time, the medians and their ratio. Needs imagesize 1.4.1 for the floor
        (`pip install imagesize==1.4.1`, benchmark only).
    python benchmarks/scan.py million [N] [--keep DIR]
        `regaudit scan` (human output), `regaudit scan --json` and `regaudit balance --json` on a tree of N (default
        1,000,000) hard links to a few small images and captions: wall time and peak memory
        (regaudit and its workers together, as proportional set size sampled every 20 ms, so
        pages a forked worker shares with its parent count once; and the largest single process).
    python benchmarks/scan.py throughput [N] [--keep DIR]
        images/s of the scan and of `scan --deep`, in process, all cores and one.

Other programs on the machine change the figures: repeat, and compare medians.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FOLDERS = ("train/10_sks dog", "train/5_style", "reg/1_dog", "reg/1_cat")


def generate(root: Path, n: int) -> None:
    from PIL import Image

    rnd = random.Random(0)
    bases = []
    for i in range(40):
        w, h = rnd.choice([(512, 768), (768, 512), (1024, 1024), (640, 480), (480, 640)])
        im = Image.effect_noise((w // 8, h // 8), 40).convert("RGB").resize((w, h))
        fmt = "JPEG" if i % 20 < 16 else ("PNG" if i % 20 < 19 else "WEBP")
        path = root / f"base{i}.{fmt.lower().replace('jpeg', 'jpg')}"
        im.save(path, fmt, **({"quality": 85} if fmt != "PNG" else {}))
        bases.append(path)
    folders = [root / f for f in FOLDERS]
    for f in folders:
        f.mkdir(parents=True)
    for k in range(n):
        src = bases[k % len(bases)]
        dst = folders[k % len(folders)] / f"img_{k:06d}{src.suffix}"
        shutil.copyfile(src, dst)
        if k % 2 == 0:
            dst.with_suffix(".txt").write_text(f"caption {k}\n")


def generate_links(root: Path, n: int) -> None:
    """N hard links to 6 small images (JPEG, PNG, WebP), half of them with a caption (also links;
    a file takes at most 65,000 links, so every 50,000 links get fresh copies to link to)."""
    from PIL import Image

    originals = []
    for i, fmt in enumerate(("JPEG", "JPEG", "JPEG", "JPEG", "PNG", "WEBP")):
        p = root / f"base{i}.{fmt.lower().replace('jpeg', 'jpg')}"
        Image.effect_noise((64 + 8 * i, 48), 40).convert("RGB").save(p, fmt)
        originals.append(p)
    caption = root / "caption.txt"
    caption.write_text("a photo of sks dog\n")
    originals.append(caption)
    folders = [root / f for f in FOLDERS]
    for f in folders:
        f.mkdir(parents=True)
    (root / "links").mkdir()
    group = -1
    for k in range(n):
        if k // 50_000 != group:
            group = k // 50_000
            copies = []
            for src in originals:
                dst = root / "links" / f"{group}-{src.name}"
                shutil.copyfile(src, dst)
                copies.append(dst)
        src = copies[k % (len(copies) - 1)]
        dst = folders[k % len(folders)] / f"img_{k:07d}{src.suffix}"
        os.link(src, dst)
        if k % 2 == 0:
            os.link(copies[-1], dst.with_suffix(".txt"))


def scan_cmd(root: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "regaudit", "scan", "--train", str(root / "train"), "--reg", str(root / "reg"),
            "--caption-extension", ".txt", "--no-progress", *extra]


def _tree_memory(pid: int) -> int:
    """Proportional set size (bytes) of ``pid`` and all its descendants: memory shared between a
    parent and its forked workers counts once."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo += children.get(p, [])
        try:
            with open(f"/proc/{p}/smaps_rollup") as fh:
                total += next(int(line.split()[1]) for line in fh if line.startswith("Pss:")) * 1024
        except (OSError, StopIteration, ValueError):
            pass
    return total


def measured(cmd: list[str]) -> tuple[float, int, int]:
    """(wall seconds, peak memory of the process tree (PSS, sampled every 20 ms), peak resident
    memory of its largest process) of ``cmd``, output to /dev/null."""
    peak = [0]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, env=BENCH_ENV)
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.02):
            peak[0] = max(peak[0], _tree_memory(proc.pid))

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own figures (and its workers')
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    stop.set()
    th.join()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}")
    return wall, peak[0], usage.ru_maxrss * 1024


# Both programs run as an installed package does: with bytecode caches (pip compiles them at install
# time). This environment may set PYTHONDONTWRITEBYTECODE, which would make every run compile
# every module again; the caches go to a folder of their own, outside the source trees.
BENCH_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
BENCH_ENV["PYTHONPYCACHEPREFIX"] = os.path.join(tempfile.gettempdir(), "regaudit-bench-pycache")


def timed(cmd: list[str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the process and its workers) of ``cmd``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True, env=BENCH_ENV)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def tree(a: argparse.Namespace, default: int, make) -> tuple[Path, str | None]:
    n = a.n or default
    if a.keep:
        root = Path(a.keep)
        if not (root / "train").exists():
            root.mkdir(parents=True, exist_ok=True)
            t0 = time.perf_counter()
            make(root, n)
            print(f"generated {n} images in {time.perf_counter() - t0:.0f} s")
        return root, None
    tmp = tempfile.mkdtemp(prefix="regaudit-bench-")
    t0 = time.perf_counter()
    make(Path(tmp), n)
    print(f"generated {n} images in {time.perf_counter() - t0:.0f} s")
    return Path(tmp), tmp


def ratio(a: argparse.Namespace) -> None:
    root, tmp = tree(a, 20_000, generate)
    try:
        floor_cmd = [sys.executable, str(HERE / "floor.py"), str(root)]
        scan = scan_cmd(root, "--json")
        timed(floor_cmd), timed(scan)  # warm the page cache and fill the bytecode caches
        floors, scans = [], []
        for _ in range(a.repeat):
            floors.append(timed(floor_cmd))
            scans.append(timed(scan))
        for label, runs in (("floor (imagesize.get + caption read)", floors), ("regaudit scan --json", scans)):
            print(f"{label:37s} wall " + " ".join(f"{w:.2f}" for w, _ in runs) + " s; CPU "
                  + " ".join(f"{c:.2f}" for _, c in runs) + " s")
        fw, sw = statistics.median(w for w, _ in floors), statistics.median(w for w, _ in scans)
        fc, sc = statistics.median(c for _, c in floors), statistics.median(c for _, c in scans)
        print(f"median wall: floor {fw:.2f} s, scan {sw:.2f} s, scan/floor = {sw / fw:.2f} ({os.cpu_count()} cores)")
        print(f"median CPU:  floor {fc:.2f} s, scan {sc:.2f} s, scan/floor = {sc / fc:.2f}")
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def million(a: argparse.Namespace) -> None:
    root, tmp = tree(a, 1_000_000, generate_links)
    try:
        n = a.n or 1_000_000
        balance = [sys.executable, "-m", "regaudit", "balance", "--train_data_dir", str(root / "train"),
                   "--reg_data_dir", str(root / "reg"), "--caption_extension", ".txt", "--resolution", "512",
                   "--enable_bucket", "--no-progress", "--json"]
        for label, cmd in (("scan", scan_cmd(root)), ("scan --json", scan_cmd(root, "--json")),
                           ("balance --json", balance)):
            wall, peak, largest = measured(cmd)
            print(f"{label:14s} {n} images in {wall:6.1f} s = {n / wall:7.0f} images/s; peak memory "
                  f"{peak / 2**20:5.0f} MiB (all processes), {largest / 2**20:5.0f} MiB (largest)")
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def throughput(a: argparse.Namespace) -> None:
    from regaudit.sdscripts.config import TrainingArgs
    from regaudit.views.scan import load_specs, scan

    root, tmp = tree(a, 20_000, generate)
    try:
        specs = load_specs(str(root / "train"), str(root / "reg"), None, TrainingArgs(caption_extension=".txt"))
        n = sum(len(s.images) for s in scan(specs, listing_only=True).subsets)
        for label, deep, jobs in (("scan (headers)", False, None), ("scan --deep", True, None),
                                  ("scan, 1 process", False, 1)):
            t0 = time.perf_counter()
            scan(specs, deep=deep, jobs=jobs)
            dt = time.perf_counter() - t0
            print(f"{label:16s} {n} images in {dt:6.2f} s = {n / dt:8.0f} images/s")
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=("ratio", "million", "throughput"))
    ap.add_argument("n", type=int, nargs="?")
    ap.add_argument("--keep", help="generate into (or reuse) this folder instead of a temporary one")
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    {"ratio": ratio, "million": million, "throughput": throughput}[a.what](a)


if __name__ == "__main__":
    main()
