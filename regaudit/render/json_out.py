"""Stable JSON documents (schema_version 1). Fields may be added; none is renamed or removed."""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import partial

from .. import SCHEMA_VERSION
from ..sdscripts.layout import Absolute
from ..sdscripts.tokens import NOT_COUNTED_WHY
from ..model import ImageRecord, ScanResult, Subset, sort_findings  # (sort_findings: also for the CLI)
from .. import jsontext
from ..jsontext import Rows, rows_of

_absolute = Absolute()  # caption paths: one folder part per subset to work out

IMAGE_KEYS = ("path", "width", "height", "format", "extension", "mode", "has_transparency", "exif_orientation",
              "size_via", "file_size", "error", "decode_error", "load_error", "caption_source", "caption_path",
              "caption", "caption_error", "caption_tokens")


_POSIX = os.sep == "/" and not os.altsep


def is_own_abspath(path: str) -> bool:
    """Whether ``os.path.abspath(path) == path`` is plain to see: an absolute POSIX path without
    '//', '/.' or a trailing '/' (False says nothing)."""
    return _POSIX and path[:1] == "/" and "//" not in path and "/." not in path and path[-1:] != "/"


def image_row(img: ImageRecord) -> tuple:
    """The values of an image's JSON object, in IMAGE_KEYS order."""
    p, c = img.probe, img.caption
    cpath = c.path
    if cpath is not None and not is_own_abspath(cpath):
        cpath = _absolute(cpath)
    return (img.abs_path, p.width, p.height, p.format, img.ext, p.mode, p.has_transparency, p.exif_orientation,
            p.size_via, p.file_size, p.error, p.decode_error, p.load_error, c.source._value_, cpath, c.text, c.error,
            img.caption_tokens)


def subset_json(s: Subset, dataset: int) -> dict:
    return {
        "path": s.abs_path,
        "dataset": dataset,
        "role": s.role.value,
        "num_repeats": s.num_repeats,
        "class_tokens": s.config.class_tokens,
        "caption_extension": s.config.caption_extension,
        "image_count": len(s.images),
        "samples": s.samples,
        "captions": s.caption_counts(),
        "images": rows_of(IMAGE_KEYS, image_row, s.images),  # made while written: never a million dicts at once
    }


def _to_json(item) -> dict:
    return item.to_json()


def _subset_json(item: tuple[Subset, int]) -> dict:
    return subset_json(*item)


def scan_document(result: ScanResult) -> dict:
    c = result.counts()
    subsets = [(s, d.index) for d in result.datasets for s in d.subsets]
    return {
        "schema_version": SCHEMA_VERSION,
        "command": "scan",
        "caption_extension": result.caption_extension,
        "deep": result.deep,
        "caption_tokenizer": result.caption_tokenizer,
        "summary": {
            "errors": c["error"],
            "warnings": c["warning"],
            "info": c["info"],
            "subsets": len(subsets),
            "images": sum(len(s.images) for s, _ in subsets),
            "train_samples": sum(s.samples for s, _ in subsets if not s.config.is_reg),
            "reg_samples": sum(s.samples for s, _ in subsets if s.config.is_reg),
        },
        "subsets": Rows(None, _subset_json, subsets),  # made while written: 100,000 never exist as dicts at once
        "ignored": Rows(None, _to_json, result.ignored),
        "findings": Rows(None, _to_json, sort_findings(result.findings)),
    }


def counts(findings) -> dict[str, int]:
    out = {"error": 0, "warning": 0, "info": 0}
    for f in findings:
        out[f.severity.value] += 1
    return out


def dumps(doc: dict) -> str:
    """Indented JSON (as ``json.dumps(doc, indent=2, ensure_ascii=False)``); a file name that is not
    valid UTF-8 keeps its lone surrogates as ``\\udcXX`` escapes, so the text encodes and
    ``json.loads`` gives back the same name."""
    return jsontext.dumps(doc)


