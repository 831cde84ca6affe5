"""Fine-tuning datasets (``--in_json`` and ``metadata_file`` subsets): what sd-scripts'
FineTuningDataset.__init__ registers from a metadata file, and where it stops. Facts only.

What it does, in its order, per subset (train_util.FineTuningDataset.__init__):

1. num_repeats < 1, or a subset equal to one already kept: skipped with a warning;
2. the metadata file: missing -> ``ValueError: no metadata``; ``.jsonl`` read line by line
   (``image_path``, ``caption``, ``image_size``, ``tags``), anything else as one JSON object;
   no entries -> the subset is skipped with a warning;
3. every key: relative keys need ``image_dir`` (AssertionError "image_dir is required"), the image
   path is ``os.path.join(image_dir, key)`` as written: no extension is added, so a key made by
   merge_captions_to_metadata.py without --full_path (the file's stem) names no file;
4. the latent cache files of the subset's folders, ``glob(<dir>/*<cache_suffix>)``: without a latents
   caching strategy installed (the fine-tuning trainers install one only with --cache_latents) this
   raises ``AttributeError: 'NoneType' object has no attribute 'cache_suffix'``;
5. keys, longest first (a stable sort: equal lengths keep the file's order): a key without
   ``image_size`` takes the first cache file (longest name first) whose path starts with the key
   without its extension, and its size from that name; caption = ``caption`` (or ""), then ``tags``
   joined with the caption separator; every key registered with the subset's repeats.

Sizes not set here are read from the image path in make_buckets (a missing file raises there)."""

from __future__ import annotations

import json
import os
import stat
from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field
from typing import NamedTuple

from ..safeio import read_regular
from .images import probe
from .latents import find_cache_files, latents_npz_path, size_from_name
from .tagfreq import count_tags

METADATA_LIMIT = 1 << 30  # bytes: a million images' captions and tags


class FtEntry(NamedTuple):
    """One registered metadata key."""

    key: str  # the metadata key: sd-scripts' image_key
    path: str  # the path sd-scripts stores (the key joined to image_dir, or the cache file it matched)
    caption: str
    size: tuple | None  # image_size from the metadata, else from a cache file name, else None
    size_from: str | None  # "metadata" | "cache" | None (read from the image in make_buckets)


@dataclass(frozen=True)
class FtStop:
    """Where FineTuningDataset.__init__ raises."""

    exception: str
    path: str
    message: str


@dataclass
class FtSubset:
    """What one metadata_file subset gives: kept or skipped (with sd-scripts' warning), its entries,
    its tag lists, or the stop."""

    metadata_file: str
    image_dir: str | None
    num_repeats: int
    entries: list[FtEntry] = field(default_factory=list)
    skipped: str | None = None  # sd-scripts' warning when it ignores the subset
    stop: FtStop | None = None
    tag_frequency: dict[str, int] = field(default_factory=dict)  # set_tag_frequency of its ``tags`` values
    config: object = None  # the model.SubsetConfig it was read for (read_dataset)


def read_metadata(path: str) -> dict:
    """FineTuningDataset's metadata read: JSON Lines for '.jsonl', else one JSON object. Raises
    FileNotFoundError-free: a missing file is the caller's ``no metadata`` stop; a parse error
    raises ValueError (json.JSONDecodeError) or UnicodeDecodeError, as json does there."""
    raw = read_regular(path, METADATA_LIMIT).decode("utf-8")
    if path.endswith(".jsonl"):
        out: dict = {}
        for line in _text_lines(raw):
            md = json.loads(line)
            image_md = {"caption": md.get("caption", "")}  # (AttributeError: a line that is no object)
            if "image_size" in md:
                image_md["image_size"] = md["image_size"]
            if "tags" in md:
                image_md["tags"] = md["tags"]
            out[md["image_path"]] = image_md  # (a list: unhashable, TypeError; a number: kept, see read_subset)
        return out
    return json.loads(raw)


