"""``regaudit inspect --json``: every recorded figure of each file, and the comparison where one was made."""

from __future__ import annotations

from .. import SCHEMA_VERSION
from ..sdscripts.lora_header import MetadataError
from ..sdscripts.lora_metadata import DatasetRecord, Form, LoraMetadata, SubsetRecord, literal


def _subset(s: SubsetRecord) -> dict:
    return {"name": s.name, "role": "reg" if s.is_reg else "train", "num_repeats": s.num_repeats,
            "img_count": s.img_count, "samples": s.samples, "class_tokens": s.class_tokens, "options": dict(s.options)}


def _dataset(d: DatasetRecord) -> dict:
    return {
        "index": d.index,
        "batch_size": d.batch_size,
        "resolution": list(d.resolution) if d.resolution else None,
        "enable_bucket": d.enable_bucket,
        "min_bucket_reso": d.min_bucket_reso,
        "max_bucket_reso": d.max_bucket_reso,
        "train_samples": d.num_train_images,
        "reg_samples_recorded": d.num_reg_images,
        "reg_samples_used": d.reg_samples_used,
        "reg_images_unused": d.reg_images_unused,
        "subsets": [_subset(s) for s in d.subsets],
        "buckets": None if d.buckets is None else [{"resolution": list(b.resolution), "count": b.count}
                                                    for b in d.buckets],
        "mean_img_ar_error": d.mean_img_ar_error,
        "tag_frequency": d.tag_frequency,
    }


def _network_args(meta: LoraMetadata):
    text = meta.get("ss_network_args")
    if text is None:
        return None
    try:
        from ..sdscripts.lora_header import parse_json

        return parse_json(text, "ss_network_args")
    except MetadataError:
        return text


def file_json(meta: LoraMetadata, comparison=None) -> dict:
    datasets = meta.datasets
    return {
        "path": meta.path,
        "metadata": meta.form.value,
        "trainer": meta.trainer,
        "base_model_version": meta.get("ss_base_model_version"),
        "base_model": meta.get("ss_sd_model_name"),
        "v2": literal(meta.get("ss_v2")),
        "network": {"module": meta.get("ss_network_module"), "dim": literal(meta.get("ss_network_dim")),
                    "alpha": literal(meta.get("ss_network_alpha")), "args": _network_args(meta)},
        "optimizer": meta.get("ss_optimizer"),
        "learning_rate": literal(meta.get("ss_learning_rate")),
        "output_name": meta.get("ss_output_name"),
        "train_samples": meta.num_train_images,
        "reg_samples_recorded": meta.num_reg_images,
        "reg_samples_used": sum(d.reg_samples_used for d in datasets) if datasets else None,
        "batches_per_epoch": meta.num_batches_per_epoch,
        "epochs": meta.num_epochs,
        "max_train_steps": meta.max_train_steps,
        "gradient_accumulation_steps": meta.gradient_accumulation_steps,
        "num_processes": meta.num_processes,
        "datasets": [_dataset(d) for d in datasets],
        "tag_frequency": meta.tag_frequency if meta.form is not Form.NONE else None,
        "keys": meta.keys,
        "comparison": None if comparison is None else comparison_json(comparison),
    }


def comparison_json(c) -> dict:
    return {
        "verdict": c.verdict,
        "matches": c.matches,
        "differences": list(c.differences),
        "subsets": [{"dataset": s.dataset, "name": s.name, "role": "reg" if s.is_reg else "train", "status": s.status,
                     "folder": s.folder, "images_recorded": s.images[0], "images_now": s.images[1],
                     "repeats_recorded": s.repeats[0], "repeats_now": s.repeats[1],
                     "tags_gained": list(s.tags_gained), "tags_lost": list(s.tags_lost),
                     "tags_recounted": list(s.tags_recounted)} for s in c.subsets],
        "figures": [{"name": n, "recorded": r, "now": v} for n, r, v in c.figures],
        "options_from_metadata": list(c.filled),
    }


def inspect_document(result) -> dict:
    return {"schema_version": SCHEMA_VERSION,
            "files": [file_json(m, c) for m, c in zip(result.files, result.comparisons)]}
