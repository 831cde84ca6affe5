"""``regaudit balance``: what sd-scripts does with the scanned datasets (sdscripts/run.py: the
registration, reg balancing, buckets, batches, steps and where it stops), judged by rules/run.py.

Everything is computed per image: the cost grows with the number of images, never with the number
of samples.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from ..model import Crash, Finding, ScanResult
from ..rules import gui_steps as gui_rules
from ..rules import images as image_rules
from ..rules import run as run_rules
from ..sdscripts.load import fails_to_load, load_error, load_failure  # noqa: F401  (re-exported)
from ..sdscripts.plan import BalanceOptions, BucketStat, DatasetPlan  # noqa: F401  (re-exported)
from ..sdscripts.registration import reg_repeats  # noqa: F401  (re-exported)
from ..sdscripts import latents
from ..sdscripts.run import simulate


@dataclass(frozen=True)
class BalancePlan:
    datasets: tuple[DatasetPlan, ...]
    options: BalanceOptions
    findings: tuple[Finding, ...]
    batches_per_epoch: int | None
    steps_per_epoch: int | None  # optimizer steps per epoch
    max_train_steps: int | None
    epochs: int | None
    gui_estimate: int | None
    reg_loss_share: float | None
    scan: ScanResult = field(repr=False, compare=False, default=None)  # type: ignore[assignment]
    crash: Crash | None = None  # the first failure sd-scripts would hit
    no_data: bool = False  # sd-scripts stops cleanly with "No data found"
    returned_early: str | None = None  # "debug_dataset": the trainer shows the dataset and returns
    if_fixed: dict | None = None  # where sd-scripts stops: its figures once the stop is fixed
    gui_note: str | None = None  # the kohya_ss GUI's figure beside the exact one, in the user's terms

    @property
    def would_crash(self) -> bool:
        return self.crash is not None


def plan(scan: ScanResult, opts: BalanceOptions) -> BalancePlan:
    """The run as sd-scripts makes it, and the findings about it after the scan's."""
    facts = simulate(scan, opts)
    run = run_rules.findings(facts)
    said = {(f.code, f.path, f.message) for f in run}  # (a stop the scan listed already: once, with its hint)
    findings = (*(f for f in scan.findings if (f.code, f.path, f.message) not in said), *run,
                *_stale_caches(facts, opts))
    return BalancePlan(facts.datasets, opts, findings, facts.batches_per_epoch, facts.steps_per_epoch,
                       facts.max_train_steps, facts.epochs, facts.gui_estimate, facts.reg_loss_share, scan, facts.crash,
                       facts.no_data, facts.returned_early, facts.if_fixed, gui_rules.gui_note(facts))


def _stale_caches(facts, opts: BalanceOptions) -> list[Finding]:
    """Images edited after the latents cache files the trainer reads with --cache_latents_to_disk (RA053)."""
    if not opts.latents_to_disk:
        return []
    images = ((r.record.abs_path, r.image_size) for p in facts.datasets for r in p.images)
    return list(image_rules.stale_cache_findings(latents.stale_caches(images, opts.trainer.cache_suffix),
                                                 opts.skip_cache_check))


def with_disk_cache(inp) -> BalanceOptions:
    """The balance options with the latents cache options of the command line (``inp``: views.inputs.Inputs)."""
    return dataclasses.replace(inp.opts, latents_to_disk=bool(inp.sd.get("cache_latents_to_disk", False)),
                               skip_cache_check=bool(inp.sd.get("skip_cache_check", False)))