def _text_lines(text: str) -> list[str]:
    """The lines ``for line in f`` gives of a file opened as text: universal newlines ('\\r\\n', '\\r'
    and '\\n' end a line, read as '\\n'), each line with its end; str.splitlines would also break at
    \\x0b, \\x1c-\\x1e, \\x85 and U+2028/2029, which a JSON string may hold raw."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    last = lines.pop()
    return [line + "\n" for line in lines] + ([last] if last else [])


def _caption(caption, tags, separator: str, wildcard: bool) -> tuple[str, str | None]:
    """The caption sd-scripts registers from ``caption`` and ``tags``, and the tags it adds to its
    tag list (None: none), as it joined them (with enable_wildcard, line breaks made separators)."""
    caption = "" if caption is None else caption
    if wildcard:
        if tags is None:
            return caption, None
        tags = tags.replace("\n", separator)
        lines = [f"{line}{separator}{tags}" for line in caption.split("\n") if line.strip() != ""]
        return "\n".join(lines), tags
    if tags is not None and len(tags) > 0:
        return (caption + separator if len(caption) > 0 else caption) + tags, tags
    return caption, None


def read_subset(metadata_file: str, image_dir: str | None, num_repeats: int, cache_suffix: str | None,
                caption_separator: str = ",", enable_wildcard: bool = False) -> FtSubset:
    """FineTuningDataset.__init__ for one subset (after its repeats and duplicate checks)."""
    out = FtSubset(metadata_file, image_dir, num_repeats)
    if not os.path.exists(metadata_file):
        out.stop = FtStop("ValueError", metadata_file, f"no metadata: {metadata_file} does not exist")
        return out
    try:
        metadata = read_metadata(metadata_file)
    except UnicodeDecodeError as exc:
        out.stop = FtStop("UnicodeDecodeError", metadata_file, f"the metadata file is not UTF-8: {exc}")
        return out
    except (ValueError, RecursionError) as exc:
        out.stop = FtStop("JSONDecodeError", metadata_file, f"the metadata file is not valid JSON: {exc}")
        return out
    except KeyError as exc:
        out.stop = FtStop("KeyError", metadata_file, f"a JSON Lines entry has no {exc} key")
        return out
    except (AttributeError, TypeError) as exc:
        out.stop = FtStop(type(exc).__name__, metadata_file, f"a JSON Lines entry that is no object of "
                                                             f"image_path, caption, tags and image_size: {exc}")
        return out
    except OSError as exc:
        # (open() of a folder raises IsADirectoryError; regaudit reads no FIFO or device at all)
        name = "IsADirectoryError" if os.path.isdir(metadata_file) else \
            type(exc).__name__ if type(exc).__module__ == "builtins" else "OSError"
        out.stop = FtStop(name, metadata_file, f"the metadata file cannot be read: {exc.strerror or exc}")
        return out
    # sd-scripts' order: len(metadata) (a number or null has none), the empty skip, then metadata.keys()
    # and each entry's ["abs_path"] = ... (a list or a text has no keys(); an entry that is no object)
    if not isinstance(metadata, (dict, list, str)):
        out.stop = FtStop("TypeError", metadata_file, f"object of type '{type(metadata).__name__}' has no len(): "
                          "the metadata must be one JSON object of {image key: {caption, tags, image_size}}")
        return out
    if len(metadata) < 1:
        out.skipped = f"ignore subset with '{metadata_file}': no image entries found"
        return out
    if not isinstance(metadata, dict):
        out.stop = FtStop("AttributeError", metadata_file,
                          f"'{type(metadata).__name__}' object has no attribute 'keys': the metadata must be one JSON "
                          "object of {image key: {caption, tags, image_size}} (as merge_captions_to_metadata.py "
                          "writes it)")
        return out
    dirs = {} if image_dir is None else {image_dir: None}  # (a set there: an ordered one here)
    paths = {}
    for key in metadata:  # (sd-scripts' loop: isabs, the image_dir assert, then entry["abs_path"] = ...)
        if not isinstance(key, str):  # (a JSON Lines image_path that is a number)
            out.stop = FtStop("TypeError", metadata_file, f"expected str, bytes or os.PathLike object, not "
                                                          f"{type(key).__name__} (the image_path {key!r})")
            return out
        if not os.path.isabs(key):
            if image_dir is None:
                out.stop = FtStop("AssertionError", metadata_file,
                                  f"image_dir is required when image paths are relative: {key}")
                return out
            paths[key] = os.path.join(image_dir, key)
        else:
            paths[key] = key
            dirs[os.path.dirname(key)] = None
        if not isinstance(metadata[key], dict):  # (metadata[key]["abs_path"] = ...)
            out.stop = FtStop("TypeError", metadata_file, f"the entry of {key!r} is {type(metadata[key]).__name__}, "
                                                          "not an object of caption, tags and image_size")
            return out
    if cache_suffix is None:
        out.stop = FtStop("AttributeError", metadata_file,
                          "'NoneType' object has no attribute 'cache_suffix' (no latents caching strategy is "
                          "installed: this trainer installs one only with --cache_latents)")
        return out
    npz: list[str] = []
    for d in dirs:
        npz.extend(find_cache_files(d, cache_suffix))
    npz.sort(key=lambda p: len(os.path.basename(p)), reverse=True)
    caches = _FirstMatch(npz)
    for key in sorted(metadata, key=len, reverse=True):
        md = metadata[key]
        metadata[key] = None  # (each entry let go once read: a million of them are most of the memory)
        size = md.get("image_size")
        path, size_from, matched = paths[key], None, None
        if size is None:
            matched = caches.take(os.path.splitext(key)[0])
            if matched is not None:
                path = matched
        try:
            caption, tagged = _caption(md.get("caption"), md.get("tags"), caption_separator, enable_wildcard)
        except (TypeError, AttributeError) as exc:  # a caption or tags that is no string, joined to one
            out.stop = FtStop(type(exc).__name__, metadata_file, f"the entry of {key!r}: {type(exc).__name__}: {exc}")
            return out
        if not isinstance(caption, str):  # (registered as it is; the first use of the caption fails)
            out.stop = FtStop("TypeError", metadata_file, f"the caption of {key!r} is {type(caption).__name__} "
                                                          f"{caption!r}, not text: sd-scripts fails when it first uses it")
            return out
        if tagged is not None:  # (BaseDataset.set_tag_frequency of its tag list)
            count_tags(tagged, out.tag_frequency)
        if size is not None:
            try:
                size, size_from = tuple(size), "metadata"  # (sd-scripts: tuple(image_size))
            except TypeError as exc:
                out.stop = FtStop("TypeError", metadata_file, f"the image_size of {key!r}: {exc}")
                return out
            problem = _size_problem(size)
            if problem is not None:
                out.stop = FtStop(problem[0], metadata_file, f"the image_size of {key!r} is "
                                                             f"{list(size)!r}: {problem[1]}")
                return out
        elif matched is not None:
            try:
                size, size_from = size_from_name(matched), "cache"
            except (ValueError, IndexError) as exc:
                out.stop = FtStop(type(exc).__name__, matched,
                                  f"the latent cache file name has no '<W>x<H>' size: {type(exc).__name__}: {exc}")
                return out
        out.entries.append(FtEntry(key, path, caption, size, size_from))
    return out


def _size_problem(size: tuple) -> tuple[str, str] | None:
    """Where make_buckets stops on a metadata image_size (``image_width, image_height = image_size``,
    then arithmetic on them): (exception, message), or None for two numbers."""
    if len(size) != 2:
        return "ValueError", (f"not enough values to unpack (expected 2, got {len(size)})" if len(size) < 2
                              else "too many values to unpack (expected 2)")
    if not all(isinstance(v, (int, float)) for v in size):
        return "TypeError", "make_buckets computes with two numbers, these are " + \
            " and ".join(type(v).__name__ for v in size)
    return None


class _FirstMatch:
    """sd-scripts' cache file search: the first path of a list that starts with a prefix, taken out
    of the list once found. The list scanned once per key is quadratic (100,000 keys without a size
    and 100,000 cache files: 10^10 comparisons); here the paths sorted as text put every path with
    a prefix in one run (two bisections), and a segment tree over that order gives the run's
    earliest path in list order, a taken one counting as none: log n a search."""

    def __init__(self, paths: list[str]) -> None:
        self.paths = paths
        self.by_text = sorted(range(len(paths)), key=paths.__getitem__)
        self.texts = [paths[i] for i in self.by_text]
        size = 1
        while size < len(paths):
            size *= 2
        self.size, self.none = size, len(paths)
        self.tree = [self.none] * (2 * size)  # leaf: the list position of the path at that text position
        self.tree[size:size + len(paths)] = self.by_text
        for i in range(size - 1, 0, -1):
            self.tree[i] = min(self.tree[2 * i], self.tree[2 * i + 1])

    def take(self, prefix: str) -> str | None:
        if not self.paths:
            return None
        n = len(prefix)
        lo = bisect_left(self.texts, prefix)
        hi = bisect_right(self.texts, prefix, lo, key=lambda t: t[:n])  # (a prefix keeps the order)
        best, at = self.none, -1
        lo, hi = lo + self.size, hi + self.size
        while lo < hi:
            for node in ((lo,) if lo & 1 else ()) + ((hi - 1,) if hi & 1 else ()):
                if self.tree[node] < best:
                    best, at = self.tree[node], node
            lo, hi = (lo + 1) >> 1, hi >> 1
        if at < 0:
            return None
        while at < self.size:  # down to the leaf holding it
            at = 2 * at if self.tree[2 * at] == best else 2 * at + 1
        self.tree[at] = self.none
        at >>= 1
        while at:
            self.tree[at] = min(self.tree[2 * at], self.tree[2 * at + 1])
            at >>= 1
        return self.paths[best]


def first_load(path: str, size: tuple, size_from: str, suffix: str | None, to_disk: bool,
               deep: bool = False) -> str | None:
    """Why sd-scripts fails when it first loads a key whose size it took from the metadata or (size_from
    "cache") a cache file name, which is then the path it stores: it never looked at ``path`` while it
    built the dataset. "Exception: message" as Python words it, without the path (the key's own: a
    million keys naming no file share one message), or None when the load works. Latent caching
    (BaseDataset.cache_latents) or, uncached, the first batch that draws the key opens ``path`` with
    Pillow, except that with --cache_latents_to_disk an existing cache file (latents.latents_npz_path:
    for a path that is an SD/SDXL cache file, that file itself) is read instead. What that file holds
    is not looked at (sd-scripts checks its arrays and opens ``path`` where they do not fit the bucket),
    nor, but with ``deep`` (--deep), the image's pixels: one stat a key, for a million keys."""
    if to_disk and suffix is not None and type(size) is tuple and len(size) == 2:
        try:  # (the name is made for every key: a float size raises formatting it, as in sd-scripts)
            if reads_cache(path, size, suffix):
                return None
        except (ValueError, TypeError) as exc:
            return f"{type(exc).__name__}: {exc}"
    try:
        st = os.stat(path)
    except OSError as exc:
        return f"{type(exc).__name__}: [Errno {exc.errno}] {exc.strerror}" if exc.errno else f"{type(exc).__name__}: {exc}"
    except ValueError as exc:  # (a NUL; a lone surrogate no file name can hold)
        return f"{type(exc).__name__}: {exc}" if not isinstance(exc, UnicodeEncodeError) else \
            "UnicodeEncodeError: the path holds a lone surrogate"
    if stat.S_ISDIR(st.st_mode):
        return "IsADirectoryError: [Errno 21] Is a directory"
    if not os.access(path, os.R_OK):
        return "PermissionError: [Errno 13] Permission denied"
    if size_from == "cache" or not stat.S_ISREG(st.st_mode) or st.st_size == 0:
        return "UnidentifiedImageError: cannot identify image file"
    return _decode_failure(path) if deep else None