def write(doc: dict, stream) -> None:
    """``stream.write(dumps(doc))``, in pieces."""
    jsontext.write(doc, stream)


def balance_document(plan) -> dict:
    """JSON for ``regaudit balance``; ``plan`` is a balance.BalancePlan."""
    c = counts(plan.findings)
    o = plan.options
    return {
        "schema_version": SCHEMA_VERSION,
        "command": "balance",
        "would_crash": plan.would_crash,
        "crash": plan.crash.to_json() if plan.crash else None,
        "no_data": plan.no_data,
        "returned_early": plan.returned_early,
        "if_fixed": plan.if_fixed,
        "max_train_steps": plan.max_train_steps,
        "batches_per_epoch": plan.batches_per_epoch,
        "steps_per_epoch": plan.steps_per_epoch,
        "epochs": plan.epochs,
        "max_train_epochs": o.max_train_epochs,
        "gui_estimate_steps": plan.gui_estimate,
        "gui_estimate_note": plan.gui_note,
        "prior_loss_weight": o.prior_loss_weight,
        "reg_loss_share": plan.reg_loss_share,
        "options": {"trainer": o.trainer.name, "gradient_accumulation_steps": o.gradient_accumulation_steps,
                    "num_processes": o.num_processes, "cache_latents": o.cache_latents},
        "summary": {"errors": c["error"], "warnings": c["warning"], "info": c["info"]},
        "datasets": Rows(None, dataset_plan_json, plan.datasets),  # made while written (100,000 in a config)
        "findings": Rows(None, _to_json, sort_findings(plan.findings)),
    }


def dataset_plan_json(d) -> dict:
    from ..views.balance import load_error  # (scan's documents never need balance)

    p = d.params
    hist: dict[int, int] = {}
    for r in d.images:
        if r.is_reg:
            hist[r.num_repeats] = hist.get(r.num_repeats, 0) + 1
    return {
        "index": d.index,
        "resolution": list(p.resolution) if p.resolution else None,
        "batch_size": p.batch_size,
        "enable_bucket": p.enable_bucket,
        "bucket_no_upscale": p.bucket_no_upscale,
        "num_train_images": d.num_train_images,
        "num_reg_images": d.num_reg_images,
        "reg_samples_used": d.reg_samples_used,
        "reg_image_count": d.reg_image_count,
        "reg_images_used": sum(1 for r in d.images if r.is_reg),
        "reg_repeats_histogram": {str(k): v for k, v in sorted(hist.items())},
        "reg_balance": None if d.reg is None else {
            "first_pass_images": d.reg.prefix, "extra_repeats": d.reg.extra,
            "images_with_one_more": d.reg.remainder, "overshoot": d.reg.overshoot},
        "order_dependent": d.order_dependent,
        "batches_per_epoch": d.batches,
        "train_only_batches": d.train_only_batches,
        "min_bucket_reso": d.bucket_limits[0] if d.bucket_limits else None,
        "max_bucket_reso": d.bucket_limits[1] if d.bucket_limits else None,
        "bucket_reso_steps": d.bucket_limits[2] if d.bucket_limits else None,
        "subsets": [{"image_dir": s.config.image_dir, "path": s.abs_path, "is_reg": s.config.is_reg,
                     "num_repeats": s.config.num_repeats, "img_count": len(s.images),
                     "class_tokens": s.config.class_tokens, "caption_extension": s.config.caption_extension}
                    for s in d.subsets],
        "images": rows_of(PLAN_IMAGE_KEYS, partial(_plan_image_row, load_error), d.images),  # made while written
        "unused_reg_images": [i.abs_path for i in d.unused_reg],
        "buckets": None if d.buckets is None else [
            {"resolution": list(b.resolution), "train": b.train, "reg": b.reg, "batches": b.batches,
             "unique_images": b.unique_images}
            for b in d.buckets],
    }


PLAN_IMAGE_KEYS = ("path", "image_path", "image_dir", "is_reg", "num_repeats", "image_size", "size_from_cache",
                   "bucket", "resized", "caption", "load_error")


