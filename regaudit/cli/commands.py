"""scan, balance, dupes, smoke, report and rules: each a thin layer over a core call."""

from __future__ import annotations

import os
import shlex
import sys
from typing import Optional

import typer

from ..errors import RegauditError
from ..render import json_out
from ..render.escape import display
from ..rules import REGISTRY, lookup
from .app import ARGV, app, note, stderr, stdout
from .options import (
    CACHE_PATH_OPT,
    DIST_OPT,
    HASH_OPT,
    JOBS_OPT,
    JSON_OPT,
    NO_CACHE_OPT,
    PROCESSES_OPT,
    PROGRESS_OPT,
    SD_EPILOG,
    TARGET_OS_OPT,
    TRAINER_OPT,
    dataset_folders,
    dupes_options,
    inputs,
    number_between,
    progress_bar,
    run_scan,
    sd_argv,
)

SD_COMMAND = {"epilog": SD_EPILOG}
FORCE_OPT = typer.Option(False, "--force", help="Overwrite an existing output file that regaudit did not write.")


def cache_notes(found) -> None:
    """What went wrong with the hash cache (locked, read-only, rebuilt), on stderr."""
    for text in getattr(found, "notes", ()):
        note(text)


def _emit(doc: dict) -> None:
    json_out.write(doc, sys.stdout)
    sys.stdout.write("\n")


@app.command(**SD_COMMAND)
def scan(
    ctx: typer.Context,
    trainer: Optional[str] = TRAINER_OPT,
    target_os: Optional[str] = TARGET_OS_OPT,
    deep: bool = typer.Option(False, "--deep", help="Also decode every image to catch truncated files."),
    images: bool = typer.Option(False, "--images", help="Also list every image (size, format, mode, EXIF, caption)."),
    as_json: bool = JSON_OPT,
    jobs: Optional[int] = JOBS_OPT,
    progress: bool = PROGRESS_OPT,
) -> None:
    """Show what sd-scripts will see: subsets, images, captions, and everything it ignores or chokes on.

    regaudit scan DIR | --train_data_dir T [--reg_data_dir R] | --dataset_config F [sd-scripts options],
    or a musubi-tuner command (<arch>_train_network.py, a caching script, --architecture A --dataset_config F)."""
    from ..views import musubi

    if musubi.is_musubi(sd_argv(ctx), trainer):  # a musubi-tuner command: what it lists, leaves out, crashes on
        doc = musubi.document(musubi.musubi_balance(sd_argv(ctx), trainer, jobs=jobs), "scan")
        if as_json:
            _emit(doc)
        else:
            from ..render.musubi import musubi_scan_text

            stdout.print(musubi_scan_text(doc, images))
        return
    inp = inputs(ctx, trainer, target_os=target_os)
    with progress_bar(progress, "scanning images") as cb:
        result = run_scan(inp, deep=deep, jobs=jobs, progress=cb)
    if as_json:
        _emit(json_out.scan_document(result))
    else:
        from ..render import human
        from ..views.headline import headline

        stdout.print(human.scan_view(result, images, headline(inp, result, result.findings)))


