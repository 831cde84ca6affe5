"""sd-scripts' command line, read the way the chosen trainer script's argparse reads it.

Every trainer builds ``argparse.ArgumentParser()`` with ``allow_abbrev=True`` (spec §10.11): a unique
prefix of an option is that option, an ambiguous prefix or an unknown option stops the script
(exit 2) before anything else. ``--config_file`` is merged as ``train_util.read_config_from_file``
merges it: the tables are flattened (a key met later wins), values keep their TOML types and are
not checked, and the command line is parsed again on top (command line > file > defaults). The
file is parsed with ``toml`` 0.10.2, the library and version sd-scripts reads it with (its own
TOML dialect: what it accepts, the Python types it gives and the errors it raises).

The option tables come from ``trainers/sd_options.json``. Pure: no file is read except the
``--config_file`` TOML, and nothing is printed.
"""

from __future__ import annotations

import difflib
import json
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ..errors import ConfigError, check_exhausted
from ..safeio import read_regular
from .tomlfile import TOML_LIMIT, loads_toml, text_mode


@dataclass(frozen=True)
class OptionSpec:
    flag: str
    dest: str
    action: str  # "store" | "storetrue"
    type: str | None  # "str" | "int" | "float" | "int_or_float" | "Path" | None
    nargs: str | int | None  # None (one value), 0 (a flag), "*"
    default: object
    choices: tuple | None


class ArgvError(Exception):
    """sd-scripts stops before it starts: argparse exits with status 2, or read_config_from_file
    exits with status 1. ``option`` is the offending option and ``suggestion`` the closest real one."""

    def __init__(self, message: str, option: str | None = None, suggestion: str | None = None,
                 exit_code: int = 2, exception: str = "SystemExit", unknown: list[str] | None = None,
                 path: str | None = None):
        super().__init__(message)
        self.option = option
        self.suggestion = suggestion
        self.exit_code = exit_code
        self.exception = exception
        self.unknown = unknown or []  # every token argparse calls unrecognized
        self.path = path  # the file it concerns (a --config_file)


@dataclass
class SdArgs:
    """The parsed namespace: every option of the trainer with its value (defaults included)."""

    trainer: str
    values: dict
    given: set[str] = field(default_factory=set)  # dests set on the command line
    from_config_file: set[str] = field(default_factory=set)  # dests set by --config_file
    unknown_config_keys: list[str] = field(default_factory=list)  # kept by sd-scripts, used by nothing

    def __getitem__(self, dest: str):
        return self.values.get(dest)

    def get(self, dest: str, default=None):
        value = self.values.get(dest, default)
        return default if value is None else value

    def is_set(self, dest: str) -> bool:
        return dest in self.given or dest in self.from_config_file


@lru_cache(maxsize=None)
def _table() -> dict:
    with open(os.path.join(os.path.dirname(__file__), "trainers", "sd_options.json"), encoding="utf-8") as fh:
        return json.load(fh)


@lru_cache(maxsize=None)
def options_for(trainer: str) -> dict[str, OptionSpec]:
    """The trainer's options by flag, in declaration order."""
    data = _table()
    out = {}
    for i in data["trainers"][trainer]:
        flags, dest, action, typ, nargs, default, choices = data["options"][i]
        for flag in flags:
            out[flag] = OptionSpec(flag, dest, action, typ, nargs, default, tuple(choices) if choices else None)
    return out


def known_trainers() -> tuple[str, ...]:
    return tuple(_table()["trainers"])


def _int_or_float(text: str):
    # train_util's type for lr_warmup_steps and friends: '10%' -> 0.1; >= 1 -> int; else float
    if text.endswith("%"):
        return float(text[:-1]) / 100.0
    value = float(text)
    return int(text) if value >= 1 else value


_CONVERT = {"str": str, "int": int, "float": float, "Path": Path, "int_or_float": _int_or_float, None: str}
_TYPE_NAME = {"str": "str", "int": "int", "float": "float", "Path": "Path", "int_or_float": "int_or_float"}


def _convert(opt: OptionSpec, text: str):
    try:
        value = _CONVERT[opt.type](text)
    except (ValueError, ArithmeticError):
        if opt.type == "int_or_float":
            raise ArgvError(f"argument {opt.flag}: '{text}' is not an int or float", opt.flag) from None
        raise ArgvError(f"argument {opt.flag}: invalid {_TYPE_NAME.get(opt.type, opt.type)} value: '{text}'",
                        opt.flag) from None
    if opt.choices is not None and value not in opt.choices:
        shown = ", ".join(repr(c) for c in opt.choices)
        raise ArgvError(f"argument {opt.flag}: invalid choice: '{value}' (choose from {shown})", opt.flag)
    return value