def _decode_failure(path: str) -> str | None:
    """Why Pillow fails on the file at ``path`` when sd-scripts loads it, read and decoded as any
    image is (images.probe); None when it loads."""
    p = probe(path, True)
    if p.load_error or p.decode_error:
        return p.load_error or p.decode_error
    if p.error_kind == "unreadable":
        return "PermissionError: [Errno 13] Permission denied"
    return "UnidentifiedImageError: cannot identify image file" if p.format is None else None


def reads_cache(path: str, size: tuple, suffix: str) -> bool:
    """Whether latent caching to disk reads a cache file for this key instead of opening ``path``
    (get_latents_npz_path names one that exists). Raises as sd-scripts does formatting the name."""
    return os.path.exists(latents_npz_path(path, size, suffix))


def read_dataset(subsets, cache_suffix: str | None) -> tuple[list[FtSubset], FtStop | None]:
    """FineTuningDataset.__init__'s loop over its subsets (model.SubsetConfig with metadata_file):
    repeats below 1 and a metadata_file already kept are skipped (FineTuningSubset.__eq__ compares
    metadata_file only); the first stop ends the build."""
    kept: list[FtSubset] = []
    seen: set[str] = set()
    out: list[FtSubset] = []
    for cfg in subsets:
        meta = str(cfg.metadata_file)
        image_dir = cfg.image_dir  # ('' is a folder to sd-scripts: relative keys are joined to nothing)
        if cfg.num_repeats < 1:
            out.append(FtSubset(meta, image_dir, cfg.num_repeats,
                                skipped=f"ignore subset with metadata_file='{meta}': num_repeats is less than 1: "
                                        f"{cfg.num_repeats}"))
            continue
        if meta in seen:
            out.append(FtSubset(meta, image_dir, cfg.num_repeats,
                                skipped=f"ignore duplicated subset with metadata_file='{meta}': use the first one"))
            continue
        sub = read_subset(meta, image_dir, cfg.num_repeats, cache_suffix, cfg.caption_separator, cfg.enable_wildcard)
        sub.config = cfg
        out.append(sub)
        if sub.stop is not None:
            return out, sub.stop
        if sub.skipped is None:
            seen.add(meta)
            kept.append(sub)
    return out, None


