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
from .plan import BalanceOptions, DatasetPlan, Reason, RunFacts, Stop, record_stop
from .trainer_checks import Context, Return
from .steps import gui_estimate, optimizer_steps, reg_loss_share, steps


def where(scan: ScanResult) -> str:
    """The path of findings about the whole run: the first source, else the working folder."""
    return scan.sources[0] if scan.sources else here()


def training_stop(max_steps: int | float, opts: BalanceOptions, ctx: Context) -> Crash | None:
    """The training loop's progress bar, tqdm(range(max_train_steps)): a float max_train_steps (a
    float max_train_epochs or max_train_steps from --config_file) raises TypeError there, after the
    trainer has counted its steps and loaded its models."""
    if isinstance(max_steps, int):
        return None
    source = "max_train_epochs" if opts.max_train_epochs is not None else "max_train_steps"
    given = opts.max_train_epochs if opts.max_train_epochs is not None else opts.max_train_steps
    return record_stop(ctx.stops, Reason.FLOAT_STEPS, "train", "RA095", "TypeError", ctx.where,
                       f"--config_file: {source} = {given!r} makes max_train_steps {max_steps!r}, a float: "
                       f"{opts.trainer.name}.py counts its steps, loads its models and then stops when training "
                       f"starts ('float' object cannot be interpreted as an integer, at range(max_train_steps))")


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
        if crash is None and returned is None and opts.accelerator_crash is not None:
            crash = opts.accelerator_crash  # prepare_accelerator, before the models and the DataLoader
            stops.append(Stop(crash, Reason.STEP_VALUES))
        if crash is None and ctx.empty and returned is not Return.NO_DATA and not trainer.empty_guard:
            crash = trainer_checks.empty_dataloader_stop(trainer, ctx)  # (noted even where --debug_dataset returns)
    no_data = returned is Return.NO_DATA
    if returned is Return.DEBUG_DATASET:
        return RunFacts(tuple(plans), opts, ctx.where, tuple(stops), None, 0 if batches == 0 else None,
                        no_data=batches == 0, returned_early=Return.DEBUG_DATASET.value)

    # once the models are loaded the steps are counted: a --config_file value of the wrong type stops it
    if crash is None and not no_data and opts.steps_crash is not None:
        crash = opts.steps_crash
        stops.append(Stop(crash, Reason.STEP_VALUES))

    # training starts at range(max_train_steps); each registered image is loaded for the first time
    # by latent caching before that, else by the first batches after it
    loads = None
    if crash is None and not no_data:
        loads = load_failures(plans, opts)
        first = loads[0] if loads else None
        load_stop = Crash("load", first.code, first.exception, first.path, first.message) if first else None
        train_stop = training_stop(steps(batches, opts)[1], opts, ctx)
        crash = (load_stop or train_stop) if opts.cache_latents else (train_stop or load_stop)
    if crash is not None and crash.stage not in ("load", "train") or no_data:
        if_fixed = None
        if crash is not None and all(p.batches is not None for p in plans) and batches:
            # what sd-scripts would compute once the failing files or options are fixed (images that
            # could not be bucketed left out): the figures a user plans with
            if_fixed = dict(zip(("batches_per_epoch", "steps_per_epoch", "max_train_steps", "epochs"),
                                (batches, *steps(batches, opts))))
        if crash is not None and crash.stage == "build":
            plans = [replace(p, buckets=None, batches=None) for p in plans]
        return RunFacts(tuple(plans), opts, ctx.where, tuple(stops), crash, None if crash else 0, no_data=no_data,
                        if_fixed=if_fixed, loads=loads,
                        gui_estimate=opts.gui.shown if opts.gui is not None else None)  # the GUI logged it anyway

    # the steps
    steps_per_epoch, max_steps, epochs = steps(batches, opts)
    train_samples = sum(r.num_repeats for p in plans for r in p.images if not r.is_reg)
    reg_samples = sum(r.num_repeats for p in plans for r in p.images if r.is_reg)
    alone = sum(p.train_only_batches or 0 for p in plans)
    return RunFacts(tuple(plans), opts, ctx.where, tuple(stops), crash, batches, steps_per_epoch, max_steps, epochs,
                    gui_estimate(plans, opts), reg_loss_share(train_samples, reg_samples, opts), loads=loads,
                    train_samples=train_samples, reg_samples=reg_samples, train_only_batches=alone,
                    train_only_steps=optimizer_steps(alone, opts))
