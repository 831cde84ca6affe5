"""Steps per epoch and in all as every trainer counts them (train_network.py's
``math.ceil(len(train_dataloader) / accelerator.num_processes / gradient_accumulation_steps)``),
the reg samples' share of the loss, and the kohya_ss GUI's estimate users compare them with."""

from __future__ import annotations

import math
from collections.abc import Sequence

from .plan import BalanceOptions, DatasetPlan
from .trainers import RegWeight


def steps(batches: int, opts: BalanceOptions) -> tuple[int, int, int]:
    """(optimizer steps per epoch, max_train_steps, epochs) as every trainer computes them."""
    steps_per_epoch = optimizer_steps(batches, opts)
    if opts.max_train_epochs is not None:
        # every trainer: epochs x ceil(len(dataloader) / num_processes / gradient_accumulation_steps)
        max_steps = opts.max_train_epochs * math.ceil(batches / opts.num_processes / opts.gradient_accumulation_steps)
    else:
        max_steps = opts.max_train_steps
    epochs = math.ceil(max_steps / steps_per_epoch) if steps_per_epoch else 0
    return steps_per_epoch, max_steps, epochs


def optimizer_steps(batches: int, opts: BalanceOptions) -> int:
    """Optimizer steps per epoch for ``batches`` batches."""
    return math.ceil(math.ceil(batches / opts.num_processes) / opts.gradient_accumulation_steps)


def reg_loss_share(train_samples: int, reg_samples: int, opts: BalanceOptions) -> float:
    """The reg samples' share of the loss: each weighs --prior_loss_weight where the trainer reads it
    (train_util.conditional_loss with the batch's loss weights), else 1."""
    weight = reg_samples * opts.prior_loss_weight if opts.trainer.reg_weight is RegWeight.PRIOR_LOSS_WEIGHT \
        else reg_samples
    return weight / (train_samples + weight) if train_samples + weight > 0 else 0.0


def gui_estimate(plans: Sequence[DatasetPlan], opts: BalanceOptions) -> int | None:
    """The kohya_ss GUI's figure: train samples / batch size / accumulation x epochs, doubled when
    reg images are present. Shown next to the exact number because users compare the two. With the
    command's settings known (``opts.gui``), the GUI's own figure (gui_steps.py)."""
    if opts.gui is not None:
        return opts.gui.shown
    if not plans:
        return None
    train = sum(p.num_train_images for p in plans)
    batch = plans[0].params.batch_size or 1
    epochs = opts.max_train_epochs or 1
    reg_factor = 2 if any(p.num_reg_images for p in plans) else 1
    return math.ceil(train / batch / opts.gradient_accumulation_steps * epochs * reg_factor)
