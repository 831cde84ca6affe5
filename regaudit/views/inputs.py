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
from dataclasses import dataclass, field, replace
from typing import Optional

from ..errors import RegauditError
from ..limits import MAX_RESO
from ..musubi import archs as musubi_archs
from ..sdscripts import defaults, startup, trainers
from ..rules import build as build_rules
from ..sdscripts.argv import ArgvError, _convert, match_option, options_for, script_base, split_command
from ..sdscripts.caption_options import (apply, caption_args_with_fallback, check_max_token_length,
                                         config_max_token_length)
from ..sdscripts.captions import normalize_extension
from ..sdscripts.config import DatasetConfigCrash, TrainingArgs, read_config_file
from ..sdscripts.datasets import load_specs
from ..sdscripts.gui_steps import GuiFormula, GuiSteps, gui_steps
from ..sdscripts.step_values import KEYS as STEP_KEYS, step_values
from ..sdscripts.trainers import Kind
from . import paste
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
    findings: list = field(default_factory=list)  # about the command itself (paths of another machine)

    @property
    def latents_suffix(self) -> str | None:
        o = self.opts
        return o.trainer.cache_suffix if (o.trainer.cache_names_always or o.cache_latents) else None  # type: ignore


def read_inputs(raw: list[str], trainer: Optional[str], num_processes: Optional[int] = None,
                overrides: dict | None = None, require_source: bool = True,
                target_os: Optional[str] = None) -> Inputs:
    """Read the sd-scripts part of a command line (and a policy's training section, below it)
    into dataset specs and balance options."""
    if len(raw) == 1 and any(c in raw[0] for c in " \n") and ".py" in raw[0]:  # the command as one argument
        raw = paste.split_pasted(raw[0])
    else:  # (a pasted command followed by options of its own: split in place)
        raw = paste.splice_pasted(raw)
    raw = paste.rejoin_unquoted(raw, "--config_file", ".toml")  # the GUI's log quotes no path
    for token in raw:
        if token.endswith(".py") and musubi_archs.script_role(script_base(token)):
            raise RegauditError(f"'{token}' is a musubi-tuner script: 'regaudit scan', 'balance', 'check' and "
                                "'report' read musubi commands")
        if token.endswith(".py") and script_base(token)[:-3] not in trainers.REGISTRY:
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
    argv, elsewhere = _foreign_config_file(name, argv)
    sd, start_crash, positional = startup.parse_command_line(name, argv)
    elsewhere += _foreign_values(sd)
    if elsewhere and require_source and not any(sd.get(k) for k in ("train_data_dir", "reg_data_dir", "dataset_config")):
        raise RegauditError("nothing to read on this machine: " + "; ".join(f"{w} {v}" for w, v in elsewhere)
                            + " cannot exist here; run regaudit on the machine that trains, or give the local paths")
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
    target_os = None if target_os is None else target_os.lower()  # ('Windows', 'macOS' as people write them)
    if target_os is not None and target_os not in ("linux", "windows", "macos"):
        raise RegauditError(f"--target-os '{target_os}' is not one of linux, windows, macos")
    inp = _build(facts, sd, start_crash, num_processes, require_source and not elsewhere)
    if elsewhere:
        inp.findings.append(build_rules.foreign_paths(elsewhere, sd.trainer))
    inp.case_insensitive = None if target_os is None else target_os == "windows"
    return inp


PATH_KEYS = ("train_data_dir", "reg_data_dir", "dataset_config", "in_json", "conditioning_data_dir")


def _foreign_config_file(trainer: str, argv: list[str]) -> tuple[list[str], list[tuple[str, str]]]:
    """argv without a --config_file that cannot exist on this machine (a Windows path on Linux),
    and that path: regaudit names it rather than report sd-scripts' 'not found'."""
    out, found, k = [], [], 0
    while k < len(argv):
        token = argv[k]
        try:
            opt, explicit = match_option(trainer, token) if token.startswith("--") else (None, None)
        except ArgvError:
            opt, explicit = None, None
        if opt is not None and opt.dest == "config_file":
            value = explicit if explicit is not None else (argv[k + 1] if k + 1 < len(argv) else "")
            if value and paste.foreign(value):
                found.append(("--config_file", value))
                k += 1 if explicit is not None else 2
                continue
        out.append(token)
        k += 1
    return out, found


