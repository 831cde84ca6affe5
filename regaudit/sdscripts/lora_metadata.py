"""What a LoRA's ``ss_*`` metadata says it was trained on, read as sd-scripts writes it.

NetworkTrainer.train() (train_network.py, and every trainer built on it: sdxl_, sd3_, flux_,
lumina_, hunyuan_image_, anima_train_network.py) collects the run in a dict and saves it as
``str(value)`` per key: numbers as ``"40"``, booleans ``"True"``, None ``"None"``, the resolution
tuple ``"(512, 512)"``, and the nested parts as ``json.dumps`` text. The datasets come in one of
two forms:

- folder scan (--train_data_dir/--reg_data_dir): ``ss_dataset_dirs`` and ``ss_reg_dataset_dirs``
  map each subset folder's base name to ``{"n_repeats", "img_count"}``; ``ss_tag_frequency`` and
  ``ss_bucket_info`` are the one dataset's; batch size, resolution and bucket options are top-level
  keys (``ss_batch_size_per_device``, ``ss_resolution``, ``ss_enable_bucket`` ...).
- dataset config (--dataset_config): ``ss_datasets`` lists each dataset (batch size, counts,
  resolution, buckets, tag frequency) with its ``subsets`` (``image_dir`` base name, ``num_repeats``,
  ``img_count``, ``is_reg``, ``class_tokens``, caption options); ``ss_dataset_dirs`` merges the train
  subsets of all datasets (a repeated name gets " (2)").

Only the subsets sd-scripts kept are recorded (a folder without images or with repeats < 1 is not).
``ss_num_train_images`` counts train samples (images x repeats); ``ss_num_reg_images`` counts every
reg image x its folder's repeats, used or not: what the balancing loop used is worked out here.

When a key appeared (sd-scripts git history): the dataset keys ``ss_dataset_dirs``,
``ss_reg_dataset_dirs`` 2023-01-17 (de1dde1a); ``ss_tag_frequency``, ``ss_bucket_info`` 2023-01-23;
``ss_datasets`` 2023-03-01 (8abb8645), its subsets' ``img_count`` 2023-03-02 (09f575fd), their
``keep_tokens_separator``, ``secondary_separator``, ``enable_wildcard``, ``caption_prefix``/
``caption_suffix`` 2024-02-26 (577e9913), ``resize_interpolation`` 2025-02-14 (7729c4c8);
``ss_base_model_version`` 2023-06-26 (SDXL); ``ss_num_validation_images`` 2025-01-12.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from enum import Enum

from .lora_header import MetadataError, parse_json, read_metadata
from .registration import reg_repeats


class Form(str, Enum):
    FOLDER_SCAN = "folder_scan"  # ss_dataset_dirs / ss_reg_dataset_dirs
    DATASET_CONFIG = "dataset_config"  # ss_datasets
    NO_DATASET = "no_dataset"  # ss_* keys, none about the data (--no_metadata keeps only the network's)
    NONE = "none"  # no ss_* key at all (stripped by a merger or converter, or not sd-scripts')


# base model version -> the trainer script that writes it (each trainer's load_target_model)
_TRAINERS = (("sd_v", "train_network"), ("sdxl", "sdxl_train_network"), ("flux1", "flux_train_network"),
             ("chroma", "flux_train_network"), ("sd3", "sd3_train_network"), ("lumina", "lumina_train_network"),
             ("hunyuan-image", "hunyuan_image_train_network"), ("anima", "anima_train_network"))

# the caption options each dataset-config subset records, in sd-scripts' order
SUBSET_OPTIONS = ("color_aug", "flip_aug", "random_crop", "shuffle_caption", "keep_tokens", "keep_tokens_separator",
                  "secondary_separator", "enable_wildcard", "caption_prefix", "caption_suffix", "resize_interpolation")


@dataclass(frozen=True)
class SubsetRecord:
    name: str  # the folder's base name as recorded (image_dir, or a fine-tuning metadata_file)
    is_reg: bool
    num_repeats: int | None
    img_count: int | None
    class_tokens: str | None = None
    options: tuple[tuple[str, object], ...] = ()  # caption options as recorded (dataset-config form)
    metadata_file: str | None = None  # a fine-tuning subset's metadata file base name (its tag_frequency key)

    @property
    def samples(self) -> int | None:
        return None if self.num_repeats is None or self.img_count is None else self.num_repeats * self.img_count


@dataclass(frozen=True)
class BucketRecord:
    resolution: tuple[int, int]
    count: int  # samples, repeats included


@dataclass(frozen=True)
class DatasetRecord:
    index: int
    subsets: tuple[SubsetRecord, ...]
    batch_size: int | None
    num_train_images: int | None  # train samples (images x repeats)
    num_reg_images: int | None  # every reg image x its repeats, used or not
    resolution: tuple[int, int] | None
    enable_bucket: bool | None
    min_bucket_reso: int | None
    max_bucket_reso: int | None
    buckets: tuple[BucketRecord, ...] | None  # None: not recorded (no bucketing)
    mean_img_ar_error: float | None
    tag_frequency: dict[str, dict[str, int]]
    is_dreambooth: bool | None = None

    @property
    def reg_samples_used(self) -> int:
        """Reg samples the balancing loop registered (DreamBoothDataset.__init__): reg images in
        subset order take their folder's repeats until the train samples are reached, then one
        more each, round-robin; none when there is no train sample."""
        base = [s.num_repeats or 0 for s in self.subsets if s.is_reg for _ in range(s.img_count or 0)]
        used, _ = reg_repeats(base, self.num_train_images or 0)
        return sum(used)

    @property
    def reg_images_unused(self) -> int:
        base = [s.num_repeats or 0 for s in self.subsets if s.is_reg for _ in range(s.img_count or 0)]
        used, _ = reg_repeats(base, self.num_train_images or 0)
        return sum(1 for k in used if k == 0)


@dataclass(frozen=True)
class LoraMetadata:
    path: str
    form: Form
    keys: dict[str, str]  # every ss_* and modelspec.* entry, as written
    trainer: str | None  # the trainer script the base model version points to
    datasets: tuple[DatasetRecord, ...]
    tag_frequency: dict[str, dict[str, int]]  # ss_tag_frequency (merged over datasets)
    num_train_images: int | None
    num_reg_images: int | None
    num_batches_per_epoch: int | None
    num_epochs: int | None
    max_train_steps: int | None
    gradient_accumulation_steps: int | None
    total_batch_size: int | None  # folder-scan form: batch x processes x accumulation

    def get(self, key: str) -> str | None:
        return self.keys.get(key)

    def value(self, key: str) -> object:
        """A key's value as Python reads ``str(value)`` back: a number, True/False, None, a tuple,
        or the text itself."""
        return literal(self.keys.get(key))

    @property
    def num_processes(self) -> int | None:
        """accelerate processes, where the folder-scan form lets them be worked out."""
        batch = self.datasets[0].batch_size if self.datasets else None
        if not (self.total_batch_size and batch and self.gradient_accumulation_steps):
            return None
        n, rest = divmod(self.total_batch_size, batch * self.gradient_accumulation_steps)
        return n if n and not rest else None


def literal(text: str | None) -> object:
    """``str(v)`` read back: '40' -> 40, 'True' -> True, 'None' -> None, '(512, 512)' -> (512, 512);
    anything else stays text."""
    if text is None:
        return None
    if len(text) > 200:
        return text
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return text


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _pair(value: object) -> tuple[int, int] | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return (value, value)
    if isinstance(value, str) and "," in value:  # '512,512' as typed (before prepare_dataset_args)
        value = tuple(literal(v.strip()) for v in value.split(","))
    if isinstance(value, (list, tuple)) and len(value) in (1, 2) and all(_int(v) is not None for v in value):
        return (value[0], value[-1])
    return None


def _json(keys: dict[str, str], key: str, path: str) -> object:
    text = keys.get(key)
    return None if text is None else parse_json(text, f"{path}: {key}")


def _mapping(value: object, key: str, path: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise MetadataError(f"{path}: {key} is a JSON {type(value).__name__}, not an object as sd-scripts writes it")
    return value


def _tags(value: object, key: str, path: str) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for folder, table in _mapping(value, key, path).items():
        out[folder] = {str(t): n for t, n in _mapping(table, key, path).items() if _int(n) is not None}
    return out


def _buckets(value: object, key: str, path: str) -> tuple[tuple[BucketRecord, ...] | None, float | None]:
    info = _mapping(value, key, path)
    if not info:
        return None, None
    out = []
    for b in _mapping(info.get("buckets"), key, path).values():
        reso = _pair(b.get("resolution")) if isinstance(b, dict) else None
        if reso is not None and _int(b.get("count")) is not None:
            out.append(BucketRecord(reso, b["count"]))
    err = info.get("mean_img_ar_error")
    return tuple(out), float(err) if isinstance(err, (int, float)) and not isinstance(err, bool) else None


def _dirs(value: object, key: str, path: str, is_reg: bool) -> tuple[SubsetRecord, ...]:
    """The folder-scan form's subsets; class tokens from the folder name '<repeats>_<class tokens>'
    (config_util's extract_dreambooth_params: everything after the first '_')."""
    out = []
    for name, info in _mapping(value, key, path).items():
        info = info if isinstance(info, dict) else {}
        out.append(SubsetRecord(name, is_reg, _int(info.get("n_repeats")), _int(info.get("img_count")),
                                "_".join(name.split("_")[1:])))
    return tuple(out)


def _config_dataset(index: int, d: object, path: str) -> DatasetRecord:
    d = _mapping(d, "ss_datasets", path)
    subsets = []
    for s in d.get("subsets") or ():
        if not isinstance(s, dict):
            continue
        name = s.get("image_dir") if s.get("image_dir") is not None else s.get("metadata_file")
        opts = tuple((k, s[k]) for k in SUBSET_OPTIONS if k in s)
        meta = s.get("metadata_file")
        subsets.append(SubsetRecord(str(name) if name is not None else "", bool(s.get("is_reg", False)),
                                    _int(s.get("num_repeats")), _int(s.get("img_count")), s.get("class_tokens"), opts,
                                    str(meta) if meta is not None else None))
    buckets, err = _buckets(d.get("bucket_info"), "ss_datasets", path)
    return DatasetRecord(index, tuple(subsets), _int(d.get("batch_size_per_device")), _int(d.get("num_train_images")),
                         _int(d.get("num_reg_images")), _pair(d.get("resolution")), _bool(d.get("enable_bucket")),
                         _int(d.get("min_bucket_reso")), _int(d.get("max_bucket_reso")), buckets, err,
                         _tags(d.get("tag_frequency"), "ss_datasets", path), _bool(d.get("is_dreambooth")))


def trainer_of(base_model_version: str | None) -> str | None:
    """The trainer script whose load_target_model returns this base model version."""
    if not base_model_version:
        return None
    return next((t for prefix, t in _TRAINERS if base_model_version.startswith(prefix)), None)


def parse(path: str, meta: dict[str, str] | None) -> LoraMetadata:
    """The facts of a safetensors file's ``__metadata__`` (None: the header has none)."""
    keys = {k: v for k, v in (meta or {}).items() if k.startswith(("ss_", "modelspec."))}
    ss = {k: v for k, v in keys.items() if k.startswith("ss_")}
    lit = {k: literal(v) for k, v in ss.items()}
    tags = _tags(_json(ss, "ss_tag_frequency", path), "ss_tag_frequency", path)
    if "ss_datasets" in ss:
        form = Form.DATASET_CONFIG
        raw = _json(ss, "ss_datasets", path)
        if not isinstance(raw, list):
            raise MetadataError(f"{path}: ss_datasets is a JSON {type(raw).__name__}, not a list as sd-scripts writes it")
        datasets = tuple(_config_dataset(i, d, path) for i, d in enumerate(raw))
    elif "ss_dataset_dirs" in ss or "ss_reg_dataset_dirs" in ss:
        form = Form.FOLDER_SCAN
        buckets, err = _buckets(_json(ss, "ss_bucket_info", path), "ss_bucket_info", path)
        subsets = (*_dirs(_json(ss, "ss_dataset_dirs", path), "ss_dataset_dirs", path, False),
                   *_dirs(_json(ss, "ss_reg_dataset_dirs", path), "ss_reg_dataset_dirs", path, True))
        datasets = (DatasetRecord(0, subsets, _int(lit.get("ss_batch_size_per_device")),
                                  _int(lit.get("ss_num_train_images")), _int(lit.get("ss_num_reg_images")),
                                  _pair(lit.get("ss_resolution")), _bool(lit.get("ss_enable_bucket")),
                                  _int(lit.get("ss_min_bucket_reso")), _int(lit.get("ss_max_bucket_reso")), buckets, err,
                                  tags),)
    else:
        form = Form.NO_DATASET if ss else Form.NONE
        datasets = ()
    version = ss.get("ss_base_model_version")
    return LoraMetadata(path, form, keys, trainer_of(version), datasets, tags, _int(lit.get("ss_num_train_images")),
                        _int(lit.get("ss_num_reg_images")), _int(lit.get("ss_num_batches_per_epoch")),
                        _int(lit.get("ss_num_epochs")), _int(lit.get("ss_max_train_steps")),
                        _int(lit.get("ss_gradient_accumulation_steps")), _int(lit.get("ss_total_batch_size")))


def load(path: str) -> LoraMetadata:
    """Read and parse one file's metadata (the header only)."""
    return parse(path, read_metadata(path))
