"""One parser for every command that reads a dataset.

regaudit's own options (``--json``, ``--jobs``, ``--trainer`` ...) are declared on each Typer
command. Everything else on the command line is sd-scripts': ``app.main`` takes those tokens out
before Typer sees them (``partition``), and ``inputs()`` reads them exactly as the chosen trainer's
argparse would (``regaudit.sdargs``), so a whole pasted training command works —
``accelerate launch [its options] sdxl_train_network.py --train_data_dir T ...``, ``python
train_network.py ...`` or bare options — and the trainer comes from the script name.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import typer

from ..errors import RegauditError
from .app import note, stderr

JSON_OPT = typer.Option(False, "--json", help="Write the result as JSON on stdout.")
JOBS_OPT = typer.Option(None, "--jobs", "-j", min=1, help="Worker processes (default: all cores).")
PROGRESS_OPT = typer.Option(True, "--progress/--no-progress", help="Progress bar on stderr (terminal only).")
TRAINER_OPT = typer.Option(None, "--trainer", metavar="SCRIPT",
                           help="sd-scripts trainer script (default train_network, or the SCRIPT.py of a pasted "
                                "command): train_network, sdxl_train_network, sd3_train_network, flux_train_network, "
                                "lumina_train_network, train_db, fine_tune, sdxl_train, sd3_train, flux_train, "
                                "lumina_train, train_textual_inversion, sdxl_train_textual_inversion, "
                                "train_control_net, sdxl_train_control_net.")
PROCESSES_OPT = typer.Option(None, "--num_processes", "--num-processes", metavar="N",
                             help="accelerate processes (GPUs); default 1, or accelerate launch's --num_processes.")
HASH_OPT = typer.Option("phash", "--hash", help="Perceptual hash: phash, dhash, whash or ahash.")
DIST_OPT = typer.Option(None, "--max-distance", "--max_distance", min=0, max=32,
                        help="Largest Hamming distance (of 64 bits) that counts as a near duplicate "
                             "(default 8, measured in benchmarks/dupes.py).")
TARGET_OS_OPT = typer.Option(None, "--target-os", metavar="OS",
                             help="linux | windows | macos: the OS that will train (its image glob is case-sensitive "
                                  "except on Windows); default: this machine.")
CACHE_PATH_OPT = typer.Option(None, "--cache", metavar="PATH", help="Hash cache file (default: user cache dir).")
NO_CACHE_OPT = typer.Option(False, "--no-cache", help="Neither read nor write the hash cache.")

SD_EPILOG = ("Any sd-scripts option of the chosen trainer is read as that script's argparse reads it "
             "(unique prefixes included): --train_data_dir/--train DIR, --reg_data_dir/--reg DIR, --dataset_config, "
             "--config_file, --resolution, --enable_bucket, --caption_extension, --max_train_epochs, ... "
             "A whole 'accelerate launch SCRIPT.py ...' command may be pasted. An option the trainer does not know is "
             "reported as the stop it causes in sd-scripts.")

# commands whose non-own options are sd-scripts'
DATASET_COMMANDS = frozenset({"scan", "balance", "dupes", "check", "smoke", "report", "captions"})
_ALIASES = {"--train": "--train_data_dir", "--reg": "--reg_data_dir"}


def partition(command, argv: list[str]) -> tuple[list[str], list[str]]:
    """Split a dataset command's arguments into (regaudit's own, sd-scripts'). ``command`` is the
    click command; an own option is matched exactly (with its value)."""
    takes_value: dict[str, bool] = {}
    for param in command.params:
        if getattr(param, "param_type_name", "") != "option":
            continue
        for opt in list(param.opts) + list(param.secondary_opts):
            takes_value[opt] = not (param.is_flag or param.count)
    takes_value["--help"] = False
    own, sd = [], []
    pasted = False  # after SCRIPT.py the options are sd-scripts' exactly as typed: no aliases, no kebab-case
    k = 0
    while k < len(argv):
        token = argv[k]
        name, eq, _ = token.partition("=")
        short = token[:2] if len(token) > 2 and token[0] == "-" and token[1] != "-" else None
        if token in takes_value or (eq and name in takes_value and takes_value[name]):
            own.append(token)
            if token in takes_value and takes_value[token] and k + 1 < len(argv):
                own.append(argv[k + 1])
                k += 1
        elif short is not None and takes_value.get(short):  # '-j2'
            own.append(token)
        else:
            if token.endswith(".py"):
                pasted = True
            sd.append(token if pasted else _spelling(token))
        k += 1
    return own, sd


def _spelling(token: str) -> str:
    """regaudit's aliases and kebab-case for sd-scripts' options ('--train' -> '--train_data_dir',
    '--enable-bucket' -> '--enable_bucket')."""
    if not token.startswith("--") or len(token) < 3:
        return token
    name, eq, value = token.partition("=")
    name = _ALIASES.get(name, name)
    if "-" in name[2:]:
        name = "--" + name[2:].replace("-", "_")
    return name + eq + value


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


def sd_argv(ctx: typer.Context) -> list[str]:
    return list((ctx.obj or {}).get("sd_argv", []))


def inputs(ctx: typer.Context, trainer: Optional[str], num_processes: Optional[int] = None,
           overrides: dict | None = None, require_source: bool = True, target_os: Optional[str] = None) -> Inputs:
    """Read the sd-scripts part of the command line (and a policy's training section, below it)
    into dataset specs and balance options."""
    from ..sdscripts import trainers
    from ..model import Crash
    from ..sdscripts.argv import split_command

    raw = sd_argv(ctx)
    if len(raw) == 1 and " " in raw[0] and ".py" in raw[0]:  # the whole command pasted as one argument
        import shlex

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
    folder: Optional[str] = None
    start_crash = None
    sd, stop, positional = _parse(name, argv)
    if stop is not None:
        start_crash = stop
    if positional and script is not None and start_crash is None:
        # in a pasted command a bare argument is sd-scripts' "unrecognized arguments"
        start_crash = Crash("start", "RA077", "SystemExit", os.getcwd(),
                            f"{name}.py stops on its command line: unrecognized arguments: {' '.join(positional)}")
    if positional and script is None:
        if len(positional) > 1 or (sd.get("train_data_dir") is not None and "train_data_dir" in sd.given):
            raise RegauditError(f"unexpected argument '{positional[-1]}': give the train folder once, as DIR or "
                                f"--train_data_dir")
        folder = positional[0]
        sd.values["train_data_dir"] = folder
    _apply_overrides(sd, overrides)
    if num_processes is None:
        num_processes = launcher.get("num_processes", overrides.get("num_processes", 1))
    if target_os is not None and target_os not in ("linux", "windows", "macos"):
        raise RegauditError(f"--target-os '{target_os}' is not one of linux, windows, macos")
    inp = _build(facts, sd, start_crash, num_processes, require_source)
    inp.case_insensitive = None if target_os is None else target_os == "windows"
    return inp


def _parse(trainer: str, argv: list[str]):
    """(SdArgs, the stop sd-scripts makes on this command line or None, positional tokens). Where
    sd-scripts stops, the offending tokens are left out and the rest is still read, so the
    dataset can be shown."""
    from ..model import Crash
    from ..sdscripts.argv import ArgvError, parse, positionals

    where = set(positionals(trainer, argv))
    positional = [t for k, t in enumerate(argv) if k in where]
    rest = [t for k, t in enumerate(argv) if k not in where]
    stop = None
    for _ in range(len(rest) + 2):
        try:
            return parse(trainer, rest, os.getcwd()), stop, positional
        except ArgvError as exc:
            if stop is None:
                hint = f" (did you mean {exc.suggestion}?)" if exc.suggestion else ""
                where = os.path.abspath(str(exc.path)) if exc.path else os.getcwd()
                stop = Crash("start", "RA077", exc.exception, where,
                             f"{trainer}.py stops on its command line: {exc}{hint}")
            if exc.unknown:
                bad = set(exc.unknown)
                rest = [t for t in rest if t not in bad]
            elif exc.option == "--config_file":
                rest = [t for t in rest if not t.startswith("--config")]
            elif exc.option and any(t == exc.option or t.startswith(exc.option + "=") for t in rest):
                rest = _drop(rest, exc.option)
            else:
                rest = []
    return parse(trainer, [], os.getcwd()), stop, positional


def _drop(argv: list[str], option: str) -> list[str]:
    out, k = [], 0
    while k < len(argv):
        t = argv[k]
        if t == option or t.startswith(option + "="):
            if "=" not in t and k + 1 < len(argv) and not argv[k + 1].startswith("-"):
                k += 1
            k += 1
            continue
        out.append(t)
        k += 1
    return out


def _apply_overrides(sd, overrides: dict) -> None:
    """A policy's training section: values below the command line, above --config_file."""
    from ..sdscripts.argv import _convert, options_for

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


def _resolution(value, trainer: str):
    """prepare_dataset_args: 'N' -> (N, N), 'W,H'; the ways it stops, as (None, crash)."""
    from ..model import Crash

    if value is None:
        return None, None
    if not isinstance(value, str):
        return None, Crash("start", "RA077", "AttributeError", "--resolution",
                           f"resolution = {value!r} from --config_file is not a string: {trainer}.py stops in its "
                           f"argument checks ('{type(value).__name__}' object has no attribute 'split'); write "
                           f"resolution = \"{value}\"")
    try:
        nums = tuple(int(r) for r in value.split(","))
    except ValueError as exc:
        return None, Crash("start", "RA077", "ValueError", "--resolution",
                           f"--resolution '{value}' stops {trainer}.py in its argument checks ({exc})")
    if len(nums) == 1:
        nums = (nums[0], nums[0])
    if len(nums) != 2:
        return None, Crash("start", "RA077", "AssertionError", "--resolution",
                           f"--resolution '{value}' must be 'size' or 'width,height': {trainer}.py stops")
    return nums, None


def _number(sd, dest: str, default, *, low: float | None = 0, high: float | None = None):
    """An sd-scripts number as regaudit can use it; exit 2 for a value that is not one."""
    import math

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


def _build(facts, sd, start_crash, num_processes: int, require_source: bool) -> Inputs:
    from ..views.balance import BalanceOptions
    from ..sdscripts.captions import normalize_extension
    from ..sdscripts.config import DatasetConfigCrash, TrainingArgs
    from ..limits import MAX_RESO
    from ..model import Crash
    from ..views.scan import load_specs
    from ..sdscripts.trainers import Kind

    notes = []
    if sd.unknown_config_keys:
        notes.append(f"{len(sd.unknown_config_keys)} keys of the --config_file are not {facts.name}.py options; "
                     f"sd-scripts keeps them silently and they do nothing: {', '.join(sd.unknown_config_keys[:5])}")
    ext = sd.get("caption_extention") or sd.get("caption_extension", ".caption")
    resolution, res_crash = _resolution(sd.get("resolution"), facts.name)
    if start_crash is None and res_crash is not None:
        start_crash = res_crash
    if resolution is not None and max(resolution) > MAX_RESO:
        raise RegauditError(f"--resolution {resolution[0]},{resolution[1]} is larger than {MAX_RESO} pixels on a side; "
                            f"no model trains at that size")
    if resolution is not None and min(resolution) < 0:
        raise RegauditError(f"--resolution {resolution[0]},{resolution[1]} is negative")
    big = MAX_RESO * 4
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
    )
    if args.enable_bucket and args.bucket_reso_steps and \
            (args.max_bucket_reso - args.min_bucket_reso) // args.bucket_reso_steps > 100_000:
        raise RegauditError(f"--bucket_reso_steps {args.bucket_reso_steps} between {args.min_bucket_reso} and "
                            f"{args.max_bucket_reso} makes more than 100,000 buckets; no training run uses that")
    args_crash = _namespace_types(sd)
    for key in ("max_train_epochs", "max_train_steps"):
        value = sd.get(key)
        if key in sd.from_config_file and value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            if start_crash is None:
                start_crash = Crash("start", "RA077", "TypeError", os.getcwd(),
                                    f"--config_file: {key} = {value!r} is not an integer: {facts.name}.py fails where "
                                    f"it counts the steps")
            sd.values[key] = None if key == "max_train_epochs" else 1600
    epochs = sd.get("max_train_epochs")
    if epochs is not None:
        epochs = int(_number(sd, "max_train_epochs", 1, low=0, high=10_000_000))
    seed = sd.get("seed")
    if start_crash is None and isinstance(seed, int) and not 0 <= seed < 2 ** 32:
        start_crash = Crash("start", "RA077", "ValueError", os.getcwd(),
                            f"--seed {seed}: {facts.name}.py stops when it seeds its random generators ('Seed must "
                            f"be between 0 and 2**32 - 1')")
    if start_crash is None and sd.get("output_config") and sd.get("config_file"):
        start_crash = Crash("start", "RA077", "SystemExit", os.getcwd(),
                            f"--output_config: {facts.name}.py writes its options to the --config_file and exits "
                            f"without training")
    accumulation = int(_number(sd, "gradient_accumulation_steps", 1, low=0, high=1 << 20))
    if start_crash is None and accumulation == 0:
        start_crash = Crash("start", "RA077", "ZeroDivisionError", os.getcwd(),
                            f"--gradient_accumulation_steps 0: {facts.name}.py divides by it when it counts steps")
    cache_latents = bool(sd.get("cache_latents", False) or sd.get("cache_latents_to_disk", False))
    cache_te = bool(sd.get("cache_text_encoder_outputs", False) or sd.get("cache_text_encoder_outputs_to_disk", False))
    if facts.name == "sd3_train" and sd.get("use_t5xxl_cache_only", False):
        cache_te = True
    opts = BalanceOptions(
        trainer=facts,
        gradient_accumulation_steps=max(accumulation, 1),
        max_train_epochs=epochs,
        max_train_steps=int(_number(sd, "max_train_steps", 1600, low=0, high=1 << 40)),
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
        from ..sdscripts.caption_options import apply, caption_args_with_fallback

        specs = apply(specs, caption_args_with_fallback({}, sd.get), dataset_config)
    sources = [p for p in (dataset_config,) if p] or [p for p in (train, reg) if p]
    for n in notes:
        note(n)
    return Inputs(specs, args, opts, sources, sd, crash, notes,
                  args_crash=_kind_crash(facts, train, dataset_config, specs, sd) or args_crash)


def _kind_crash(facts, train, dataset_config, specs, sd):
    """fine_tune.py and the ControlNet trainers build their own kind of dataset: from folders they make
    one subset of --train_data_dir itself, which their schema check refuses without --in_json /
    --conditioning_data_dir; a DreamBooth dataset config is refused the same way."""
    from ..model import Crash
    from ..sdscripts.trainers import Kind

    if Kind.DREAMBOOTH in facts.kinds:
        return None
    needs = "metadata_file" if Kind.FINE_TUNING in facts.kinds else "conditioning_data_dir"
    given = sd.get("in_json") if needs == "metadata_file" else sd.get("conditioning_data_dir")
    if dataset_config is not None:
        refused = any(spec.subsets for spec in specs)
    elif given:
        return None  # a real fine-tuning / ControlNet dataset: not simulated
    else:
        refused = train is not None and (needs == "metadata_file" or os.path.isdir(train))
    if not refused:
        return None
    return Crash("build", "RA078", "MultipleInvalid", os.path.abspath(dataset_config or train or os.getcwd()),
                 f"{facts.name}.py does not take DreamBooth folders or subsets: its config check stops the run "
                 f"(expected str for dictionary value @ data['datasets'][0]['subsets'][0]['{needs}'])")


_ARGPARSE_ONLY = {"debug_dataset": "bool", "max_token_length": "int", "prior_loss_weight": "number"}


def _namespace_types(sd):
    """sd-scripts validates its namespace against the dataset schema while it builds the dataset
    (config_util.BlueprintGenerator): a --config_file value of the wrong type stops it there."""
    from ..sdscripts.config import GENERAL_KEYS, _KIND_TEXT, _type_ok
    from ..model import Crash

    renamed = {"train_batch_size": "batch_size", "dataset_repeats": "num_repeats"}
    for key in sorted(sd.from_config_file):
        value = sd.values.get(key)
        if value is None:
            continue
        name = renamed.get(key, key)
        kind = _ARGPARSE_ONLY.get(key) or GENERAL_KEYS.get(name)
        if kind is None or key == "resolution" or _type_ok(kind, value):
            continue
        return Crash("build", "RA077", "MultipleInvalid", os.getcwd(),
                     f"--config_file: {key} = {value!r} must be {_KIND_TEXT.get(kind, kind)}: sd-scripts' schema check "
                     f"stops the run while it builds the dataset")
    return None


def _number_value(value, name: str, low: int, high: int):
    if value is None:
        return 1
    if not low <= value <= high:
        raise RegauditError(f"{name} {value} is outside {low}..{high}")
    return value


def run_scan(inp: Inputs, **kwargs):
    """Scan the dataset of ``inp``; a dataset config sd-scripts stops on becomes the result's crash."""
    from dataclasses import replace

    from ..model import Crash
    from ..rules import rule
    from ..views.scan import scan

    if "text" not in kwargs:  # captions measured against the chosen trainer's text encoders
        from .captions import text_options

        kwargs["text"] = text_options(inp)
    result = scan(inp.specs, caption_extension=inp.args.caption_extension, sources=inp.sources,  # type: ignore
                  latents_suffix=inp.latents_suffix, case_insensitive=inp.case_insensitive, **kwargs)
    stop = inp.opts.start_crash  # type: ignore[attr-defined]
    if stop is not None:  # the stop on the command line is a finding of every command
        result = replace(result, findings=(rule(stop.code).finding(stop.path, stop.message),) + result.findings)
    if inp.sd.get("in_json"):  # type: ignore[attr-defined]
        result = replace(result, findings=result.findings + (rule("RA090").finding(
            os.path.abspath(str(inp.sd.get("in_json"))),  # type: ignore[attr-defined]
            "--in_json: sd-scripts trains on this fine-tuning metadata's images, which regaudit does not simulate; "
            "the folders and figures shown are not what it trains on"),))
    c = inp.config_crash
    if c is None and inp.args_crash is not None:
        ac = inp.args_crash
        result = replace(result, crash=ac, findings=result.findings + (rule(ac.code).finding(ac.path, ac.message),))
    if c is not None:
        path = os.path.abspath(c.path)
        message = f"sd-scripts stops on the dataset config: {c.exception}: {c.detail}"
        result = replace(result, crash=Crash("build", "RA091", c.exception, path, message),
                         findings=result.findings + (rule("RA091").finding(path, message),))
    return result


_FORCE_TERMINAL = ("FORCE_COLOR", "TTY_INTERACTIVE", "TTY_COMPATIBLE", "JUPYTER_COLUMNS", "JUPYTER_LINES")


@contextmanager
def progress_bar(enabled: bool, label: str):
    if not enabled or not (sys.stderr.isatty() or any(os.environ.get(k) for k in _FORCE_TERMINAL)) \
            or not stderr.is_terminal:  # (rich's own test, reached only where it may say yes)
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=stderr.real(), transient=True) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def dupes_options(hash_kind: str, max_distance: Optional[int], flip_aug: bool, cache: Optional[str],
                  no_cache: bool, jobs: Optional[int], specs, sources):
    """Duplicate-detection options; the cache may not lie inside any folder of the dataset."""
    from ..views.dupes import DEFAULT_MAX_DISTANCE, DupesOptions
    from ..views.hashcache import check_outside, default_path
    from ..views.hashing import HashKind

    if hash_kind not in {h.value for h in HashKind}:
        raise RegauditError(f"--hash '{hash_kind}' is not one of: {', '.join(h.value for h in HashKind)}")
    cache_path = None if no_cache else Path(cache) if cache else default_path()
    if cache_path is not None:
        check_outside(cache_path, list(sources) + [s.image_dir for spec in specs for s in spec.subsets])
    return DupesOptions(HashKind(hash_kind), DEFAULT_MAX_DISTANCE if max_distance is None else max_distance,
                        flip_aug, cache_path, jobs)
