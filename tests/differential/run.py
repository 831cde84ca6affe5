"""Differential check: the real sd-scripts (through the oracle in ../shared/oracle) and regaudit on
the same random trees, every comparable field diffed.

    python tests/differential/run.py [--seeds 0:50] [--keep DIR] [--only-trainer NAME] [-v]

Needs the oracle set up (``bash ../shared/oracle/bootstrap.sh GIT_DIR``): ``$ORACLE_VENV``
(default /tmp/oracle-venv), ``$SD_SCRIPTS`` (default /tmp/sds) and the oracle scripts in
``$ORACLE_DIR`` (default ../shared/oracle beside the repository). Where they are missing it says so
and exits 0: CI has no sd-scripts. Prints one line per disagreeing tree and the agreement figure.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections import Counter

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)

from gen import make_case, make_finetune_case  # noqa: E402

ORACLE_VENV = os.environ.get("ORACLE_VENV", "/tmp/oracle-venv")
SD_SCRIPTS = os.environ.get("SD_SCRIPTS", "/tmp/sds")
ORACLE_DIR = os.environ.get("ORACLE_DIR", os.path.join(os.path.dirname(REPO), "shared", "oracle"))


def oracle_ready() -> str | None:
    """None when the oracle can run, else why not."""
    for what, path in (("oracle python", os.path.join(ORACLE_VENV, "bin", "python")),
                       ("sd-scripts checkout", os.path.join(SD_SCRIPTS, "library", "train_util.py")),
                       ("oracle batch script", os.path.join(ORACLE_DIR, "batch.py"))):
        if not os.path.exists(path):
            return f"{what} not found at {path}"
    return None


def run_oracle(jobs: list[dict], log: str) -> None:
    jobs_file = os.path.join(os.path.dirname(log), "jobs.json")
    with open(jobs_file, "w") as fh:
        json.dump(jobs, fh)
    env = {**os.environ, "SD_SCRIPTS": SD_SCRIPTS, "TQDM_DISABLE": "1"}
    with open(log, "w") as err:
        subprocess.run([os.path.join(ORACLE_VENV, "bin", "python"), os.path.join(ORACLE_DIR, "batch.py"), jobs_file],
                       env=env, stdout=err, stderr=err, check=False)


def read_oracle(root: str) -> tuple[int, dict]:
    """(exit code, JSON document) of the oracle's job in ``root`` ({} when it printed none)."""
    out = os.path.join(root, "oracle.json")
    with open(out + ".rc") as fh:
        rc = int(fh.read())
    try:
        with open(out, encoding="utf-8") as fh:
            return rc, json.load(fh)
    except ValueError:
        return rc, {}


def run_regaudit(case, cwd: str) -> dict:
    if case.seed % 3 == 0:  # a pasted command: the trainer comes from the script name
        tail = ["accelerate", "launch", "--num_processes", "1", f"{case.trainer}.py", *case.argv]
    else:
        tail = ["--trainer", case.trainer, *case.argv]
    return balance_json(tail, cwd)


def balance_json(tail: list[str], cwd: str) -> dict:
    """``regaudit balance --json`` of ``tail`` run in ``cwd``: its document, with its exit code in
    "_rc" (and "_exit", "_stderr" when it printed no JSON)."""
    cmd = [sys.executable, "-m", "regaudit", "balance", "--json", "--no-progress", *tail]
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, env={**os.environ, "PYTHONPATH": REPO})
    try:
        doc = json.loads(p.stdout.decode("utf-8", "surrogateescape"))
    except ValueError:
        doc = {"_exit": p.returncode, "_stderr": p.stderr.decode("utf-8", "replace").strip()[-300:]}
    doc["_rc"] = p.returncode
    return doc


# ---- normalising both sides into the same shape

