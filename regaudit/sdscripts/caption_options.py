"""process_caption's subset options, resolved for every subset the way sd-scripts resolves them.

In a dataset config each value is looked up subset -> [[datasets]] -> [general] -> command line ->
sd-scripts' default (config_util.BlueprintGenerator); with train_data_dir/reg_data_dir every subset
takes the command line. ``CaptionArgs`` holds the command-line values as plain values, so any
argument parser can build one; ``apply`` returns the dataset specs with each SubsetConfig's caption
fields set. Reads the dataset config (already validated by config.load_dataset_config); prints
nothing.
"""

from __future__ import annotations

import dataclasses
import math
import operator
from dataclasses import dataclass, fields

from . import defaults
from .config import DatasetSpec, read_config_file
from ..errors import ConfigError, OptionError

MAX_TOKEN_LENGTHS = (75, 150, 225)  # --max_token_length: argparse choices [None, 150, 225]; 75 is the default


@dataclass(frozen=True)
class CaptionArgs:
    """The command-line caption options, with sd-scripts' argparse defaults."""

    shuffle_caption: bool = False
    caption_separator: str = defaults.CAPTION_SEPARATOR
    keep_tokens: int = 0
    keep_tokens_separator: str = ""
    secondary_separator: str | None = None
    enable_wildcard: bool = False
    caption_prefix: str | None = None
    caption_suffix: str | None = None
    caption_dropout_rate: float = 0.0
    caption_dropout_every_n_epochs: int = 0
    caption_tag_dropout_rate: float = 0.0
    token_warmup_min: int = defaults.TOKEN_WARMUP_MIN
    token_warmup_step: float = 0


KEYS = tuple(f.name for f in fields(CaptionArgs))


def caption_args(**values) -> CaptionArgs:
    """CaptionArgs from plain values (None: not given, sd-scripts' default); unknown names raise."""
    unknown = set(values) - set(KEYS)
    if unknown:
        raise OptionError(f"unknown caption option(s): {', '.join(sorted(unknown))}")
    given = {k: v for k, v in values.items() if v is not None}
    _finite(given)  # (a rate past 0..1 is simulated: sd-scripts compares random() with it, every step or none)
    return CaptionArgs(**given)


def caption_args_with_fallback(values: dict, fallback) -> CaptionArgs:
    """CaptionArgs from plain ``values`` (None or False: not given), each missing one taken from
    ``fallback(name, default)`` (for example a parsed sd-scripts namespace's ``get``)."""
    defaults = dataclasses.asdict(CaptionArgs())
    merged = {}
    for key in KEYS:
        value = values.get(key)
        merged[key] = value if value not in (None, False) else fallback(key, defaults[key])
    return caption_args(**merged)


def check_max_token_length(value: int | None) -> int | None:
    """sd-scripts' argparse accepts 150 and 225 (and nothing, meaning 75)."""
    if value is not None and value not in (150, 225):
        raise OptionError(f"--max_token_length must be 150 or 225 (omit it for 75), got {value}; "
                          f"sd-scripts' argparse stops on any other value")
    return value


