"""Differential check of regaudit's musubi port against the real musubi-tuner (the oracle in
../shared/oracle-musubi, which runs musubi's own dataset code without models).

    python tests/differential/musubi_run.py --seeds 0:40

Each seed: a random tree (musubi_gen.py), the oracle's JSON, regaudit.musubi.run.simulate, and a
comparison of every listed image (path, caption, size, bucket, cache names), every drop, the caching
runs' crashes, both training views (items, buckets, batches, skipped, stale) and the steps. Skips
cleanly (exit 0, a line on stderr) where the oracle is not set up. Prints "K/N trees agree".
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, HERE)

from musubi_gen import make_case  # noqa: E402

from regaudit.musubi import archs  # noqa: E402
from regaudit.musubi.run import simulate  # noqa: E402

ORACLE = os.environ.get("MUSUBI_ORACLE", os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(HERE))),
                                                      "shared", "oracle-musubi", "musubi_oracle.py"))
MUSUBI = os.environ.get("MUSUBI", "/tmp/musubi-tuner")
PYTHON = os.environ.get("MUSUBI_PYTHON", "/tmp/musubi-venv/bin/python")
DROP_REASONS = (("hidden", "hidden"), ("no caption", "no-caption"), ("extension", "extension-case"),
                ("caption file without", "orphan-caption"), ("subdirectory", "subdirectory"))


def oracle_ready() -> str | None:
    for what, path in (("oracle", ORACLE), ("musubi source", os.path.join(MUSUBI, "src")), ("python", PYTHON)):
        if not os.path.exists(path):
            return f"{what} not found at {path}"
    return None


def run_oracle(case) -> tuple[int, dict]:
    env = dict(os.environ, MUSUBI=MUSUBI)
    p = subprocess.run([PYTHON, ORACLE, "--architecture", case.arch, "--dataset_config", case.config, *case.options],
                       capture_output=True, text=True, env=env, timeout=600)
    return p.returncode, json.loads(p.stdout) if p.stdout.strip() else {}


def _opt(options: list[str], name: str, default):
    return int(options[options.index(name) + 1]) if name in options else default


def ours(case) -> dict:
    run = simulate(archs.lookup(case.arch), "train_network", case.config,
                   _opt(case.options, "--max_train_epochs", None), _opt(case.options, "--max_train_steps", 1600),
                   _opt(case.options, "--gradient_accumulation_steps", 1))
    if run.config_stop:
        return {"config_error": run.config_stop.exception}
    out: dict = {"datasets": []}
    for d in run.datasets:
        stale_ok = archs.lookup(case.arch).latent_factor == 8
        out["datasets"].append({
            # (the oracle opens the image and reads its caption in one call: no size where the caption fails)
            "images": [(im.path, im.caption, bool(im.caption_error)) + ((None, None, None) if im.caption_error else (
                im.size and list(im.size), im.bucket and list(im.bucket), im.latent_cache)) + (im.te_cache,)
                for im in d.images],
            "dropped": sorted((os.path.basename(x.path), x.reason) for x in d.dropped),
            "latent_error": d.latent_stop and (d.latent_stop.exception.replace("cv2.", ""), d.latent_stop.message),
            "te_error": d.te_stop and (d.te_stop.exception, d.te_stop.message),
            "after": _view(d.after, False),
            "existing": _view(d.existing, stale_ok, set(d.stale)),
        })
    crashed = next((d.existing.crash for d in run.datasets if d.existing and d.existing.crash), None)
    if crashed:  # the trainer's build stops at the first bad cache name: no dataset view at all
        for d in out["datasets"]:
            d["existing"] = {"error": crashed[0]}
    out["after_steps"] = run.after_steps and (run.after_steps.max_train_steps, run.after_steps.epochs)
    out["from_steps"] = run.from_steps and (run.from_steps.max_train_steps, run.from_steps.epochs)
    out["from_error"] = run.stop and (run.stop.exception, run.stop.message)
    return out


def _view(v, stale_ok: bool, stale=frozenset()) -> dict:
    if v.crash:
        return {"error": v.crash[0]}
    return {"items": v.num_train_items, "len": v.batches,
            "buckets": [(list(k), c, b) for k, c, b in v.buckets],
            "keys": sorted((it.item_key, it.latent_cache) for it in v.items),
            "stale": sorted(it.latent_cache for it in v.items if it.latent_cache in stale) if stale_ok else None}


def theirs(rc: int, doc: dict, stale_ok: bool) -> dict:
    if rc == 3:
        return {"config_error": doc["error"]["error"]}
    out: dict = {"datasets": []}
    te, ae = doc["train_existing_caches"], doc["train_after_caching"]
    for i, lst in enumerate(doc["listing"]["datasets"]):
        dropped = []
        for x in lst.get("derived_not_listed", []):
            for prefix, reason in DROP_REASONS:
                if x["reason"].startswith(prefix):
                    dropped.append((x["path"], reason))
        ie, ee = lst.get("cache_iteration_error"), lst.get("te_cache_iteration_error")
        out["datasets"].append({
            "images": [(im["path"], im["caption"], bool(im["caption_error"]), im.get("original_size"),
                        im.get("bucket_reso"), im.get("latent_cache_path"), im["te_cache_path"]) for im in lst["images"]],
            "dropped": sorted(dropped),
            "latent_error": ie and (ie["error"], ie["message"].rstrip("\n")),
            "te_error": ee and (ee["error"], ee["message"].rstrip("\n")),
            "after": _their_view(ae, i, False), "existing": _their_view(te, i, stale_ok)})
    out["after_steps"] = "error" not in ae and (ae["max_train_steps"], ae["num_train_epochs"]) or None
    out["from_steps"] = "error" not in te and (te["max_train_steps"], te["num_train_epochs"]) or None
    out["from_error"] = (te["error"]["error"], te["error"]["message"]) if "error" in te else None
    return out


def _their_view(view: dict, i: int, stale_ok: bool) -> dict:
    if "error" in view and not view.get("datasets"):
        return {"error": view["error"]["error"]}
    d = view["datasets"][i]
    return {"items": d["num_train_items"], "len": d["len"],
            "buckets": [(b["bucket_key"], b["count"], b["num_batches"]) for b in d["buckets"]],
            "keys": sorted((it["item_key"], it["latent_cache"]) for it in d["items"]),
            "stale": sorted(it["latent_cache"] for it in d["items"] if it.get("derived_stale_latent"))
            if stale_ok else None}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0:20")
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    why = oracle_ready()
    if why:
        print(f"musubi oracle not available ({why}); skipped", file=sys.stderr)
        return 0
    lo, hi = (int(x) for x in a.seeds.split(":"))
    agree = 0
    for seed in range(lo, hi):
        with tempfile.TemporaryDirectory(prefix=f"mt-diff-{seed}-") as root:
            case = make_case(seed, root)
            rc, doc = run_oracle(case)
            want = theirs(rc, doc, archs.lookup(case.arch).latent_factor == 8)
            got = ours(case)
            if want == got:
                agree += 1
                if a.v:
                    print(f"seed {seed} ({case.arch}): agree")
            else:
                print(f"seed {seed} ({case.arch}): DIFFER")
                _diff(want, got)
    print(f"{agree}/{hi - lo} trees agree")
    return 0 if agree == hi - lo else 1


def _diff(want, got, where="") -> None:
    if isinstance(want, dict) and isinstance(got, dict):
        for k in sorted(set(want) | set(got)):
            _diff(want.get(k), got.get(k), f"{where}.{k}")
    elif isinstance(want, list) and isinstance(got, list) and len(want) == len(got):
        for i, (w, g) in enumerate(zip(want, got)):
            _diff(w, g, f"{where}[{i}]")
    elif want != got and not (isinstance(want, list) and isinstance(got, tuple) and list(got) == want):
        print(f"  {where}: musubi {want!r} / regaudit {got!r}")


if __name__ == "__main__":
    sys.exit(main())
