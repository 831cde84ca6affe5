"""A dataset config of many [[datasets]], measured as a user runs it: whole processes.

    python benchmarks/many_datasets.py [N] [--keep DIR] [--toml] [--folders shared|distinct|missing]
        A JSON dataset config (a TOML one is refused past 1 MiB: about 12,000 datasets) of N
        (default 100,000) datasets, each one subset, every third a reg subset; the subsets name
        one of four folders of two small captioned PNGs (shared, the default), a folder each of
        one captioned PNG (distinct), or a folder that does not exist (missing). Runs `scan --json`, `balance --json`, `check` and `scan`
        (human output) on it and prints for each the wall time, the CPU time (user + system, all
        processes) and the peak memory of the largest process (ru_maxrss). Other programs on the
        machine stretch the wall time: compare CPU times, and repeat.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
COMMANDS = (["scan", "--json"], ["balance", "--json"], ["check"], ["scan"])


def generate(root: Path, n: int, as_toml: bool, layout: str) -> Path:
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    if layout == "missing":
        folders = [(root / "gone" / str(k)).as_posix() for k in range(n)]
    elif layout == "distinct":
        folders = []
        for k in range(n):
            png = root / f"one{k // 50_000}.png"  # (a file may have at most 65,000 links on ext4)
            if k % 50_000 == 0:
                Image.new("RGB", (64, 64), (200, 90, 0)).save(png)
            folder = root / "img" / str(k // 1000) / str(k)
            folder.mkdir(parents=True)
            os.link(png, folder / "a.png")  # (a few files' inodes: the tree costs no disk)
            (folder / "a.txt").write_text(f"a dog, sks, {k}\n")
            folders.append(folder.as_posix())
    else:
        folders = []
        for d in range(4):
            folder = root / f"img{d}"
            folder.mkdir(parents=True)
            for i in range(2):
                Image.new("RGB", (64, 64), (d * 40, i * 90, 0)).save(folder / f"a{i}.png")
                (folder / f"a{i}.txt").write_text("a dog, sks\n")
            folders.append(folder.as_posix())
    datasets = [{"subsets": [{"image_dir": folders[k % len(folders)], "num_repeats": 2,
                              **({"is_reg": True} if k % 3 == 0 else {})}]}
                for k in range(n)]
    doc = {"general": {"resolution": 512, "caption_extension": ".txt"}, "datasets": datasets}
    if as_toml:
        import toml

        path = root / f"many{n}-{layout}.toml"
        path.write_text(toml.dumps(doc))
    else:
        path = root / f"many{n}-{layout}.json"
        path.write_text(json.dumps(doc))
    return path


def measure(argv: list[str]) -> tuple[int, float, float, int]:
    """(exit code, wall s, CPU s, peak KiB) of regaudit ``argv`` in a child."""
    env = dict(os.environ, PYTHONPATH=str(HERE.parent))
    start = "import sys; sys.argv[0] = 'regaudit'; from regaudit.entry import run; run()"
    t = time.monotonic()
    # (run in the repository: ``python -c`` puts the working folder first on sys.path)
    p = subprocess.Popen([sys.executable, "-c", start, *argv], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         env=env, cwd=HERE.parent)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.monotonic() - t
    # (the child's workers are its children: their CPU time is in ru_*time once the child reaped them)
    return os.waitstatus_to_exitcode(status), wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", nargs="?", type=int, default=100_000)
    ap.add_argument("--keep", type=Path, help="make (or reuse) the tree here and keep it")
    ap.add_argument("--toml", action="store_true", help="a TOML config (at most about 12,000 datasets)")
    ap.add_argument("--folders", choices=("shared", "distinct", "missing"), default="shared",
                    help="what the subsets name: four shared folders, a folder each, or missing folders")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="regaudit-many-"))
    try:
        name = f"many{args.n}-{args.folders}.{'toml' if args.toml else 'json'}"
        config = root / name if (root / name).exists() else generate(root, args.n, args.toml, args.folders)
        print(f"{args.n:,} datasets in {config} ({config.stat().st_size / 2**20:.1f} MiB)")
        for cmd in COMMANDS:
            code, wall, cpu, peak = measure([*cmd, "--dataset_config", str(config)])
            print(f"  regaudit {' '.join(cmd):<15} exit {code}  wall {wall:6.1f} s  CPU {cpu:6.1f} s  "
                  f"peak {peak / (1 << 20 if sys.platform == 'darwin' else 1024):6.0f} MiB")  # (ru_maxrss: bytes on macOS)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
