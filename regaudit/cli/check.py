"""regaudit check: run the audits, apply the policy, exit 1 when a finding reaches fail-on."""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import Optional

import typer
from rich.console import Console

from ..errors import RegauditError
from ..render import ci, human, json_out
from .app import app, stdout
from .options import (
    CACHE_PATH_OPT,
    EXTRA_ARGS,
    FOLDER_ARG,
    JOBS_OPT,
    NO_CACHE_OPT,
    PROGRESS_OPT,
    TrainingCLI,
    dupes_options,
    inputs,
    progress_bar,
    resolve_roots,
    training_options,
)

FORMATS = ("human", "json", "github", "junit")


@app.command(context_settings=EXTRA_ARGS)
@training_options
def check(
    ctx: typer.Context,
    folder: Optional[str] = FOLDER_ARG,
    training: TrainingCLI = None,  # type: ignore[assignment]
    *,
    policy_file: Optional[str] = typer.Option(None, "--policy", metavar="FILE",
                                              help="YAML policy (default: ./regaudit.yaml, else built-in)."),
    fail_on: Optional[str] = typer.Option(None, "--fail-on", help="error | warning | info | never (default error)."),
    with_dupes: bool = typer.Option(False, "--dupes", help="Also run duplicate and leakage detection."),
    deep: bool = typer.Option(False, "--deep", help="Also decode every image to catch truncated files."),
    cache: Optional[str] = CACHE_PATH_OPT,
    no_cache: bool = NO_CACHE_OPT,
    output_format: Optional[str] = typer.Option(None, "--format",
                                                help="human | json | github | junit (github when GITHUB_ACTIONS=true)."),
    output: Optional[str] = typer.Option(None, "--output", "-o", metavar="FILE",
                                         help="Write the report to FILE instead of stdout."),
    jobs: Optional[int] = JOBS_OPT,
    progress: bool = PROGRESS_OPT,
) -> int:
    """Pre-flight gate for CI: run the audits, apply the policy, exit 1 when a finding reaches fail-on."""
    from ..balance import plan
    from ..dedupe import find_dupes
    from ..gate import evaluate, merge
    from ..policy import FailOn, load
    from ..scan import scan as run_scan

    pol = load(policy_file)
    if fail_on is not None and fail_on not in [f.value for f in FailOn]:
        raise RegauditError(f"--fail-on '{fail_on}' is not one of error, warning, info, never")
    fmt = output_format or ("github" if os.environ.get("GITHUB_ACTIONS") == "true" else "human")
    if fmt not in FORMATS:
        raise RegauditError(f"--format '{fmt}' is not one of {', '.join(FORMATS)}")
    training = dataclasses.replace(training, train=resolve_roots(folder, training.train),
                                   caption_extension=training.caption_extension or pol.caption_extension)
    specs, args, opts, sources = inputs(ctx, training, overrides=pol.training)
    ran = ["scan"]
    with progress_bar(progress, "reading image headers") as cb:
        result = run_scan(specs, deep=deep or pol.deep, jobs=jobs, progress=cb,
                          caption_extension=args.caption_extension, sources=sources)
    findings = list(result.findings)
    balance_plan = None
    if pol.training or training.any_training_option() or any(d.params.resolution for d in result.datasets):
        balance_plan = plan(result, opts)
        findings = list(balance_plan.findings)  # they include the scan's
        ran.append("balance")
    if with_dupes or pol.dupes:
        d = pol.dupes_options
        dopts = dupes_options(d.get("hash", "phash"), d.get("max-distance"), bool(d.get("flip-aug", False)),
                              cache, no_cache, jobs, specs, sources)
        with progress_bar(progress, "hashing images") as cb:
            findings = merge(findings, list(find_dupes(result, dopts, cb).findings))
        ran.append("dupes")
    verdict = evaluate(findings, pol, FailOn(fail_on) if fail_on else pol.fail_on, ran, balance_plan)
    if fmt == "human":
        rendered = human.check_view(verdict)
    elif fmt == "json":
        rendered = json_out.dumps(ci.check_json(verdict)) + "\n"
    elif fmt == "github":
        rendered = ci.github(list(verdict.findings))
    else:
        rendered = ci.junit(list(verdict.findings), {id(f) for f in verdict.failing})
    if output:
        try:
            with open(output, "w", encoding="utf-8") as fh:
                if isinstance(rendered, str):
                    fh.write(rendered)
                else:
                    Console(file=fh, width=100, highlight=False, markup=False).print(rendered)
        except OSError as exc:
            raise RegauditError(f"{output}: cannot write the report: {exc.strerror or exc}") from None
    elif isinstance(rendered, str):
        sys.stdout.write(rendered)
    else:
        stdout.print(rendered)
    return 0 if verdict.passed else 1
