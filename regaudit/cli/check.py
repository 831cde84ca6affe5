"""regaudit check: run the audits, apply the policy, exit 1 when a finding reaches fail-on."""

from __future__ import annotations

import io
from dataclasses import replace
import os
import sys
from typing import Optional

import typer

from ..errors import RegauditError
from .app import app, note, stdout
from .commands import FORCE_OPT, cache_notes
from .options import (
    CACHE_PATH_OPT,
    JOBS_OPT,
    NO_CACHE_OPT,
    PROCESSES_OPT,
    PROGRESS_OPT,
    SD_EPILOG,
    TARGET_OS_OPT,
    TRAINER_OPT,
    dataset_folders,
    dupes_options,
    inputs,
    progress_bar,
    run_scan,
    sd_argv,
)


@app.command(epilog=SD_EPILOG)
def check(
    ctx: typer.Context,
    trainer: Optional[str] = TRAINER_OPT,
    target_os: Optional[str] = TARGET_OS_OPT,
    num_processes: Optional[int] = PROCESSES_OPT,
    policy_file: Optional[str] = typer.Option(None, "--policy", metavar="FILE",
                                              help="YAML policy (default: ./regaudit.yaml, else built-in)."),
    fail_on: Optional[str] = typer.Option(None, "--fail-on", help="error | warning | info | never (default error)."),
    with_dupes: bool = typer.Option(False, "--dupes", help="Also run duplicate and leakage detection."),
    deep: bool = typer.Option(False, "--deep", help="Also decode every image to catch truncated files."),
    cache: Optional[str] = CACHE_PATH_OPT,
    no_cache: bool = NO_CACHE_OPT,
    as_json: bool = typer.Option(False, "--json", help="The same as --format json."),
    output_format: Optional[str] = typer.Option(None, "--format",
                                                help="human | json | github | junit (github when GITHUB_ACTIONS=true)."),
    output: Optional[str] = typer.Option(None, "--output", "-o", metavar="FILE",
                                         help="Write the report to FILE instead of stdout (never inside the dataset)."),
    force: bool = FORCE_OPT,
    jobs: Optional[int] = JOBS_OPT,
    progress: bool = PROGRESS_OPT,
) -> int:
    """Pre-flight gate for CI: run the audits, apply the policy, exit 1 when a finding reaches fail-on.

    A musubi-tuner command is gated on its RM findings."""
    from ..views.balance import plan, with_disk_cache
    from ..views.dupes import find_dupes
    from ..views.check import evaluate, merge
    from ..views.headline import of_plan, of_scan, wants_plan
    from ..outputs import check_target
    from ..views.policy import FailOn, load
    from ..render.formats import OutputFormat
    pol = load(policy_file)
    if fail_on is not None and fail_on not in [f.value for f in FailOn]:
        raise RegauditError(f"--fail-on '{fail_on}' is not one of error, warning, info, never")
    if as_json and output_format not in (None, "json"):
        raise RegauditError(f"--json and --format {output_format} disagree; give one of them")
    fmt = output_format or ("json" if as_json else None) or ("github" if os.environ.get("GITHUB_ACTIONS") == "true" else "human")
    if fmt not in [f.value for f in OutputFormat]:
        raise RegauditError(f"--format '{fmt}' is not one of {', '.join(f.value for f in OutputFormat)}")
    from ..views import musubi

    fails = FailOn(fail_on) if fail_on else pol.fail_on
    if musubi.is_musubi(sd_argv(ctx), trainer):  # a musubi-tuner command: its own port and RM findings
        result = musubi.musubi_balance(sd_argv(ctx), trainer, num_processes, jobs)
        if with_dupes or pol.dupes or deep or pol.deep:
            note("--dupes and --deep read sd-scripts datasets only; the musubi-tuner check runs without them")
        if pol.training or pol.caption_extension:
            note("the policy's training and caption-extension are sd-scripts options; musubi-tuner takes them from "
                 "its dataset config")
        if output:
            check_target(output, musubi.folders(result), force)
        verdict = evaluate(list(result.findings), pol, fails, ["musubi"], None, musubi.document(result, "check"))
        return _deliver(verdict, fmt, output, musubi.folders(result), force)
    overrides = dict(pol.training or {})
    if pol.caption_extension:
        overrides.setdefault("caption_extension", pol.caption_extension)
    inp = inputs(ctx, trainer, num_processes, overrides=overrides, target_os=target_os)
    specs, sources = inp.specs, inp.sources
    folders = dataset_folders(specs, sources)
    if output:
        check_target(output, folders, force)  # before the work, not after it
    ran = ["scan"]
    with progress_bar(progress, "reading image headers") as cb:
        result = run_scan(inp, deep=deep or pol.deep, jobs=jobs, progress=cb)
    findings = list(result.findings)
    balance_plan = None
    if wants_plan(inp, result):
        balance_plan = plan(result, with_disk_cache(inp))  # type: ignore[arg-type]
        findings = list(balance_plan.findings)  # they include the scan's
        ran.append("balance")
    if with_dupes or pol.dupes:
        d = pol.dupes_options
        dopts = dupes_options(d.get("hash", "phash"), d.get("max-distance"), bool(d.get("flip-aug", False)),
                              cache, no_cache, jobs, specs, sources)
        with progress_bar(progress, "hashing images") as cb:
            found = find_dupes(result, dopts, cb)
        cache_notes(found)
        findings = merge(findings, list(found.findings))
        ran.append("dupes")
    verdict = evaluate(findings, pol, fails, ran, balance_plan)
    kept = verdict.findings  # (the headline counts the errors the output lists, after the policy)
    verdict = replace(verdict, headline=of_scan(result, kept) if balance_plan is None else of_plan(balance_plan, kept))
    return _deliver(verdict, fmt, output, folders, force)


def _deliver(verdict, fmt: str, output: Optional[str], folders: list[str], force: bool) -> int:
    """The verdict rendered in ``fmt`` to stdout or ``output``, the GitHub job summary; the exit code."""
    from ..outputs import append_text, write_text
    from ..render import ci
    from ..render.formats import OutputFormat, render

    rendered = render(OutputFormat(fmt), verdict)
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_file:  # GitHub hands this file to every step to append to
        append_text(summary_file, ci.step_summary(verdict), "the job summary (GITHUB_STEP_SUMMARY)")
    if output:
        if not isinstance(rendered, str):
            from rich.console import Console

            buf = io.StringIO()
            Console(file=buf, width=100, highlight=False, markup=False).print(rendered)
            rendered = buf.getvalue()
        write_text(output, rendered, folders, force)
    elif isinstance(rendered, str):
        sys.stdout.write(rendered)
    else:
        stdout.print(rendered)
    return 0 if verdict.passed else 1