def _plan_image_row(load_error, r) -> tuple:
    return (r.record.abs_path, r.record.path, r.subset.config.image_dir, r.is_reg, r.num_repeats,
            _size(r.image_size), r.from_cache, r.bucket or None, r.resized or None, r.record.caption.text,
            load_error(r))  # (tuples are written as the lists they were)


def _size(size) -> list | tuple | None:
    if size is None:
        return None
    if type(size) is tuple and type(size[0]) is int and type(size[1]) is int:
        return size  # (the common case; written as a list)
    return [int(v) if isinstance(v, float) and v.is_integer() else v for v in size]


def dupes_document(result) -> dict:
    """JSON for ``regaudit dupes``; ``result`` is a dedupe.DupesResult."""
    c = counts(result.findings)
    o = result.options
    return {
        "schema_version": SCHEMA_VERSION,
        "command": "dupes",
        "hash": o.hash.value,
        "max_distance": o.max_distance,
        "flip_aug": o.flip_aug,
        "images": result.images,
        "hashed": result.hashed,
        "summary": {"errors": c["error"], "warnings": c["warning"], "info": c["info"],
                    "groups": len(result.groups),
                    "leakage": sum(1 for g in result.groups if g.label == "leakage")},
        "groups": rows_of(None, _dup_group, result.groups),  # made while written: a group of a million images
        "findings": [f.to_json() for f in sort_findings(result.findings)],
    }


DUP_IMAGE_KEYS = ("path", "role", "subset", "per_epoch", "relation", "distance", "of", "exif_rotation")


def _dup_group(g) -> dict:
    return {"kind": g.kind, "distance": g.distance, "label": g.label, "via_exif": g.via_exif,
            "members": [m.path for m in g.members], "roles": g.roles,
            "subsets": [m.subset for m in g.members],
            "effective_repeats": [m.effective_repeats for m in g.members],
            "train_repeats": g.train_repeats,
            "images": rows_of(DUP_IMAGE_KEYS, _dup_image, g.members)}


def _dup_image(m) -> tuple:
    return m.path, m.role, m.subset, m.effective_repeats, m.relation.value, m.distance, m.of, m.upright


def smoke_document(result) -> dict:
    """JSON for ``regaudit smoke``; ``result`` is a smoke.SmokeResult."""
    return {
        "schema_version": SCHEMA_VERSION,
        "command": "smoke",
        "passed": result.passed,
        "device": result.device,
        "dtype": result.dtype,
        "batch": result.batch_note,
        "batch_size": result.batch_size,
        "batch_size_from": result.batch_source,
        "skipped": [{"path": p, "why": why, "code": code or None} for p, why, code in result.skipped],
        "scope": "wiring check on a stand-in model; step_seconds and peak_memory_bytes are not estimates for "
                 "the user's model",
        "samples": [{"path": s.path, "is_reg": s.is_reg, "weight": s.weight, "loss": s.loss, "caption": s.caption,
                     "bucket": list(s.bucket)} for s in result.samples],
        "weighted_loss": result.weighted_loss,
        "diffusers_loss": result.diffusers_loss,
        "step_seconds": result.step_seconds,
        "peak_memory_bytes": result.peak_memory_bytes,
        "peak_memory_kind": result.peak_memory_kind,
        "checks": [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in result.checks],
    }


def _tags(items: Sequence[tuple[str, int]]) -> Rows | list:
    """[{"tag", "count"}, ...], made while written (a million natural-language captions give a
    million tags)."""
    return rows_of(("tag", "count"), _itself, items)


def _itself(x):
    return x


CAPTION_IMAGE_KEYS = ("path", "caption_source", "caption", "tokens", "seen", "over", "cut_tags", "kept_tokens",
                      "shuffle_cut", "trigger", "mentions")


