"""Options shared by several commands, declared once.

``@training_options`` adds sd-scripts' dataset and training options to a command (balance,
check, smoke, report) and hands them over as one ``TrainingCLI`` value; ``inputs()`` merges them
with a policy's training section and an sd-scripts --config_file into dataset specs and balance
options.
"""

from __future__ import annotations

import functools
import inspect
import typing
from contextlib import contextmanager
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from ..captions import normalize_extension
from ..config import TrainingArgs
from ..errors import RegauditError
from .app import note, stderr

TRAIN_OPT = typer.Option(None, "--train", "--train_data_dir", "--train-data-dir", metavar="DIR",
                         help="sd-scripts train_data_dir: a folder of '<repeats>_<class tokens>' subfolders.")
REG_OPT = typer.Option(None, "--reg", "--reg_data_dir", "--reg-data-dir", metavar="DIR",
                       help="sd-scripts reg_data_dir (regularization images).")
CONFIG_OPT = typer.Option(None, "--dataset-config", "--dataset_config", metavar="FILE",
                          help="sd-scripts dataset config (.toml or .json); --train/--reg are then ignored.")
CAPTION_OPT = typer.Option(".caption", "--caption-extension", "--caption_extension", "--caption_extention",
                           metavar="EXT", help="Caption file extension, as sd-scripts' --caption_extension.")
JSON_OPT = typer.Option(False, "--json", help="Write the result as JSON on stdout.")
JOBS_OPT = typer.Option(None, "--jobs", "-j", min=1, help="Worker processes (default: all cores).")
PROGRESS_OPT = typer.Option(True, "--progress/--no-progress", help="Progress bar on stderr (terminal only).")
FOLDER_ARG = typer.Argument(None, metavar="[DIR]", help="A train_data_dir-style root.")
HASH_OPT = typer.Option("phash", "--hash", help="Perceptual hash: phash, dhash, whash or ahash.")
DIST_OPT = typer.Option(None, "--max-distance", "--max_distance", min=0, max=32,
                        help="Largest Hamming distance (of 64 bits) that counts as a near duplicate "
                             "(default 8, measured in benchmarks/dupes.py).")
FLIP_OPT = typer.Option(False, "--flip-aug", "--flip_aug", help="Mirror images count as duplicates (sd-scripts flip_aug).")
CACHE_PATH_OPT = typer.Option(None, "--cache", metavar="PATH", help="Hash cache file (default: user cache dir).")
NO_CACHE_OPT = typer.Option(False, "--no-cache", help="Neither read nor write the hash cache.")
EXTRA_ARGS = {"allow_extra_args": True, "ignore_unknown_options": True}


@dataclass(frozen=True)
class TrainingCLI:
    """The dataset and training options as given on the command line (None: not given)."""

    train: Optional[str] = None
    reg: Optional[str] = None
    dataset_config: Optional[str] = None
    config_file: Optional[str] = None
    caption_extension: Optional[str] = None
    resolution: Optional[str] = None
    enable_bucket: bool = False
    min_bucket_reso: Optional[int] = None
    max_bucket_reso: Optional[int] = None
    bucket_reso_steps: Optional[int] = None
    bucket_no_upscale: bool = False
    train_batch_size: Optional[int] = None
    gradient_accumulation_steps: Optional[int] = None
    max_train_epochs: Optional[int] = None
    max_train_steps: Optional[int] = None
    prior_loss_weight: Optional[float] = None
    num_processes: Optional[int] = None
    cache_latents: bool = False
    random_crop: bool = False
    trainer: Optional[str] = None

    def any_training_option(self) -> bool:
        skip = {"train", "reg", "dataset_config", "caption_extension", "trainer"}
        return any(getattr(self, f.name) not in (None, False) for f in fields(self) if f.name not in skip)


