"""A trainer's run up to its first step, in sd-scripts' own order: its command line and start
checks, the dataset build (every dataset's constructor, then every dataset's buckets, then the
validation dataset's), "No data found", the checks right after the build, the steps, then the
first load of each registered image. Returns the facts (``RunFacts``); rules/run.py judges them."""

from __future__ import annotations

import os
from dataclasses import replace

from ..model import Crash, ScanResult
from ..safeio import here
from . import trainer_checks
from .build import construct_crash, plan_dataset, validation_crash
from .load import load_failures
from .plan import BalanceOptions, DatasetPlan, RunFacts, Stop
from .trainer_checks import Context, Return
from .steps import gui_estimate, optimizer_steps, reg_loss_share, steps


def where(scan: ScanResult) -> str:
    """The path of findings about the whole run: the first source, else the working folder."""
    return scan.sources[0] if scan.sources else here()


def simulate(scan: ScanResult, opts: BalanceOptions) -> RunFacts:
    """train_network.NetworkTrainer.train (and each trainer's equivalent) up to the first step."""
    trainer = opts.trainer
    stops: list[Stop] = []
    ctx = Context(scan, opts, where(scan), stops)

    # the command line, then the checks before the build (verify_sdxl_training_args ...)
    crash: Crash | None = opts.start_crash
    if crash is None:
        outcome = trainer_checks.run_checks(trainer.before_build, ctx)
        crash = outcome if isinstance(outcome, Crash) else None
    # the dataset config (read by the scan), then the config sanitizer's dataset kinds
    if crash is None and scan.crash is not None:
        crash = scan.crash
    if crash is None:
        crash = trainer_checks.kind_stop(trainer, scan, ctx)
    # every dataset's constructor, then the validation dataset's
    if crash is None:
        for ds in scan.datasets:
            crash = construct_crash(ds, stops)
            if crash is not None:
                break
    if crash is None:
        crash = validation_crash(scan.datasets, "construct")
    # every dataset's make_buckets (planned even after a stop: the figures once it is fixed)
    plans: list[DatasetPlan] = []
    for ds in scan.datasets:
        p, ds_crash = plan_dataset(ds, opts, ctx.where, stops)
        plans.append(p)
        if crash is None and ds_crash is not None:
            crash = ds_crash
    if crash is None:
        crash = validation_crash(scan.datasets, "buckets")
    batches = sum(p.batches or 0 for p in plans)

    # the checks right after the build, in the trainer's order ("No data found" among them)
    returned: Return | None = None
    if crash is None:
        ctx.empty = batches == 0
        outcome = trainer_checks.run_checks(trainer.after_build, ctx)
        returned, crash = (outcome, None) if isinstance(outcome, Return) else (None, outcome)
        if crash is None and ctx.empty and returned is not Return.NO_DATA and not trainer.empty_guard:
            crash = trainer_checks.empty_dataloader_stop(trainer, ctx)  # (noted even where --debug_dataset returns)
    no_data = returned is Return.NO_DATA
    if returned is Return.DEBUG_DATASET:
        return RunFacts(tuple(plans), opts, ctx.where, tuple(stops), None, 0 if batches == 0 else None,
                        no_data=batches == 0, returned_early=Return.DEBUG_DATASET.value)

    # the first load of each registered image (only once the run gets that far)
    loads = None
    if crash is None and not no_data:
        loads = load_failures(plans, opts)
        if loads:
            first = loads[0]
            crash = Crash("load", first.code, first.exception, first.path, first.message)
    if crash is not None and crash.stage != "load" or no_data:
        if_fixed = None
        if crash is not None and all(p.batches is not None for p in plans) and batches:
            # what sd-scripts would compute once the failing files or options are fixed (images that
            # could not be bucketed left out): the figures a user plans with
            if_fixed = dict(zip(("batches_per_epoch", "steps_per_epoch", "max_train_steps", "epochs"),
                                (batches, *steps(batches, opts))))
        if crash is not None and crash.stage == "build":
            plans = [replace(p, buckets=None, batches=None) for p in plans]
        return RunFacts(tuple(plans), opts, ctx.where, tuple(stops), crash, None if crash else 0, no_data=no_data,
                        if_fixed=if_fixed, loads=loads)

    # the steps
    steps_per_epoch, max_steps, epochs = steps(batches, opts)
    train_samples = sum(r.num_repeats for p in plans for r in p.images if not r.is_reg)
    reg_samples = sum(r.num_repeats for p in plans for r in p.images if r.is_reg)
    alone = sum(p.train_only_batches or 0 for p in plans)
    return RunFacts(tuple(plans), opts, ctx.where, tuple(stops), crash, batches, steps_per_epoch, max_steps, epochs,
                    gui_estimate(plans, opts), reg_loss_share(train_samples, reg_samples, opts), loads=loads,
                    train_samples=train_samples, reg_samples=reg_samples, train_only_batches=alone,
                    train_only_steps=optimizer_steps(alone, opts))
