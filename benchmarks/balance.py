"""Balance cost, two ways.

    python benchmarks/balance.py [memory] [N]
        Registration, the reg loop, buckets and steps for N (default 100,000) images in memory. The
        images are synthetic records (no files), so this times the simulation alone: 20% train in
        four subsets at 100 repeats, 80% reg in two subsets, 30 distinct sizes, bucketing at 1024.

    python benchmarks/balance.py sdscripts [N] [--keep DIR] [--repeat 3]
        `regaudit balance --json` against sd-scripts' own dataset build, as whole processes on the
        same N-image tree (default 20,000; the tree of benchmarks/scan.py: JPEG/PNG/WebP in
        `train/10_sks dog`, `train/5_style`, `reg/1_dog`, `reg/1_cat`, half captioned). Both get the
        same options (--train_data_dir/--reg_data_dir, --resolution 512, --enable_bucket,
        --train_batch_size 1, --caption_extension .txt, --max_train_epochs 10). One warm-up run of
        each (page cache; bytecode caches, which both write under $TMPDIR/regaudit-bench-pycache,
        as users have .pyc files), then they alternate, --repeat times each; prints every run,
        the medians and sd-scripts/regaudit. Checks that both registered the same work
        (images, train/reg samples, batches, buckets, steps) and stops with exit 1 if not.

        What is timed:
        * regaudit: the wall time of the whole `python -m regaudit balance --json --no-progress`
          process (interpreter start, imports, scan with its worker processes, simulation, the
          JSON of every image written to a file), from just before the parent starts it until it
          has exited; CPU is the process's and its workers' user + system time.
        * sd-scripts: the real train_network.py `NetworkTrainer.train()` through the oracle
          (../shared/oracle/sdscripts_oracle.py --oracle_via_train, in its own virtualenv), from just
          before the parent starts the process (interpreter start and every import: torch,
          transformers, diffusers, accelerate, train_network) until sd-scripts'
          `config_util.generate_dataset_group_by_blueprint` returns, i.e. after its dataset summary
          and `make_buckets()`: the end of the dataset build. A small driver (`ORACLE_DRIVER`
          below) wraps that function, under the oracle's own seams, and notes CLOCK_MONOTONIC and
          the process's CPU time there; the parent's clock is the same CLOCK_MONOTONIC. Nothing
          after the build counts: not the oracle writing its JSON, not `prepare_accelerator`,
          where the oracle stops the run, and no model is ever loaded. The whole oracle process
          is printed too, for reference. The oracle makes sd-scripts' side slightly cheaper than a
          real start (no tokenizer is loaded: its tokenizer strategy is a fake; torchvision is a
          stub; tqdm is off), so the ratio errs in sd-scripts' favour.

        Needs the oracle (as tests/differential/run.py): $ORACLE_VENV (default /tmp/oracle-venv),
        $SD_SCRIPTS (default /tmp/sds), $ORACLE_DIR (default ../shared/oracle beside the
        repository). Without it, prints "skipped" and exits 0.

Other programs on the machine change the figures: repeat, and compare medians.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from regaudit.views.balance import BalanceOptions, plan
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

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
ORACLE_VENV = os.environ.get("ORACLE_VENV", "/tmp/oracle-venv")
SD_SCRIPTS = os.environ.get("SD_SCRIPTS", "/tmp/sds")
ORACLE_DIR = os.environ.get("ORACLE_DIR", str(REPO.parent / "shared" / "oracle"))


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


def memory(n: int | None) -> None:
    n = n or 100_000
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


# ---- sdscripts: whole processes against sd-scripts' own dataset build

# Runs in the oracle's virtualenv: `python -c ORACLE_DRIVER ORACLE_DIR MARKS_FILE oracle-args...`.
# Wraps config_util's build entry and exit before the oracle installs its seams (which then wrap
# these), so the marks fall on sd-scripts' own calls and not on the oracle's bookkeeping around them.
ORACLE_DRIVER = r"""
import json, os, sys, time
oracle_dir, marks_file = sys.argv[1], sys.argv[2]
sys.argv = [os.path.join(oracle_dir, "sdscripts_oracle.py"), *sys.argv[3:]]
sys.path.insert(0, oracle_dir)
import sdscripts_oracle as so
marks = {}
def mark(name):
    marks.setdefault(name, (time.monotonic(), time.process_time()))
orig_install = so._install_seams
def install():
    from library import config_util
    mark("imported")
    subdirs, build = config_util.generate_dreambooth_subsets_config_by_subdirs, config_util.generate_dataset_group_by_blueprint
    def timed_subdirs(*a, **k):
        mark("build_start")
        return subdirs(*a, **k)
    def timed_build(*a, **k):
        res = build(*a, **k)
        mark("build_end")
        return res
    config_util.generate_dreambooth_subsets_config_by_subdirs = timed_subdirs
    config_util.generate_dataset_group_by_blueprint = timed_build
    orig_install()
