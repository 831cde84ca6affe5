"""The dataset config as musubi-tuner reads it (``dataset/config_utils.py``): ``load_user_config``
(toml 0.10.2 or JSON, deprecated keys renamed), ``ConfigSanitizer``'s voluptuous schema, and
``BlueprintGenerator``'s fallbacks (dataset, then [general], then defaults). A stop is returned as a
``ConfigStop`` value, never raised."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

# ConfigSanitizer.DATASET_ASCENDABLE_SCHEMA / IMAGE_ / VIDEO_DATASET_DISTINCT_SCHEMA
_RES = "resolution"  # int or [int, int] (__validate_and_convert_scalar_or_twodim)
ASCENDABLE = {"caption_extension": str, "batch_size": int, "num_repeats": int, "resolution": _RES,
              "enable_bucket": bool, "bucket_no_upscale": bool}
IMAGE_ONLY = {"image_directory": str, "image_jsonl_file": str, "cache_directory": str, "control_directory": str,
              "multiple_target": bool, "fp_latent_window_size": int, "fp_1f_clean_indices": [int],
              "fp_1f_target_index": int, "fp_1f_no_post": bool, "no_resize_control": bool,
              "control_resolution": _RES}
VIDEO_ONLY = {"video_directory": str, "video_jsonl_file": str, "control_directory": str, "target_frames": [int],
              "frame_extraction": str, "frame_stride": int, "frame_sample": int, "max_frames": int,
              "cache_directory": str, "source_fps": float, "fp_latent_window_size": int}
DEPRECATED = {"flux_kontext_no_resize_control": "no_resize_control",
              "qwen_image_edit_no_resize_control": "no_resize_control",
              "qwen_image_edit_control_resolution": "control_resolution"}

# ImageDatasetParams defaults (BaseDatasetParams + image fields)
IMAGE_DEFAULTS = {"resolution": (960, 544), "enable_bucket": False, "bucket_no_upscale": False,
                  "caption_extension": None, "batch_size": 1, "num_repeats": 1, "cache_directory": None,
                  "image_directory": None, "image_jsonl_file": None, "control_directory": None,
                  "multiple_target": False, "fp_latent_window_size": 9, "fp_1f_clean_indices": None,
                  "fp_1f_target_index": None, "fp_1f_no_post": False, "no_resize_control": False,
                  "control_resolution": None}


@dataclass(frozen=True)
class ConfigStop:
    """Where musubi stops reading the config: ``stage`` "config" (load_user_config, the schema, a
    dataset constructor, the unique-cache-directory check)."""

    exception: str  # the Python exception class musubi raises
    message: str
    path: str  # the config file, or the dataset's folder
    kind: str  # missing-file | format | parse | schema | no-source | unique-cache | video-arch


@dataclass(frozen=True)
class DatasetParams:
    """One ``[[datasets]]`` entry after BlueprintGenerator.generate_params_by_fallbacks (and the
    dataset constructor: cache_directory falls back to image_directory, bucket_no_upscale is off
    without enable_bucket)."""

    index: int
    is_image: bool
    values: dict = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["values"][name]
        except KeyError as exc:
            raise AttributeError(name) from exc


@dataclass(frozen=True)
class DatasetConfig:
    path: str
    datasets: tuple[DatasetParams, ...] = ()
    stop: Optional[ConfigStop] = None
    notes: tuple[str, ...] = ()


Parse = Callable[[str, bool], Any]  # (the file, whether it is JSON) -> the document, raising what musubi's reader raises


def parse_file(path: str, is_json: bool) -> Any:
    """load_user_config's reading: ``json.load`` of the file opened as UTF-8 text, or ``toml.load``
    (musubi's own parser, toml 0.10.2, whose errors differ from tomllib's)."""
    if is_json:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    import toml

    return toml.load(path)


def load_user_config(path: str, parse: Parse = parse_file) -> tuple[dict | None, ConfigStop | None]:
    """config_utils.load_user_config: the file as a dict, or where it stops. ``parse`` reads it as
    ``parse_file`` does (a caller may bound its size and shape: views.musubi)."""
    if not os.path.isfile(path):
        return None, ConfigStop("ValueError", f"file not found / ファイルが見つかりません: {path}", path, "missing-file")
    lower = os.path.basename(path).lower()
    if not lower.endswith((".json", ".toml")):
        return None, ConfigStop("ValueError", f"not supported config file format / 対応していない設定ファイルの形式です: "
                                              f"{path}", path, "format")
    try:
        config = parse(path, lower.endswith(".json"))
    except (OSError, UnicodeDecodeError, ValueError, IndexError, TypeError) as exc:  # toml's TomlDecodeError is a ValueError
        return None, ConfigStop(type(exc).__name__, str(exc), path, "parse")
    if isinstance(config, dict):
        for section in [config.get("general")] + list(config.get("datasets", []) if isinstance(
                config.get("datasets", []), list) else []):
            if isinstance(section, dict):
                _normalize_deprecated(section)
    return config, None


def _normalize_deprecated(section: dict) -> None:
    for old, new in DEPRECATED.items():
        if old in section:
            if new not in section:
                section[new] = section[old]
            del section[old]


def _type_error(value: Any, kind: Any, where: str) -> str | None:
    """voluptuous's verdict on one value (None: valid), as ``<why> @ data<where>``."""
    if kind == _RES:
        if isinstance(value, int) or (isinstance(value, (list, tuple)) and len(value) == 2
                                      and all(isinstance(v, int) for v in value)):
            return None
        return f"not a valid value @ data{where}"
    if isinstance(kind, list):
        if not isinstance(value, list):
            return f"expected list @ data{where}"
        for i, v in enumerate(value):
            if not isinstance(v, kind[0]):
                return f"expected {kind[0].__name__} @ data{where}[{i}]"
        return None
    if not isinstance(value, kind):
        return f"expected {kind.__name__} for dictionary value @ data{where}"
    return None


