"""What a dataset command reads, from the sd-scripts part of its command line.

``read_inputs`` reads those tokens exactly as the chosen trainer's argparse would
(``sdscripts.argv``, via ``sdscripts.startup``), so a whole pasted training command works —
``accelerate launch [its options] sdxl_train_network.py --train_data_dir T ...``, ``python
train_network.py ...`` or bare options — and the trainer comes from the script name. Where
sd-scripts stops, the stop is kept as a ``Crash`` (``sdscripts.startup``); what regaudit itself
refuses (absurd numbers, nothing to read, a conflicting --trainer) raises ``RegauditError``.
"""

from __future__ import annotations

import math
import os
import shlex
from dataclasses import dataclass, field
from typing import Optional

from ..errors import RegauditError
from ..limits import MAX_RESO
from ..sdscripts import startup, trainers
from ..sdscripts.argv import _convert, options_for, split_command
from ..sdscripts.caption_options import apply, caption_args_with_fallback, check_max_token_length
from ..sdscripts.captions import normalize_extension
from ..sdscripts.config import DatasetConfigCrash, TrainingArgs
from ..sdscripts.datasets import load_specs
from ..sdscripts.step_values import KEYS as STEP_KEYS, step_values
from ..sdscripts.trainers import Kind
from .balance import BalanceOptions
from .captions import TextOptions


@dataclass
class Inputs:
    """What a dataset command reads: dataset specs, the sd-scripts values they fall back to, the
    balance options, the sources named, and where sd-scripts stops before reading any folder."""

    specs: list
    args: object  # config.TrainingArgs
    opts: object  # balance.BalanceOptions
    sources: list[str]
    sd: object  # sdargs.SdArgs
    config_crash: object = None  # config.DatasetConfigCrash
    notes: list[str] = field(default_factory=list)
    case_insensitive: bool | None = None  # the training OS's image glob (None: this machine's)
    args_crash: object = None  # a --config_file value of the wrong type: sd-scripts stops at build

    @property
    def latents_suffix(self) -> str | None:
        o = self.opts
        return o.trainer.cache_suffix if (o.trainer.cache_names_always or o.cache_latents) else None  # type: ignore


def read_inputs(raw: list[str], trainer: Optional[str], num_processes: Optional[int] = None,
                overrides: dict | None = None, require_source: bool = True,
                target_os: Optional[str] = None) -> Inputs:
    """Read the sd-scripts part of a command line (and a policy's training section, below it)
    into dataset specs and balance options."""
    if len(raw) == 1 and " " in raw[0] and ".py" in raw[0]:  # the whole command pasted as one argument
        raw = shlex.split(raw[0])
    for token in raw:
        if token.endswith(".py") and os.path.basename(token)[:-3] not in trainers.REGISTRY:
            raise RegauditError(f"'{token}' is not one of sd-scripts' trainer scripts "
                                f"({', '.join(t + '.py' for t in trainers.REGISTRY)}); name yours with --trainer")
    script, argv, launcher = split_command(raw)
    overrides = dict(overrides or {})
    name = trainer or script or overrides.pop("trainer", None) or trainers.DEFAULT
    overrides.pop("trainer", None)
    if trainer and script and trainer != script:
        raise RegauditError(f"--trainer {trainer} disagrees with the pasted script {script}.py; give one of them")
    if name not in trainers.REGISTRY:
        raise RegauditError(f"--trainer '{name}' is not an sd-scripts trainer; one of: "
                            f"{', '.join(trainers.REGISTRY)}")
    facts = trainers.get(name)
    sd, start_crash, positional = startup.parse_command_line(name, argv)
    if positional and script is not None and start_crash is None:
        # in a pasted command a bare argument is sd-scripts' "unrecognized arguments"
        start_crash = startup.unrecognized_arguments(name, positional)
    if positional and script is None:
        if len(positional) > 1 or (sd.get("train_data_dir") is not None and "train_data_dir" in sd.given):
            raise RegauditError(f"unexpected argument '{positional[-1]}': give the train folder once, as DIR or "
                                f"--train_data_dir")
        sd.values["train_data_dir"] = positional[0]
    _apply_overrides(sd, overrides)
    if num_processes is None:
        num_processes = launcher.get("num_processes", overrides.get("num_processes", 1))
    if target_os is not None and target_os not in ("linux", "windows", "macos"):
        raise RegauditError(f"--target-os '{target_os}' is not one of linux, windows, macos")
    inp = _build(facts, sd, start_crash, num_processes, require_source)
    inp.case_insensitive = None if target_os is None else target_os == "windows"
    return inp