so._install_seams = install
try:
    rc = so.main()
finally:
    with open(marks_file, "w") as fh:
        json.dump(marks, fh)
sys.exit(rc)
"""


def oracle_ready() -> str | None:
    """None when the oracle can run, else why not."""
    for what, path in (("oracle python", os.path.join(ORACLE_VENV, "bin", "python")),
                       ("sd-scripts checkout", os.path.join(SD_SCRIPTS, "train_network.py")),
                       ("sd-scripts checkout", os.path.join(SD_SCRIPTS, "library", "train_util.py")),
                       ("oracle script", os.path.join(ORACLE_DIR, "sdscripts_oracle.py"))):
        if not os.path.exists(path):
            return f"{what} not found at {path}"
    return None


def _run(cmd: list[str], out: Path, env: dict | None = None) -> tuple[float, float, float]:
    """Start ``cmd`` with stdout to ``out``, stderr to /dev/null: (monotonic start, wall seconds,
    CPU seconds of the process and the children it waited for)."""
    with open(out, "wb") as fh:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.DEVNULL, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} ... exited {proc.returncode}; its stdout is in {out}")
    return t0, wall, usage.ru_utime + usage.ru_stime


def regaudit_counts(doc: dict) -> dict:
    if doc.get("crash") or doc.get("no_data") or len(doc.get("datasets", [])) != 1:
        raise SystemExit(f"regaudit: crash {doc.get('crash')}, no_data {doc.get('no_data')}")
    ds = doc["datasets"][0]
    images = ds["images"]
    return {"registered images": len(images),
            "registered train images": sum(1 for im in images if not im["is_reg"]),
            "registered reg images": sum(1 for im in images if im["is_reg"]),
            "train samples (num_train_images)": ds["num_train_images"],
            "reg samples raw (num_reg_images)": ds["num_reg_images"],
            "reg samples used": sum(im["num_repeats"] for im in images if im["is_reg"]),
            "subsets": sorted((s["image_dir"], s["num_repeats"], s["img_count"]) for s in ds["subsets"]),
            "buckets": len(ds["buckets"]),
            "batches per epoch": doc["batches_per_epoch"],
            "max_train_steps": doc["max_train_steps"]}


def sdscripts_counts(doc: dict) -> dict:
    group = doc.get("train_dataset_group") or {}
    if doc.get("error") or doc.get("no_data") or len(group.get("datasets", [])) != 1:
        raise SystemExit(f"sd-scripts: error {doc.get('error')} {doc.get('message')}, no_data {doc.get('no_data')}")
    ds = group["datasets"][0]
    return {"registered images": ds["num_registered_images"],
            "registered train images": ds["num_registered_train_images"],
            "registered reg images": ds["num_registered_reg_images"],
            "train samples (num_train_images)": ds["num_train_images"],
            "reg samples raw (num_reg_images)": ds["num_reg_images"],
            "reg samples used": ds["sum_num_repeats_reg"],
            "subsets": sorted((s["image_dir"], s["num_repeats"], s["img_count"]) for s in ds["subsets"]),
            "buckets": len(ds["buckets"]),
            "batches per epoch": doc["num_batches_per_epoch"],
            "max_train_steps": doc["max_train_steps"]}


def sdscripts(a: argparse.Namespace) -> int:
    why = oracle_ready()
    if why:
        print(f"balance sdscripts: skipped ({why})")
        return 0
    sys.path.insert(0, str(HERE))
    from scan import generate, tree  # the 20,000-image tree of `scan.py ratio`

    root, tmp = tree(a, 20_000, generate)
    work = Path(tempfile.mkdtemp(prefix="regaudit-bench-out-"))
    try:
        options = ["--train_data_dir", str(root / "train"), "--reg_data_dir", str(root / "reg"),
                   "--resolution", "512", "--enable_bucket", "--train_batch_size", "1",
                   "--caption_extension", ".txt", "--max_train_epochs", "10"]
        ra_cmd = [sys.executable, "-m", "regaudit", "balance", "--json", "--no-progress",
                  "--trainer", "train_network", *options]
        sd_cmd = [os.path.join(ORACLE_VENV, "bin", "python"), "-c", ORACLE_DRIVER, ORACLE_DIR, str(work / "marks.json"),
                  "--oracle_via_train", "--oracle_no_images", *options]
        # bytecode caches for both, as an installed regaudit and a used sd-scripts checkout have them
        # (this environment may set PYTHONDONTWRITEBYTECODE); kept apart from both source trees
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = os.path.join(tempfile.gettempdir(), "regaudit-bench-pycache")
        sd_env = {**env, "SD_SCRIPTS": SD_SCRIPTS, "TQDM_DISABLE": "1"}
        print(f"tree: {root}")
        print("regaudit:   " + " ".join(ra_cmd[1:]))
        print(f"sd-scripts: SD_SCRIPTS={SD_SCRIPTS} {sd_cmd[0]} -c ORACLE_DRIVER {ORACLE_DIR} MARKS "
              + " ".join(sd_cmd[5:]))

        def run_regaudit() -> tuple[float, float, dict]:
            _, wall, cpu = _run(ra_cmd, work / "regaudit.json", env)
            with open(work / "regaudit.json", encoding="utf-8", errors="surrogateescape") as fh:
                return wall, cpu, regaudit_counts(json.load(fh))

        def run_sdscripts() -> tuple[dict, dict]:
            (work / "marks.json").unlink(missing_ok=True)
            t0, wall, cpu = _run(sd_cmd, work / "oracle.json", sd_env)
            marks = json.loads((work / "marks.json").read_text())
            if "build_end" not in marks:
                raise SystemExit(f"sd-scripts: the dataset build did not finish (marks {marks}); see {work / 'oracle.json'}")
            times = {"build_end": marks["build_end"][0] - t0, "build_end_cpu": marks["build_end"][1],
                     "imported": marks["imported"][0] - t0,
                     "build": marks["build_end"][0] - marks["build_start"][0], "process": wall, "process_cpu": cpu}
            return times, sdscripts_counts(json.loads((work / "oracle.json").read_text()))

        def same(ra: dict, sd: dict) -> None:
            if ra != sd:
                for k in sd:
                    if ra.get(k) != sd[k]:
                        print(f"  DIFFERENT {k}: sd-scripts {sd[k]!r} regaudit {ra.get(k)!r}")
                raise SystemExit("regaudit and sd-scripts registered different work: no comparison")

        # warm-up (page cache, bytecode caches), and the work both report
        _, sd_counts = run_sdscripts()
        _, _, ra_counts = run_regaudit()
        same(ra_counts, sd_counts)
        print("both report: " + ", ".join(f"{k} {v}" for k, v in sd_counts.items() if k != "subsets"))
        print("subsets (dir, repeats, images): " + "; ".join(f"{os.path.relpath(d, root)} {r} {n}"
                                                            for d, r, n in sd_counts["subsets"]))
        sds, ras = [], []
        for i in range(a.repeat):
            times, counts = run_sdscripts()
            same(counts, sd_counts)
            sds.append(times)
            wall, cpu, counts = run_regaudit()
            same(counts, sd_counts)
            ras.append((wall, cpu))
            print(f"run {i + 1}: sd-scripts to end of build {times['build_end']:.2f} s (imports done "
                  f"{times['imported']:.2f} s, build {times['build']:.2f} s, CPU {times['build_end_cpu']:.2f} s; "
                  f"whole oracle process {times['process']:.2f} s); regaudit balance --json {wall:.2f} s "
                  f"(CPU {cpu:.2f} s)", flush=True)
        med = {k: statistics.median(t[k] for t in sds) for k in sds[0]}
        ra_wall, ra_cpu = statistics.median(w for w, _ in ras), statistics.median(c for _, c in ras)
        print(f"median sd-scripts (process start -> end of dataset build): {med['build_end']:.2f} s wall, "
              f"{med['build_end_cpu']:.2f} s CPU (of it: imports {med['imported']:.2f} s, build {med['build']:.2f} s; "
              f"whole oracle process {med['process']:.2f} s)")
        print(f"median regaudit balance --json (whole process): {ra_wall:.2f} s wall, {ra_cpu:.2f} s CPU")
        ratio = med["build_end"] / ra_wall
        print(f"sd-scripts / regaudit = {ratio:.2f}x wall, {med['build_end_cpu'] / ra_cpu:.2f}x CPU "
              f"({os.cpu_count()} cores; target >= 5x wall: {'met' if ratio >= 5 else 'NOT met'})")
        return 0
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    argv = sys.argv[1:]
    mode = argv.pop(0) if argv and argv[0] in ("memory", "sdscripts") else "memory"
    ap = argparse.ArgumentParser(prog=f"balance.py {mode}")
    ap.add_argument("n", type=int, nargs="?")
    if mode == "sdscripts":
        ap.add_argument("--keep", help="generate into (or reuse) this folder instead of a temporary one")
        ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args(argv)
    if mode == "memory":
        memory(a.n)
    else:
        sys.exit(sdscripts(a))


if __name__ == "__main__":
    main()
