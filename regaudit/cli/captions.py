"""regaudit captions: captions as the text encoder sees them (token budgets, trigger words, tags).

The caption options are declared here as regaudit's own options for now; each one not given is
taken from the sd-scripts command line (and --config_file) the way the trainer reads it, so they
can move to that parser unchanged (caption_options.caption_args_with_fallback)."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from ..render import json_out
from ..rules import REGISTRY, Family
from .app import app, note, stdout
from .options import JOBS_OPT, JSON_OPT, PROGRESS_OPT, SD_EPILOG, TRAINER_OPT, inputs, progress_bar

_STR = {"metavar": "TEXT"}


def text_options(inp, max_token_length: Optional[int] = None):
    """views.inputs.text_options: the captions' TextOptions for a command's Inputs."""
    from ..views.inputs import text_options as of_inputs

    return of_inputs(inp, max_token_length)


def caption_inputs(inp, given: dict) -> None:
    """Resolve every subset's caption options (own options first, then sd-scripts'), in place."""
    from ..sdscripts.caption_options import apply, caption_args_with_fallback
    from ..sdscripts.startup import schema_typed

    args = caption_args_with_fallback(given, schema_typed(inp.sd))
    config = inp.sd.get("dataset_config")
    inp.specs = apply(inp.specs, args, None if config is None else str(config))


def caption_audit(result, text):
    """The caption audit of a scan result (token counts come from the scan's cache)."""
    from ..views.captions import audit

    return audit(result.datasets, text)


@app.command(epilog=SD_EPILOG)
def captions(
    ctx: typer.Context,
    trainer: Optional[str] = TRAINER_OPT,
    max_token_length: Optional[int] = typer.Option(None, "--max_token_length", "--max-token-length", metavar="N",
                                                   help="150 or 225 (default 75): CLIP tokens kept per caption."),
    shuffle_caption: bool = typer.Option(False, "--shuffle_caption", "--shuffle-caption",
                                         help="Tags are shuffled every step."),
    keep_tokens: Optional[int] = typer.Option(None, "--keep_tokens", "--keep-tokens", min=0,
                                              help="Tags kept in place at the start when shuffling."),
    caption_prefix: Optional[str] = typer.Option(None, "--caption_prefix", "--caption-prefix", **_STR),
    caption_suffix: Optional[str] = typer.Option(None, "--caption_suffix", "--caption-suffix", **_STR),
    caption_separator: Optional[str] = typer.Option(None, "--caption_separator", "--caption-separator", **_STR,
                                                    help="Tag separator (default ',')."),
    keep_tokens_separator: Optional[str] = typer.Option(None, "--keep_tokens_separator", "--keep-tokens-separator",
                                                        **_STR, help="Tags before it are kept in place."),
    secondary_separator: Optional[str] = typer.Option(None, "--secondary_separator", "--secondary-separator", **_STR,
                                                      help="Joins tags that shuffle as one; becomes the separator."),
    enable_wildcard: bool = typer.Option(False, "--enable_wildcard", "--enable-wildcard",
                                         help="'{a|b}' wildcards and multi-line captions."),
    caption_dropout_rate: Optional[float] = typer.Option(None, "--caption_dropout_rate", "--caption-dropout-rate"),
    caption_dropout_every_n_epochs: Optional[int] = typer.Option(None, "--caption_dropout_every_n_epochs",
                                                                 "--caption-dropout-every-n-epochs"),
    caption_tag_dropout_rate: Optional[float] = typer.Option(None, "--caption_tag_dropout_rate",
                                                             "--caption-tag-dropout-rate"),
    token_warmup_min: Optional[int] = typer.Option(None, "--token_warmup_min", "--token-warmup-min"),
    token_warmup_step: Optional[float] = typer.Option(None, "--token_warmup_step", "--token-warmup-step"),
    top: int = typer.Option(15, "--top", min=1, help="Tags shown per table."),
    images: bool = typer.Option(False, "--images", help="List every image each finding is about."),
    as_json: bool = JSON_OPT,
    jobs: Optional[int] = JOBS_OPT,
    progress: bool = PROGRESS_OPT,
) -> None:
    """Captions as the text encoder sees them: CLIP token counts and what the limit cuts, trigger words, tags.

    regaudit captions DIR | --train_data_dir T [--reg_data_dir R] | --dataset_config F [sd-scripts options]"""
    from ..sdscripts.tokens import status
    from ..sdscripts.tagfreq import tag_tables
    from ..views.scan import scan_inputs_with_text

    given = {k: v for k, v in locals().items() if k in (
        "shuffle_caption", "keep_tokens", "caption_prefix", "caption_suffix", "caption_separator",
        "keep_tokens_separator", "secondary_separator", "enable_wildcard", "caption_dropout_rate",
        "caption_dropout_every_n_epochs", "caption_tag_dropout_rate", "token_warmup_min", "token_warmup_step")}
    inp = inputs(ctx, trainer)
    text = text_options(inp, max_token_length)
    caption_inputs(inp, given)
    st = status()
    if not st.available:
        note(f"{st.reason}; token counts are left out")
    if text.max_token_length is not None and not text.encoders.takes_max_token_length:
        note(f"{text.trainer}.py ignores --max_token_length (it warns and keeps 75 CLIP tokens)")
    with progress_bar(progress, "reading captions") as cb:  # (the scan audits the captions on the way)
        result, found = scan_inputs_with_text(inp, jobs=jobs, progress=cb, text=text)
    tables = tag_tables(result.datasets)
    findings = [f for f in result.findings if REGISTRY[f.code].family is Family.CAPTIONS]
    if as_json:
        json_out.write(json_out.captions_document(found, tables, findings), sys.stdout)
        sys.stdout.write("\n")
    else:
        from ..render import human

        from ..views.headline import headline

        stdout.print(human.captions_view(found, tables, findings, top, images, headline(inp, result, findings)))
