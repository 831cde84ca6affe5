"""Dataset definitions: from train/reg roots or from a ``--dataset_config`` file (spec §1).

The config schema is strict like sd-scripts' (config_util.ConfigSanitizer): an unknown key, a
wrong type or a key at the wrong level is an error, reported with the key's full location.
Values are looked up subset -> dataset -> [general] -> command line -> default.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from .captions import normalize_extension
from .errors import ConfigError
from .model import DatasetParams, Finding, Ignored, SubsetConfig
from .rules import rule

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class TrainingArgs:
    """The sd-scripts command-line values a dataset falls back to."""

    caption_extension: str = ".caption"
    dataset_repeats: int = 1
    resolution: tuple[int, int] | None = None
    train_batch_size: int = 1
    enable_bucket: bool = False
    min_bucket_reso: int = 256
    max_bucket_reso: int = 1024
    bucket_reso_steps: int = 64
    bucket_no_upscale: bool = False

    def dataset_params(self) -> DatasetParams:
        return DatasetParams(self.resolution, self.train_batch_size, self.enable_bucket,
                             self.min_bucket_reso, self.max_bucket_reso, self.bucket_reso_steps,
                             self.bucket_no_upscale)


@dataclass
class DatasetSpec:
    index: int
    params: DatasetParams
    subsets: list[SubsetConfig]
    ignored: list[Ignored] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)


# --- the schema (types as sd-scripts' validator checks them: bool passes as int, int not as float)
_INT, _FLOAT, _NUM, _STR, _BOOL, _DICT = "int", "float", "number", "str", "bool", "table"
_SUBSET_ASCENDABLE = {
    "color_aug": _BOOL, "face_crop_aug_range": "float-pair", "flip_aug": _BOOL, "num_repeats": _INT,
    "random_crop": _BOOL, "shuffle_caption": _BOOL, "keep_tokens": _INT, "keep_tokens_separator": _STR,
    "secondary_separator": _STR, "caption_separator": _STR, "enable_wildcard": _BOOL,
    "token_warmup_min": _INT, "token_warmup_step": _NUM, "caption_prefix": _STR, "caption_suffix": _STR,
    "custom_attributes": _DICT, "resize_interpolation": _STR,
    "caption_dropout_every_n_epochs": _INT, "caption_dropout_rate": _NUM, "caption_tag_dropout_rate": _NUM,
    "caption_extension": _STR, "class_tokens": _STR, "cache_info": _BOOL,
}
_SUBSET_ONLY = {"image_dir": _STR, "is_reg": _BOOL, "alpha_mask": _BOOL}
_DATASET_ASCENDABLE = {
    "batch_size": _INT, "bucket_no_upscale": _BOOL, "bucket_reso_steps": _INT, "enable_bucket": _BOOL,
    "max_bucket_reso": _INT, "min_bucket_reso": _INT, "validation_seed": _INT, "validation_split": _FLOAT,
    "resolution": "int-or-pair", "network_multiplier": _FLOAT, "resize_interpolation": _STR,
}
GENERAL_KEYS = {**_DATASET_ASCENDABLE, **_SUBSET_ASCENDABLE}
DATASET_KEYS = {**_DATASET_ASCENDABLE, **_SUBSET_ASCENDABLE}
SUBSET_KEYS = {**_SUBSET_ASCENDABLE, **_SUBSET_ONLY}


def _type_ok(kind: str, value: object) -> bool:
    if kind == _INT:
        return isinstance(value, int)
    if kind == _FLOAT:
        return isinstance(value, float)
    if kind == _NUM:
        return isinstance(value, (int, float))
    if kind == _STR:
        return isinstance(value, str)
    if kind == _BOOL:
        return isinstance(value, bool)
    if kind == _DICT:
        return isinstance(value, dict)
    if kind == "float-pair":
        return isinstance(value, list) and len(value) == 2 and all(isinstance(v, float) for v in value)
    if kind == "int-or-pair":
        return isinstance(value, int) or (
            isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value))
    raise AssertionError(kind)


_KIND_TEXT = {_INT: "an integer", _FLOAT: "a float (write 1.0, not 1)", _NUM: "a number",
              _STR: "a string", _BOOL: "true or false", _DICT: "a table",
              "float-pair": "a list of two floats", "int-or-pair": "an integer or [width, height]"}


def _check_table(table: object, allowed: dict[str, str], where: str, file: str,
                 extra: tuple[str, ...] = ()) -> dict:
    if not isinstance(table, dict):
        raise ConfigError(f"{file}: {where} must be a table")
    for key, value in table.items():
        if key in extra:
            continue
        if key not in allowed:
            hint = ""
            if key in _SUBSET_ONLY:
                hint = " (it belongs in [[datasets.subsets]])"
            elif key in ("prior_loss_weight",):
                hint = " (it is a command-line option only)"
            elif key == "metadata_file":
                hint = " (fine-tuning datasets are not DreamBooth datasets; regaudit audits DreamBooth only)"
            raise ConfigError(f"{file}: unknown key '{key}' in {where}{hint}; sd-scripts rejects this config "
                              f"('Invalid user config')")
        if not _type_ok(allowed[key], value):
            raise ConfigError(f"{file}: '{key}' in {where} must be {_KIND_TEXT[allowed[key]]}, "
                              f"got {value!r}; sd-scripts rejects this config")
    return table


def read_config_file(path: str) -> dict:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{path}: dataset config not found (sd-scripts stops with 'file not found')")
    lower = p.name.lower()
    try:
        if lower.endswith(".toml"):
            with open(p, "rb") as fh:
                return tomllib.load(fh)
        if lower.endswith(".json"):
            with open(p, encoding="utf-8") as fh:
                data = json.load(fh)
            if not isinstance(data, dict):
                raise ConfigError(f"{path}: the top level must be an object")
            return data
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{path}: cannot be parsed: {exc}") from None
    raise ConfigError(f"{path}: not a .toml or .json file; sd-scripts accepts only those")


def _resolution(value: object) -> tuple[int, int]:
    if isinstance(value, list):
        return (int(value[0]), int(value[1]))
    return (int(value), int(value))  # type: ignore[arg-type]


def load_dataset_config(path: str, args: TrainingArgs) -> list[DatasetSpec]:
    """Validate a dataset config like sd-scripts and resolve every subset's and dataset's values."""
    data = read_config_file(path)
    for key in data:
        if key not in ("general", "datasets"):
            raise ConfigError(f"{path}: unknown top-level key '{key}' (allowed: [general], [[datasets]])")
    general = _check_table(data.get("general", {}), GENERAL_KEYS, "[general]", path)
    datasets = data.get("datasets", [])
    if not isinstance(datasets, list):
        raise ConfigError(f"{path}: 'datasets' must be an array of tables ([[datasets]])")
    specs: list[DatasetSpec] = []
    for i, ds in enumerate(datasets):
        where = f"[[datasets]] #{i + 1}"
        _check_table(ds, DATASET_KEYS, where, path, extra=("subsets",))
        subsets = ds.get("subsets", [])
        if not isinstance(subsets, list):
            raise ConfigError(f"{path}: 'subsets' in {where} must be an array of tables")
        configs = []
        for j, sub in enumerate(subsets):
            swhere = f"{where} subset #{j + 1}"
            if isinstance(sub, dict) and "metadata_file" in sub:
                raise ConfigError(f"{path}: {swhere} is a fine-tuning subset (metadata_file); regaudit audits "
                                  f"DreamBooth datasets only")
            _check_table(sub, SUBSET_KEYS, swhere, path)
            if "image_dir" not in sub:
                raise ConfigError(f"{path}: {swhere} has no 'image_dir', which sd-scripts requires")
            configs.append(_subset_config(sub, ds, general, args))
        spec = DatasetSpec(i, _dataset_params(ds, general, args), configs)
        split = _lookup("validation_split", (ds, general), None)
        if split:
            spec.findings.append(rule("RA090").finding(
                os.path.abspath(path), f"dataset {i} sets validation_split = {split}: sd-scripts holds back that share "
                                       f"of each train subset, which regaudit does not simulate; train counts here "
                                       f"include the held-back images"))
        for sub in configs:
            cache = os.path.join(sub.image_dir, "metadata_cache.json")
            if sub.cache_info and os.path.isfile(cache):
                spec.findings.append(rule("RA090").finding(
                    os.path.abspath(cache), "cache_info is on and this cache exists: sd-scripts takes the image "
                                            "list, captions and sizes from it, not from the folder as regaudit "
                                            "shows it; images added or captions changed since are not seen"))
        specs.append(spec)
    return specs


def _lookup(key: str, levels: tuple[dict, ...], fallback: object) -> object:
    # config_util.BlueprintGenerator.search_value: the first level that has a non-None value wins
    for level in levels:
        value = level.get(key)
        if value is not None:
            return value
    return fallback


def _subset_config(sub: dict, ds: dict, general: dict, args: TrainingArgs) -> SubsetConfig:
    levels = (sub, ds, general)
    return SubsetConfig(
        image_dir=str(sub["image_dir"]),
        is_reg=bool(sub.get("is_reg", False)),
        num_repeats=int(_lookup("num_repeats", levels, args.dataset_repeats)),  # type: ignore[arg-type]
        class_tokens=_lookup("class_tokens", levels, None),  # type: ignore[arg-type]
        caption_extension=normalize_extension(str(_lookup("caption_extension", levels, args.caption_extension))),
        enable_wildcard=bool(_lookup("enable_wildcard", levels, False)),
        flip_aug=bool(_lookup("flip_aug", levels, False)),
        cache_info=bool(_lookup("cache_info", levels, False)),
        from_config=True,
    )


def _dataset_params(ds: dict, general: dict, args: TrainingArgs) -> DatasetParams:
    levels = (ds, general)
    res = _lookup("resolution", levels, None)
    return DatasetParams(
        resolution=_resolution(res) if res is not None else args.resolution,
        batch_size=int(_lookup("batch_size", levels, args.train_batch_size)),  # type: ignore[arg-type]
        enable_bucket=bool(_lookup("enable_bucket", levels, args.enable_bucket)),
        min_bucket_reso=int(_lookup("min_bucket_reso", levels, args.min_bucket_reso)),  # type: ignore[arg-type]
        max_bucket_reso=int(_lookup("max_bucket_reso", levels, args.max_bucket_reso)),  # type: ignore[arg-type]
        bucket_reso_steps=int(_lookup("bucket_reso_steps", levels, args.bucket_reso_steps)),  # type: ignore[arg-type]
        bucket_no_upscale=bool(_lookup("bucket_no_upscale", levels, args.bucket_no_upscale)),
    )
