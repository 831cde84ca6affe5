"""Findings about the run (the START and RUN families): each stop sd-scripts meets, with its fix;
how the reg balancing loop used the reg images; rounded bucket limits; "No data found";
--debug_dataset; images the first load fails on; and what reg samples do to the steps.
Facts in (sdscripts/run.py's ``RunFacts``), findings out."""

from __future__ import annotations

import math
import os
from collections.abc import Callable

from ..model import Finding
from ..sdscripts import defaults
from ..sdscripts.plan import BalanceOptions, DatasetPlan, Reason, RunFacts, Stop
from ..sdscripts.registration import reg_repeats
from .gui_steps import gui_doubled, steps_for_epochs
from .naming import named, rows
from .registry import rule


def _fixed(text: str) -> Callable[[Stop, BalanceOptions], str | None]:
    return lambda stop, opts: text


def _none(stop: Stop, opts: BalanceOptions) -> None:
    return None  # the rule's own hint


# each stop's fix, for every Reason (a test holds that none is missing)
HINTS: dict[Reason, Callable[[Stop, BalanceOptions], str | None]] = {
    Reason.NOT_DREAMBOOTH: _none,
    Reason.CONDITIONING: _none,  # the rule's own hint
    Reason.FINETUNING_METADATA: _none,  # the rule's own hint
    Reason.NO_RESOLUTION: _fixed("Pass --resolution N or W,H (as in your training command), or set resolution in "
                                 "the dataset config."),
    Reason.ZERO_BUCKET_STEPS: _fixed(f"Use --bucket_reso_steps {defaults.BUCKET_RESO_STEPS} (or the multiple your "
                                     "trainer needs)."),
    Reason.RESOLUTION_OUTSIDE_LIMITS: _fixed("Lower --min_bucket_reso or raise --max_bucket_reso so the resolution "
                                             "lies between them."),
    Reason.MIN_BUCKET_RESO: _fixed(f"Use --min_bucket_reso {defaults.MIN_BUCKET_RESO} (or any positive multiple "
                                   "of bucket_reso_steps)."),
    Reason.BATCH_SIZE: _fixed("Use --train_batch_size 1 or more."),
    Reason.SIZE_UNREADABLE: _none,
    Reason.BUCKET_DIVISION: _none,
    Reason.V2_REFUSED: _fixed("Drop --v2: it is for SD 2.x models."),
    Reason.CACHED_LATENTS_AUGMENT: lambda stop, opts: f"Turn off {' and '.join(stop.detail)}, or do not cache latents.",
    Reason.CACHED_TEXT_AUGMENT: lambda stop, opts: f"Turn off {', '.join(stop.detail)}, or do not cache text encoder "
                                                   f"outputs.",
    Reason.TEXT_CACHE_NEEDS_UNET_ONLY: _fixed("Add --network_train_unet_only, or do not cache text encoder outputs."),
    Reason.BUCKET_STEPS_MULTIPLE: lambda stop, opts: f"Use --bucket_reso_steps "
                                                     f"{opts.trainer.required_multiple or stop.detail[0]} "
                                                     f"(or a multiple of it).",
    Reason.EMPTY_DATALOADER: _none,
    Reason.RESIZE_INTERPOLATION: _none,
    Reason.STEP_VALUES: _none,
    Reason.FLOAT_STEPS: _none,
}


def stop_finding(stop: Stop, opts: BalanceOptions) -> Finding:
    """The finding that explains where sd-scripts stops (its message is the Crash's)."""
    c = stop.crash
    return rule(c.code).finding(c.path, c.message, HINTS[stop.reason](stop, opts))