def oracle_view(doc: dict, rc: int) -> dict:
    if rc == 2 or (rc != 0 and "crash_stage" not in doc and not doc.get("error")):
        return {"crash": ("start", "SystemExit"), "no_data": False}
    if doc.get("oracle_error"):
        return {"oracle_error": doc.get("message")}
    if rc == 3:
        return {"crash": (doc.get("crash_stage"), doc.get("error")), "no_data": False}
    view = {"crash": None, "no_data": bool(doc.get("no_data")), "max_train_steps": doc.get("max_train_steps"),
            "batches": doc.get("num_batches_per_epoch"), "datasets": []}
    group = doc.get("train_dataset_group") or {"datasets": []}
    load_errors = []
    for ds in group["datasets"]:
        images = {}
        for im in ds.get("images", []):
            images[im["abspath"]] = {"is_reg": im["is_reg"], "num_repeats": im["num_repeats"],
                                     "image_size": list(im["image_size"] or [0, 0]),
                                     "bucket": list(im["bucket_reso"]) if im.get("bucket_reso") else None,
                                     "resized": list(im["resized_size"]) if im.get("resized_size") else None,
                                     "caption": im["caption"]}
            if im.get("load_error"):
                load_errors.append(im["abspath"])
        # (a FineTuningSubset has no is_reg)
        subsets = [(s["image_dir"], s["num_repeats"], s["img_count"], s.get("is_reg", False), s.get("class_tokens"))
                   for s in ds.get("subsets", [])]
        view["datasets"].append({"num_train_images": ds["num_train_images"], "num_reg_images": ds["num_reg_images"],
                                 "len": ds["len"], "subsets": subsets, "images": images})
    view["load_errors"] = sorted(load_errors)
    if load_errors and not view["no_data"]:
        view["crash"] = ("load", None)
    steps = view["max_train_steps"]
    if isinstance(steps, float) and not view["no_data"] and not (load_errors and (doc.get("args") or {}).get(
            "cache_latents")):
        # the oracle stops before training: a float max_train_steps fails at range() when training starts,
        # after latent caching (which loads every image) and before the first batch is loaded
        view["crash"] = ("train", "TypeError")
    return view


def regaudit_view(doc: dict) -> dict:
    if "_exit" in doc:
        return {"regaudit_error": f"exit {doc['_exit']}: {doc['_stderr']}"}
    crash = doc.get("crash")
    if crash and crash.get("code") in ("RA071", "RA074"):
        # the oracle's --oracle_probe_load runs load_image only, so it cannot see these load failures:
        # RA071, without bucketing an image that is not exactly the resolution fails an assert in
        # __getitem__; RA074, a bucket of width 0 loads as an empty array that fails in the VAE (spec §10.7)
        crash = None
    view = {"crash": (crash["stage"], crash.get("exception")) if crash else None,
            "no_data": bool(doc.get("no_data")), "max_train_steps": doc.get("max_train_steps"),
            "batches": doc.get("batches_per_epoch"), "datasets": []}
    if crash and crash["stage"] in ("start", "build"):
        return {"crash": view["crash"], "no_data": False}
    load_errors = []
    for ds in doc.get("datasets", []):
        images = {}
        for im in ds.get("images", []):
            images[im["path"]] = {"is_reg": im["is_reg"], "num_repeats": im["num_repeats"],
                                  "image_size": im.get("image_size"), "bucket": im.get("bucket"),
                                  "resized": im.get("resized"), "caption": im.get("caption")}
            if im.get("load_error"):
                load_errors.append(im["path"])
        subsets = [(s["image_dir"], s["num_repeats"], s["img_count"], s["is_reg"], s.get("class_tokens"))
                   for s in ds.get("subsets", [])]
        view["datasets"].append({"num_train_images": ds["num_train_images"], "num_reg_images": ds["num_reg_images"],
                                 "len": ds.get("batches_per_epoch"), "subsets": subsets, "images": images})
    view["load_errors"] = sorted(load_errors)
    if load_errors and view["crash"] is None and not view["no_data"]:
        view["crash"] = ("load", None)  # a load failure behind an unbucketed-size assert
    return view


