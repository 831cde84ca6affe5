"""Gather what the HTML report shows: the verdict and the fixes, the scan, balance and dupes results
plus thumbnails.

Thumbnails are small WebP images made in parallel from draft decodes; counts are capped so a
large dataset still gives a page of a few MB. Reads images; writes nothing."""

from __future__ import annotations

import base64
import io
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

from PIL import Image

from .balance import BalancePlan, fails_to_load
from .dupes import DupesResult
from ..sdscripts.layout import looks_like_image
from ..model import Crash, Finding, ImageProbe, ScanResult, Severity
from ..parallel import map_chunks
from ..errors import check_exhausted
from ..safeio import open_regular
from ..sdscripts.headers import chunk_problem, for_pillow

STRIP = 16  # thumbnails per subset
UNUSED = 48  # unused reg images shown
GROUPS = 40  # duplicate groups shown
MEMBERS = 6  # members shown per group
CARDS = 120  # images the findings name that get a card of their own (the fixes link to them)
# The page stays readable and its size and time bounded whatever the config holds (a 100,000-dataset
# config once made a 2 GB page in minutes): past these, a section says how many more there are and
# that ``regaudit scan --json`` (or balance --json) lists every one.
SUBSETS = 200  # subsets shown (the subsets and captions sections, the subset filter)
DATASETS = 100  # datasets shown (the reg balance and buckets sections)
FIXES = 200  # fixes listed
FINDINGS = 300  # findings listed per severity

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
    # (path, viewed) -> data URI: the pixels sd-scripts trains on (viewed False), or the file as a
    # viewer shows it (True: EXIF rotation applied, transparency kept, CMYK decoded by the browser)
    thumbs: dict[tuple[str, bool], str] = field(default_factory=dict)
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
    epochs: int | None  # the epochs sd-scripts starts (its num_train_epochs)
    # the epochs it trains: max_train_steps / steps per epoch (8.48: the 9th epoch stops early)
    epochs_trained: float | None = None
    last_epoch_steps: int | None = None  # optimizer steps of a last epoch cut short; None when it runs whole
    caching: bool = False  # a load-stage crash comes while latents are cached (--cache_latents), before step 1
    unused_reg: int = 0  # reg images the balancing never uses

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
    trained, last = epochs_trained(plan.max_train_steps, plan.steps_per_epoch)
    return Verdict(plan.options.trainer.name, plan.crash, plan.no_data, failures, left_out, dirs,
                   train if figures else None, reg if figures else None, plan.batches_per_epoch if figures else None,
                   plan.steps_per_epoch if figures else None, plan.max_train_steps if figures else None,
                   epochs if figures else None, trained if figures else None, last if figures else None,
                   caching=plan.crash is not None and plan.crash.stage == "load" and bool(plan.options.cache_latents),
                   unused_reg=sum(len(d.unused_reg) for d in plan.datasets))


def epochs_trained(max_train_steps: int | None, steps_per_epoch: int | None) -> tuple[float | None, int | None]:
    """(epochs trained, steps of a last epoch cut short): the trainers' loop runs
    ceil(max_train_steps / steps per epoch) epochs and breaks out of the last one once global_step
    reaches max_train_steps (train_network.py's ``if global_step >= args.max_train_steps: break``)."""
    if max_train_steps is None or not steps_per_epoch:
        return None, None
    left = max_train_steps % steps_per_epoch
    return max_train_steps / steps_per_epoch, (left or None)


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


def finding_paths(f: Finding) -> tuple[str, ...]:
    """The files a finding is about: each of its images (``images``, "path" first), else its path."""
    if f.images:
        return tuple(str(i[0][1]) for i in f.images if i and i[0][0] == "path")
    return (f.path,)


