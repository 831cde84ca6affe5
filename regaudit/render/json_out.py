"""Stable JSON documents (schema_version 1). Fields may be added; none is renamed or removed."""

from __future__ import annotations

import json
import os

from .. import SCHEMA_VERSION
from ..model import ImageRecord, ScanResult, Subset


def image_json(img: ImageRecord) -> dict:
    p, c = img.probe, img.caption
    return {
        "path": img.abs_path,
        "width": p.width,
        "height": p.height,
        "format": p.format,
        "extension": img.ext,
        "mode": p.mode,
        "has_transparency": p.has_transparency,
        "exif_orientation": p.exif_orientation,
        "size_via": p.size_via,
        "file_size": p.file_size,
        "error": p.error,
        "decode_error": p.decode_error,
        "caption_source": c.source.value,
        "caption_path": c.path and os.path.abspath(c.path),
        "caption": c.text,
        "caption_error": c.error,
    }


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
        "images": [image_json(i) for i in s.images],
    }


def scan_document(result: ScanResult) -> dict:
    counts = result.counts()
    subsets = [subset_json(s, d.index) for d in result.datasets for s in d.subsets]
    return {
        "schema_version": SCHEMA_VERSION,
        "command": "scan",
        "caption_extension": result.caption_extension,
        "deep": result.deep,
        "summary": {
            "errors": counts["error"],
            "warnings": counts["warning"],
            "info": counts["info"],
            "subsets": len(subsets),
            "images": sum(s["image_count"] for s in subsets),
            "train_samples": sum(s["samples"] for s in subsets if s["role"] == "train"),
            "reg_samples": sum(s["samples"] for s in subsets if s["role"] == "reg"),
        },
        "subsets": subsets,
        "ignored": [i.to_json() for i in result.ignored],
        "findings": [f.to_json() for f in sort_findings(result.findings)],
    }


def sort_findings(findings):
    return sorted(findings, key=lambda f: (-f.severity.rank, f.code, f.path))


def dumps(doc: dict) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False)