def _apply_overrides(sd, overrides: dict) -> None:
    """A policy's training section: values below the command line, above --config_file."""
    opts = {o.dest: o for o in options_for(sd.trainer).values()}
    for key, value in overrides.items():
        if key in sd.given or key not in opts:
            continue
        opt = opts[key]
        if opt.action == "storetrue":
            sd.values[key] = bool(value)
        elif isinstance(value, (list, tuple)) and key == "resolution":
            sd.values[key] = ",".join(str(v) for v in value)
        else:
            sd.values[key] = _convert(opt, str(value))
        sd.given.add(key)


def _number(sd, dest: str, default, *, low: float | None = 0, high: float | None = None):
    """An sd-scripts number as regaudit can use it; exit 2 for a value that is not one."""
    value = sd.get(dest, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if dest in sd.from_config_file:
            raise RegauditError(f"--config_file: {dest} = {value!r} is not a number; sd-scripts fails on it "
                                f"(write {dest} = {default if default is not None else 1})")
        raise RegauditError(f"--{dest} {value!r} is not a number")
    if isinstance(value, float) and not math.isfinite(value):
        raise RegauditError(f"--{dest} {value} is not a finite number")
    if (low is not None and value < low) or (high is not None and value > high):
        rng = f"{low if low is not None else '-inf'}..{high if high is not None else 'inf'}"
        raise RegauditError(f"--{dest} {value} is outside {rng}; no training run can use it")
    return value


def _number_value(value, name: str, low: int, high: int):
    if value is None:
        return 1
    if not low <= value <= high:
        raise RegauditError(f"{name} {value} is outside {low}..{high}")
    return value


def _first(*crashes):
    return next((c for c in crashes if c is not None), None)


def _build(facts, sd, start_crash, num_processes: int, require_source: bool) -> Inputs:
    notes = []
    if sd.unknown_config_keys:
        notes.append(f"{len(sd.unknown_config_keys)} keys of the --config_file are not {facts.name}.py options; "
                     f"sd-scripts keeps them silently and they do nothing: {', '.join(sd.unknown_config_keys[:5])}")
    ext = sd.get("caption_extention") or sd.get("caption_extension", ".caption")
    resolution, res_crash = startup.resolution(sd.get("resolution"), facts.name)
    if resolution is not None and max(resolution) > MAX_RESO:
        raise RegauditError(f"--resolution {resolution[0]},{resolution[1]} is larger than {MAX_RESO} pixels on a side; "
                            f"no model trains at that size")
    if resolution is not None and min(resolution) < 0:
        raise RegauditError(f"--resolution {resolution[0]},{resolution[1]} is negative")
    big = MAX_RESO * 4
    interpolation = sd.get("resize_interpolation")
    args = TrainingArgs(
        caption_extension=normalize_extension(str(ext)),
        dataset_repeats=int(_number(sd, "dataset_repeats", 1, low=0, high=1_000_000)),
        resolution=resolution,
        train_batch_size=int(_number(sd, "train_batch_size", 1, low=0, high=65536)),
        enable_bucket=bool(sd.get("enable_bucket", False)),
        min_bucket_reso=int(_number(sd, "min_bucket_reso", 256, low=0, high=big)),
        max_bucket_reso=int(_number(sd, "max_bucket_reso", 1024, low=0, high=big)),
        bucket_reso_steps=int(_number(sd, "bucket_reso_steps", 64, low=0, high=big)),
        bucket_no_upscale=bool(sd.get("bucket_no_upscale", False)),
        color_aug=bool(sd.get("color_aug", False)),
        random_crop=bool(sd.get("random_crop", False)),
        flip_aug=bool(sd.get("flip_aug", False)),
        shuffle_caption=bool(sd.get("shuffle_caption", False)),
        caption_dropout_rate=float(_number(sd, "caption_dropout_rate", 0.0, low=None)),
        caption_tag_dropout_rate=float(_number(sd, "caption_tag_dropout_rate", 0.0, low=None)),
        token_warmup_step=_number(sd, "token_warmup_step", 0, low=None),
        enable_wildcard=bool(sd.get("enable_wildcard", False)),
        dropout_keys_allowed="textual_inversion" not in facts.name,
        validation_split=float(_number(sd, "validation_split", 0.0, low=None)),
        validation_seed=sd.get("validation_seed"),
        empty_dataset_schema=("db" if Kind.FINE_TUNING not in facts.kinds or Kind.DREAMBOOTH not in facts.kinds
                              else "cn" if sd.get("masked_loss", False) else "ft"),
        resize_interpolation=interpolation if isinstance(interpolation, str) else None,  # (else namespace_types)
        controlnet_schema=startup.controlnet_schema(facts, sd),
    )
    if args.enable_bucket and args.bucket_reso_steps and \
            (args.max_bucket_reso - args.min_bucket_reso) // args.bucket_reso_steps > 100_000:
        raise RegauditError(f"--bucket_reso_steps {args.bucket_reso_steps} between {args.min_bucket_reso} and "
                            f"{args.max_bucket_reso} makes more than 100,000 buckets; no training run uses that")
    args_crash = startup.namespace_types(sd)
    counting = step_values(sd, facts.name)
    for key in STEP_KEYS:  # the numbers the steps are counted with (where a value stops it: once it is fixed)
        sd.values[key] = getattr(counting, key)
    epochs = sd.get("max_train_epochs")
    if epochs is not None:
        epochs = _number(sd, "max_train_epochs", 1, low=0, high=10_000_000)
    accumulation = _number(sd, "gradient_accumulation_steps", 1, low=0, high=1 << 20)
    # textual inversion creates its Accelerator before its dataset, the other trainers right after it
    accelerator_first = "textual_inversion" in facts.name
    # the first stop sd-scripts makes, in its order
    start_crash = _first(start_crash, res_crash, startup.seed(sd.get("seed"), facts.name),
                         startup.output_config(sd, facts.name),
                         counting.accelerator_stop if accelerator_first else None)
    cache_latents = bool(sd.get("cache_latents", False) or sd.get("cache_latents_to_disk", False))
    cache_te = bool(sd.get("cache_text_encoder_outputs", False) or sd.get("cache_text_encoder_outputs_to_disk", False))
    if facts.name == "sd3_train" and sd.get("use_t5xxl_cache_only", False):
        cache_te = True
    opts = BalanceOptions(
        trainer=facts,
        gradient_accumulation_steps=accumulation or 1,
        max_train_epochs=epochs,
        max_train_steps=_number(sd, "max_train_steps", 1600, low=0, high=1 << 40),
        accelerator_crash=None if accelerator_first else counting.accelerator_stop,
        steps_crash=counting.count_stop,
        num_processes=int(_number_value(num_processes, "--num_processes", 1, 4096)),
        prior_loss_weight=float(_number(sd, "prior_loss_weight", 1.0, low=0, high=1e6)),
        cache_latents=cache_latents,
        random_crop=args.random_crop,
        cache_text_encoder_outputs=cache_te,
        network_train_unet_only=bool(sd.get("network_train_unet_only", False)),
        v2=bool(sd.get("v2", False)),
        debug_dataset=bool(sd.get("debug_dataset", False)),
        start_crash=start_crash,
    )
    train, reg, dataset_config = sd.get("train_data_dir"), sd.get("reg_data_dir"), sd.get("dataset_config")
    train = None if train is None else str(train)
    reg = None if reg is None else str(reg)
    dataset_config = None if dataset_config is None else str(dataset_config)
    if dataset_config is not None and (train or reg):
        notes.append("--dataset_config is given, so --train_data_dir/--reg_data_dir are ignored (as sd-scripts does)")
    if sd.get("in_json"):
        notes.append(f"--in_json {sd.get('in_json')}: fine-tuning metadata datasets are not simulated; sd-scripts "
                     f"trains on the metadata's images, not on the folders shown here")
    if require_source and train is None and reg is None and dataset_config is None and start_crash is None:
        raise RegauditError("nothing to read: give a folder (DIR or --train_data_dir), --reg_data_dir, or "
                            "--dataset_config, as in your training command")
    if Kind.DREAMBOOTH not in facts.kinds and dataset_config is None:
        notes.append(f"{facts.name}.py does not read '<repeats>_<class tokens>' folders; regaudit shows them as a "
                     f"DreamBooth trainer would and reports the stop")
    crash = None
    try:
        specs = load_specs(train, reg, dataset_config, args) if (train or reg or dataset_config) else []
    except DatasetConfigCrash as exc:
        specs, crash = [], exc
    if specs:  # every subset's caption options, resolved as sd-scripts resolves them
        specs = apply(specs, caption_args_with_fallback({}, sd.get), dataset_config)
    sources = [p for p in (dataset_config,) if p] or [p for p in (train, reg) if p]
    return Inputs(specs, args, opts, sources, sd, crash, notes,
                  args_crash=startup.dataset_kind(facts, train, dataset_config, specs, sd) or args_crash)


def text_options(inp: Inputs, max_token_length: Optional[int] = None) -> TextOptions:
    """captions.TextOptions for a command's Inputs: the trainer, --v2, --max_token_length, --max_train_steps."""
    mtl = max_token_length if max_token_length is not None else inp.sd.get("max_token_length")  # type: ignore
    return TextOptions(trainer=inp.opts.trainer.name, v2=bool(inp.opts.v2),  # type: ignore[attr-defined]
                       max_token_length=check_max_token_length(None if mtl is None else int(mtl)),
                       max_train_steps=int(inp.opts.max_train_steps))  # type: ignore[attr-defined]
