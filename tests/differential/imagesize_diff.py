"""Differential check: regaudit's reading of image sizes against the real imagesize 1.4.1 that
sd-scripts calls, on every file of the corpus (``corpus.py``: Pillow-made images in every format
and mode, hand-made quirks, and mutants of both).

    python tests/differential/imagesize_diff.py [--seeds 0:3] [--mutations 6] [--keep DIR] [-v]

Needs imagesize 1.4.1 in the oracle virtualenv (``$ORACLE_VENV``, default /tmp/oracle-venv); where
it is missing it says so and exits 0 (CI has no oracle). Both results are compared exactly: the
(width, height) with their types (an SVG gives floats), or the exception's class and message.
Prints every disagreement and the agreement figure; exits 1 on any disagreement.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, REPO)

from corpus import write_corpus  # noqa: E402

ORACLE_VENV = os.environ.get("ORACLE_VENV", "/tmp/oracle-venv")

# runs in the oracle's Python: one line of JSON per file
ORACLE_SCRIPT = r"""
import json, sys, imagesize
assert imagesize.__version__ == "1.4.1", imagesize.__version__
def name(e):
    t = type(e)
    return t.__name__ if t.__module__ == "builtins" else t.__module__ + "." + t.__name__
for path in sys.stdin.read().splitlines():
    try:
        w, h = imagesize.get(path)
        out = {"size": [repr(w), repr(h)]}
    except Exception as e:
        out = {"raise": [name(e), str(e)]}
    print(json.dumps(out))
"""


def oracle_python() -> str | None:
    py = os.path.join(ORACLE_VENV, "bin", "python")
    if not os.path.exists(py):
        return None
    ok = subprocess.run([py, "-c", "import imagesize; assert imagesize.__version__ == '1.4.1'"], capture_output=True)
    return py if ok.returncode == 0 else None


def ours(path: str) -> dict:
    from regaudit.sdscripts.imagesize_141 import SizeCrash, Source, read_size

    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        src = Source(os.read(fd, 16384), fd, size)
        try:
            w, h = read_size(src)
        except SizeCrash as exc:
            return {"raise": [exc.exception, exc.message]}
        return {"size": [repr(w), repr(h)]}
    finally:
        os.close(fd)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0:2", help="corpus seeds, START:STOP")
    ap.add_argument("--mutations", type=int, default=6)
    ap.add_argument("--keep", help="write the corpus here (kept)")
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    py = oracle_python()
    if py is None:
        print(f"imagesize 1.4.1 not found in {ORACLE_VENV}: skipped")
        return 0
    start, stop = (int(x) for x in a.seeds.split(":"))
    tmp = a.keep or tempfile.mkdtemp(prefix="regaudit-imagesize-")
    try:
        paths: list[Path] = []
        for seed in range(start, stop):
            paths += write_corpus(Path(tmp) / f"seed{seed}", seed, a.mutations)
        text = "\n".join(str(p) for p in paths)
        run = subprocess.run([py, "-c", ORACLE_SCRIPT], input=text, capture_output=True, text=True, timeout=600)
        if run.returncode != 0:
            print(run.stderr[-2000:])
            return 2
        theirs = [json.loads(line) for line in run.stdout.splitlines()]
        assert len(theirs) == len(paths)
        bad = 0
        kinds: dict[str, int] = {}
        for p, t in zip(paths, theirs):
            o = ours(str(p))
            key = next(iter(t)) + (":" + t["raise"][0] if "raise" in t else "")
            kinds[key] = kinds.get(key, 0) + 1
            if o != t:
                bad += 1
                print(f"DIFF {p.name}: imagesize {t} regaudit {o}")
            elif a.v:
                print(f"ok   {p.name}: {t}")
        print(f"{len(paths) - bad}/{len(paths)} files agree with imagesize 1.4.1 "
              f"({', '.join(f'{k} {v}' for k, v in sorted(kinds.items()))})")
        return 1 if bad else 0
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
