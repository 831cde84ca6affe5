"""scan, balance, dupes, smoke, report and rules: each a thin layer over a core call."""

from __future__ import annotations

import shlex
import sys
from typing import Optional

import typer

from ..captions import normalize_extension
from ..errors import RegauditError
from ..render import human, json_out
from ..rules import REGISTRY, lookup
from .app import ARGV, app, note, stderr, stdout
from .options import (
    CACHE_PATH_OPT,
    CAPTION_OPT,
    CONFIG_OPT,
    DIST_OPT,
    EXTRA_ARGS,
    FLIP_OPT,
    FOLDER_ARG,
    HASH_OPT,
    JOBS_OPT,
    JSON_OPT,
    NO_CACHE_OPT,
    PROGRESS_OPT,
    REG_OPT,
    TRAIN_OPT,
    TrainingCLI,
    dupes_options,
    inputs,
    progress_bar,
    root_inputs,
    training_options,
)


def _emit(doc: dict) -> None:
    sys.stdout.write(json_out.dumps(doc) + "\n")


@app.command()
def scan(
    folder: Optional[str] = FOLDER_ARG,
    train: Optional[str] = TRAIN_OPT,
    reg: Optional[str] = REG_OPT,
    dataset_config: Optional[str] = CONFIG_OPT,
    caption_extension: str = CAPTION_OPT,
    deep: bool = typer.Option(False, "--deep", help="Also decode every image to catch truncated files."),
    images: bool = typer.Option(False, "--images", help="Also list every image (size, format, mode, EXIF, caption)."),
    as_json: bool = JSON_OPT,
    jobs: Optional[int] = JOBS_OPT,
    progress: bool = PROGRESS_OPT,
) -> None:
    """Show what sd-scripts will see: subsets, images, captions, and everything it ignores or chokes on."""
    from ..scan import scan as run_scan

    specs, sources = root_inputs(folder, train, reg, dataset_config, caption_extension)
    with progress_bar(progress, "scanning images") as cb:
        result = run_scan(specs, deep=deep, jobs=jobs, progress=cb,
                          caption_extension=normalize_extension(caption_extension), sources=sources)
    if as_json:
        _emit(json_out.scan_document(result))
    else:
        stdout.print(human.scan_view(result, images))


@app.command(context_settings=EXTRA_ARGS)
@training_options
def balance(
    ctx: typer.Context,
    training: TrainingCLI,
    *,
    suggest: bool = typer.Option(False, "--suggest", help="Propose folder repeats / image counts that fix the balance."),
    reg_share: Optional[float] = typer.Option(None, "--reg-share", help="With --suggest: target share of the loss "
                                                                         "weight from reg images (0..1)."),
    images: bool = typer.Option(False, "--images", help="Also list every image with its effective repeats and bucket."),
    as_json: bool = JSON_OPT,
    jobs: Optional[int] = JOBS_OPT,
    progress: bool = PROGRESS_OPT,
) -> None:
    """Simulate sd-scripts' registration and reg balancing: repeats, unused reg images, buckets, batches, steps.

    Unknown sd-scripts options are accepted and ignored, so a whole training command can be pasted."""
    from ..balance import plan
    from ..scan import scan as run_scan
    from ..suggest import suggest as make_suggestions

    specs, args, opts, sources = inputs(ctx, training)
    with progress_bar(progress, "reading image headers") as cb:
        result = run_scan(specs, jobs=jobs, progress=cb, caption_extension=args.caption_extension, sources=sources)
    p = plan(result, opts)
    suggestions = make_suggestions(p, reg_share) if suggest else []
    if as_json:
        doc = json_out.balance_document(p)
        if suggest:
            doc["suggestions"] = [s.to_json() for s in suggestions]
        _emit(doc)
    else:
        stdout.print(human.balance_view(p, images))
        if suggest:
            stdout.print(human.suggestions_view(suggestions))


@app.command()
def dupes(
    folder: Optional[str] = FOLDER_ARG,
    train: Optional[str] = TRAIN_OPT,
    reg: Optional[str] = REG_OPT,
    dataset_config: Optional[str] = CONFIG_OPT,
    caption_extension: str = CAPTION_OPT,
    hash_kind: str = HASH_OPT,
    max_distance: Optional[int] = DIST_OPT,
    flip_aug: bool = FLIP_OPT,
    cache: Optional[str] = CACHE_PATH_OPT,
    no_cache: bool = NO_CACHE_OPT,
    as_json: bool = JSON_OPT,
    jobs: Optional[int] = JOBS_OPT,
    progress: bool = PROGRESS_OPT,
) -> None:
    """Find exact, near and mirrored duplicates, and train/reg leakage, with perceptual hashes. Read-only."""
    from ..dedupe import find_dupes
    from ..scan import scan as run_scan

    specs, sources = root_inputs(folder, train, reg, dataset_config, caption_extension)
    opts = dupes_options(hash_kind, max_distance, flip_aug, cache, no_cache, jobs, specs, sources)
    result = run_scan(specs, jobs=jobs, caption_extension=normalize_extension(caption_extension), sources=sources,
                      listing_only=True)
    with progress_bar(progress, "hashing images") as cb:
        found = find_dupes(result, opts, cb)
    if as_json:
        _emit(json_out.dupes_document(found))
    else:
        stdout.print(human.dupes_view(found))