def reg_findings(p: DatasetPlan, where: str) -> list[Finding]:
    """How the reg balancing loop used this dataset's reg images (RA066-RA070, RA073)."""
    out = []
    where = p.subsets[0].abs_path if p.subsets else where
    num_train, num_reg, unused = p.num_train_images, p.num_reg_images, p.unused_reg
    reg_subsets = [s for s in p.subsets if s.config.is_reg]
    if num_reg and not num_train:
        out.append(rule("RA070").finding(
            where, f"dataset {p.index} has {num_reg} reg samples but no train samples: the balancing loop "
                   f"never runs, so none of its {p.reg_image_count} reg images is used"))
    if unused:
        unused_dirs = list(dict.fromkeys(os.path.dirname(i.abs_path) for i in unused))
        out.append(rule("RA066").finding(
            unused_dirs[0],
            f"reg samples {num_reg} > train samples {num_train}: {len(unused)} of {p.reg_image_count} reg images "
            f"are never used (the first {p.reg_image_count - len(unused)} in listing order are): "
            f"{named([i.abs_path for i in unused])}",
            _unused_hint(reg_subsets, num_train, len(unused)),
            images=rows(i.abs_path for i in unused)))
    if p.order_dependent:
        order = " then ".join(f"'{s.abs_path}'" for s in reg_subsets)
        out.append(rule("RA067").finding(
            (os.path.dirname(unused[0].abs_path) if unused else reg_subsets[0].abs_path),
            f"which reg images are used{'' if unused else ' one more time'} depends on the order the OS lists the "
            f"reg folders ({order} here); another machine or a copied tree may choose differently"))
    reg = p.reg
    if reg is not None and reg.overshoot:
        out.append(rule("RA068").finding(
            reg_subsets[0].abs_path,
            f"reg folders' repeats overshoot: {p.reg_samples_used} reg samples are used against {num_train} train "
            f"samples (+{reg.overshoot})"))
    if reg is not None and (reg.extra or reg.remainder):
        out.append(rule("RA073").finding(
            reg_subsets[0].abs_path,
            f"only {p.reg_image_count} reg images for {num_train} train samples: each is repeated "
            f"{reg.extra}{'' if not reg.remainder else f'-{reg.extra + 1}'} times beyond its folder's repeats "
            f"({p.reg_samples_used} reg samples)"))
    if num_train and not num_reg and not any(getattr(s.config, 'metadata_file', None) is not None for s in p.subsets):
        out.append(rule("RA069").finding(where, f"dataset {p.index} has no regularization images"))
    return out


def _unused_hint(reg_subsets, num_train: int, unused: int) -> str:
    """RA066's fix given the current repeats: what each change would make of the unused count (the
    balancing loop, ``reg_repeats``, run again on the changed figures)."""
    base = [s.num_repeats for s in reg_subsets for _ in s.images]  # the reg list, in the loop's order
    parts = []
    if any(k > 1 for k in base):
        left = sum(1 for k in reg_repeats([1] * len(base), num_train)[0] if k == 0)
        now = ", ".join(sorted({str(k) for k in base}, key=int))
        parts.append(f"set the reg folders' repeats to 1 (now {now}): " + (
            "every reg image is then used" if not left else f"{left} of them stay unused"))
    need = sum(base[:-1]) + 1  # the loop reaches the last reg image once the others fall short of the train samples
    parts.append(f"add train images or repeats: from {need} train samples (now {num_train}) every reg image is used")
    parts.append(f"or remove the {unused} unused reg images: the run is the same without them")
    text = "; ".join(parts) + "."
    return _cap(text) if len(parts) > 2 else "The reg repeats are already 1: " + text


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def bucket_limit_findings(p: DatasetPlan, where: str) -> list[Finding]:
    """min/max_bucket_reso rounded to bucket_reso_steps (RA072)."""
    if p.bucket_limits is None:
        return []
    lo, hi, steps = p.bucket_limits
    if (lo, hi) == (p.params.min_bucket_reso, p.params.max_bucket_reso):
        return []
    where = p.subsets[0].abs_path if p.subsets else where
    return [rule("RA072").finding(
        where, f"min/max_bucket_reso {p.params.min_bucket_reso}/{p.params.max_bucket_reso} are not multiples of "
               f"bucket_reso_steps {steps}; sd-scripts uses {lo}/{hi}")]


