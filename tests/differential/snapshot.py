"""Behaviour snapshot for refactors: every command's output (JSON and human, stdout, stderr and exit
code) on the bundled fixtures and on random trees from ``gen.py``, written to one folder per run so
two runs can be compared with ``diff -r``.

    python tests/differential/snapshot.py OUT_DIR [--seeds 0:40]
    diff -r BEFORE_DIR AFTER_DIR

Trees are made in a temporary folder whose path is replaced by ``<TREE>`` in the outputs, so two
runs compare equal when regaudit behaves the same. Needs no oracle.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from gen import make_case  # noqa: E402

FIXTURES = os.path.join(REPO, "fixtures")

FIXTURE_COMMANDS = [
    ["scan", "--train", "train", "--reg", "reg"],
    ["scan", "--json", "--train", "train", "--reg", "reg"],
    ["scan", "--images", "--train", "train", "--reg", "reg"],
    ["balance", "--dataset-config", "dataset.toml"],
    ["balance", "--json", "--dataset-config", "dataset.toml"],
    ["balance", "--json", "--images", "--train", "train", "--reg", "reg", "--resolution", "512", "--enable_bucket"],
    ["balance", "--suggest", "--train", "train", "--reg", "reg", "--resolution", "512"],
    ["captions", "--train", "train", "--reg", "reg"],
    ["captions", "--json", "--train", "train", "--reg", "reg"],
    ["dupes", "--train", "train", "--reg", "reg", "--no-cache"],
    ["dupes", "--json", "--train", "train", "--reg", "reg", "--no-cache"],
    ["check", "--train", "train", "--reg", "reg"],
    ["check", "--format", "json", "--train", "train", "--reg", "reg"],
    ["check", "--format", "github", "--train", "train", "--reg", "reg"],
    ["check", "--format", "junit", "--train", "train", "--reg", "reg"],
    ["rules"],
    ["rules", "RA066"],
]

TREE_COMMANDS = [
    ["scan", "--json"],
    ["balance", "--json", "--images"],
    ["balance"],
    ["captions", "--json"],
    ["check", "--format", "json"],
]


def run(cmd: list[str], cwd: str, tree: str | None) -> str:
    env = {**os.environ, "PYTHONPATH": REPO, "COLUMNS": "100", "NO_COLOR": "1", "TERM": "dumb"}
    p = subprocess.run([sys.executable, "-m", "regaudit", *cmd], cwd=cwd, capture_output=True, env=env,
                       stdin=subprocess.DEVNULL)
    text = (f"$ regaudit {' '.join(cmd)}\nexit {p.returncode}\n--- stdout\n"
            + p.stdout.decode("utf-8", "replace") + "\n--- stderr\n" + p.stderr.decode("utf-8", "replace"))
    if tree:
        text = text.replace(os.path.realpath(tree), "<TREE>").replace(tree, "<TREE>")
    return text.replace(REPO, "<REPO>")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seeds", default="0:40")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for i, cmd in enumerate(FIXTURE_COMMANDS):
        with open(os.path.join(a.out, f"fixture-{i:02d}.txt"), "w") as fh:
            fh.write(run(cmd + (["--no-progress"] if cmd[0] != "rules" else []), FIXTURES, None))
    lo, hi = (int(x) for x in a.seeds.split(":"))
    for seed in range(lo, hi):
        with tempfile.TemporaryDirectory() as tmp:
            tree = os.path.join(tmp, "t")
            os.makedirs(tree)
            case = make_case(seed, tree)
            for i, cmd in enumerate(TREE_COMMANDS):
                full = [cmd[0], "--no-progress", *cmd[1:], "--trainer", case.trainer, *case.argv]
                with open(os.path.join(a.out, f"seed{seed:04d}-{i}.txt"), "w") as fh:
                    fh.write(run(full, tree, tree))
    print(f"snapshot written to {a.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
