"""The kohya_ss GUI's step figure beside sd-scripts' exact one, in the user's terms: the one line
shown under the figures, and RA075's text for someone whose steps the GUI computed. Facts in
(``RunFacts`` with ``options.gui``, sdscripts/gui_steps.py), text out."""

from __future__ import annotations

import math

from ..sdscripts import defaults
from ..sdscripts.gui_steps import GuiFormula, GuiSteps
from ..sdscripts.plan import RunFacts


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def steps_for_epochs(facts: RunFacts, epochs: int) -> int:
    """max_train_steps sd-scripts computes for --max_train_epochs ``epochs`` (steps.steps)."""
    o = facts.options
    return epochs * math.ceil((facts.batches_per_epoch or 0) / o.num_processes / o.gradient_accumulation_steps)


def _why(g: GuiSteps, facts: RunFacts) -> str:
    """What the GUI's formula assumes that sd-scripts does not do, for this dataset."""
    out = []
    if g.formula is GuiFormula.FOLDERS and g.total != facts.train_samples:
        out.append(f"the GUI counts {g.total} images x repeats in the folders, sd-scripts registers "
                   f"{facts.train_samples}")
    if g.reg_factor == 2 and facts.reg_samples != facts.train_samples:
        out.append(f"the GUI doubles for the reg folder, sd-scripts adds {facts.reg_samples} reg samples")
    samples = facts.train_samples + facts.reg_samples
    batch = g.batch or 1
    if facts.batches_per_epoch is not None and facts.batches_per_epoch != math.ceil(samples / batch):
        out.append(f"buckets make {facts.batches_per_epoch} batches of {samples} samples, not "
                   f"{math.ceil(samples / batch)}")
    if facts.options.num_processes > 1:
        out.append(f"{facts.options.num_processes} processes share the batches")
    return f" ({'; '.join(out)})" if out else ""


def gui_note(facts: RunFacts) -> str | None:
    """One line for a --config_file the GUI wrote (its ``epoch`` key), or a dataset config."""
    g, opts = facts.options.gui, facts.options
    spe, steps = facts.steps_per_epoch, facts.max_train_steps
    if g is None or not g.from_config or not spe or steps is None:
        return None  # only for a --config_file the GUI wrote (its own ``epoch`` key)
    if g.formula is GuiFormula.DATASET_CONFIG:
        if opts.max_train_epochs is not None:
            return (f"the kohya_ss GUI computes no steps with a dataset config; max_train_epochs "
                    f"{opts.max_train_epochs} makes {steps} steps")
        default = (" (sd-scripts' default: the GUI's Max train steps was 0)" if steps == defaults.MAX_TRAIN_STEPS
                   else "")
        exact = (f"; for exactly {g.epoch} set max_train_epochs = {g.epoch} ({steps_for_epochs(facts, g.epoch)} "
                 f"steps)" if g.epoch > 0 else "")  # (the fine-tune tab writes no Epoch)
        return (f"the kohya_ss GUI computes no steps with a dataset config: sd-scripts trains max_train_steps "
                f"{steps}{default}, {steps / spe:.2f} epochs of {spe} steps{exact}")
    if opts.max_train_epochs is not None and g.shown is not None:
        return (f"max_train_epochs {opts.max_train_epochs} overrides the GUI's max_train_steps {g.shown}: sd-scripts "
                f"trains {opts.max_train_epochs} epochs, {steps} steps")
    if g.steps is None:
        return None  # (the fine-tune tab writes no Epoch: its formula cannot be worked again)
    real = steps / spe
    exact = f"for exactly {g.epoch} set max_train_epochs = {g.epoch} ({steps_for_epochs(facts, g.epoch)} steps)"
    if steps != g.steps:
        return (f"max_train_steps {steps} is not what the GUI's formula gives for this dataset now ({g.log_line}): "
                f"it was typed into Max train steps, or the dataset changed since; it is {real:.2f} epochs of {spe} "
                f"steps; {exact}")
    if real == g.epoch:
        return (f"the GUI's {steps} steps for Epoch {g.epoch} are exactly {g.epoch} epoch{'s' if g.epoch != 1 else ''} "
                f"of {spe} steps")
    partial = "" if real.is_integer() else f", the {_ordinal(math.ceil(real))} partial"
    return (f"the GUI wrote {steps} steps for Epoch {g.epoch}: that is {real:.2f} real epochs{partial}"
            f"{_why(g, facts)}; {exact}")


def gui_doubled(facts: RunFacts) -> GuiSteps | None:
    """The GUI's figure when it is the max_train_steps sd-scripts uses and already doubled for reg."""
    g = facts.options.gui
    if g is not None and g.from_config and g.reg_factor == 2 and g.steps == facts.max_train_steps:
        return g
    return None