def _foreign_values(sd) -> list[tuple[str, str]]:
    """The dataset paths (command line or --config_file) that cannot exist on this machine: left
    out (as if not given), and named."""
    found = []
    for key in PATH_KEYS:
        value = sd.get(key)
        if isinstance(value, (str, os.PathLike)) and paste.foreign(str(value)):
            found.append((f"--{key}" if key in sd.given else f"{key} (--config_file)", str(value)))
            sd.values[key] = None
    return found


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
    if dest in sd.from_config_file and dest not in sd.given and isinstance(value, bool) and low is not None:
        value = int(value)  # the schema takes a bool for an int (voluptuous: bool is an int)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if dest in sd.from_config_file and startup.schema_checked(dest):
            return default  # sd-scripts' schema check stops on it while it builds (startup.namespace_types)
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


GUI_ONLY_KEYS = ("epoch", "noise_offset_type")  # the kohya_ss GUI writes them for itself (lora_gui.py)


def _config_key_notes(unknown: list[str], trainer: str) -> list[str]:
    """One note for the --config_file keys the trainer has no option for (sd-scripts keeps them in
    its namespace and nothing reads them), naming the GUI's own keys and a byte-order mark."""
    if not unknown:
        return []
    notes = []
    bom = [k for k in unknown if k.startswith("\ufeff")]
    if bom:  # toml 0.10.2 keeps the BOM as part of the first key
        key = bom[0][1:]
        notes.append(f"the --config_file starts with a UTF-8 byte-order mark: sd-scripts' TOML reader takes its first "
                     f"key as '\\ufeff{key}', so {key} is ignored; save the file as UTF-8 without BOM")
    rest = [k for k in unknown if k not in bom]
    gui = [k for k in rest if k in GUI_ONLY_KEYS]
    other = [k for k in rest if k not in GUI_ONLY_KEYS]
    if other:  # each key named once (the GUI's own keys apart: they are expected there)
        n = len(other)
        notes.append(f"{n} {'key' if n == 1 else 'keys'} of the --config_file {'is' if n == 1 else 'are'} not "
                     f"{'a ' if n == 1 else ''}{trainer}.py {'option' if n == 1 else 'options'}: sd-scripts keeps "
                     f"{'it' if n == 1 else 'them'} silently and nothing reads {'it' if n == 1 else 'them'}: "
                     f"{', '.join(other[:8])}{' …' if n > 8 else ''}")
    if gui:
        notes.append(f"{', '.join(gui)}: kohya_ss GUI settings, not {trainer}.py options; "
                     f"sd-scripts ignores {'it' if len(gui) == 1 else 'them'}")
    return notes


def _build(facts, sd, start_crash, num_processes: int, require_source: bool) -> Inputs:
    notes = []
    notes += _config_key_notes(sd.unknown_config_keys, facts.name)
    ext = sd.get("caption_extention") or sd.get("caption_extension", defaults.CAPTION_EXTENSION)
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
        dataset_repeats=int(_number(sd, "dataset_repeats", defaults.DATASET_REPEATS, low=0, high=1_000_000)),
        resolution=resolution,
        train_batch_size=int(_number(sd, "train_batch_size", defaults.TRAIN_BATCH_SIZE, low=0, high=65536)),
        enable_bucket=bool(sd.get("enable_bucket", False)),
        min_bucket_reso=int(_number(sd, "min_bucket_reso", defaults.MIN_BUCKET_RESO, low=0, high=big)),
        max_bucket_reso=int(_number(sd, "max_bucket_reso", defaults.MAX_BUCKET_RESO, low=0, high=big)),
        bucket_reso_steps=int(_number(sd, "bucket_reso_steps", defaults.BUCKET_RESO_STEPS, low=0, high=big)),
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
        # train_util: ConfigSanitizer(DreamBooth?, fine-tuning?, --masked_loss or ControlNet, dropout?)
        support_dreambooth=Kind.DREAMBOOTH in facts.kinds,
        support_finetuning=Kind.FINE_TUNING in facts.kinds,
        support_controlnet=Kind.CONTROLNET in facts.kinds or (Kind.DREAMBOOTH in facts.kinds
                                                              and bool(sd.get("masked_loss", False))),
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
    accumulation = _number(sd, "gradient_accumulation_steps", defaults.GRADIENT_ACCUMULATION_STEPS, low=0,
                           high=1 << 20)
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
        max_train_steps=_number(sd, "max_train_steps", defaults.MAX_TRAIN_STEPS, low=0, high=1 << 40),
        accelerator_crash=None if accelerator_first else counting.accelerator_stop,
        steps_crash=counting.count_stop,
        num_processes=int(_number_value(num_processes, "--num_processes", 1, 4096)),
        prior_loss_weight=float(_number(sd, "prior_loss_weight", defaults.PRIOR_LOSS_WEIGHT, low=0, high=1e6)),
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
    opts = replace(opts, gui=_gui_steps(sd, args, train, reg, dataset_config, epochs, accumulation))
    if dataset_config is not None and (train or reg):
        notes.append("--dataset_config is given, so --train_data_dir/--reg_data_dir are ignored (as sd-scripts does)")
    in_json = str(sd.get("in_json")) if sd.get("in_json") and Kind.FINE_TUNING in facts.kinds else None
    if require_source and train is None and reg is None and dataset_config is None and in_json is None \
            and start_crash is None:
        raise RegauditError("nothing to read: give a folder (DIR or --train_data_dir), --reg_data_dir, or "
                            "--dataset_config, as in your training command")
    if Kind.DREAMBOOTH not in facts.kinds and dataset_config is None and in_json is None:
        notes.append(f"{facts.name}.py does not read '<repeats>_<class tokens>' folders; regaudit shows them as a "
                     f"DreamBooth trainer would and reports the stop")
    crash = None
    data = None  # the dataset config as read (once: 100,000 datasets take a while to parse)
    try:
        data = read_config_file(dataset_config) if dataset_config is not None else None
        specs = load_specs(train, reg, dataset_config, args, in_json, data) \
            if (train or reg or dataset_config or in_json) else []
    except DatasetConfigCrash as exc:
        specs, crash = [], exc
    if specs:  # every subset's caption options, resolved as sd-scripts resolves them
        specs = apply(specs, caption_args_with_fallback({}, startup.schema_typed(sd)), dataset_config, data)
    sources = [p for p in (dataset_config,) if p] or ([in_json] if in_json else [p for p in (train, reg) if p])
    return Inputs(specs, args, opts, sources, sd, crash, notes,
                  args_crash=startup.dataset_kind(facts, train, dataset_config, specs, sd) or args_crash)