_OPTIONS = {
    "train": TRAIN_OPT,
    "reg": REG_OPT,
    "dataset_config": CONFIG_OPT,
    "config_file": typer.Option(None, "--config-file", "--config_file", metavar="FILE",
                                help="sd-scripts training-arguments TOML; its dataset keys are read."),
    "caption_extension": typer.Option(None, "--caption-extension", "--caption_extension", "--caption_extention",
                                      metavar="EXT", help="Caption file extension (default .caption)."),
    "resolution": typer.Option(None, "--resolution", metavar="N|W,H", help="Training resolution (sd-scripts requires it)."),
    "enable_bucket": typer.Option(False, "--enable_bucket", "--enable-bucket", help="Aspect-ratio bucketing."),
    "min_bucket_reso": typer.Option(None, "--min_bucket_reso", "--min-bucket-reso", help="Default 256."),
    "max_bucket_reso": typer.Option(None, "--max_bucket_reso", "--max-bucket-reso", help="Default 1024."),
    "bucket_reso_steps": typer.Option(None, "--bucket_reso_steps", "--bucket-reso-steps", help="Default 64."),
    "bucket_no_upscale": typer.Option(False, "--bucket_no_upscale", "--bucket-no-upscale",
                                      help="Buckets per image, no upscaling."),
    "train_batch_size": typer.Option(None, "--train_batch_size", "--train-batch-size", help="Default 1."),
    "gradient_accumulation_steps": typer.Option(None, "--gradient_accumulation_steps", "--gradient-accumulation-steps",
                                                help="Default 1."),
    "max_train_epochs": typer.Option(None, "--max_train_epochs", "--max-train-epochs", help="Epochs (overrides steps)."),
    "max_train_steps": typer.Option(None, "--max_train_steps", "--max-train-steps", help="Default 1600."),
    "prior_loss_weight": typer.Option(None, "--prior_loss_weight", "--prior-loss-weight", help="Default 1.0."),
    "num_processes": typer.Option(None, "--num_processes", "--num-processes",
                                  help="GPUs/processes (accelerate); default 1."),
    "cache_latents": typer.Option(False, "--cache_latents", "--cache-latents", help="Latents cached (images are resized)."),
    "random_crop": typer.Option(False, "--random_crop", "--random-crop", help="random_crop is on for the subsets."),
    "trainer": typer.Option(None, "--trainer",
                            help="sd-scripts script (sets the bucket_reso_steps multiple): train_network (default), "
                                 "train_db, sdxl_train_network, sdxl_train, sd3_train_network, flux_train_network, "
                                 "flux_train, lumina_train, lumina_train_network, sd3_train."),
}
_TYPES = typing.get_type_hints(TrainingCLI)


def training_options(func):
    """Add every TrainingCLI option to a command; the command receives them as ``training``."""
    sig = inspect.signature(func)
    own = [p for p in sig.parameters.values() if p.name != "training"]
    added = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=opt, annotation=_TYPES[name])
             for name, opt in _OPTIONS.items()]
    positional = [p for p in own if p.kind is not inspect.Parameter.KEYWORD_ONLY]
    keyword = [p for p in own if p.kind is inspect.Parameter.KEYWORD_ONLY]

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        training = TrainingCLI(**{name: kwargs.pop(name) for name in _OPTIONS})
        return func(*args, training=training, **kwargs)

    wrapper.__signature__ = sig.replace(parameters=positional + added + keyword)
    wrapper.__annotations__ = {**{p.name: p.annotation for p in own}, **{p.name: p.annotation for p in added}}
    return wrapper


@contextmanager
def progress_bar(enabled: bool, label: str):
    if not (enabled and stderr.is_terminal):
        yield None
        return
    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=stderr, transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def resolve_roots(folder: Optional[str], train: Optional[str]) -> Optional[str]:
    if folder is not None and train is not None:
        raise RegauditError("give the train folder either as DIR or as --train, not both")
    return folder if folder is not None else train


def root_inputs(folder: Optional[str], train: Optional[str], reg: Optional[str], dataset_config: Optional[str],
                caption_extension: str):
    """Dataset specs and sources for the commands that take DIR/--train/--reg/--dataset-config only."""
    from ..scan import load_specs

    train = resolve_roots(folder, train)
    specs = load_specs(train, reg, dataset_config, TrainingArgs(caption_extension=caption_extension))
    return specs, [p for p in (train, reg, dataset_config) if p]


def _pick(cli_value, cfg: dict, key: str, default):
    """Command line first, then the policy / --config_file, then sd-scripts' default."""
    if cli_value is not None:
        return cli_value
    return cfg.get(key, default)