def _check_dict(data: Any, schema: dict, where: str) -> str | None:
    if not isinstance(data, dict):
        return f"expected a dictionary @ data{where}"
    for key, value in data.items():
        sub = f"{where}[{key!r}]"
        if key not in schema:
            return f"extra keys not allowed @ data{sub}"
        why = _type_error(value, schema[key], sub)
        if why:
            return why
    return None


def sanitize(config: Any) -> str | None:
    """ConfigSanitizer.sanitize_user_config: the first schema error (voluptuous's words), or None."""
    if not isinstance(config, dict):
        return "expected a dictionary"
    for key in config:
        if key not in ("general", "datasets"):
            return f"extra keys not allowed @ data[{key!r}]"
    if "general" in config:
        why = _check_dict(config["general"], ASCENDABLE, "['general']")
        if why:
            return why
    if "datasets" in config:
        datasets = config["datasets"]
        if not isinstance(datasets, list):
            return "expected list @ data['datasets']"
        for i, ds in enumerate(datasets):
            is_video = isinstance(ds, (dict, str, list)) and ("video_directory" in ds or "video_jsonl_file" in ds)
            schema = {**ASCENDABLE, **(VIDEO_ONLY if is_video else IMAGE_ONLY)}
            why = _check_dict(ds, schema, f"['datasets'][{i}]")
            if why:
                return why
    return None


def _resolution(value: Any) -> tuple:
    return (value, value) if isinstance(value, int) else tuple(value)


def read(path: str, architecture: str, video_archs: frozenset[str], parse: Parse = parse_file) -> DatasetConfig:
    """load_user_config -> ConfigSanitizer -> BlueprintGenerator.generate -> the dataset constructors
    and generate_dataset_group_by_blueprint's unique cache_directory check."""
    config, stop = load_user_config(path, parse)
    if stop:
        return DatasetConfig(path, stop=stop)
    why = sanitize(config)
    if why:
        return DatasetConfig(path, stop=ConfigStop("MultipleInvalid", why, path, "schema"))
    general = config.get("general", {}) or {}
    datasets = []
    for i, ds in enumerate(config.get("datasets", []) or []):
        is_image = "image_directory" in ds or "image_jsonl_file" in ds
        values: dict = {}
        for name, default in IMAGE_DEFAULTS.items():  # generate_params_by_fallbacks
            value = ds.get(name) if ds.get(name) is not None else general.get(name)
            values[name] = default if value is None else value
        values["resolution"] = _resolution(values["resolution"])
        if values["control_resolution"] is not None:
            values["control_resolution"] = _resolution(values["control_resolution"])
        for name in VIDEO_ONLY:
            if name not in values:
                values[name] = ds.get(name)
        if not values["enable_bucket"]:  # BaseDataset.__init__
            values["bucket_no_upscale"] = False
        if is_image:
            if values["cache_directory"] is None:  # ImageDataset.__init__
                values["cache_directory"] = values["image_directory"]
        else:
            if architecture not in video_archs:  # VideoDataset.__init__'s target-fps table
                return DatasetConfig(path, stop=ConfigStop("ValueError", f"Unsupported architecture: {architecture}",
                                                           path, "video-arch"))
            if values["video_directory"] is None and values["video_jsonl_file"] is None:
                return DatasetConfig(path, stop=ConfigStop(
                    "AttributeError", "'VideoDataset' object has no attribute 'datasource'", path, "no-source"))
            if values["cache_directory"] is None:
                values["cache_directory"] = values["video_directory"]
        datasets.append(DatasetParams(i, is_image, values))
    dirs = [d.cache_directory for d in datasets]
    if len(set(dirs)) != len(dirs):  # compared as strings, not as folders
        return DatasetConfig(path, tuple(datasets), ConfigStop(
            "ValueError", "cache directory should be unique for each dataset (note that cache directory is "
                          "image/video directory if not specified) / " + _UNIQUE_JA, path, "unique-cache"))
    return DatasetConfig(path, tuple(datasets))


# the Japanese half of that ValueError's message (config_utils.generate_dataset_group_by_blueprint)
_UNIQUE_JA = "cache directory \u306f\u5404\u30c7\u30fc\u30bf\u30bb\u30c3\u30c8\u3054\u3068\u306b\u7570\u306a\u308b\u5fc5\u8981\u304c\u3042\u308a\u307e\u3059\uff08\u6307\u5b9a\u3055\u308c\u3066\u3044\u306a\u3044\u5834\u5408\u306fimage/video directory\u304c\u4f7f\u308f\u308c\u308b\u306e\u3067\u6ce8\u610f\uff09"
