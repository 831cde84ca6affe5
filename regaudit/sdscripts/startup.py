"""The checks sd-scripts makes on its command line and namespace, before and right after it
builds the dataset, each returning the ``Crash`` it stops with (or None). Facts only: which
finding explains a crash is its ``code``; the finding itself is ``rules.build``'s."""

from __future__ import annotations

import os

from ..model import Crash
from ..safeio import here
from .argv import ArgvError, SdArgs, parse, positionals
from .config import _KIND_TEXT, GENERAL_KEYS, DatasetConfigCrash, _type_ok
from .trainers import Kind, TrainerFacts


def parse_command_line(trainer: str, argv: list[str]) -> tuple[SdArgs, Crash | None, list[str]]:
    """(SdArgs, the stop sd-scripts makes on this command line or None, positional tokens), as the
    trainer's ArgumentParser.parse_args (setup_parser) reads it. Where sd-scripts stops, the
    offending tokens are left out and the rest is still read, so the dataset can be shown."""
    where = set(positionals(trainer, argv))
    positional = [t for k, t in enumerate(argv) if k in where]
    rest = [t for k, t in enumerate(argv) if k not in where]
    stop = None
    for _ in range(len(rest) + 2):
        try:
            return parse(trainer, rest, here()), stop, positional
        except ArgvError as exc:
            if stop is None:
                hint = f" (did you mean {exc.suggestion}?)" if exc.suggestion else ""
                at = os.path.abspath(str(exc.path)) if exc.path else here()
                stop = Crash("start", "RA077", exc.exception, at,
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
    return parse(trainer, [], here()), stop, positional


def _drop(argv: list[str], option: str) -> list[str]:
    """``argv`` without ``option`` and its value."""
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


def unrecognized_arguments(trainer: str, positional: list[str]) -> Crash:
    """ArgumentParser.parse_args on bare arguments of a pasted command: 'unrecognized arguments'."""
    return Crash("start", "RA077", "SystemExit", here(),
                 f"{trainer}.py stops on its command line: unrecognized arguments: {' '.join(positional)}")


def resolution(value, trainer: str) -> tuple[tuple[int, int] | None, Crash | None]:
    """train_util.prepare_dataset_args: 'N' -> (N, N), 'W,H'; the ways it stops, as (None, crash)."""
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
    return nums, None  # type: ignore[return-value]


STEP_COUNT_KEYS = ("max_train_epochs", "max_train_steps")


def step_count_types(sd: SdArgs, trainer: str) -> tuple[Crash | None, list[str]]:
    """(the stop, the keys): --config_file values of max_train_epochs / max_train_steps that are
    not integers, on which the trainer's step count (train(): max_train_epochs * the batches per
    epoch) fails."""
    crash, bad = None, []
    for key in STEP_COUNT_KEYS:
        value = sd.get(key)
        if key in sd.from_config_file and value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            bad.append(key)
            if crash is None:
                crash = Crash("start", "RA077", "TypeError", here(),
                              f"--config_file: {key} = {value!r} is not an integer: {trainer}.py fails where "
                              f"it counts the steps")
    return crash, bad


def seed(value, trainer: str) -> Crash | None:
    """accelerate's set_seed(args.seed) in train(): numpy takes seeds 0..2**32-1 only."""
    if isinstance(value, int) and not 0 <= value < 2 ** 32:
        return Crash("start", "RA077", "ValueError", here(),
                     f"--seed {value}: {trainer}.py stops when it seeds its random generators ('Seed must "
                     f"be between 0 and 2**32 - 1')")
    return None


def output_config(sd: SdArgs, trainer: str) -> Crash | None:
    """train_util.read_config_from_file: --output_config writes the options out and exits."""
    if sd.get("output_config") and sd.get("config_file"):
        return Crash("start", "RA077", "SystemExit", here(),
                     f"--output_config: {trainer}.py writes its options to the --config_file and exits "
                     f"without training")
    return None


def gradient_accumulation(steps: int, trainer: str) -> Crash | None:
    """train(): the steps per epoch are divided by gradient_accumulation_steps."""
    if steps == 0:
        return Crash("start", "RA077", "ZeroDivisionError", here(),
                     f"--gradient_accumulation_steps 0: {trainer}.py divides by it when it counts steps")
    return None


_ARGPARSE_ONLY = {"debug_dataset": "bool", "max_token_length": "int", "prior_loss_weight": "number"}
_RENAMED = {"train_batch_size": "batch_size", "dataset_repeats": "num_repeats"}


def schema_checked(key: str) -> bool:
    """Whether BlueprintGenerator's check of the argparse namespace (``namespace_types``) types ``key``."""
    return key != "resolution" and (key in _ARGPARSE_ONLY or _RENAMED.get(key, key) in GENERAL_KEYS)


def namespace_types(sd: SdArgs) -> Crash | None:
    """config_util.BlueprintGenerator.generate validates the argparse namespace against the dataset
    schema while it builds the dataset: a --config_file value of the wrong type stops it there."""
    for key in sorted(sd.from_config_file):
        value = sd.values.get(key)
        if value is None:
            continue
        kind = _ARGPARSE_ONLY.get(key) or GENERAL_KEYS.get(_RENAMED.get(key, key))
        if kind is None or key == "resolution" or _type_ok(kind, value):
            continue
        return Crash("build", "RA077", "MultipleInvalid", here(),
                     f"--config_file: {key} = {value!r} must be {_KIND_TEXT.get(kind, kind)}: sd-scripts' schema check "
                     f"stops the run while it builds the dataset")
    return None


def dataset_kind(facts: TrainerFacts, train: str | None, dataset_config: str | None, specs: list,
                 sd: SdArgs) -> Crash | None:
    """config_util.ConfigSanitizer of fine_tune.py and the ControlNet trainers, which build their own
    kind of dataset: from folders they make one subset of --train_data_dir itself, which their schema
    check refuses without --in_json / --conditioning_data_dir; a DreamBooth dataset config is refused
    the same way."""
    if Kind.DREAMBOOTH in facts.kinds:
        return None
    needs = "metadata_file" if Kind.FINE_TUNING in facts.kinds else "conditioning_data_dir"
    given = sd.get("in_json") if needs == "metadata_file" else sd.get("conditioning_data_dir")
    if dataset_config is not None:
        refused = any(spec.subsets for spec in specs) and not (
            all(getattr(sub, needs) is not None for spec in specs for sub in spec.subsets))
    elif given:
        return None  # a real fine-tuning / ControlNet dataset: not simulated
    else:
        refused = train is not None and (needs == "metadata_file" or os.path.isdir(train))
    if not refused:
        return None
    return Crash("build", "RA078", "MultipleInvalid", os.path.abspath(dataset_config or train or here()),
                 f"{facts.name}.py does not take DreamBooth folders or subsets: its config check stops the run "
                 f"(expected str for dictionary value @ data['datasets'][0]['subsets'][0]['{needs}'])")


def dataset_config(exc: DatasetConfigCrash) -> Crash:
    """config_util.load_user_config / ConfigSanitizer.sanitize_user_config stopping on the file."""
    path = os.path.abspath(exc.path)
    return Crash("build", "RA091", exc.exception, path,
                 f"sd-scripts stops on the dataset config: {exc.exception}: {exc.detail}")
