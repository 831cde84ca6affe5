"""The first line of every dataset command's human output: a views.headline.Headline in words."""

from __future__ import annotations

from ..safeio import shown
from ..views.headline import Headline, Stage
from .escape import display
from .width import Breakable

BAD, GOOD, NOTE = "bold red", "bold green", "bold yellow"


def _n(count: int, word: str) -> str:
    return f"{count} {word if count == 1 else word + 's'}"


def epochs_text(epochs: float) -> str:
    """8.48, or 4 when the steps make whole epochs."""
    whole = round(epochs)
    return _n(whole, "epoch") if abs(epochs - whole) < 0.005 else f"{epochs:.2f} epochs"


def steps_text(h: Headline) -> str | None:
    """'1280 steps = 8.48 epochs (151 batches per epoch)'."""
    if h.steps is None:
        return None
    text = _n(h.steps, "step")
    if h.epochs is not None:
        text += f" = {epochs_text(h.epochs)}"
    if h.batches_per_epoch is not None:
        text += f" ({h.batches_per_epoch} {'batch' if h.batches_per_epoch == 1 else 'batches'} per epoch)"
    return text


def dropped_text(h: Headline) -> str | None:
    """'1 image file ignored, 51 reg images never used'."""
    parts = []
    if h.ignored_images:
        parts.append(f"{_n(h.ignored_images, 'image file')} ignored")
    if h.unused_reg:
        parts.append(f"{_n(h.unused_reg, 'reg image')} never used")
    return ", ".join(parts) or None


def verdict_line(h: Headline) -> Breakable:
    """Whether sd-scripts runs or where it stops; its steps and real epochs; what it drops."""
    script = f"{display(h.trainer)}.py" if h.trainer else "sd-scripts"
    out = Breakable([])
    c = h.crash
    if h.returned_early == "debug_dataset":
        out.append("• ", NOTE).append(f"{script} shows the dataset and returns (--debug_dataset): nothing is trained",
                                      NOTE)
        return out
    if h.stage is Stage.NO_DATA:
        out.append("✗ ", BAD).append(f"{script} stops after building the dataset: 'No data found', nothing is "
                                     f"trained", BAD)
    elif h.stage is not None and c is not None:
        what = f"{c.exception} ({c.code})"
        out.append("✗ ", BAD)
        if h.stage is Stage.CACHE:
            out.append(f"{script} stops while caching latents, before step 1: {what} on ", BAD)
            out.append(display(shown(c.path)), BAD)
        elif h.stage is Stage.LOAD:
            out.append(f"{script} starts, then stops at the first load of ", BAD)
            out.append(display(shown(c.path)), BAD).append(f": {what}", BAD)
        else:
            where = {Stage.START: "at start", Stage.BUILD: "while building the dataset",
                     Stage.TRAIN: "when training starts"}[h.stage]
            out.append(f"{script} stops {where}: {what}", BAD).append(f" — {display(c.message)}")
    elif not h.headers_read:
        out.append("• ", NOTE).append(f"sd-scripts reads {_n(h.images, 'image')} in {_n(h.subsets, 'subset')}", NOTE)
    elif h.trainer:  # it runs (errors below are images left out or broken that do not stop it)
        out.append("✓ ", GOOD).append(f"{script} runs", GOOD)
    else:  # the scan alone: an error may stop the run
        mark, style = ("✗ ", BAD) if h.all_errors else ("✓ ", GOOD)
        out.append(mark, style).append(f"sd-scripts reads {_n(h.images, 'image')} in {_n(h.subsets, 'subset')}",
                                       style)
    steps = steps_text(h)
    if steps is not None:
        out.append(f"; {'once fixed: ' if h.stage is not None else ''}{steps}", "" if h.stage else GOOD)
    dropped = dropped_text(h)
    if dropped:
        out.append(f"; {dropped}", "yellow")
    if h.errors:
        out.append(f"; {_n(h.errors, 'error')} below" + (" (images left out or broken)" if h.runs and h.trainer else ""),
                   BAD if not h.runs or not h.trainer else "yellow")
    elif h.all_errors:  # (this command lists only some findings: captions lists the captions' own)
        out.append(f"; {_n(h.all_errors, 'error')} ('regaudit scan' lists them)", BAD if not h.runs else "yellow")
    if h.trainer is None and h.stage is None:
        out.append(" ('regaudit check' with your training options says whether it runs)" if not h.headers_read else
                   " (paste your training options for steps and epochs)", "dim")
    return out
