"""The checks sd-scripts makes on its command line and namespace, before and right after it
builds the dataset, each returning the ``Crash`` it stops with (or None). Facts only: which
finding explains a crash is its ``code``; the finding itself is ``rules.build``'s."""

from __future__ import annotations

import os

from ..model import Crash
from ..safeio import here
from .argv import ArgvError, SdArgs, parse, positionals
from .config import _DROPOUT_KEYS, _KIND_TEXT, GENERAL_KEYS, DatasetConfigCrash, _type_ok
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


_ARGPARSE_ONLY = {"debug_dataset": "bool", "max_token_length": "int", "prior_loss_weight": "number"}
_RENAMED = {"train_batch_size": "batch_size", "dataset_repeats": "num_repeats"}


def schema_checked(key: str) -> bool:
    """Whether BlueprintGenerator's check of the argparse namespace (``namespace_types``) types ``key``."""
    return key != "resolution" and (key in _ARGPARSE_ONLY or _RENAMED.get(key, key) in GENERAL_KEYS)


def schema_typed(sd: SdArgs):
    """``sd.get`` for the values the dataset is built with: a --config_file value of a type the schema
    check refuses (``namespace_types``: the run stops there, and that stop is reported) is the
    default, as it would be once fixed; it never reaches the simulation as it is ('x' for an int)."""
    def get(key: str, default=None):
        value = sd.get(key, default)
        return default if key in sd.from_config_file and _refused(key, value) else value
    return get


def _refused(key: str, value: object) -> str | None:
    """The type the schema check wants where it refuses ``value`` for ``key``, else None."""
    if value is None or not schema_checked(key):
        return None
    kind = _ARGPARSE_ONLY.get(key) or GENERAL_KEYS.get(_RENAMED.get(key, key))
    return None if kind is None or _type_ok(kind, value) else kind


def namespace_types(sd: SdArgs) -> Crash | None:
    """config_util.BlueprintGenerator.generate validates the argparse namespace against the dataset
    schema while it builds the dataset: a --config_file value of the wrong type stops it there. The
    textual inversion trainers' schema has no caption-dropout keys (ConfigSanitizer(..., False)):
    theirs are not checked (sd-scripts then fails on them only where a caption is first made)."""
    unchecked = _DROPOUT_KEYS if "textual_inversion" in sd.trainer else ()
    for key in sorted(sd.from_config_file):
        value = sd.values.get(key)
        kind = None if key in unchecked else _refused(key, value)
        if kind is None:
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
        return masked_loss_folders(facts, dataset_config, specs, sd)
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


def controlnet_schema(facts: TrainerFacts, sd: SdArgs) -> bool:
    """ConfigSanitizer(support_dreambooth, support_finetuning, args.masked_loss, ...): a trainer that
    takes DreamBooth but not fine-tuning datasets (train_db.py) checks every dataset against the
    ControlNet schema when --masked_loss is on."""
    return Kind.DREAMBOOTH in facts.kinds and Kind.FINE_TUNING not in facts.kinds and bool(sd.get("masked_loss"))


def masked_loss_folders(facts: TrainerFacts, dataset_config: str | None, specs: list, sd: SdArgs) -> Crash | None:
    """train_db.py --masked_loss on '<repeats>_<class tokens>' folders: the subsets it makes of them
    (image_dir, num_repeats, is_reg, class_tokens) fail the ControlNet schema at is_reg. (A dataset
    config is checked with the file, config.load_dataset_config.)"""
    if dataset_config is not None or not controlnet_schema(facts, sd) or not any(s.subsets for s in specs):
        return None
    where = next(s.subsets[0].image_dir for s in specs if s.subsets)
    return Crash("build", "RA078", "MultipleInvalid", os.path.abspath(where),
                 f"{facts.name}.py --masked_loss checks every dataset against the ControlNet schema, which refuses "
                 f"DreamBooth folders: its config check stops the run (extra keys not allowed @ "
                 f"data['datasets'][0]['subsets'][0]['is_reg'])")


def dataset_config(exc: DatasetConfigCrash) -> Crash:
    """config_util.load_user_config / ConfigSanitizer.sanitize_user_config stopping on the file."""
    path = os.path.abspath(exc.path)
    return Crash("build", exc.code, exc.exception, path, f"sd-scripts stops on {exc.subject}: {exc.exception}: {exc.detail}")
