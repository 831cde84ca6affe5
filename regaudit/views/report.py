"""Gather what the HTML report shows: the verdict and the fixes, the scan, balance and dupes results
plus thumbnails.

Thumbnails are small WebP images made in parallel from draft decodes; counts are capped so a
large dataset still gives a page of a few MB. Reads images; writes nothing."""

from __future__ import annotations

import base64
import io
import os
from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image

from .balance import BalancePlan, fails_to_load
from .dupes import DupesResult
from ..sdscripts.layout import looks_like_image
from ..model import Crash, Finding, ScanResult, Severity
from ..parallel import map_chunks
from ..errors import check_exhausted
from ..safeio import open_regular
from ..sdscripts.headers import chunk_problem

STRIP = 16  # thumbnails per subset
UNUSED = 48  # unused reg images shown
GROUPS = 40  # duplicate groups shown
MEMBERS = 6  # members shown per group
FINDING_THUMBS = 120

_UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
            5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90}


@dataclass(frozen=True)
class ReportData:
    scan: ScanResult
    plan: BalancePlan
    dupes: DupesResult | None
    findings: tuple[Finding, ...]
    command: str
    thumbs: dict[tuple[str, bool], str] = field(default_factory=dict)  # (path, upright) -> data URI
    captions: object | None = None  # views.captions.TextAudit: captions as the text encoder sees them
    tags: object | None = None  # tagfreq.TagTables
    lora: object | None = None  # views.inspect.Inspection: --lora files against this dataset


@dataclass(frozen=True)
class Verdict:
    """The answer first: does sd-scripts train on this input, where it stops if not, and the figures
    it computes (None where it stops before computing them: a start or build stage crash, or
    'No data found')."""

    trainer: str
    crash: Crash | None  # the first failure sd-scripts hits, in its own order
    no_data: bool  # sd-scripts stops cleanly with "No data found"
    load_failures: int  # registered images sd-scripts fails on when it first loads them
    left_out: int  # image files sd-scripts never reads (the scan's ignored image files)
    left_out_dirs: int  # ignored folders (no repeats, nested, ...) that hold files
    train_samples: int | None
    reg_samples: int | None
    batches_per_epoch: int | None
    steps_per_epoch: int | None
    max_train_steps: int | None
    epochs: int | None

    @property
    def trains(self) -> bool:
        return self.crash is None and not self.no_data


def verdict(scan: ScanResult, plan: BalancePlan) -> Verdict:
    left_out = sum(1 for i in scan.ignored if i.kind == "file" and looks_like_image(i.path))
    dirs = sum(1 for i in scan.ignored if i.kind == "dir")
    failures = sum(1 for d in plan.datasets for r in d.images if fails_to_load(r, d.params, plan.options))
    figures = plan.batches_per_epoch is not None and not plan.no_data  # a load-stage crash keeps them
    train = sum(r.num_repeats for d in plan.datasets for r in d.images if not r.is_reg)
    reg = sum(r.num_repeats for d in plan.datasets for r in d.images if r.is_reg)
    epochs = plan.options.max_train_epochs if plan.options.max_train_epochs is not None else plan.epochs
    return Verdict(plan.options.trainer.name, plan.crash, plan.no_data, failures, left_out, dirs,
                   train if figures else None, reg if figures else None, plan.batches_per_epoch if figures else None,
                   plan.steps_per_epoch if figures else None, plan.max_train_steps if figures else None,
                   epochs if figures else None)


@dataclass(frozen=True)
class Fix:
    """One hint and the findings it answers, at the severity of the worst of them."""

    hint: str
    severity: Severity
    findings: tuple[Finding, ...]

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.code for f in self.findings))


def fixes(findings: tuple[Finding, ...], crash: Crash | None = None) -> tuple[Fix, ...]:
    """Every finding's hint once, most severe first; among equals, the fix for the finding that
    explains where sd-scripts stops comes first, then the order of ``findings``."""
    by_hint: dict[str, list[Finding]] = {}
    for f in findings:
        if f.hint.strip():
            by_hint.setdefault(f.hint.strip(), []).append(f)

    def stops(fs: list[Finding]) -> bool:
        return crash is not None and any(f.code == crash.code and f.path == crash.path for f in fs)

    out = [Fix(hint, max((f.severity for f in fs), key=lambda s: s.rank), tuple(fs)) for hint, fs in by_hint.items()]
    order = {id(fx): k for k, fx in enumerate(out)}
    return tuple(sorted(out, key=lambda fx: (-fx.severity.rank, not stops(list(fx.findings)), order[id(fx)])))


def _checked(fh):
    """``fh``, unless Pillow would read a huge PNG chunk of it whole (OSError then)."""
    problem = chunk_problem(fh.fileno())
    if problem is not None:
        raise OSError(problem)
    return fh


def thumbnail(path: str, size: int = 128, upright: bool = False) -> str | None:
    """A data URI of a small WebP of the image as sd-scripts trains it (or, with ``upright``, as
    the camera meant it); None when it cannot be decoded."""
    try:
        with open_regular(path) as fh, Image.open(_checked(fh)) as im:  # never blocks on a FIFO named x.png
            orientation = im.getexif().get(0x0112) if im.format in ("JPEG", "MPO", "WEBP", "PNG") else None
            im.draft("RGB", (size, size))
            im = im.convert("RGBA").convert("RGB") if "A" in im.mode or "transparency" in im.info \
                else im.convert("RGB")
            im.thumbnail((size, size), Image.Resampling.BICUBIC)
            if upright and orientation in _UPRIGHT:
                im = im.transpose(_UPRIGHT[orientation])
            buf = io.BytesIO()
            im.save(buf, "WEBP", quality=60, method=2)
    except Exception as exc:
        check_exhausted(exc, path)  # (no descriptor left is the run's problem, not this image's)
        return None
    return "data:image/webp;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _thumb_job(item: tuple[str, bool, int]) -> str | None:
    return thumbnail(item[0], item[2], item[1])


def wanted_thumbnails(scan: ScanResult, plan: BalancePlan, dupes: DupesResult | None,
                      findings: tuple[Finding, ...]) -> list[tuple[str, bool]]:
    want: dict[tuple[str, bool], None] = {}
    for s in scan.subsets:
        for img in s.images[:STRIP]:
            want[(img.abs_path, False)] = None
    for d in plan.datasets:
        for img in d.unused_reg[:UNUSED]:
            want[(img.abs_path, False)] = None
    if dupes is not None:
        for g in dupes.groups[:GROUPS]:
            for m in g.members[:MEMBERS]:
                want[(m.path, False)] = None
    shown = 0
    for f in findings:
        if shown >= FINDING_THUMBS:
            break
        if os.path.isfile(f.path) and os.path.splitext(f.path)[1].lower() in (".png", ".jpg", ".jpeg", ".webp", ".bmp"):
            want[(f.path, False)] = None
            if f.code == "RA044":
                want[(f.path, True)] = None
            shown += 1
    return list(want)


def make_thumbnails(items: list[tuple[str, bool]], size: int = 128, jobs: int | None = None,
                    progress: Callable[[int, int], None] | None = None) -> dict[tuple[str, bool], str]:
    jobs = jobs if jobs is not None else (os.cpu_count() or 1)
    results = map_chunks(_thumb_job, [(p, up, size) for p, up in items], jobs, 16, 32, progress)
    return {key: uri for key, uri in zip(items, results) if uri is not None}