# --- the dataset definitions: --in_json, and metadata_file subsets of a dataset config

def spec_from_in_json(train: str | None, in_json: str, args):
    """The one dataset the trainers make of --in_json (image_dir = --train_data_dir, num_repeats =
    --dataset_repeats, as ARGPARSE_OPTNAME_TO_CONFIG_OPTNAME maps it). Without --train_data_dir
    image_dir is None, which the schema check refuses (config.DatasetConfigCrash)."""
    from .config import DatasetConfigCrash, DatasetSpec

    if train is None:
        raise DatasetConfigCrash(in_json, "MultipleInvalid",
                                 "expected str for dictionary value @ data['datasets'][0]['subsets'][0]['image_dir'] "
                                 "(--in_json needs --train_data_dir, the folder its image keys are relative to)")
    return DatasetSpec(0, args.dataset_params(), [subset_config({"image_dir": train, "metadata_file": in_json},
                                                                {}, {}, args)])


FT_SUBSET_DROPPED = ("class_tokens", "caption_extension", "cache_info", "is_reg")  # not in its schema


def subset_config(sub: dict, ds: dict, general: dict, args, path: str = ""):
    """A FineTuningSubset's values: subset -> dataset -> [general] -> command line -> default."""
    from dataclasses import replace as _replace

    from .config import _subset_config

    base = _subset_config({**sub, "image_dir": sub.get("image_dir") or ""}, ds, general, args, path)
    levels = (sub, ds, general)
    sep = next((lv["caption_separator"] for lv in levels if lv.get("caption_separator") is not None), ",")
    return _replace(base, image_dir=sub.get("image_dir"), is_reg=False, class_tokens=None, cache_info=False,
                    metadata_file=str(sub["metadata_file"]), caption_separator=str(sep))