_NEGATIVE = re.compile(r"^-\d+$|^-\d*\.\d+$")  # argparse's own pattern: '-1e-4' is an option to it


def _looks_negative_number(token: str) -> bool:
    return bool(_NEGATIVE.match(token))


def _is_option_token(token: str) -> bool:
    # argparse: '-' alone and negative numbers (the parser has no options like them) are values
    return token.startswith("-") and token != "-" and not _looks_negative_number(token) and " " not in token


def match_option(trainer: str, token: str) -> tuple[OptionSpec | None, str | None]:
    """(option, explicit value after '=') for an option token, as argparse matches it: exact, else a
    unique prefix. Raises ArgvError for an ambiguous prefix; (None, None) when nothing matches."""
    opts = options_for(trainer)
    name, eq, explicit = token.partition("=")
    if token in opts:
        return opts[token], None
    if eq and name in opts:
        return opts[name], explicit
    if not name.startswith("--") or len(name) < 3:
        return None, None
    hits = [flag for flag in opts if flag.startswith(name)]
    if len(hits) > 1:
        raise ArgvError(f"ambiguous option: {name} could match {', '.join(hits)}", name)
    if hits:
        return opts[hits[0]], (explicit if eq else None)
    return None, None


def closest_option(trainer: str, token: str) -> str | None:
    name = token.partition("=")[0]
    hits = difflib.get_close_matches(name, list(options_for(trainer)), n=1, cutoff=0.6)
    return hits[0] if hits else None


def parse_argv(trainer: str, argv: list[str]) -> tuple[dict, set[str], list[str]]:
    """(values of the options given, their dests, tokens argparse would call unrecognized)."""
    values: dict = {}
    given: set[str] = set()
    unknown: list[str] = []
    k = 0
    while k < len(argv):
        token = argv[k]
        k += 1
        if token == "--":
            unknown += argv[k - 1:]  # with no positionals to take them, '--' and the rest are left over
            break
        if not _is_option_token(token):
            unknown.append(token)
            continue
        opt, explicit = match_option(trainer, token)
        if opt is None:
            unknown.append(token)
            continue
        try:
            k = _consume(opt, explicit, argv, k, values)
        except ArgvError as exc:
            exc.option = token.partition("=")[0]  # as typed, so the caller can drop it
            raise
        given.add(opt.dest)
    return values, given, unknown


def _consume(opt: OptionSpec, explicit: str | None, argv: list[str], k: int, values: dict) -> int:
    if opt.action == "storetrue":
        if explicit is not None:
            raise ArgvError(f"argument {opt.flag}: ignored explicit argument '{explicit}'", opt.flag)
        values[opt.dest] = True
    elif opt.nargs == "*":
        items = [] if explicit is None else [explicit]
        if explicit is None:
            while k < len(argv) and not _is_option_token(argv[k]):
                items.append(argv[k])
                k += 1
        values[opt.dest] = [_convert(opt, t) for t in items]
    else:
        if explicit is None:
            if k >= len(argv) or _is_option_token(argv[k]):
                raise ArgvError(f"argument {opt.flag}: expected one argument", opt.flag)
            explicit = argv[k]
            k += 1
        values[opt.dest] = _convert(opt, explicit)
    return k


def positionals(trainer: str, argv: list[str]) -> list[int]:
    """Indices of the bare tokens argparse would leave over (not an option's value, nor the value
    of an unknown option right before them): regaudit reads one as the train folder."""
    out: list[int] = []
    k = 0
    while k < len(argv):
        token = argv[k]
        k += 1
        if not _is_option_token(token):
            out.append(k - 1)
            continue
        try:
            opt, explicit = match_option(trainer, token)
        except ArgvError:
            opt, explicit = None, None
        if opt is None:
            if "=" not in token and k < len(argv) and not _is_option_token(argv[k]):
                k += 1  # an unknown option's value goes with it
            continue
        try:
            k = _consume(opt, explicit, argv, k, {})
        except ArgvError:
            if opt.action != "storetrue" and explicit is None and k < len(argv) and not _is_option_token(argv[k]):
                k += 1
    return out


