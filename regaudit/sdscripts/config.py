"""Dataset definitions: from train/reg roots or from a ``--dataset_config`` file (spec §1).

The config schema is strict like sd-scripts' (config_util.ConfigSanitizer): an unknown key, a
wrong type or a key at the wrong level is an error, reported with the key's full location.
Values are looked up subset -> dataset -> [general] -> command line -> default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace

from . import defaults
from .captions import normalize_extension
from ..errors import ConfigError, check_exhausted
from .. import limits
from ..limits import MAX_RESO
from ..model import DatasetParams, Ignored, SubsetConfig


@dataclass(frozen=True)
class TrainingArgs:
    """The sd-scripts command-line values a dataset falls back to (the last level of the lookup)."""

    caption_extension: str = defaults.CAPTION_EXTENSION
    dataset_repeats: int = defaults.DATASET_REPEATS
    resolution: tuple[int, int] | None = None
    train_batch_size: int = defaults.TRAIN_BATCH_SIZE
    enable_bucket: bool = False
    min_bucket_reso: int = defaults.MIN_BUCKET_RESO
    max_bucket_reso: int = defaults.MAX_BUCKET_RESO
    bucket_reso_steps: int = defaults.BUCKET_RESO_STEPS
    bucket_no_upscale: bool = False
    color_aug: bool = False
    random_crop: bool = False
    flip_aug: bool = False
    shuffle_caption: bool = False
    caption_dropout_rate: float = 0.0
    caption_tag_dropout_rate: float = 0.0
    token_warmup_step: float = 0
    enable_wildcard: bool = False
    dropout_keys_allowed: bool = True  # textual inversion's sanitizer rejects caption-dropout keys
    # the schema a [[datasets]] without subsets is checked against: "ft" (trainers that take both
    # DreamBooth and fine-tuning datasets), "cn" (the same with --masked_loss), "db" (DreamBooth only)
    empty_dataset_schema: str = "ft"
    validation_split: float = 0.0
    validation_seed: int | None = None
    # the trainer's ConfigSanitizer(support_dreambooth, support_finetuning, support_controlnet, ...);
    # support_controlnet is --masked_loss in the DreamBooth trainers (config or command line)
    support_dreambooth: bool = True
    support_finetuning: bool = True
    support_controlnet: bool = False
    resize_interpolation: str | None = None  # argparse checks its choices; a --config_file value is unchecked
    # train_db.py --masked_loss: ConfigSanitizer(True, False, True, True) checks every dataset against
    # the ControlNet schema (no is_reg / class_tokens; conditioning_data_dir required)
    controlnet_schema: bool = False

    def dataset_params(self) -> DatasetParams:
        return DatasetParams(self.resolution, self.train_batch_size, self.enable_bucket,
                             self.min_bucket_reso, self.max_bucket_reso, self.bucket_reso_steps,
                             self.bucket_no_upscale, self.validation_split, self.validation_seed,
                             self.resize_interpolation)

    def subset_defaults(self) -> dict:
        """Subset values a folder-scan subset takes from the command line."""
        return {"color_aug": self.color_aug, "random_crop": self.random_crop, "flip_aug": self.flip_aug,
                "shuffle_caption": self.shuffle_caption, "caption_dropout_rate": self.caption_dropout_rate,
                "caption_tag_dropout_rate": self.caption_tag_dropout_rate,
                "token_warmup_step": self.token_warmup_step, "enable_wildcard": self.enable_wildcard}


class DatasetConfigCrash(ConfigError):
    """sd-scripts stops while reading the dataset config (build stage): a missing file, another
    extension, a parse error, or its schema check (voluptuous MultipleInvalid)."""

    def __init__(self, path: str, exception: str, message: str, code: str = "RA091", subject: str = "the dataset config"):
        super().__init__(f"{path}: {message}")
        self.path = path
        self.exception = exception
        self.detail = message
        self.code = code  # RA078 where the trainer's schema is for another kind of dataset
        self.subject = subject  # what it stops on: the dataset config, or a train/reg folder (RA013)


@dataclass
class DatasetSpec:
    index: int
    params: DatasetParams
    subsets: list[SubsetConfig]
    ignored: list[Ignored] = field(default_factory=list)
    roots: list = field(default_factory=list)  # layout.RootScan of each train/reg root given (folder datasets)
    # metadata_cache.json files of subsets with cache_info on: sd-scripts reads the subset from them
    info_caches: list[str] = field(default_factory=list)


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


_KIND_TEXT = {"number": "a number", _INT: "an integer", _FLOAT: "a float (write 1.0, not 1)", _NUM: "a number",
              _STR: "a string", _BOOL: "true or false", _DICT: "a table",
              "float-pair": "a list of two floats", "int-or-pair": "an integer or [width, height]"}


def _voluptuous_path(where: tuple) -> str:
    return "data" + "".join(f"[{k!r}]" for k in where)


_VOL_TYPE = {_INT: "int", _FLOAT: "float", _NUM: "float", _STR: "str", _BOOL: "bool", _DICT: "dict",
             "float-pair": "list", "int-or-pair": "int"}


_BOM_HINT = (" (the file starts with a UTF-8 byte-order mark, which sd-scripts' reader keeps as part of the "
             "first line: save the file as UTF-8 without BOM)")


def _check_table(table: object, allowed: dict[str, str], where: tuple, file: str) -> dict:
    """sd-scripts' schema check of one table; a failure is its MultipleInvalid at build."""
    if not isinstance(table, dict):
        raise DatasetConfigCrash(file, "MultipleInvalid", f"expected a dictionary @ {_voluptuous_path(where)}")
    for key, value in table.items():
        if key not in allowed:
            hint = ""
            if isinstance(key, str) and key.startswith("\ufeff"):
                hint = _BOM_HINT
            elif key in _SUBSET_ONLY:
                hint = " (it belongs in [[datasets.subsets]])"
            elif key == "prior_loss_weight":
                hint = " (it is a command-line option only)"
            raise DatasetConfigCrash(file, "MultipleInvalid",
                                     f"extra keys not allowed @ {_voluptuous_path(where + (key,))}{hint}")
        if not _type_ok(allowed[key], value):
            raise DatasetConfigCrash(file, "MultipleInvalid",
                                     f"expected {_VOL_TYPE[allowed[key]]} for dictionary value @ "
                                     f"{_voluptuous_path(where + (key,))} ('{key}' must be "
                                     f"{_KIND_TEXT[allowed[key]]}, got {value!r})")
    return table