@app.command(**SD_COMMAND)
def balance(
    ctx: typer.Context,
    trainer: Optional[str] = TRAINER_OPT,
    target_os: Optional[str] = TARGET_OS_OPT,
    num_processes: Optional[int] = PROCESSES_OPT,
    suggest: bool = typer.Option(False, "--suggest", help="Propose folder repeats / image counts that fix the balance."),
    reg_share: Optional[float] = typer.Option(None, "--reg-share", help="With --suggest: target share of the loss "
                                                                         "weight from reg images (0..1)."),
    images: bool = typer.Option(False, "--images", help="Also list every image with its effective repeats and bucket."),
    as_json: bool = JSON_OPT,
    jobs: Optional[int] = JOBS_OPT,
    progress: bool = PROGRESS_OPT,
) -> None:
    """Simulate sd-scripts' registration and reg balancing: repeats, unused reg images, buckets, batches, steps.

    Paste your training command (options, 'python SCRIPT.py ...' or 'accelerate launch SCRIPT.py ...')."""
    from ..views.balance import plan, with_disk_cache
    from ..views.suggest import suggest as make_suggestions
    from ..views import musubi

    if musubi.is_musubi(sd_argv(ctx), trainer):  # a musubi-tuner command: its own port and findings
        result = musubi.musubi_balance(sd_argv(ctx), trainer, num_processes, jobs)
        if as_json:
            _emit(musubi.document(result))
        else:
            from ..render.musubi import musubi_text

            stdout.print(musubi_text(musubi.document(result)))
        return

    number_between(reg_share, "--reg-share", 0, 1, open_ends=True)  # (a share of the loss weight)
    if reg_share is not None and not suggest:
        note("--reg-share is a target for --suggest, which is not given: it changes nothing here")
    inp = inputs(ctx, trainer, num_processes, target_os=target_os)
    with progress_bar(progress, "reading image headers") as cb:
        result = run_scan(inp, jobs=jobs, progress=cb)
    p = plan(result, with_disk_cache(inp))  # type: ignore[arg-type]
    suggestions = make_suggestions(p, reg_share) if suggest else []
    if as_json:
        doc = json_out.balance_document(p)
        if suggest:
            doc["suggestions"] = [s.to_json() for s in suggestions]
        _emit(doc)
    else:
        from ..render import human


        stdout.print(human.balance_view(p, images))
        if suggest:
            stdout.print(human.suggestions_view(suggestions))


@app.command(**SD_COMMAND)
def dupes(
    ctx: typer.Context,
    trainer: Optional[str] = TRAINER_OPT,
    target_os: Optional[str] = TARGET_OS_OPT,
    hash_kind: str = HASH_OPT,
    max_distance: Optional[int] = DIST_OPT,
    cache: Optional[str] = CACHE_PATH_OPT,
    no_cache: bool = NO_CACHE_OPT,
    as_json: bool = JSON_OPT,
    jobs: Optional[int] = JOBS_OPT,
    progress: bool = PROGRESS_OPT,
) -> None:
    """Find exact, near and mirrored duplicates, and train/reg leakage, with perceptual hashes. Read-only.

    Mirror images count as duplicates with sd-scripts' --flip_aug (as flip_aug makes them one sample)."""
    from ..views.dupes import find_dupes

    inp = inputs(ctx, trainer, target_os=target_os)
    flip = bool(inp.sd.get("flip_aug", False)) or any(s.flip_aug for spec in inp.specs for s in spec.subsets)
    opts = dupes_options(hash_kind, max_distance, flip, cache, no_cache, jobs, inp.specs, inp.sources)
    result = run_scan(inp, jobs=jobs, listing_only=True)
    with progress_bar(progress, "hashing images") as cb:
        found = find_dupes(result, opts, cb)
    cache_notes(found)
    if as_json:
        _emit(json_out.dupes_document(found))
    else:
        from ..render import human
        from ..views.headline import headline, of_scan, wants_plan

        if wants_plan(inp, result):  # a training command: read the headers too, to say where sd-scripts stops
            head = headline(inp, run_scan(inp, jobs=jobs), found.findings)
        else:  # only the listing: what sd-scripts reads, not whether it runs
            head = of_scan(result, found.findings, headers_read=False)
        stdout.print(human.dupes_view(found, head))