def defaults(trainer: str) -> dict:
    out = {}
    for opt in options_for(trainer).values():
        default = opt.default
        if isinstance(default, str) and opt.type not in (None, "str"):
            default = _CONVERT[opt.type](default)  # argparse converts string defaults
        out[opt.dest] = default
    return out


def parse(trainer: str, argv: list[str], cwd: str | None = None) -> SdArgs:
    """The namespace sd-scripts' ``__main__`` ends with: parse_args, then read_config_from_file.
    Raises ArgvError where the script stops (exit 2 from argparse, exit 1 for a missing config)."""
    given_values, given, unknown = parse_argv(trainer, argv)
    if unknown:
        first = unknown[0]
        hint = closest_option(trainer, first) if first.startswith("-") else None
        raise ArgvError(f"unrecognized arguments: {' '.join(unknown)}", first, hint, unknown=unknown)
    values = defaults(trainer)
    values.update(given_values)
    args = SdArgs(trainer, values, given)
    config_file = values.get("config_file")
    if config_file:
        _merge_config_file(args, str(config_file), given_values, cwd)
    return args


def _merge_config_file(args: SdArgs, config_file: str, given_values: dict, cwd: str | None) -> None:
    path = config_file if config_file.endswith(".toml") else config_file + ".toml"
    full = path if cwd is None or os.path.isabs(path) else os.path.join(cwd, path)
    if not os.path.exists(full):
        raise ArgvError(f"{path} not found.", "--config_file", exit_code=1, path=full)
    data = read_config_toml(full, path)
    flat: dict = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat.update(value)
        else:
            flat[key] = value
    dests = {o.dest for o in options_for(args.trainer).values()}
    for key, value in flat.items():
        if key not in dests:
            args.unknown_config_keys.append(key)
        args.values[key] = value
        args.from_config_file.add(key)
    args.values.update(given_values)  # the command line is parsed again on top
    args.values["config_file"] = os.path.splitext(config_file)[0]


def read_config_toml(full: str, shown: str) -> dict:
    """train_util.read_config_from_file: ``open(path, encoding="utf-8")`` in text mode (universal
    newlines), then ``toml.load``. Where that raises, sd-scripts stops at start (ArgvError with its
    exception); a file regaudit itself cannot open (no permission, a folder, a FIFO, over 1 MiB), or
    one shaped so that toml 0.10.2 would take minutes (tomlfile.loads_toml), is a ConfigError."""
    try:
        raw = read_regular(full, TOML_LIMIT)
    except OSError as exc:
        check_exhausted(exc, full)
        raise ConfigError(f"--config_file {shown}: regaudit cannot read it ({exc.strerror or exc})") from None
    try:
        text = text_mode(raw)
    except UnicodeDecodeError as exc:
        raise ArgvError(f"{shown}: is not UTF-8 text ({exc.reason} at byte {exc.start})", "--config_file",
                        exit_code=1, exception="UnicodeDecodeError", path=full) from None
    try:
        data = loads_toml(text, f"--config_file {shown}")  # (bounded as dataset configs are: tomlfile)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001 - toml 0.10.2 raises more than TomlDecodeError on bad input
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ArgvError(f"{shown}: cannot be read as TOML ({detail})", "--config_file", exit_code=1,
                        exception=type(exc).__name__, path=full) from None
    return data


def script_base(token: str) -> str:
    """A script path's base name whatever the separator: Windows takes '/' and '\\' alike
    ('C:\\kohya_ss/sd-scripts/sdxl_train_network.py' -> 'sdxl_train_network.py')."""
    return re.split(r"[\\/]", token)[-1]


def split_command(argv: list[str]) -> tuple[str | None, list[str], dict]:
    """A pasted training command: ``accelerate launch [its options] SCRIPT.py [options]``,
    ``python SCRIPT.py [options]``, or bare options. Returns (the trainer its script names or None,
    the script's options, what accelerate's options say that counts: {"num_processes": N})."""
    trainers = set(known_trainers())
    for k, token in enumerate(argv):
        base = script_base(token)
        if base.endswith(".py") and base[:-3] in trainers:
            before = argv[:k]
            launcher: dict = {}
            for j, t in enumerate(before):
                name, eq, val = t.partition("=")
                if name == "--num_processes":
                    raw = val if eq else (before[j + 1] if j + 1 < len(before) else "")
                    try:
                        launcher["num_processes"] = int(raw)
                    except ValueError:
                        pass
            return base[:-3], argv[k + 1:], launcher
    return None, list(argv), {}