def read_config_file(path: str) -> dict:
    """config_util.load_user_config: not a file, or another extension, stops sd-scripts (ValueError);
    a .json file is read by ``json``, a .toml file by ``toml`` 0.10.2, as text (tomlfile), and what
    the parser raises is its stop."""
    from ..safeio import CONFIG_LIMIT, read_regular
    from .tomlfile import TOML_LIMIT, loads_json, loads_toml, text_mode

    name = os.path.basename(path).lower()
    if not os.path.isfile(path):
        raise DatasetConfigCrash(path, "ValueError", f"file not found: {path}")
    is_json = name.endswith(".json")
    if not (is_json or name.endswith(".toml")):
        raise DatasetConfigCrash(path, "ValueError", f"not supported config file format: {path} (.toml or .json)")
    try:
        raw = read_regular(path, CONFIG_LIMIT if is_json else TOML_LIMIT)
    except OSError as exc:
        check_exhausted(exc, path)
        raise ConfigError(f"{path}: dataset config cannot be read: {exc.strerror or exc}") from None
    try:
        text = text_mode(raw)
        data = loads_json(text, path) if is_json else loads_toml(text, path)
    except ConfigError:
        raise
    except Exception as exc:  # noqa: BLE001  (load_user_config logs and re-raises whatever the parser raises)
        detail = str(exc) if isinstance(exc, UnicodeDecodeError) else f"cannot be parsed: {exc}"
        if raw.startswith(b"\xef\xbb\xbf"):
            detail += _BOM_HINT
        raise DatasetConfigCrash(path, type(exc).__name__, detail) from None
    if not isinstance(data, dict):
        raise DatasetConfigCrash(path, "MultipleInvalid", "expected a dictionary (the top level must be a table)")
    return data


def _resolution(value: object) -> tuple[int, int]:
    if isinstance(value, list):
        return (int(value[0]), int(value[1]))
    return (int(value), int(value))  # type: ignore[arg-type]


_FT_DROPPED = ("class_tokens", "caption_extension", "cache_info")  # not in the fine-tuning dataset schema
_DROPOUT_KEYS = ("caption_dropout_rate", "caption_dropout_every_n_epochs", "caption_tag_dropout_rate")