def caption_image_row(b) -> tuple:
    """The values of a caption's JSON object (``b`` a caption_budgets.Budget), in CAPTION_IMAGE_KEYS order."""
    return (b.path, b.source._value_, b.text, b.tokens, dict(b.seen), b.over, list(b.cut_tags), b.kept_tokens,
            b.shuffle_cut, None if b.trigger is None else b.trigger._value_, list(b.mentions))


def _caption_subset(st, tags_by_path: dict) -> dict:
    """One subset of ``regaudit captions --json`` (``st`` a caption_budgets.SubsetText)."""
    import statistics

    from ..sdscripts.caption_options import KEYS
    from ..views.captions import Trigger

    s = st.subset
    counted = [b.tokens for b in st.budgets if b.tokens is not None]
    tags = tags_by_path.get((st.dataset, s.abs_path))
    return {
        "path": s.abs_path,
        "dataset": st.dataset,
        "role": s.role.value,
        "class_tokens": s.config.class_tokens,
        "trigger_words": list(st.trigger_words),
        "image_count": len(s.images),
        "captions": s.caption_counts(),
        "options": {k: getattr(s.config, k) for k in KEYS},
        "tokens": None if not counted else {"min": min(counted), "median": statistics.median(counted),
                                            "max": max(counted)},
        "over_limit": sum(1 for b in st.budgets if b.over > 0),
        "trigger_missing": sum(1 for b in st.budgets if b.trigger is Trigger.MISSING),
        "trigger_partial": sum(1 for b in st.budgets if b.trigger is Trigger.PARTIAL),
        "with_train_trigger": sum(1 for b in st.budgets if b.mentions),
        "tags": _tags(tags.tags) if tags is not None else [],
        "images": rows_of(CAPTION_IMAGE_KEYS, caption_image_row, st.budgets),
    }


def captions_document(audit, tables, findings) -> dict:
    """JSON for ``regaudit captions``: ``audit`` is a prompts.TextAudit, ``tables`` a tagfreq.TagTables,
    ``findings`` the caption findings (RA020-RA039). Its subsets and their images are made while
    written (``write``): 100,000 subsets never exist as dicts at once."""
    from ..views.captions import Trigger

    c = counts(findings)
    enc = audit.encoders
    tags_by_path = {(t.dataset, t.path): t for t in tables.subsets}
    subsets = Rows(None, partial(_caption_subset, tags_by_path=tags_by_path), audit.subsets)
    budgets = [b for st in audit.subsets for b in st.budgets]
    return {
        "schema_version": SCHEMA_VERSION,
        "command": "captions",
        "trainer": audit.options.trainer,
        "family": enc.family,
        "max_token_length": audit.options.max_token_length,
        "limit": audit.limit,
        "tokenizers": [{"name": t.name, "source": t.source, "bang_is_pad": t.bang_is_pad} for t in enc.clip],
        "not_counted": list(enc.not_counted),
        "not_counted_reason": NOT_COUNTED_WHY if enc.not_counted else None,
        "tokenizer": {"available": audit.tokenizer.available, "library": audit.tokenizer.library,
                      "reason": audit.tokenizer.reason},
        "summary": {"errors": c["error"], "warnings": c["warning"], "info": c["info"],
                    "captions": sum(1 for b in budgets if b.text is not None),
                    "over_limit": sum(1 for b in budgets if b.over > 0),
                    "trigger_missing": sum(1 for b in budgets if b.trigger is Trigger.MISSING),
                    "trigger_partial": sum(1 for b in budgets if b.trigger is Trigger.PARTIAL),
                    "with_train_trigger": sum(1 for b in budgets if b.mentions)},
        "subsets": subsets,
        "tags": {"train": _tags(tables.train), "reg": _tags(tables.reg), "only_in_reg": _tags(tables.only_in_reg),
                 "only_in_train": _tags(tables.only_in_train)},
        "tag_frequency": tables.ss_tag_frequency,
        "findings": Rows(None, _to_json, sort_findings(findings)),
    }