def unbucketed_size_findings(p: DatasetPlan) -> list[Finding]:
    """Without bucketing (and uncached latents), each loaded image must be exactly W x H after an
    optional random crop: smaller fails 'image size is small', larger needs random_crop (RA071)."""
    w, h = p.params.resolution  # type: ignore[misc]
    small, large = [], []
    for r in p.images:
        if not r.image_size:
            continue
        iw, ih = r.image_size
        if (iw > w or ih > h) and not r.subset.config.random_crop:
            large.append(r)  # checked first, on the loaded pixels
        elif iw < w or ih < h:
            small.append(r)  # after an optional random crop the image must be exactly W x H
    out = []
    for group, what, stop in ((large, "larger than {} without --enable_bucket or --random_crop", "'image too large'"),
                              (small, "smaller than {} without --enable_bucket", "'image size is small'")):
        if group:
            first = group[0]
            out.append(rule("RA071").finding(
                first.record.abs_path,
                f"{len(group)} registered image{'s are' if len(group) > 1 else ' is'} {what.format(f'{w}x{h}')} "
                f"({', '.join(f'{named([r.record.abs_path], 1)} {r.image_size[0]}x{r.image_size[1]}' for r in group[:3])}"
                f"{f' and {len(group) - 3} more' if len(group) > 3 else ''}): training stops with {stop} when it "
                f"loads {'them' if len(group) > 1 else 'it'}",
                images=((("path", r.record.abs_path), ("size", f"{r.image_size[0]}x{r.image_size[1]}"))
                             for r in group)))
    return out


UPSCALE_LIMIT = 2.0  # RA064: an image scaled up more than this into its bucket (or this far below it, no-upscale)


def low_resolution_findings(p: DatasetPlan) -> list[Finding]:
    """RA064, one finding per subset: registered images that sd-scripts scales up more than
    UPSCALE_LIMIT to cover their bucket (BucketManager.select_bucket's scale), or, with
    bucket_no_upscale, that become a bucket of their own with sides less than 1/UPSCALE_LIMIT of
    the resolution's (the factor an upscale to the resolution's area would need)."""
    if not p.params.enable_bucket or p.params.resolution is None:
        return []
    rw, rh = p.params.resolution
    no_upscale = p.params.bucket_no_upscale
    by_subset: dict[str, list] = {}
    for r in p.images:
        if not r.image_size or not r.resized or not r.bucket or min(r.image_size) <= 0:
            continue
        w, h = r.image_size
        if no_upscale:
            factor = math.sqrt(rw * rh / (w * h))
        else:
            factor = max(r.resized[0] / w, r.resized[1] / h)
        if factor > UPSCALE_LIMIT:
            by_subset.setdefault(r.subset.abs_path, []).append((r, factor))
    out = []
    for where, found in by_subset.items():
        found.sort(key=lambda rf: -rf[1])
        n = sum(1 for r in p.images if r.subset.abs_path == where)
        shown = ", ".join(_low(r, f, no_upscale) for r, f in found[:3])
        more = f" and {len(found) - 3} more" if len(found) > 3 else ""
        if no_upscale:
            msg = (f"{len(found)} of {n} images are trained far below the resolution {rw}x{rh}: with "
                   f"--bucket_no_upscale each is not upscaled but trained in a bucket of its own size, under "
                   f"1/{UPSCALE_LIMIT ** 2:g} of the resolution's area: {shown}{more}")
        else:
            msg = (f"{len(found)} of {n} images are upscaled more than ×{UPSCALE_LIMIT:g} into their bucket at "
                   f"resolution {rw}x{rh}: {shown}{more}")
        key = "short_of_area" if no_upscale else "upscale"  # the side factor to the resolution's area, or the scale
        images = tuple((("path", r.record.abs_path), ("size", f"{r.image_size[0]}x{r.image_size[1]}"),
                        ("bucket", f"{r.bucket[0]}x{r.bucket[1]}"), (key, round(f, 2))) for r, f in found)
        out.append(rule("RA064").finding(where, msg, images=images))
    return out