def load_dataset_config(path: str, args: TrainingArgs, data: dict | None = None) -> list[DatasetSpec]:
    """Validate a dataset config like sd-scripts and resolve every subset's and dataset's values.
    Raises DatasetConfigCrash where sd-scripts stops while reading it. ``data``: the file as
    read_config_file read it already (else it is read here)."""
    data = read_config_file(path) if data is None else data
    _check_size(data, path)
    general_keys, dataset_keys, subset_keys = dict(GENERAL_KEYS), dict(DATASET_KEYS), dict(SUBSET_KEYS)
    if not args.dropout_keys_allowed:
        for table in (general_keys, dataset_keys, subset_keys):
            for key in _DROPOUT_KEYS:
                table.pop(key, None)
    _check_table({k: v for k, v in data.items() if k not in ("general", "datasets")}, {}, (), path)
    general = _check_table(data.get("general", {}), general_keys, ("general",), path)
    datasets = data.get("datasets", [])
    if not isinstance(datasets, list):
        raise DatasetConfigCrash(path, "MultipleInvalid", "expected list for dictionary value @ data['datasets']")
    specs: list[DatasetSpec] = []
    general_params: DatasetParams | None = None
    for i, ds in enumerate(datasets):
        where = ("datasets", i)
        subsets = ds.get("subsets", []) if isinstance(ds, dict) else []
        allowed = dataset_keys  # (copied only where a key is taken out: 100,000 datasets in a config)
        if args.controlnet_schema:
            allowed = {k: v for k, v in dataset_keys.items() if k != "class_tokens"}
        elif not subsets and args.empty_dataset_schema != "db":
            # no subsets: "every subset has metadata_file" (or, with --masked_loss, conditioning_data_dir)
            # holds vacuously, so a trainer that takes both kinds checks the block against the
            # fine-tuning schema, which lacks these keys, or the ControlNet one, which lacks
            # class_tokens (spec §10.5)
            dropped = _FT_DROPPED if args.empty_dataset_schema == "ft" else ("class_tokens",)
            allowed = {k: v for k, v in dataset_keys.items() if k not in dropped}
        _check_table({k: v for k, v in ds.items() if k != "subsets"} if isinstance(ds, dict) else ds,
                     allowed, where, path)
        if not isinstance(subsets, list):
            raise DatasetConfigCrash(path, "MultipleInvalid",
                                     f"expected list for dictionary value @ {_voluptuous_path(where + ('subsets',))}")
        controlnet = _controlnet_dataset(subsets, args)
        if controlnet and subsets:  # ControlNetSubset's schema: no class_tokens, is_reg nor alpha_mask
            allowed = {k: v for k, v in dataset_keys.items() if k != "class_tokens"}
            _check_table({k: v for k, v in ds.items() if k != "subsets"}, allowed, where, path)
        configs = []
        for j, sub in enumerate(subsets):
            swhere = where + ("subsets", j)
            if controlnet:
                configs.append(_controlnet_subset(sub, ds, general, args, path, swhere, subset_keys))
                continue
            if isinstance(sub, dict) and "metadata_file" in sub and args.support_finetuning:
                configs.append(_finetuning_subset(sub, ds, general, args, path, swhere, subsets, subset_keys))
                continue
            _check_table(sub, subset_keys, swhere, path)
            if "image_dir" not in sub:
                raise DatasetConfigCrash(path, "MultipleInvalid",
                                         f"required key not provided @ {_voluptuous_path(swhere + ('image_dir',))}")
            configs.append(_subset_config(sub, ds, general, args, path))
        if ds.keys() == {"subsets"}:  # subsets only: [general]'s values, the same for every such dataset (worked out once)
            if general_params is None:
                general_params = _dataset_params(ds, general, args, path, f"dataset {i}")
            params = general_params
        else:
            params = _dataset_params(ds, general, args, path, f"dataset {i}")
        spec = DatasetSpec(i, replace(params, controlnet=True) if controlnet and subsets else params, configs)
        for sub in configs:
            if sub.metadata_file is not None:
                continue
            cache = os.path.join(sub.image_dir, "metadata_cache.json") if sub.cache_info else None
            if cache is not None and os.path.isfile(cache):
                spec.info_caches.append(os.path.abspath(cache))
        specs.append(spec)
    return specs


