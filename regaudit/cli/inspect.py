"""regaudit inspect: what finished LoRAs were trained on, against the dataset there now."""

from __future__ import annotations

import os
import sys
from typing import Optional

import typer

from ..errors import RegauditError
from ..render import json_out
from .app import app, note, stdout
from .options import JOBS_OPT, JSON_OPT, PROGRESS_OPT, SD_EPILOG, TRAINER_OPT, progress_bar, sd_argv


def split_files(tokens: list[str]) -> tuple[list[str], list[str]]:
    """The leading arguments that name files (FILE.safetensors ...), and the training command after them."""
    k = 0
    while k < len(tokens) and not tokens[k].startswith("-") and \
            (tokens[k].lower().endswith(".safetensors") or os.path.isfile(tokens[k])):
        k += 1
    return tokens[:k], tokens[k:]


@app.command(epilog=SD_EPILOG)
def inspect(
    ctx: typer.Context,
    trainer: Optional[str] = TRAINER_OPT,
    top: int = typer.Option(15, "--top", min=1, help="Tags shown per folder."),
    as_json: bool = JSON_OPT,
    jobs: Optional[int] = JOBS_OPT,
    progress: bool = PROGRESS_OPT,
) -> None:
    """What a finished LoRA was trained on (its ss_* metadata), and how the dataset now differs from it.

    regaudit inspect FILE.safetensors... [DIR | --train_data_dir T [--reg_data_dir R] | --dataset_config F |
    a pasted training command]"""
    from ..views.inspect import inspect as run

    files, raw = split_files(sd_argv(ctx))
    if not files:
        raise RegauditError("give at least one .safetensors file: regaudit inspect FILE.safetensors... [training "
                            "command or folders to compare with]")
    with progress_bar(progress and bool(raw), "reading the dataset") as cb:
        result = run(files, raw, trainer, {"jobs": jobs, "progress": cb})
    for n in result.notes:
        note(n)
    if as_json:
        from ..render.inspect_json import inspect_document

        json_out.write(inspect_document(result), sys.stdout)
        sys.stdout.write("\n")
    else:
        from ..render.inspect_human import inspect_view

        stdout.print(inspect_view(result, top))