def card_paths(findings: tuple[Finding, ...], crash: Crash | None = None) -> list[str]:
    """The images the errors and warnings name, at most CARDS: each gets a card on the page that the
    fixes and findings link to (an info, such as the images captioned by their class tokens, names
    too many images to give each a card). Taken in rounds over the fixes, in their order: the first
    image of each fix, then the second of each, ... so that the first cards show every kind of
    problem (eleven EXIF-rotated photos do not push the alpha cutout and the CMYK scan out of view)."""
    # each fix's images by their first place in its list (round k takes the k-th); CARDS distinct ones
    # of a fix are enough: by the round that would reach one more, CARDS cards are taken (a fix of a
    # million unreadable images is not walked to its end)
    entries: list[tuple[int, int, str]] = []
    for i, fix in enumerate(fixes(findings, crash)):
        firsts: dict[str, int] = {}
        k = 0
        for f in fix.findings:
            if f.severity is Severity.INFO:
                continue
            for p in finding_paths(f):
                if looks_like_image(p):
                    firsts.setdefault(p, k)
                    k += 1
            if len(firsts) >= CARDS:
                break
        entries += ((at, i, p) for p, at in firsts.items())
    entries.sort(key=lambda e: (e[0], e[1]))
    out: dict[str, None] = {}
    for _, _, p in entries:
        out[p] = None
        if len(out) >= CARDS:
            break
    return list(out)


class Look(Enum):
    """Why a viewer shows a file otherwise than sd-scripts trains it (the "as it looks" preview)."""

    EXIF = "exif"  # the viewer turns it by its EXIF orientation; sd-scripts trains the stored pixels
    ALPHA = "alpha"  # the viewer shows its transparency; sd-scripts trains the colour under it
    CMYK = "cmyk"  # the viewer converts CMYK its own way; sd-scripts uses Pillow's plain conversion


def looks(probe: ImageProbe) -> tuple[Look, ...]:
    out = []
    if probe.exif_orientation in _UPRIGHT:
        out.append(Look.EXIF)
    if probe.has_transparency:
        out.append(Look.ALPHA)
    if probe.mode == "CMYK":
        out.append(Look.CMYK)
    return tuple(out)


@dataclass(frozen=True)
class ImageLabel:
    """What a thumbnail says about its image: its size as sd-scripts reads it, its bucket, its
    caption, the findings about it."""

    size: tuple[int | float, int | float] | None  # None: not a scanned image
    bucket: tuple[int, int] | None  # None: not registered, or no buckets (a stop before them)
    role: str | None  # "train" | "reg"
    repeats: int | None  # samples per epoch after reg balancing; 0: a reg image never used
    caption: str | None  # the caption sd-scripts registers (class tokens without a file); None: unreadable
    caption_from: str | None  # CaptionSource value
    problems: tuple[tuple[str, int], ...]  # (code, index of its first finding about the image in ``findings``)
    looks: tuple[Look, ...] = ()
    tokens: int | None = None  # CLIP tokens of the caption (the scan's count); None: not counted
    caption_error: str | None = None  # why the caption file cannot be read


def image_labels(scan: ScanResult, plan: BalancePlan, findings: tuple[Finding, ...],
                 paths) -> dict[str, ImageLabel]:
    """The labels of the images ``paths`` (the ones the page shows): one pass over the scan, the
    registered images and the findings."""
    want = set(paths)
    records, subsets = {}, {}
    for s in scan.subsets:
        for img in s.images:
            if img.abs_path in want and img.abs_path not in records:
                records[img.abs_path], subsets[img.abs_path] = img, s
    registered = {}
    unused = set()
    for d in plan.datasets:
        for r in d.images:
            if r.record.abs_path in want:
                registered.setdefault(r.record.abs_path, r)
        unused.update(i.abs_path for i in d.unused_reg if i.abs_path in want)
    problems: dict[str, dict[str, int]] = {}  # path -> code -> the first finding of that code about it
    for k, f in enumerate(findings):
        for p in finding_paths(f):
            if p in want:
                problems.setdefault(p, {}).setdefault(f.code, k)
    out = {}
    for p in want:
        rec, reg = records.get(p), registered.get(p)
        role = "reg" if reg is not None and reg.is_reg else "train" if reg is not None else \
            (subsets[p].role.value if p in subsets else None)
        repeats = reg.num_repeats if reg is not None else 0 if p in unused else None
        cap = rec.caption if rec is not None else None
        out[p] = ImageLabel(rec.size if rec is not None else None, reg.bucket if reg is not None else None, role,
                            repeats, cap.text if cap is not None else None,
                            cap.source.value if cap is not None else None, tuple(problems.get(p, {}).items()),
                            looks(rec.probe) if rec is not None else (),
                            rec.caption_tokens if rec is not None else None, cap.error if cap is not None else None)
    return out