def _low(r, factor: float, no_upscale: bool) -> str:
    w, h = r.image_size
    name = named([r.record.abs_path], 1)
    if no_upscale:
        return f"{name} {w}x{h} ({1 / factor ** 2:.1%} of the area) in bucket {r.bucket[0]}x{r.bucket[1]}"
    return f"{name} {w}x{h} ×{factor:.1f} to {r.resized[0]}x{r.resized[1]} (bucket {r.bucket[0]}x{r.bucket[1]})"


def load_findings(facts: RunFacts) -> list[Finding]:
    """The first load of each image: too large or too small without bucketing (RA071, one finding
    per group), a zero-width bucket (RA074, one per image)."""
    if facts.loads is None:
        return []
    opts = facts.options
    out = []
    for p in facts.datasets:
        if not p.params.enable_bucket and not opts.cache_latents:
            out += unbucketed_size_findings(p)
    out += [rule(f.code).finding(f.path, f.message) for f in facts.loads if f.code == "RA074"]
    return out


def steps_finding(facts: RunFacts) -> list[Finding]:
    """Reg samples add batches: a fixed max_train_steps covers fewer epochs (RA075)."""
    opts = facts.options
    spe, max_steps = facts.steps_per_epoch, facts.max_train_steps
    if not (facts.reg_samples and opts.max_train_epochs is None and spe):
        return []
    alone, alone_steps = facts.train_only_batches, facts.train_only_steps
    g = gui_doubled(facts)
    if g is not None:  # the GUI already doubled the steps for the reg folder: raising them over-trains
        return [rule("RA075").finding(
            facts.where,
            f"{facts.reg_samples} reg samples join {facts.train_samples} train samples: {facts.batches_per_epoch} "
            f"batches per epoch instead of {alone}; the kohya_ss GUI already doubled max_train_steps for the reg "
            f"folder ({g.log_line}), so {max_steps} steps are {max_steps / spe:.2f} epochs for its Epoch {g.epoch}",
            f"Do not raise max_train_steps: for exactly {g.epoch} epochs set max_train_epochs = {g.epoch} "
            f"({steps_for_epochs(facts, g.epoch)} steps).")]
    return [rule("RA075").finding(
        facts.where,
        f"{facts.reg_samples} reg samples join {facts.train_samples} train samples: {facts.batches_per_epoch} batches "
        f"per epoch instead of {alone}, so max_train_steps {max_steps} covers {max_steps / spe:.2f} epochs instead of "
        f"{max_steps / alone_steps:.2f}" if alone_steps else f"{facts.batches_per_epoch} batches per epoch")]


def findings(facts: RunFacts) -> list[Finding]:
    """Every finding about the run, stops first (in the order sd-scripts meets them)."""
    out = [stop_finding(s, facts.options) for s in facts.stops]
    for p in facts.datasets:
        out += reg_findings(p, facts.where)
        out += bucket_limit_findings(p, facts.where)
        out += low_resolution_findings(p)
    if facts.no_data and facts.returned_early is None:  # 'No data found' (not --debug_dataset's return)
        out.append(rule("RA065").finding(
            facts.where, "no dataset registers any image: sd-scripts stops with 'No data found' and trains nothing"))
    if facts.returned_early == "debug_dataset":
        out.append(rule("RA090").finding(
            facts.where, f"--debug_dataset: {facts.options.trainer.name}.py shows the dataset and returns; it trains "
                         f"nothing and counts no steps (the figures here are what the dataset holds)"))
    out += load_findings(facts)
    out += steps_finding(facts)
    return out
