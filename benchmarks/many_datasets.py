"""A dataset config of many [[datasets]], measured as a user runs it: whole processes.

    python benchmarks/many_datasets.py [N] [--keep DIR] [--toml] [--folders shared|distinct|missing]
                                       [--commands sd|dupes-fix|musubi] [--only CMD ...]
        A JSON dataset config (a TOML one is refused past 1 MiB: about 12,000 datasets) of N
        (default 100,000) datasets, each one subset, every third a reg subset; the subsets name
        one of four folders of two small captioned PNGs (shared, the default), a folder each of
        one captioned PNG (distinct), or a folder that does not exist (missing). Runs `scan --json`,
        `balance --json`, `check`, `scan`, `balance`, `captions --json` and `captions` on it (--only
        CMD ...: those) and prints for each the wall time, the CPU time (user + system, all
        processes) and the peak memory of the largest process (ru_maxrss). Other programs on the
        machine stretch the wall time: compare CPU times, and repeat. --commands dupes-fix runs `dupes
        --json`, `dupes`, `fix --out` and `fix --unsafe-fixes --out` instead; --commands musubi writes a
        musubi-tuner config of the same folders and runs `scan`, `scan --json`, `balance --json` and
        `check` of qwen_image_train_network.py on it.
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
COMMANDS = {
    "sd": (["scan", "--json"], ["balance", "--json"], ["check"], ["scan"], ["balance"], ["captions", "--json"],
           ["captions"]),
    # dupes (no hash cache: every image hashed) and fix, whose copy goes to DIR/fix-out (removed after each)
    "dupes-fix": (["dupes", "--json", "--no-cache"], ["dupes", "--no-cache"], ["fix", "--out", "{out}"],
                  ["fix", "--unsafe-fixes", "--out", "{out}"]),
    # a musubi-tuner config of the same folders (--folders distinct: musubi wants a cache folder per dataset)
    "musubi": (["scan"], ["scan", "--json"], ["balance", "--json"], ["check"]),
}
MUSUBI = ["qwen_image_train_network.py", "--max_train_epochs", "10"]


def generate(root: Path, n: int, as_toml: bool, layout: str, musubi: bool = False) -> Path:
    from PIL import Image

    root.mkdir(parents=True, exist_ok=True)
    if layout == "distinct" and (root / "img").exists():  # (an earlier run's folders: another config over them)
        folders = [(root / "img" / str(k // 1000) / str(k)).as_posix() for k in range(n)]
    elif layout == "shared" and (root / "img0").exists():
        folders = [(root / f"img{d}").as_posix() for d in range(4)]
    elif layout == "missing":
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
    if musubi:  # musubi-tuner's schema: no subsets, image_directory (also its cache directory)
        doc = {"general": {"resolution": 512, "caption_extension": ".txt", "enable_bucket": True, "batch_size": 1},
               "datasets": [{"image_directory": folders[k % len(folders)], "num_repeats": 1 + k % 3}
                            for k in range(n)]}
        layout += "-musubi"
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
    ap.add_argument("--only", nargs="+", metavar="CMD", help="only these commands (e.g. 'captions --json' scan)")
    ap.add_argument("--folders", choices=("shared", "distinct", "missing"), default="shared",
                    help="what the subsets name: four shared folders, a folder each, or missing folders")
    ap.add_argument("--commands", choices=tuple(COMMANDS), default="sd",
                    help="sd: scan --json, balance --json, check, scan; dupes-fix: dupes --json, dupes, fix --out, "
                         "fix --unsafe-fixes --out; musubi: scan, scan --json, balance --json, check of a musubi-tuner "
                         "config (qwen_image_train_network.py)")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="regaudit-many-"))
    musubi = args.commands == "musubi"
    try:
        name = f"many{args.n}-{args.folders}{'-musubi' if musubi else ''}.{'toml' if args.toml else 'json'}"
        config = root / name if (root / name).exists() else generate(root, args.n, args.toml, args.folders, musubi)
        print(f"{args.n:,} datasets in {config} ({config.stat().st_size / 2**20:.1f} MiB)")
        out = root / "fix-out"
        for cmd in COMMANDS[args.commands] if not args.only else [c.split() for c in args.only]:
            cmd = [out.as_posix() if c == "{out}" else c for c in cmd]
            shutil.rmtree(out, ignore_errors=True)
            code, wall, cpu, peak = measure([*cmd, *(MUSUBI if musubi else ()), "--dataset_config", str(config)])
            shutil.rmtree(out, ignore_errors=True)
            print(f"  regaudit {' '.join(c for c in cmd if c != out.as_posix()):<26} exit {code}  wall {wall:6.1f} s  "
                  f"CPU {cpu:6.1f} s  "
                  f"peak {peak / (1 << 20 if sys.platform == 'darwin' else 1024):6.0f} MiB")  # (ru_maxrss: bytes on macOS)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