@app.command(**SD_COMMAND)
def smoke(
    ctx: typer.Context,
    trainer: Optional[str] = TRAINER_OPT,
    target_os: Optional[str] = TARGET_OS_OPT,
    batch_size: Optional[int] = typer.Option(
        None, "--batch-size", min=1, max=256,
        help="Samples in the smoke batch (default: the command's train_batch_size, or the dataset config's batch_size)."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda[:N] (auto: CUDA when available)."),
    dtype: str = typer.Option("fp32", "--dtype", help="fp32 | bf16 | fp16 (autocast)."),
    loss_kind: str = typer.Option("l2", "--loss-type", help="l2 | l1 | huber | smooth_l1 (or sd-scripts' --loss_type)."),
    huber_c: float = typer.Option(0.1, "--huber-c", min=1e-9, max=1e6, help="c of the huber/smooth_l1 losses."),
    as_json: bool = JSON_OPT,
    jobs: Optional[int] = JOBS_OPT,
) -> int:
    """One real training step of the prior-loss-weighted loss on a real batch, with checks (needs torch).

    Without --resolution it uses 512. --seed, --prior_loss_weight and --loss_type are sd-scripts' own."""
    from dataclasses import replace

    from ..views.balance import plan, with_disk_cache
    from ..views.smoke import LossType, SmokeError, SmokeOptions, run

    number_between(huber_c, "--huber-c", 1e-9, 1e6)
    if dtype not in ("fp32", "bf16", "fp16"):
        raise RegauditError(f"--dtype '{dtype}' is not one of fp32, bf16, fp16")
    inp = inputs(ctx, trainer, target_os=target_os)
    loss_type = str(inp.sd.get("loss_type") or loss_kind) if "loss_type" in inp.sd.given else loss_kind
    if loss_type not in {t.value for t in LossType}:
        raise RegauditError(f"--loss-type '{loss_type}' is not one of {', '.join(t.value for t in LossType)}")
    huber = float(inp.sd.get("huber_c", huber_c)) if "huber_c" in inp.sd.given else huber_c
    seed = int(inp.sd.get("seed", 0) or 0)
    if any(spec.params.resolution is None for spec in inp.specs):
        if "resolution" not in inp.sd.given:  # (one given that sd-scripts cannot read is its stop, below)
            note("no --resolution given; the smoke test uses 512")
        for spec in inp.specs:
            if spec.params.resolution is None:
                spec.params = replace(spec.params, resolution=(512, 512))
    result = run_scan(inp, jobs=jobs)
    stop = inp.opts.start_crash  # type: ignore[attr-defined]
    if stop is not None:  # sd-scripts would not start: no training step to try
        raise RegauditError(f"sd-scripts would not start: {stop.message}")
    opts = inp.opts
    try:
        out = run(plan(result, opts), SmokeOptions(batch_size, device, dtype, seed, LossType(loss_type), huber,
                                                   opts.prior_loss_weight,
                                                   train_batch_size=inp.args.train_batch_size,  # type: ignore
                                                   train_batch_size_given="train_batch_size" in inp.sd.given,
                                                   train_batch_size_in_config="train_batch_size"
                                                   in inp.sd.from_config_file))
    except SmokeError as exc:
        raise RegauditError(str(exc)) from None
    if as_json:
        _emit(json_out.smoke_document(out))
    else:
        from ..render import human

        stdout.print(human.smoke_view(out))
    return 0 if out.passed else 1


@app.command(**SD_COMMAND)
def report(
    ctx: typer.Context,
    trainer: Optional[str] = TRAINER_OPT,
    target_os: Optional[str] = TARGET_OS_OPT,
    num_processes: Optional[int] = PROCESSES_OPT,
    with_dupes: bool = typer.Option(True, "--dupes/--no-dupes", help="Include duplicate detection (default on)."),
    cache: Optional[str] = CACHE_PATH_OPT,
    no_cache: bool = NO_CACHE_OPT,
    output: str = typer.Option("report.html", "--output", "-o", metavar="FILE",
                               help="Where to write the page (never inside the dataset)."),
    force: bool = FORCE_OPT,
    thumb_size: int = typer.Option(128, "--thumb-size", min=32, max=512, help="Thumbnail size in pixels."),
    lora: Optional[list[str]] = typer.Option(None, "--lora", metavar="FILE",
                                             help="A LoRA (.safetensors) to compare with this dataset (repeatable)."),
    jobs: Optional[int] = JOBS_OPT,
    progress: bool = PROGRESS_OPT,
) -> None:
    """Write one self-contained HTML page with thumbnails and charts of scan, balance and dupes.

    A musubi-tuner command gets its own page: both answers, the listing, left-out files, stale caches."""
    from ..views.balance import plan, with_disk_cache
    from ..views.dupes import find_dupes
    from ..outputs import check_target, write_text
    from ..render import html as html_out
    from ..views.report import ReportData, make_thumbnails, wanted_thumbnails
    from ..sdscripts.tagfreq import tag_tables
    from .captions import caption_audit, text_options
    from ..views.inspect import compare_loras, read as read_loras
    from ..views import musubi
    from ..views.scan import scan_inputs_with_text

    if musubi.is_musubi(sd_argv(ctx), trainer):  # a musubi-tuner command: its own page
        from ..render import html_musubi

        result = musubi.musubi_balance(sd_argv(ctx), trainer, num_processes, jobs)
        folders = musubi.folders(result)
        check_target(output, folders, force)
        if lora:
            note("--lora compares sd-scripts datasets only; the musubi-tuner report leaves it out")
        doc = musubi.document(result, "report")
        with progress_bar(progress, "making thumbnails") as cb:
            thumbs = make_thumbnails(html_musubi.thumbnails_wanted(doc), thumb_size, jobs, cb)
        page = html_musubi.render(doc, "regaudit " + shlex.join(ARGV), thumbs)
        size = write_text(output, page, folders, force)
        stderr.print(f"regaudit: wrote {display(output)} ({size / 1024:.0f} KiB, {len(thumbs)} thumbnails)",
                     markup=False)
        return
    inp = inputs(ctx, trainer, num_processes, target_os=target_os)
    text = text_options(inp)  # (inputs() resolved every subset's caption options from the command already)
    specs, sources = inp.specs, inp.sources
    flip_aug = bool(inp.sd.get("flip_aug", False)) or any(s.flip_aug for spec in specs for s in spec.subsets)
    folders = dataset_folders(specs, sources)
    check_target(output, folders, force)  # before the work, not after it
    loras = read_loras(lora) if lora else None  # (a file regaudit cannot read stops the run before the scan)
    with progress_bar(progress, "reading image headers") as cb:  # (the scan audits the captions on the way)
        result, text_audit = scan_inputs_with_text(inp, jobs=jobs, progress=cb, text=text)
    p = plan(result, with_disk_cache(inp))  # type: ignore[arg-type]
    findings = list(p.findings)
    found = None
    if with_dupes:
        dopts = dupes_options("phash", None, flip_aug, cache, no_cache, jobs, specs, sources)
        with progress_bar(progress, "hashing images") as cb:
            found = find_dupes(result, dopts, cb)
        cache_notes(found)
        known = {(f.code, f.path) for f in findings}
        findings += [f for f in found.findings if (f.code, f.path) not in known]
    findings = json_out.sort_findings(findings)
    with progress_bar(progress, "making thumbnails") as cb:
        thumbs = make_thumbnails(wanted_thumbnails(result, p, found, tuple(findings)), thumb_size, jobs, cb)
    page = html_out.render(ReportData(result, p, found, tuple(findings), "regaudit " + shlex.join(ARGV), thumbs,
                                      text_audit if text_audit is not None else caption_audit(result, text),
                                      tag_tables(result.datasets),
                                      None if loras is None else compare_loras(loras, result, p)))
    size = write_text(output, page, folders, force)
    stderr.print(f"regaudit: wrote {display(output)} ({size / 1024:.0f} KiB, {len(thumbs)} thumbnails)",
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
        if stdout.is_terminal or os.environ.get("COLUMNS"):  # at a terminal, or a width given: wrapped to it
            from ..render.human import rules_view

            stdout.print(rules_view(REGISTRY.values(), stdout.width))
            return
        for r in REGISTRY.values():  # piped: one line per rule, for grep
            stdout.print(f"{r.code}  {r.severity.value:<7}  {r.name:<28} {r.summary}", soft_wrap=True)
        return
    r = lookup(code)
    if r is None:
        raise RegauditError(f"unknown rule '{code}'; 'regaudit rules' lists them all")
    if as_json:
        _emit({"code": r.code, "name": r.name, "severity": r.severity.value, "summary": r.summary, "why": r.why,
               "hint": r.hint})
        return
    from ..render.width import Breakable

    stdout.print(Breakable(f"{r.code} {r.name} (default severity: {r.severity.value})\n\nWhat it checks: {r.summary}\n\n"
                           f"Why it matters: {r.why}\n\nHow to fix: {r.hint}"))
