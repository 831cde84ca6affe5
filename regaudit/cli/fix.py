"""regaudit fix: a corrected copy of the dataset (wiring only; views.fix does the work)."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from ..render import json_out
from .app import app, stdout
from .options import JOBS_OPT, JSON_OPT, PROGRESS_OPT, SD_EPILOG, TARGET_OS_OPT, TRAINER_OPT, dataset_folders, inputs, \
    progress_bar, sd_argv


@app.command(epilog=SD_EPILOG)
def fix(
    ctx: typer.Context,
    trainer: Optional[str] = TRAINER_OPT,
    target_os: Optional[str] = TARGET_OS_OPT,
    out: Optional[str] = typer.Option(None, "--out", metavar="DIR",
                                      help="Write the corrected copy here (a new folder, or an earlier fix output)."),
    hardlink: bool = typer.Option(False, "--hardlink", help="Hard-link unchanged files instead of copying them "
                                                            "(an in-place edit of the copy then edits the original)."),
    unsafe_fixes: bool = typer.Option(False, "--unsafe-fixes",
                                      help="Also apply the unsafe fixes: lossy re-encodes (EXIF rotation of JPEGs, "
                                           "CMYK to sRGB), transparency flattened, exact duplicates dropped, nested "
                                           "images moved up, multi-line captions joined."),
    background: str = typer.Option("white", "--background", metavar="COLOUR",
                                   help="The colour transparency is flattened onto (--unsafe-fixes): a name, "
                                        "#RRGGBB or R,G,B."),
    as_json: bool = JSON_OPT,
    jobs: Optional[int] = JOBS_OPT,
    progress: bool = PROGRESS_OPT,
) -> None:
    """Plan, or with --out write, a corrected copy of the dataset; the original is only ever read.

    regaudit fix DIR | --train_data_dir T [--reg_data_dir R] | --dataset_config F [sd-scripts options] [--out DIR]"""
    from ..render import fix as render
    from ..rules.fixes import background_colour
    from ..views.fix import check_out, make_plan, write_copy

    colour = background_colour(background)  # (refused before any work)
    inp = inputs(ctx, trainer, target_os=target_os)
    folders = dataset_folders(inp.specs, inp.sources)
    target = None if out is None else check_out(out, folders)  # before the work, not after it
    with progress_bar(progress, "auditing the dataset") as cb:
        plan = make_plan(inp, sd_argv(ctx), trainer, target_os, jobs, cb, unsafe=unsafe_fixes)
    if target is not None and plan.key_folders:  # (fine-tuning keys name folders no config does)
        target = check_out(out, folders + plan.key_folders)
    if target is None:
        doc, view = render.plan_document(plan), render.plan_view
        result = plan
    else:
        with progress_bar(progress, "writing the copy") as cb:
            result = write_copy(plan, target, hardlink, render.manifest, jobs, colour, cb)
        doc, view = render.result_document(result), render.result_view
    if as_json:
        json_out.write(doc, sys.stdout)
        sys.stdout.write("\n")
    else:
        stdout.print(view(result))