@app.command(context_settings=EXTRA_ARGS)
@training_options
def smoke(
    ctx: typer.Context,
    training: TrainingCLI,
    *,
    batch_size: int = typer.Option(4, "--batch-size", min=1, help="Samples in the smoke batch."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda[:N] (auto: CUDA when available)."),
    dtype: str = typer.Option("fp32", "--dtype", help="fp32 | bf16 | fp16 (autocast)."),
    seed: int = typer.Option(0, "--seed", help="Seed for the model, noise and timesteps."),
    loss_type: str = typer.Option("l2", "--loss-type", "--loss_type", help="l2 | l1 | huber | smooth_l1."),
    huber_c: float = typer.Option(0.1, "--huber-c", "--huber_c", help="c of the huber/smooth_l1 losses."),
    as_json: bool = JSON_OPT,
    jobs: Optional[int] = JOBS_OPT,
) -> int:
    """One real training step of the prior-loss-weighted loss on a real batch, with checks (needs torch).

    Without --resolution it uses 512."""
    from dataclasses import replace

    from ..balance import plan
    from ..scan import scan as run_scan
    from ..smoke import LossType, SmokeError, SmokeOptions, run

    if dtype not in ("fp32", "bf16", "fp16"):
        raise RegauditError(f"--dtype '{dtype}' is not one of fp32, bf16, fp16")
    if loss_type not in {t.value for t in LossType}:
        raise RegauditError(f"--loss-type '{loss_type}' is not one of {', '.join(t.value for t in LossType)}")
    specs, args, opts, sources = inputs(ctx, training)
    if any(spec.params.resolution is None for spec in specs):
        note("no --resolution given; the smoke test uses 512")
        for spec in specs:
            if spec.params.resolution is None:
                spec.params = replace(spec.params, resolution=(512, 512))
    result = run_scan(specs, jobs=jobs, caption_extension=args.caption_extension, sources=sources)
    try:
        out = run(plan(result, opts), SmokeOptions(batch_size, device, dtype, seed, LossType(loss_type), huber_c,
                                                   opts.prior_loss_weight))
    except SmokeError as exc:
        raise RegauditError(str(exc)) from None
    if as_json:
        _emit(json_out.smoke_document(out))
    else:
        stdout.print(human.smoke_view(out))
    return 0 if out.passed else 1


@app.command(context_settings=EXTRA_ARGS)
@training_options
def report(
    ctx: typer.Context,
    training: TrainingCLI,
    *,
    with_dupes: bool = typer.Option(True, "--dupes/--no-dupes", help="Include duplicate detection (default on)."),
    flip_aug: bool = FLIP_OPT,
    cache: Optional[str] = CACHE_PATH_OPT,
    no_cache: bool = NO_CACHE_OPT,
    output: str = typer.Option("report.html", "--output", "-o", metavar="FILE", help="Where to write the page."),
    thumb_size: int = typer.Option(128, "--thumb-size", min=32, max=512, help="Thumbnail size in pixels."),
    jobs: Optional[int] = JOBS_OPT,
    progress: bool = PROGRESS_OPT,
) -> None:
    """Write one self-contained HTML page with thumbnails and charts of scan, balance and dupes."""
    from ..balance import plan
    from ..dedupe import find_dupes
    from ..render import html as html_out
    from ..report import ReportData, make_thumbnails, wanted_thumbnails
    from ..scan import scan as run_scan

    specs, args, opts, sources = inputs(ctx, training)
    with progress_bar(progress, "reading image headers") as cb:
        result = run_scan(specs, jobs=jobs, progress=cb, caption_extension=args.caption_extension, sources=sources)
    p = plan(result, opts)
    findings = list(p.findings)
    found = None
    if with_dupes:
        dopts = dupes_options("phash", None, flip_aug, cache, no_cache, jobs, specs, sources)
        with progress_bar(progress, "hashing images") as cb:
            found = find_dupes(result, dopts, cb)
        known = {(f.code, f.path) for f in findings}
        findings += [f for f in found.findings if (f.code, f.path) not in known]
    findings = json_out.sort_findings(findings)
    with progress_bar(progress, "making thumbnails") as cb:
        thumbs = make_thumbnails(wanted_thumbnails(result, p, found, tuple(findings)), thumb_size, jobs, cb)
    page = html_out.render(ReportData(result, p, found, tuple(findings), "regaudit " + shlex.join(ARGV), thumbs))
    try:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(page)
    except OSError as exc:
        raise RegauditError(f"{output}: cannot write the report: {exc.strerror or exc}") from None
    stderr.print(f"regaudit: wrote {output} ({len(page.encode()) / 1024:.0f} KiB, {len(thumbs)} thumbnails)",
                 markup=False)


@app.command()
def rules(code: Optional[str] = typer.Argument(None, help="A code (RA001) or name to explain."),
          as_json: bool = JSON_OPT) -> None:
    """List every finding code, or explain one."""
    if code is None:
        if as_json:
            _emit([{"code": r.code, "name": r.name, "severity": r.severity.value, "summary": r.summary}
                   for r in REGISTRY.values()])  # type: ignore[arg-type]
            return
        for r in REGISTRY.values():
            stdout.print(f"{r.code}  {r.severity.value:<7}  {r.name:<28} {r.summary}", soft_wrap=True)
        return
    r = lookup(code)
    if r is None:
        raise RegauditError(f"unknown rule '{code}'; 'regaudit rules' lists them all")
    if as_json:
        _emit({"code": r.code, "name": r.name, "severity": r.severity.value, "summary": r.summary, "why": r.why,
               "hint": r.hint})
        return
    stdout.print(f"{r.code} {r.name} (default severity: {r.severity.value})\n\nWhat it checks: {r.summary}\n\n"
                 f"Why it matters: {r.why}\n\nHow to fix: {r.hint}", markup=False)
