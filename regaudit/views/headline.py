"""The verdict every dataset command prints first: whether sd-scripts runs or where it stops, its
steps and real epochs, and what it drops (image files it never reads, reg images it never uses).

Computed here from a scan or a balance plan, so that the renderers only put it into words."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from ..model import Crash, Finding, ScanResult, Severity
from ..sdscripts.layout import looks_like_image
from .balance import BalancePlan

# the options of a command that only say where the dataset is: with nothing else, no run is planned
DATASET_KEYS = frozenset({"train_data_dir", "reg_data_dir", "dataset_config", "caption_extension",
                          "caption_extention"})


class Stage(str, Enum):
    """Where sd-scripts stops, in its own order."""

    START = "start"  # its command line and the checks before the build
    BUILD = "build"  # while it builds the dataset and its buckets
    NO_DATA = "no_data"  # 'No data found' after the build: it returns, nothing is trained
    CACHE = "cache"  # an image fails while latents are cached (--cache_latents), before step 1
    LOAD = "load"  # an image fails when the first batches load it
    TRAIN = "train"  # when training starts (range(max_train_steps))


@dataclass(frozen=True)
class Headline:
    trainer: str | None  # the training script's name when a run was planned; None: the scan alone
    stage: Stage | None  # where it stops; None: it runs
    crash: Crash | None
    images: int  # images read
    subsets: int
    steps: int | None  # max_train_steps (once the stop is fixed, where it stops before counting them)
    epochs: float | None  # the real epochs those steps make: max_train_steps / optimizer steps per epoch
    batches_per_epoch: int | None
    ignored_images: int  # image files sd-scripts never reads
    unused_reg: int  # reg images the balancing never uses
    errors: int  # errors among the findings the command lists
    returned_early: str | None = None  # "debug_dataset": it shows the dataset and returns
    headers_read: bool = True  # False: the images were only listed (no header, no stop of theirs known)
    all_errors: int = 0  # errors among all the findings of the scan (and plan): a command may list only some

    @property
    def runs(self) -> bool:
        return self.stage is None and self.returned_early is None


def _ignored_images(scan: ScanResult) -> int:
    return sum(1 for i in scan.ignored if i.kind == "file" and looks_like_image(i.path))


def _errors(findings) -> int:
    return sum(1 for f in findings if f.severity is Severity.ERROR)


def _command_line_stop(scan: ScanResult) -> Crash | None:
    """The scan's RA077 (sd-scripts' argparse rejects the command line), as the stop it is."""
    f: Finding | None = next((f for f in scan.findings if f.code == "RA077"), None)
    return None if f is None else Crash("start", f.code, "SystemExit", f.path, f.message)


def of_scan(scan: ScanResult, findings=None, headers_read: bool = True) -> Headline:
    """Without a training command: what the scan alone knows (no steps)."""
    crash = _command_line_stop(scan) or scan.crash
    stage = None if crash is None else Stage.START if crash.stage == "start" else Stage.BUILD
    images = sum(len(s.images) for s in scan.subsets)
    if crash is None and not any(s.images for s in scan.subsets if not s.config.is_reg) and headers_read:
        stage = Stage.NO_DATA
    listed = _errors(scan.findings if findings is None else findings)
    return Headline(None, stage, crash, images, len(scan.subsets), None, None, None, _ignored_images(scan), 0,
                    listed, headers_read=headers_read, all_errors=max(listed, _errors(scan.findings)))


def of_plan(plan: BalancePlan, findings=None) -> Headline:
    """From the balance plan: where the run stops, its steps and real epochs, what it drops."""
    scan = plan.scan
    c = plan.crash
    if plan.no_data:
        stage: Stage | None = Stage.NO_DATA
    elif c is None:
        stage = None
    elif c.stage == "load":
        stage = Stage.CACHE if plan.options.cache_latents else Stage.LOAD
    else:
        stage = Stage(c.stage)
    steps, per_epoch, batches = plan.max_train_steps, plan.steps_per_epoch, plan.batches_per_epoch
    if stage in (Stage.START, Stage.BUILD) and plan.if_fixed:
        f = plan.if_fixed
        steps, per_epoch, batches = f["max_train_steps"], f["steps_per_epoch"], f["batches_per_epoch"]
    epochs = steps / per_epoch if steps is not None and per_epoch else None
    images = sum(len(s.images) for s in scan.subsets) if scan is not None else 0
    listed = _errors(plan.findings if findings is None else findings)
    return Headline(plan.options.trainer.name, stage, c, images, 0 if scan is None else len(scan.subsets),
                    steps if isinstance(steps, int) else None, epochs, batches,
                    0 if scan is None else _ignored_images(scan), sum(len(d.unused_reg) for d in plan.datasets),
                    listed, plan.returned_early, all_errors=max(listed, _errors(plan.findings)))


def wants_plan(inp, scan: ScanResult) -> bool:
    """Whether the command line says more than where the dataset is (a training command was pasted):
    then the run is planned (steps, buckets, where it stops); else the scan alone answers."""
    return bool((set(inp.sd.given) - DATASET_KEYS) or inp.sd.from_config_file or inp.opts.start_crash is not None
                or any(d.params.resolution for d in scan.datasets))


def headline(inp, scan: ScanResult, findings=None, headers_read: bool = True) -> Headline:
    """The verdict of a command that scanned ``inp`` (planning the run when a training command was given)."""
    if headers_read and wants_plan(inp, scan):
        from .balance import plan, with_disk_cache

        return of_plan(plan(scan, with_disk_cache(inp)), findings)
    return of_scan(scan, findings, headers_read)