def diff(o: dict, r: dict) -> list[str]:
    if "oracle_error" in o:
        return []
    if "regaudit_error" in r:
        return [r["regaudit_error"]]
    out = []
    if o["crash"] != r["crash"]:
        oc, rc = o["crash"], r["crash"]
        if not (oc and rc and oc[0] == rc[0] == "load"):  # (the load stop's exception: the oracle has none)
            out.append(f"crash: sd-scripts {oc} regaudit {rc}")
    if any(c and c[0] in ("start", "build") for c in (o["crash"], r["crash"])):
        return out
    for key in ("no_data", "max_train_steps", "batches", "load_errors"):
        if o.get(key) != r.get(key):
            out.append(f"{key}: sd-scripts {o.get(key)!r} regaudit {r.get(key)!r}")
    if len(o["datasets"]) != len(r["datasets"]):
        out.append(f"datasets: sd-scripts {len(o['datasets'])} regaudit {len(r['datasets'])}")
        return out
    for k, (od, rd) in enumerate(zip(o["datasets"], r["datasets"])):
        for key in ("num_train_images", "num_reg_images", "len", "subsets"):
            if od[key] != rd[key]:
                out.append(f"ds{k}.{key}: sd-scripts {od[key]!r} regaudit {rd[key]!r}")
        oi, ri = od["images"], rd["images"]
        for path in sorted(set(oi) | set(ri)):
            if path not in ri:
                out.append(f"ds{k} image only in sd-scripts: {path}")
            elif path not in oi:
                out.append(f"ds{k} image only in regaudit: {path}")
            else:
                for key in oi[path]:
                    if oi[path][key] != ri[path][key]:
                        out.append(f"ds{k} {os.path.relpath(path)} {key}: sd-scripts {oi[path][key]!r} "
                                   f"regaudit {ri[path][key]!r}")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0:40", help="START:STOP (default 0:40)")
    ap.add_argument("--keep", help="keep the trees and outputs in this folder")
    ap.add_argument("--only-trainer", help="only cases drawn for this trainer")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every difference")
    ap.add_argument("--finetune", action="store_true",
                    help="fine-tuning trees instead (--in_json metadata or metadata_file subsets: gen.make_finetune_case)")
    a = ap.parse_args(argv)
    why = oracle_ready()
    if why:
        print(f"differential: skipped ({why})")
        return 0
    start, stop = (int(x) for x in a.seeds.split(":"))
    work = a.keep or tempfile.mkdtemp(prefix="regaudit-diff-")
    os.makedirs(work, exist_ok=True)
    cases, jobs = [], []
    for seed in range(start, stop):
        root = os.path.join(work, f"case{seed}")
        shutil.rmtree(root, ignore_errors=True)
        os.makedirs(root)
        case = (make_finetune_case if a.finetune else make_case)(seed, root)
        if a.only_trainer and case.trainer != a.only_trainer:
            continue
        oracle_argv = (["--oracle_via_train"] if case.trainer == "train_network" else
                       ["--oracle_trainer", case.trainer]) + ["--oracle_probe_load"]
        jobs.append({"argv": case.argv, "out": os.path.join(root, "oracle.json"), "cwd": root,
                     "oracle_argv": oracle_argv})
        cases.append((case, root))
    run_oracle(jobs, os.path.join(work, "oracle.log"))
    agree = 0
    kinds: Counter = Counter()
    for case, root in cases:
        rc, odoc = read_oracle(root)
        o = oracle_view(odoc, rc)
        rdoc = run_regaudit(case, root)
        with open(os.path.join(root, "regaudit.json"), "w") as fh:
            json.dump(rdoc, fh, indent=1)
        r = regaudit_view(rdoc)
        d = diff(o, r)
        if not d:
            agree += 1
            continue
        for line in d:
            kinds[line.split(":")[0].split(" ")[-1] if " image" not in line else line.split(":")[0].split()[-1]] += 1
        print(f"seed {case.seed} [{case.trainer}] {' '.join(case.argv)}  ({', '.join(case.notes)})")
        for line in d if a.verbose else d[:4]:
            print(f"    {line}")
        if not a.verbose and len(d) > 4:
            print(f"    ... {len(d) - 4} more")
    print(f"differential: {agree}/{len(cases)} trees agree (seeds {start}:{stop}); work dir {work}")
    if kinds:
        print("disagreements by field:", dict(kinds.most_common()))
    if not a.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