def _checked(fh):
    """``fh``, unless Pillow would read a huge PNG chunk of it whole (OSError then)."""
    problem = chunk_problem(fh.fileno())
    if problem is not None:
        raise OSError(problem)
    return fh


def _trained(im: Image.Image) -> Image.Image:
    """The pixels sd-scripts trains on: train_util.load_image converts every image that is not RGB
    with Pillow's ``convert("RGB")`` (transparency dropped, CMYK without colour management) and
    never applies the EXIF orientation."""
    if im.mode == "RGB":
        return im
    with warnings.catch_warnings():  # ("Palette images with Transparency ... should be converted to RGBA")
        warnings.simplefilter("ignore")
        return im.convert("RGB")


def _viewed(im: Image.Image) -> tuple[Image.Image, str]:
    """The file as a viewer shows it (before its EXIF turn), and the format that keeps it so:
    transparency kept (WebP with alpha); CMYK kept as a small CMYK JPEG carrying the file's colour
    profile, so the browser converts it as it converts the file itself."""
    if im.mode == "CMYK":
        return im, "JPEG"
    if im.mode not in ("RGB", "RGBA"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = im.convert("RGBA" if "A" in im.mode or "transparency" in im.info else "RGB")
    return im, "WEBP"


def thumbnail(path: str, size: int = 128, viewed: bool = False) -> str | None:
    """A data URI of a small image of the pixels sd-scripts trains on or, with ``viewed``, of the
    file as a viewer shows it (EXIF turn applied, transparency kept, CMYK converted by the browser);
    None when it cannot be decoded."""
    try:
        with open_regular(path) as fh, Image.open(for_pillow(_checked(fh))) as src:  # never blocks on a FIFO
            orientation = src.getexif().get(0x0112) if src.format in ("JPEG", "MPO", "WEBP", "PNG") else None
            icc = src.info.get("icc_profile")
            src.draft("CMYK" if src.mode == "CMYK" else "RGB", (size, size))
            im, fmt = _viewed(src) if viewed else (_trained(src), "WEBP")
            im.thumbnail((size, size), Image.Resampling.BICUBIC)
            if viewed and orientation in _UPRIGHT:
                im = im.transpose(_UPRIGHT[orientation])
            buf = io.BytesIO()
            if fmt == "JPEG":
                im.save(buf, "JPEG", quality=85, **({"icc_profile": icc} if icc else {}))
            else:
                im.save(buf, "WEBP", quality=60, method=2)
    except Exception as exc:
        check_exhausted(exc, path)  # (no descriptor left is the run's problem, not this image's)
        return None
    return f"data:image/{fmt.lower()};base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _thumb_job(item: tuple[str, bool, int]) -> str | None:
    return thumbnail(item[0], item[2], item[1])


def wanted_thumbnails(scan: ScanResult, plan: BalancePlan, dupes: DupesResult | None,
                      findings: tuple[Finding, ...]) -> list[tuple[str, bool]]:
    """The thumbnails the page shows: each subset's strip, the unused reg images, the duplicate
    groups, and the image cards (with their "as it looks" preview where a viewer shows the file
    otherwise than sd-scripts trains it)."""
    want: dict[tuple[str, bool], None] = {}
    for s in scan.subsets[:SUBSETS]:
        for img in s.images[:STRIP]:
            want[(img.abs_path, False)] = None
    for d in plan.datasets[:DATASETS]:
        for img in d.unused_reg[:UNUSED]:
            want[(img.abs_path, False)] = None
    if dupes is not None:
        for g in dupes.groups[:GROUPS]:
            for m in g.members[:MEMBERS]:
                want[(m.path, False)] = None
    cards = card_paths(findings, plan.crash)
    for p in cards:
        want[(p, False)] = None
    carded = set(cards)
    for s in scan.subsets:
        for img in s.images:
            if img.abs_path in carded and looks(img.probe):
                want[(img.abs_path, True)] = None
    return list(want)


def make_thumbnails(items: list[tuple[str, bool]], size: int = 128, jobs: int | None = None,
                    progress: Callable[[int, int], None] | None = None) -> dict[tuple[str, bool], str]:
    jobs = jobs if jobs is not None else (os.cpu_count() or 1)
    results = map_chunks(_thumb_job, [(p, up, size) for p, up in items], jobs, 16, 32, progress)
    return {key: uri for key, uri in zip(items, results) if uri is not None}