def inputs(ctx: typer.Context, t: TrainingCLI, overrides: dict | None = None):
    """Merge command line, ``overrides`` (a policy's training section) and --config_file, in that
    order of precedence, into (dataset specs, training args, balance options, sources)."""
    from ..balance import BalanceOptions, Trainer
    from ..scan import load_specs
    from ..training_args import parse_resolution, read_training_config

    cfg: dict = {}
    if t.config_file is not None:
        cf = read_training_config(t.config_file)
        cfg = cf.values
        if cf.ignored:
            note(f"{len(cf.ignored)} keys of {t.config_file} do not change the dataset and are ignored")
    cfg = {**cfg, **(overrides or {})}
    if ctx.args:
        note(f"ignoring options that do not change the dataset: {' '.join(ctx.args)}")
    trainer = t.trainer or cfg.get("trainer", "train_network")
    if trainer not in {x.value for x in Trainer}:
        raise RegauditError(f"--trainer '{trainer}' is not one of: {', '.join(x.value for x in Trainer)}")
    # in each place the misspelt caption_extention wins, as in sd-scripts
    ext = t.caption_extension if t.caption_extension is not None else cfg.get(
        "caption_extention", cfg.get("caption_extension", ".caption"))
    args = TrainingArgs(
        caption_extension=normalize_extension(str(ext)),
        dataset_repeats=int(cfg.get("dataset_repeats", 1)),
        resolution=parse_resolution(_pick(t.resolution, cfg, "resolution", None)),
        train_batch_size=int(_pick(t.train_batch_size, cfg, "train_batch_size", 1)),
        enable_bucket=bool(t.enable_bucket or cfg.get("enable_bucket", False)),
        min_bucket_reso=int(_pick(t.min_bucket_reso, cfg, "min_bucket_reso", 256)),
        max_bucket_reso=int(_pick(t.max_bucket_reso, cfg, "max_bucket_reso", 1024)),
        bucket_reso_steps=int(_pick(t.bucket_reso_steps, cfg, "bucket_reso_steps", 64)),
        bucket_no_upscale=bool(t.bucket_no_upscale or cfg.get("bucket_no_upscale", False)),
    )
    accumulation = int(_pick(t.gradient_accumulation_steps, cfg, "gradient_accumulation_steps", 1))
    processes = int(_pick(t.num_processes, cfg, "num_processes", 1))
    for name, value in (("--train_batch_size", args.train_batch_size), ("--gradient_accumulation_steps", accumulation),
                        ("--num_processes", processes)):
        if value < 1:
            raise RegauditError(f"{name} must be at least 1, got {value}")
    opts = BalanceOptions(
        trainer=Trainer(trainer),
        gradient_accumulation_steps=accumulation,
        max_train_epochs=_pick(t.max_train_epochs, cfg, "max_train_epochs", None),
        max_train_steps=int(_pick(t.max_train_steps, cfg, "max_train_steps", 1600)),
        num_processes=processes,
        prior_loss_weight=float(_pick(t.prior_loss_weight, cfg, "prior_loss_weight", 1.0)),
        cache_latents=bool(t.cache_latents or cfg.get("cache_latents", False)),
        random_crop=bool(t.random_crop or cfg.get("random_crop", False)),
    )
    train = _pick(t.train, cfg, "train_data_dir", None)
    reg = _pick(t.reg, cfg, "reg_data_dir", None)
    dataset_config = _pick(t.dataset_config, cfg, "dataset_config", None)
    if dataset_config is not None and (train or reg):
        note("--dataset_config is given, so --train_data_dir/--reg_data_dir are ignored (as sd-scripts does)")
    specs = load_specs(train, reg, dataset_config, args)
    sources = [p for p in (dataset_config,) if p] or [p for p in (train, reg) if p]
    return specs, args, opts, sources


def dupes_options(hash_kind: str, max_distance: Optional[int], flip_aug: bool, cache: Optional[str],
                  no_cache: bool, jobs: Optional[int], specs, sources):
    """Duplicate-detection options; the cache may not lie inside any folder of the dataset."""
    from ..dedupe import DEFAULT_MAX_DISTANCE, DupesOptions
    from ..hashcache import check_outside, default_path
    from ..hashing import HashKind

    if hash_kind not in {h.value for h in HashKind}:
        raise RegauditError(f"--hash '{hash_kind}' is not one of: {', '.join(h.value for h in HashKind)}")
    cache_path = None if no_cache else Path(cache) if cache else default_path()
    if cache_path is not None:
        check_outside(cache_path, list(sources) + [s.image_dir for spec in specs for s in spec.subsets])
    return DupesOptions(HashKind(hash_kind), DEFAULT_MAX_DISTANCE if max_distance is None else max_distance,
                        flip_aug, cache_path, jobs)
