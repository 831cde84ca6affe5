"""The fine-tuning datasets of a scan (``--in_json``, ``metadata_file`` subsets): the port reads
the metadata as FineTuningDataset does (``sdscripts.finetune``); here each registered key becomes an
image record (its size from the metadata, a cache file name, or the image's header), with the
findings on the images. Sequential: a metadata file is read at once anyway."""

from __future__ import annotations

import os

from ..limits import CAPTION_BYTES
from ..model import Caption, CaptionSource, Crash, Dataset, Finding, ImageProbe, ImageRecord, Subset
from ..rules.build import crash_finding, finetuning_skipped
from ..rules.captions import metadata_oversize
from ..rules.images import record_findings, unloadable_keys
from ..sdscripts import finetune
from ..sdscripts import images as _images
from ..sdscripts.caption_budgets import shared_counter
from ..sdscripts.config import DatasetSpec


def is_finetuning(spec: DatasetSpec) -> bool:
    return any(c.metadata_file is not None for c in spec.subsets)


def _bounded(caption: str) -> tuple[str, int]:
    """A metadata caption as regaudit works with it: at most CAPTION_BYTES characters, and the size of
    a longer one in UTF-8 bytes (0 when it is not longer). sd-scripts keeps all of it; a 60 MB caption
    taken whole cost regaudit gigabytes in its tag and token work."""
    if len(caption) <= CAPTION_BYTES:
        return caption, 0
    return caption[:CAPTION_BYTES], len(caption.encode("utf-8", "surrogatepass"))


def _synthetic(size: tuple, via: str, failure: str | None = None) -> ImageProbe:
    """The probe of a key sized by the metadata or a cache file name (nothing read from the file);
    ``failure``: why sd-scripts fails when it first loads it (finetune.first_load)."""
    w, h = (size + (0, 0))[:2] if isinstance(size, tuple) else (0, 0)
    return ImageProbe(w, h, via, None, None, False, None, 0, load_error=failure,
                      load_error_kind="no_image" if failure else None)


def dataset(spec: DatasetSpec, cache_suffix: str | None, deep: bool | None,
            to_disk: bool = False) -> tuple[Dataset, list[Finding]]:
    """One FineTuningDataset: its kept subsets' records, the findings on them and the stop.
    ``to_disk``: --cache_latents_to_disk (a key's cache file is read instead of its image)."""
    read, stop = finetune.read_dataset(spec.subsets, cache_suffix)
    subsets, findings = [], []
    count = shared_counter().count if deep is not None else None
    for ft in read:
        if ft.skipped is not None:
            findings.append(finetuning_skipped(ft.metadata_file, ft.skipped))
            continue
        if ft.stop is not None:
            continue
        records = []
        probes: dict = {}  # (size, via, failure) -> its one probe: a million keys have a few of each
        exts: dict[str, str] = {}
        entries, ft.entries = ft.entries, []
        for i, e in enumerate(entries):
            entries[i] = None  # (each entry let go once it is a record)
            if e.size_from in ("metadata", "cache"):
                failure = finetune.first_load(e.path, e.size, e.size_from, cache_suffix, to_disk, bool(deep)) \
                    if deep is not None else None
                if type(e.size) is tuple and all(type(v) is int for v in e.size):
                    probe = probes.get((e.size, e.size_from, failure))
                    if probe is None:
                        probe = probes[(e.size, e.size_from, failure)] = _synthetic(e.size, e.size_from, failure)
                else:  # (shared only by ints: 64.0 == 64 == True-ish sizes would show another entry's value)
                    probe = _synthetic(e.size, e.size_from, failure)
            else:
                probe = _images.probe(e.path, bool(deep)) if deep is not None else _images.stat_probe(e.path)
            cache = ((cache_suffix, e.size),) if e.size_from == "cache" else ()
            text, oversize = _bounded(e.caption)
            caption = Caption(CaptionSource.FILE, ft.metadata_file, text, line_count=text.count("\n") + 1,
                              oversize=oversize)
            tokens = count(text) if count is not None else None
            ext = os.path.splitext(e.path)[1]
            abs_path = os.path.abspath(e.path)
            records.append(ImageRecord(e.key, e.path if abs_path == e.path else abs_path, exts.setdefault(ext, ext),
                                       probe, caption, cache, tokens))
        findings += metadata_oversize(os.path.abspath(ft.metadata_file), records)
        findings += unloadable_keys(os.path.abspath(ft.metadata_file), records)
        if deep is not None:
            findings += [f for f in record_findings(r for r in records if r.probe.size_via not in ("metadata", "cache"))]
        subsets.append(Subset(ft.config, os.path.abspath(ft.metadata_file), tuple(records),
                              tag_frequency=ft.tag_frequency))
    crash = None
    if stop is not None:
        crash = Crash("build", "RA097", stop.exception, os.path.abspath(stop.path),
                      f"sd-scripts stops on the fine-tuning metadata: {stop.exception}: {stop.message}")
        findings.append(crash_finding(crash))  # (what `scan` lists; a planned run says it with its hint)
    return Dataset(spec.index, spec.params, tuple(subsets), len(spec.subsets), stop=crash, fine_tuning=True), findings