def _check_size(data: dict, path: str) -> None:
    """Refuse a config of more subsets than limits.MAX_SUBSETS (not sd-scripts': regaudit's bound on
    its own time), before any of them is checked or resolved."""
    datasets = data.get("datasets")
    if not isinstance(datasets, list):
        return
    n = sum(len(ds["subsets"]) for ds in datasets if isinstance(ds, dict) and isinstance(ds.get("subsets"), list))
    if n > limits.MAX_SUBSETS:
        raise ConfigError(f"{path}: {n:,} subsets in {len(datasets):,} [[datasets]], more than regaudit audits in one "
                          f"run ({limits.MAX_SUBSETS:,}); split the config into files of fewer [[datasets]] and "
                          f"audit each")


def _finetuning_subset(sub: dict, ds: dict, general: dict, args: TrainingArgs, path: str, where: tuple,
                       subsets: list, subset_keys: dict) -> SubsetConfig:
    """A FineTuningSubset (sdscripts.finetune): a dataset mixing it with DreamBooth subsets is
    refused; its schema has no DreamBooth keys."""
    from . import finetune

    if not all(isinstance(s, dict) and "metadata_file" in s for s in subsets):
        raise DatasetConfigCrash(path, "MultipleInvalid", "DreamBooth subset and fine tuning subset cannot be mixed "
                                 f"in the same dataset @ {_voluptuous_path(where[:2])}")
    allowed = {k: v for k, v in subset_keys.items() if k not in finetune.FT_SUBSET_DROPPED}
    _check_table({k: v for k, v in ds.items() if k != "subsets"},
                 {k: v for k, v in DATASET_KEYS.items() if k not in finetune.FT_SUBSET_DROPPED}, where[:2], path)
    _check_table(sub, {**allowed, "metadata_file": _STR}, where, path)
    return finetune.subset_config(sub, ds, general, args, path)


def _controlnet_dataset(subsets: list, args: TrainingArgs) -> bool:
    """ConfigSanitizer's choice of the ControlNet dataset schema for one [[datasets]]: with
    DreamBooth and fine-tuning both supported (validate_flex_dataset), when every subset names a
    conditioning_data_dir; with DreamBooth alone (train_db --masked_loss) or ControlNet alone, always."""
    if args.controlnet_schema:  # train_db --masked_loss: every dataset, whatever its subsets
        return True
    if not args.support_controlnet:
        return False
    if args.support_dreambooth and args.support_finetuning:
        return all(isinstance(sub, dict) and "conditioning_data_dir" in sub for sub in subsets)
    return not args.support_finetuning


def _controlnet_subset(sub: object, ds: dict, general: dict, args: TrainingArgs, path: str, where: tuple,
                       subset_keys: dict) -> SubsetConfig:
    """A ControlNetSubset: its schema, then the DreamBooth subset ControlNetDataset makes of it
    (is_reg False, no class tokens)."""
    if args.controlnet_schema:  # train_db --masked_loss: every dataset is checked as a ControlNet one
        _check_controlnet_subset(sub, subset_keys, where, path)
    else:
        allowed = {k: v for k, v in subset_keys.items() if k not in ("class_tokens", "is_reg", "alpha_mask")}
        allowed["conditioning_data_dir"] = _STR
        _check_table(sub, allowed, where, path)
        for key in ("image_dir", "conditioning_data_dir"):
            if key not in sub:  # type: ignore[operator]
                raise DatasetConfigCrash(path, "MultipleInvalid",
                                         f"required key not provided @ {_voluptuous_path(where + (key,))}")
    config = _subset_config(sub, ds, general, args, path)  # type: ignore[arg-type]
    return replace(config, is_reg=False, class_tokens=None,
                   conditioning_data_dir=str(sub["conditioning_data_dir"]))  # type: ignore[index]


_DREAMBOOTH_ONLY = ("is_reg", "class_tokens", "alpha_mask")  # keys the ControlNet subset schema lacks
MASKED_LOSS_HINT = (" (train_db.py --masked_loss checks every dataset against the ControlNet schema, which refuses "
                    "DreamBooth subsets)")


def _check_controlnet_subset(sub: object, subset_keys: dict, where: tuple, path: str) -> None:
    """ConfigSanitizer's ControlNet subset schema (train_db --masked_loss): image_dir and
    conditioning_data_dir required, no DreamBooth-only key; a DreamBooth subset is refused with a
    hint that names the switch."""
    allowed = {k: v for k, v in subset_keys.items() if k not in _DREAMBOOTH_ONLY}
    allowed["conditioning_data_dir"] = _STR
    try:
        _check_table(sub, allowed, where, path)
    except DatasetConfigCrash as exc:
        if any(f"['{key}']" in exc.detail for key in _DREAMBOOTH_ONLY):
            raise DatasetConfigCrash(path, exc.exception, exc.detail.split(" (")[0] + MASKED_LOSS_HINT, "RA078") from None
        raise
    for key, hint, code in (("image_dir", "", "RA091"), ("conditioning_data_dir", MASKED_LOSS_HINT, "RA078")):
        if key not in sub:  # type: ignore[operator]
            raise DatasetConfigCrash(path, "MultipleInvalid", f"required key not provided @ "
                                     f"{_voluptuous_path(where + (key,))}{hint}", code)


