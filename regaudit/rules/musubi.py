"""musubi-tuner findings (RM…): facts from regaudit/musubi/ in, findings out."""

from __future__ import annotations

import os

from ..limits import CAPTION_BYTES
from ..model import Finding
from .registry import rule

STOP_CODES = {"config": "RM001", "no-caption-extension": "RM005", "image-unreadable": "RM006",
              "caption-unreadable": "RM006", "zero-bucket": "RM006", "bad-cache-name": "RM011",
              "bad-cache-file": "RM011", "no-items": "RM012", "bucket-division": "RM016"}


def stop_code(stop) -> str:
    return "RM001" if stop.stage == "config" else STOP_CODES[stop.kind]


def findings(run) -> list[Finding]:
    """Every finding of a musubi.run.MusubiRun."""
    out: list[Finding] = []
    if run.config_stop:
        s = run.config_stop
        return [rule("RM001").finding(s.path, f"{s.exception}: {s.message}")]
    for d in run.datasets:
        p = d.params
        where = p.values.get("image_directory") or p.values.get("video_directory") or run.dataset_config
        if not d.simulated:
            out.append(rule("RM013").finding(where, f"dataset {p.index}: {d.note}"))
            continue
        out += _listing(d, where)
        out += _caches(d, where, run.arch.short, run.arch.reso_steps)
    if run.stop and run.stop.kind == "no-items":
        after = sum(d.after.num_train_items for d in run.datasets if d.after)
        out.append(rule("RM012").finding(run.dataset_config, f"{run.stop.exception}: {run.stop.message} (the cache "
                                         f"directories hold no latent + text-encoder cache pair; after caching "
                                         f"{after} items would train)"))
    return out


def _listing(d, where: str) -> list[Finding]:
    out = []
    ext = d.params.caption_extension
    no_cap = [x for x in d.dropped if x.reason == "no-caption"]
    if no_cap:
        n = len(no_cap)
        out.append(rule("RM002").finding(where, f"{_many(n, 'image has', 'images have')} no {ext} caption and "
                                                f"{'is' if n == 1 else 'are'} left out: "
                                                f"{_names(x.path for x in no_cap)}"))
    for x in d.dropped:
        if x.reason in ("extension-case", "hidden", "subdirectory"):
            out.append(rule("RM003").finding(x.path, f"never listed: {x.detail}"))
        elif x.reason == "orphan-caption":
            out.append(rule("RM004").finding(x.path, f"caption without an image: {x.detail}"))
    for stop in (d.latent_stop, d.te_stop):
        if stop is None or (stop is d.te_stop and d.latent_stop and d.latent_stop.kind == stop.kind
                            and d.latent_stop.path == stop.path) or stop.kind == "bucket-division":
            continue  # (the selector's division stops training too: one finding, made with the caches)
        code = stop_code(stop)
        msg = f"{stop.stage} stops here: {stop.exception}: {stop.message}"
        if code == "RM005":
            msg = f"caption_extension is not set: {stop.stage} stops at the first image with FileNotFoundError: ''"
        out.append(rule(code).finding(stop.path, msg))
    long = [im for im in d.images if im.caption_bytes]
    if long:
        top = max(long, key=lambda im: im.caption_bytes)
        out.append(rule("RM015").finding(where, f"{_many(len(long), 'image has a caption', 'images have captions')} "
                                                f"absurdly long, up to {top.caption_bytes} bytes ({_names(im.path for im in long)}); "
                                                f"regaudit reads only the first {CAPTION_BYTES >> 10} KiB of each, "
                                                f"musubi all of it"))
    for name, paths in {**d.te_collisions, **d.latent_collisions}.items():
        kind = "text-encoder" if name.endswith("_te.safetensors") else "latent"
        out.append(rule("RM007").finding(paths[0], f"{len(paths)} images share the {kind} cache {name}: "
                                                   f"{_names(paths)}"))
    return out


def _caches(d, where: str, arch: str, reso_steps: int) -> list[Finding]:
    out = []
    ex, after = d.existing, d.after
    if ex is None or ex.crash:
        if ex is not None:
            exc, msg, path, kind = ex.crash
            if kind == "bucket-division":
                w, h = (int(v) for v in d.params.resolution)  # (true is 1 there)
                out.append(rule("RM016").finding(path, f"resolution {w}x{h} with enable_bucket: BucketSelector's first "
                                                       f"bucket width, int(sqrt({w * h})) // 2 rounded down to the step "
                                                       f"{reso_steps}, is 0 and it divides by it: latent caching and "
                                                       f"training start stop with {exc}: {msg} (a resolution of at "
                                                       f"least {2 * reso_steps} a side buckets)"))
            else:
                out.append(rule(STOP_CODES[kind]).finding(path, f"training start stops: {exc}: {msg}"))
        return out
    if ex.skipped:
        n = len(ex.skipped)
        out.append(rule("RM008").finding(d.params.cache_directory,
                                         f"{_many(n, 'latent cache has', 'latent caches have')} no "
                                         f"_{arch}_te.safetensors and {'is' if n == 1 else 'are'} skipped: "
                                         f"{_names(ex.skipped)}"))
    trained = {it.latent_cache for it in ex.items}
    orphans = [n for n in d.orphans if n in trained]
    if orphans:
        out.append(rule("RM009").finding(d.params.cache_directory,
                                         f"{_many(len(orphans), 'cache', 'caches')} of images not in the dataset "
                                         f"(now) still train: {_names(orphans)}"))
    if d.stale:
        out.append(rule("RM010").finding(d.params.cache_directory,
                                         f"{_many(len(d.stale), 'latent cache was', 'latent caches were')} made for "
                                         f"another bucket: {_names(d.stale)}"))
    if after is not None and (ex.num_train_items, ex.batches) != (after.num_train_items, after.batches) \
            and ex.num_train_items:
        out.append(rule("RM014").finding(where, f"dataset {d.params.index}: the caches on disk train "
                                                f"{ex.num_train_items} items in {ex.batches} batches, after caching "
                                                f"{after.num_train_items} items in {after.batches} batches"))
    return out


def _many(n: int, one: str, more: str) -> str:
    return f"{n} {one if n == 1 else more}"


def _names(paths, limit: int = 5) -> str:
    names = [os.path.basename(p) for p in paths]
    more = f" (+{len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more
