"""The one model of a dataset that every command reads: frozen values, no I/O, no printing.

Paths are kept twice: ``path`` is the string sd-scripts itself would build (it matters for
sorting and for the face-crop caption fallback), ``abs_path`` is what regaudit reports.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple


class Role(str, Enum):
    TRAIN = "train"
    REG = "reg"


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS = {Severity.ERROR: 3, Severity.WARNING: 2, Severity.INFO: 1}  # (made once: a report asks millions of times)


class CaptionSource(str, Enum):
    FILE = "file"  # read from a caption file (possibly an empty string)
    CLASS_TOKENS = "class_tokens"  # no caption file: the folder's class tokens are the caption
    EMPTY = "empty"  # no caption file and no (or empty) class tokens: an empty prompt


class IgnoreReason(str, Enum):
    UNPARSED_NAME = "unparsed_name"
    REPEATS_BELOW_ONE = "repeats_below_one"
    HIDDEN = "hidden"
    FILE_IN_ROOT = "file_in_root"
    NESTED_DIR = "nested_dir"
    EXTENSION_CASE = "extension_case"
    UNSUPPORTED_FORMAT = "unsupported_format"
    NO_IMAGES = "no_images"
    DUPLICATE_SUBSET = "duplicate_subset"
    VALIDATION = "validation"
    NOT_A_DIRECTORY = "not_a_directory"
    UNREADABLE = "unreadable"


@dataclass(frozen=True)
class Finding:
    code: str
    name: str
    severity: Severity
    path: str  # absolute
    message: str
    hint: str
    # a finding about many images (``path`` their folder): each one with its own numbers, as JSON-ready
    # (key, value) pairs, "path" first; shown in JSON as "images" (left out when empty); not compared
    images: tuple[tuple[tuple[str, object], ...], ...] = field(default=(), compare=False)

    def with_severity(self, severity: "Severity") -> "Finding":
        """The same finding at another severity (where the context decides it, e.g. a broken reg image
        the balancing loop never uses)."""
        return Finding(self.code, self.name, severity, self.path, self.message, self.hint, self.images)

    def to_json(self) -> dict:
        out = {
            "code": self.code,
            "name": self.name,
            "severity": self.severity.value,
            "path": self.path,
            "message": self.message,
            "hint": self.hint,
        }
        if self.images:
            out["images"] = [dict(i) for i in self.images]
        return out


def sort_findings(findings):
    """The order findings are shown in: most severe first, then by code and path (a stable sort:
    findings of one code and path keep the order they were made in)."""
    return sorted(findings, key=lambda f: (-f.severity.rank, f.code, f.path))


@dataclass(frozen=True)
class Ignored:
    path: str  # absolute
    kind: str  # "dir" | "file"
    reason: IgnoreReason
    message: str

    def to_json(self) -> dict:
        return {"path": self.path, "kind": self.kind, "reason": self.reason.value, "message": self.message}


def compact(cls: type) -> type:
    """For a record held once per image (a NamedTuple: immutable, small): ``of(*values)`` makes one
    from all its values, positionally, at C speed, and it pickles as its plain tuple of values and
    unpickles at C speed too (worker processes send one per image; a dataclass costs a Python call
    per field both ways, more than probing the file)."""
    new = tuple.__new__
    cls.of = staticmethod(lambda *values: new(cls, values))  # type: ignore[attr-defined]
    cls.__reduce__ = lambda self: (new, (cls, tuple(self)))  # type: ignore[method-assign]
    return cls


@compact
class ImageProbe(NamedTuple):
    """What the file itself says: the size as sd-scripts reads it, what Pillow sees in the header,
    and whether sd-scripts could load it. Compact: a scan holds one per image."""

    width: int | float  # what sd-scripts uses; 0 when it cannot read a size; a float from an SVG
    height: int | float
    size_via: str  # "header" | "pillow" | "none" | "crash"
    format: str | None  # real container format from the content ("PNG", "JPEG", ...), as Pillow names it
    mode: str | None  # Pillow mode ("RGB", "RGBA", "P", "CMYK", "I;16", ...)
    has_transparency: bool
    exif_orientation: int | None  # 1..8, None when absent
    file_size: int
    error: str | None = None  # why the size could not be read; for "crash": the exception, "ValueError: ..."
    error_kind: str | None = None  # "zero_bytes" | "not_a_file" | "unreadable" | "header_crash" | "no_size"
    decode_error: str | None = None  # --deep only: why a full decode failed
    decoded: bool = False  # --deep ran on this file
    load_error: str | None = None  # why sd-scripts fails when it loads the image (after building the dataset)
    load_error_kind: str | None = None  # "unopenable" | "too_large" | "truncated" | "corrupt" | "no_image"


@compact
class Caption(NamedTuple):
    source: CaptionSource
    path: str | None  # the caption file read (sd-scripts string), None when none
    text: str | None  # None when reading would crash sd-scripts
    error: str | None = None  # "empty_file" | "not_utf8" | "unreadable"
    has_bom: bool = False
    line_count: int = 0
    via_fallback: bool = False  # found through the face-crop naming fallback
    oversize: int = 0  # the file's size in bytes when it is over limits.CAPTION_BYTES (only that much is read)


@compact
class ImageRecord(NamedTuple):
    path: str  # as sd-scripts globs it
    abs_path: str
    ext: str
    probe: ImageProbe
    caption: Caption
    # sizes taken from latent cache file names, per cache suffix ('_sd.npz', '_sdxl.npz', ...)
    cache_sizes: tuple[tuple[str, tuple[int, int]], ...] = ()
    caption_tokens: int | None = None  # CLIP-L tokens of caption.text, no start/end; None: not counted

    @property
    def size(self) -> tuple[int, int]:
        return (self.probe.width, self.probe.height)

    def trained_size(self, cache_suffix: str | None) -> tuple[tuple[int, int], bool]:
        """The size sd-scripts buckets this image by, and whether a latent cache file set it."""
        for suffix, size in self.cache_sizes:
            if suffix == cache_suffix:
                return size, True
        return self.size, False


@dataclass(frozen=True)
class DatasetParams:
    """Dataset-level options (spec §1, §5). ``resolution`` is None when not given. The
    defaults are sd-scripts' argparse defaults, declared here once: sdscripts/defaults.py names them
    (it reads them from here, as a base module cannot import it)."""

    resolution: tuple[int, int] | None = None
    batch_size: int = 1  # --train_batch_size
    enable_bucket: bool = False
    min_bucket_reso: int = 256  # --min_bucket_reso
    max_bucket_reso: int = 1024  # --max_bucket_reso
    bucket_reso_steps: int = 64  # --bucket_reso_steps
    bucket_no_upscale: bool = False
    validation_split: float = 0.0  # share of each train subset held out (spec §6)
    validation_seed: int | None = None
    resize_interpolation: str | None = None  # as given (dataset, [general], command line); checked at build
    # built as a ControlNetDataset (every configured subset names a conditioning_data_dir): its images live in a
    # DreamBooth delegate and its own bucket_reso_steps is None, so verify_bucket_reso_steps passes
    controlnet: bool = False


@dataclass(frozen=True)
class SubsetConfig:
    """A subset as configured, before any file is read (sd-scripts' subset blueprint). The
    option defaults are sd-scripts' argparse defaults; those sdscripts/defaults.py names are declared
    here once (it reads them from here, as a base module cannot import it)."""

    image_dir: str
    is_reg: bool
    num_repeats: int
    class_tokens: str | None
    caption_extension: str = ".caption"  # --caption_extension
    enable_wildcard: bool = False
    flip_aug: bool = False
    cache_info: bool = False
    from_config: bool = False  # declared in a dataset config (not discovered in a root)
    color_aug: bool = False
    random_crop: bool = False
    shuffle_caption: bool = False
    caption_dropout_rate: float = 0.0
    caption_tag_dropout_rate: float = 0.0
    token_warmup_step: float = 0
    # the rest of process_caption's subset options, sd-scripts' defaults (caption_options.py resolves them)
    caption_separator: str = ","  # --caption_separator
    keep_tokens: int = 0
    keep_tokens_separator: str = ""
    secondary_separator: str | None = None
    caption_prefix: str | None = None
    caption_suffix: str | None = None
    caption_dropout_every_n_epochs: int = 0
    token_warmup_min: int = 1  # --token_warmup_min
    conditioning_data_dir: str | None = None  # a ControlNet subset (ControlNetDataset over a DreamBooth delegate)
    metadata_file: str | None = None  # a fine-tuning subset (FineTuningDataset): images from this metadata


@dataclass(frozen=True)
class Crash:
    """The first failure sd-scripts would hit, in its own order. ``stage``: "start" (arguments,
    config and option checks, including those right after the dataset build and where it counts
    its steps), "build" (the dataset config, images or captions while it builds the dataset and
    buckets), "load" (when it first loads a registered image), "train" (when training begins,
    after the steps are counted and the models loaded)."""

    stage: str
    code: str  # the finding code that explains it
    exception: str  # the Python exception sd-scripts raises ("AssertionError", "SystemExit", ...)
    path: str
    message: str

    def to_json(self) -> dict:
        return {"stage": self.stage, "code": self.code, "exception": self.exception, "path": self.path,
                "message": self.message}


@dataclass(frozen=True)
class Subset:
    config: SubsetConfig
    abs_path: str
    images: tuple[ImageRecord, ...]
    cache_error: str | None = None  # a latent cache name sd-scripts cannot read: "ValueError: ..."
    held_out: tuple[ImageRecord, ...] = ()  # validation_split: in the validation dataset, never trained
    tag_frequency: dict[str, int] | None = None  # fine-tuning: what set_tag_frequency counted of its ``tags``

    @property
    def role(self) -> Role:
        return Role.REG if self.config.is_reg else Role.TRAIN

    @property
    def num_repeats(self) -> int:
        return self.config.num_repeats

    @property
    def samples(self) -> int:
        return self.config.num_repeats * len(self.images)

    def caption_counts(self) -> dict[str, int]:
        counts = {s.value: 0 for s in CaptionSource}
        for img in self.images:
            counts[img.caption.source.value] += 1
        return counts


@dataclass(frozen=True)
class Dataset:
    index: int
    params: DatasetParams
    subsets: tuple[Subset, ...]  # only the subsets sd-scripts keeps, in its order
    declared: int = -1  # subsets configured; 0 makes sd-scripts build an empty ControlNet dataset
    # (folder, error) where only the validation dataset reads a subset (num_repeats < 1) and fails on it
    validation_errors: tuple[tuple[str, str], ...] = ()
    # (folder, error) where the training dataset's own validation split fails (an empty train folder)
    split_errors: tuple[tuple[str, str], ...] = ()
    # subsets only the validation dataset reads (num_repeats < 1, validation_split on), each with the
    # images it reads of them in held_out: (the number of kept subsets before it, the subset)
    validation_only: tuple[tuple[int, Subset], ...] = ()
    stop: "Crash | None" = None  # where its constructor stops on its fine-tuning metadata (sdscripts.finetune)
    fine_tuning: bool = False  # a FineTuningDataset (metadata_file subsets)

    @property
    def train_subsets(self) -> tuple[Subset, ...]:
        return tuple(s for s in self.subsets if not s.config.is_reg)

    @property
    def reg_subsets(self) -> tuple[Subset, ...]:
        return tuple(s for s in self.subsets if s.config.is_reg)


@dataclass(frozen=True)
class ScanResult:
    datasets: tuple[Dataset, ...]
    ignored: tuple[Ignored, ...]
    findings: tuple[Finding, ...]
    caption_extension: str
    deep: bool
    sources: tuple[str, ...] = field(default=())  # the roots or config file that were read
    crash: Crash | None = None  # sd-scripts stops before or while reading the dataset definition
    caption_tokenizer: str | None = None  # the library that counted caption_tokens; None: not counted

    @property
    def subsets(self) -> tuple[Subset, ...]:
        return tuple(s for d in self.datasets for s in d.subsets)

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in Severity}
        for f in self.findings:
            out[f.severity.value] += 1
        return out