def _gui_steps(sd, args, train, reg, dataset_config, epochs, accumulation):
    """The kohya_ss GUI's figure (sdscripts.gui_steps) for this command: its ``epoch`` key where the
    GUI wrote the --config_file, else --max_train_epochs (or 1)."""
    epoch = sd.values.get("epoch") if "epoch" in sd.from_config_file else None
    from_config = isinstance(epoch, int) and not isinstance(epoch, bool)
    written = sd.values.get("max_train_steps") if "max_train_steps" in sd.from_config_file else 0
    printed = written if isinstance(written, int) and not isinstance(written, bool) else None
    if not from_config and "noise_offset_type" in sd.from_config_file:
        # the GUI wrote it, from the fine-tune tab, which writes no epoch: its figure is read back, not worked again
        formula = (GuiFormula.DATASET_CONFIG if dataset_config else GuiFormula.FINE_TUNE if sd.get("in_json")
                   else GuiFormula.FOLDERS)
        return GuiSteps(formula, None, 0, from_config=True, printed=printed)
    g = gui_steps(train_data_dir=train, reg_data_dir=reg, dataset_config=dataset_config,
                  in_json=sd.get("in_json") or None, batch=args.train_batch_size, accumulation=accumulation,
                  epoch=epoch if from_config else (epochs or 1), dataset_repeats=args.dataset_repeats,
                  flip_aug=args.flip_aug, from_config=from_config)
    if g is not None and from_config:  # the GUI writes what it printed; it leaves out a 0
        g = replace(g, printed=printed)
    return g


def text_options(inp: Inputs, max_token_length: Optional[int] = None) -> TextOptions:
    """captions.TextOptions for a command's Inputs: the trainer, --v2, --max_token_length, --max_train_steps."""
    sd = inp.sd
    if max_token_length is not None or "max_token_length" in sd.given:  # type: ignore[attr-defined]
        # regaudit's own option, or sd-scripts' argparse (its choices already checked)
        mtl = check_max_token_length(max_token_length if max_token_length is not None else sd.get("max_token_length"))
    else:  # from --config_file: no argparse check; the tokenizer takes whatever int it is given
        mtl = config_max_token_length(sd.get("max_token_length"))  # type: ignore[attr-defined]
    return TextOptions(trainer=inp.opts.trainer.name, v2=bool(inp.opts.v2),  # type: ignore[attr-defined]
                       max_token_length=mtl,
                       max_train_steps=int(inp.opts.max_train_steps))  # type: ignore[attr-defined]