def _search(*levels: dict) -> dict:
    """config_util.BlueprintGenerator.search_value for every key at once: the value of the first level
    that has a non-None value (one dict made per subset, not a walk of the levels per key)."""
    found: dict = {}
    for level in reversed(levels):
        found.update([(key, value) for key, value in level.items() if value is not None])
    return found


def _subset_config(sub: dict, ds: dict, general: dict, args: TrainingArgs, path: str = "") -> SubsetConfig:
    value = _search(sub, ds, general).get
    return SubsetConfig(
        image_dir=str(sub["image_dir"]),
        is_reg=bool(sub.get("is_reg", False)),
        num_repeats=int(_bounded(path, f"the subset of '{sub.get('image_dir')}'", "num_repeats",  # type: ignore[arg-type]
                                 value("num_repeats", args.dataset_repeats), -(10 ** 9), 10 ** 7)),
        class_tokens=value("class_tokens", None),  # type: ignore[arg-type]
        caption_extension=normalize_extension(str(value("caption_extension", args.caption_extension))),
        enable_wildcard=bool(value("enable_wildcard", args.enable_wildcard)),
        flip_aug=bool(value("flip_aug", args.flip_aug)),
        cache_info=bool(value("cache_info", False)),
        from_config=True,
        color_aug=bool(value("color_aug", args.color_aug)),
        random_crop=bool(value("random_crop", args.random_crop)),
        shuffle_caption=bool(value("shuffle_caption", args.shuffle_caption)),
        caption_dropout_rate=float(value("caption_dropout_rate", args.caption_dropout_rate)),  # type: ignore[arg-type]
        caption_tag_dropout_rate=float(value("caption_tag_dropout_rate", args.caption_tag_dropout_rate)),  # type: ignore[arg-type]
        token_warmup_step=value("token_warmup_step", args.token_warmup_step),  # type: ignore[arg-type]
    )


def _bounded(path: str, where: str, key: str, value, low, high):
    """A number regaudit can simulate; a clear exit 2 for one no training run uses. Values sd-scripts
    itself stops on (0 for a batch size or a resolution) pass through to be reported as its crash."""
    if value is not None and not (low <= value <= high):
        raise ConfigError(f"{path}: {key} = {value} in {where} is outside {low}..{high}; no training run uses it")
    return value


def _dataset_params(ds: dict, general: dict, args: TrainingArgs, path: str = "", where: str = "") -> DatasetParams:
    value = _search(ds, general).get
    res = value("resolution", None)
    if res is not None:
        for side in (res if isinstance(res, list) else [res]):
            _bounded(path, where, "resolution", side, 0, MAX_RESO)
    for key in ("min_bucket_reso", "max_bucket_reso", "bucket_reso_steps"):
        _bounded(path, where, key, value(key, None), 0, MAX_RESO * 4)
    _bounded(path, where, "batch_size", value("batch_size", None), 0, 65536)
    return DatasetParams(
        resolution=_resolution(res) if res is not None else args.resolution,
        batch_size=int(value("batch_size", args.train_batch_size)),  # type: ignore[arg-type]
        enable_bucket=bool(value("enable_bucket", args.enable_bucket)),
        min_bucket_reso=int(value("min_bucket_reso", args.min_bucket_reso)),  # type: ignore[arg-type]
        max_bucket_reso=int(value("max_bucket_reso", args.max_bucket_reso)),  # type: ignore[arg-type]
        bucket_reso_steps=int(value("bucket_reso_steps", args.bucket_reso_steps)),  # type: ignore[arg-type]
        bucket_no_upscale=bool(value("bucket_no_upscale", args.bucket_no_upscale)),
        validation_split=float(value("validation_split", args.validation_split)),  # type: ignore[arg-type]
        validation_seed=value("validation_seed", args.validation_seed),  # type: ignore[arg-type]
        resize_interpolation=value("resize_interpolation", args.resize_interpolation),  # type: ignore[arg-type]
    )