def config_max_token_length(value) -> int | None:
    """The CLIP content tokens a caption keeps for a ``max_token_length`` read from --config_file,
    which no argparse check limits to 150/225 (train_util.read_config_from_file). The tokenize
    strategies (strategy_sd.SdTokenizeStrategy, strategy_sdxl) cut at ``value + 2`` tokens and,
    past CLIP's 77, TokenizeStrategy._get_input_ids keeps chunks of 75 starting at
    ``range(1, value + 2 - 77 + 2, 75)``: 75 is the default, 150 and 225 what argparse allows, and
    e.g. 100 keeps one chunk (75). None when not an int (the schema check stops the run then)."""
    if value is None or isinstance(value, bool) or not isinstance(value, int):
        return None
    if value == 75:
        return None  # <BOS> + 75 + <EOS> = 77: exactly the default
    if value < 75:
        return max(value, 0)
    return min(value, 75 * (value // 75))  # (len(range(1, value - 73, 75)) chunks, counted without the range)


def _own(level: object) -> dict:
    """The caption values a config level sets itself (config_util.BlueprintGenerator.search_value:
    a None value is no value)."""
    if not isinstance(level, dict):
        return {}
    return {key: value for key, value in level.items() if value is not None and key in _KEY_SET}


_KEY_SET = frozenset(KEYS)
_VALUES = operator.attrgetter(*KEYS)  # a SubsetConfig's caption values, in KEYS order


def apply(specs: list[DatasetSpec], args: CaptionArgs, dataset_config: str | None = None,
          config_data: dict | None = None) -> list[DatasetSpec]:
    """The specs with every subset's caption options resolved from ``dataset_config`` (when given;
    ``config_data``: as read_config_file read it already) and the command line ``args``: the
    subset's value, else its dataset's, else [general]'s, else the command line's."""
    cli = dataclasses.asdict(args)
    raw_datasets: list = []
    general: dict = {}
    if dataset_config is not None and specs:
        try:
            data = read_config_file(str(dataset_config)) if config_data is None else config_data
        except ConfigError:  # sd-scripts stops on it; the caller already reports that
            data = {}
        general = data.get("general", {}) or {}
        raw_datasets = data.get("datasets", []) or []
    below_general = {**cli, **_own(general)}  # (every key, in KEYS order)
    # resolved values (with their types: 1, 1.0 and True are equal) -> (typed values, their types):
    # worked out once for the many subsets that resolve alike
    typed_of: dict[tuple, tuple[dict, tuple, tuple]] = {}
    out = []
    for spec in specs:
        ds = raw_datasets[spec.index] if spec.index < len(raw_datasets) else {}
        raw_subsets = list(ds.get("subsets", []) or []) if isinstance(ds, dict) else []
        below_dataset = {**below_general, **_own(ds)}
        resolved = []
        for j, sc in enumerate(spec.subsets):
            sub = raw_subsets[j] if j < len(raw_subsets) and isinstance(raw_subsets[j], dict) \
                and raw_subsets[j].get("image_dir") == sc.image_dir else _by_dir(raw_subsets, sc.image_dir)
            values = {**below_dataset, **_own(sub)}
            resolved_key = (tuple(values.values()), tuple(map(type, values.values())))
            if resolved_key not in typed_of:
                typed = _typed(values)
                typed_of[resolved_key] = typed, tuple(typed.values()), tuple(map(type, typed.values()))
            typed, wanted, types = typed_of[resolved_key]
            # (a subset that has these values already, of the same types, is kept: 100,000 of them in a config)
            current = _VALUES(sc)
            if current != wanted or tuple(map(type, current)) != types:
                sc = dataclasses.replace(sc, **typed)
            resolved.append(sc)
        same = all(a is b for a, b in zip(resolved, spec.subsets))
        out.append(spec if same else dataclasses.replace(spec, subsets=resolved))
    return out


def _by_dir(raw_subsets: list, image_dir: str) -> dict:
    for sub in raw_subsets:
        if isinstance(sub, dict) and sub.get("image_dir") == image_dir:
            return sub
    return {}


def _finite(values: dict) -> None:
    """A number sd-scripts' schema takes but no run can use (inf or nan: TOML and argparse's float
    both read them) would reach int() and range() below: refused, naming the option."""
    for key, value in values.items():
        if isinstance(value, float) and not math.isfinite(value):
            raise OptionError(f"caption option {key} = {value} is not a finite number; give a number (sd-scripts "
                              f"counts steps and tags with it)")


def _typed(values: dict) -> dict:
    _finite(values)
    out = dict(values)
    for key in ("shuffle_caption", "enable_wildcard"):
        out[key] = bool(out[key])
    for key in ("keep_tokens", "caption_dropout_every_n_epochs", "token_warmup_min"):
        out[key] = int(out[key])
    for key in ("caption_dropout_rate", "caption_tag_dropout_rate"):
        out[key] = float(out[key])
    out["keep_tokens_separator"] = out["keep_tokens_separator"] or ""
    return out
