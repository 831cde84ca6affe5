"""Which configured subsets sd-scripts trains on, and why it skips the others, in the order
DreamBoothDataset.__init__ checks them: num_repeats < 1, the same image_dir twice in one dataset,
an empty train folder under validation_split (its split raises: the build stops), no images found,
every image held out for validation. For a subset it keeps: the images it trains on and holds out,
and the sizes latent cache file names give them. Facts only."""

from __future__ import annotations

import glob
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from ..model import Ignored, IgnoreReason, SubsetConfig
from .config import DatasetSpec
from .datasets import validation_part, validation_split
from .latents import CacheNameError, cache_sizes
from .layout import FolderListing, list_subset

Listed = Mapping[tuple[str, str], FolderListing]  # (image_dir, caption_extension) -> its listing


class Skip(str, Enum):
    """Why DreamBoothDataset.__init__ trains on nothing of a configured subset (in its order)."""

    REPEATS_BELOW_ONE = "repeats_below_one"  # 'ignore subset ... num_repeats is less than 1'
    DUPLICATE = "duplicate"  # 'ignore duplicated subset': the same image_dir string, earlier in the dataset
    EMPTY_SPLIT = "empty_split"  # no image, validation_split on: split_train_val raises, the build stops
    NO_IMAGES = "no_images"  # 'ignore subset ... no images found'
    ALL_HELD_OUT = "all_held_out"  # the validation split holds every image out: no images found either


# what split_train_val raises on an empty train folder (it unpacks zip(*[]))
SPLIT_ERROR = ("ValueError: not enough values to unpack (expected 2, got 0) — with validation_split, "
               "sd-scripts splits this empty train folder and fails")


@dataclass(frozen=True)
class SubsetFate:
    """What DreamBoothDataset.__init__ does with one configured subset: keeps it (``skip`` None) or
    skips it, and why."""

    config: SubsetConfig
    skip: Skip | None = None  # None: kept
    listing: FolderListing | None = None  # its folder's listing (None: skipped before it is listed)
    split: bool = False  # the validation split ran on its images (a train subset, validation_split on)
    paths: list[str] = field(default_factory=list)  # the images it trains on
    held_out: list[str] = field(default_factory=list)  # the images held out for validation
    sizes: list[tuple[int, int] | None] | None = None  # per trained image, its latent cache size (None: none read)
    # a latent cache name it fails on; for a subset with num_repeats < 1, the validation dataset's read
    cache_error: CacheNameError | None = None

    @property
    def kept(self) -> bool:
        return self.skip is None

    @property
    def abs_dir(self) -> str:
        return os.path.abspath(self.config.image_dir)

    @property
    def role(self) -> str:
        return "reg" if self.config.is_reg else "train"

    @property
    def why_empty(self) -> str:
        """Why its listing has no image (NO_IMAGES)."""
        return "no image files found" if self.listing is None or self.listing.readable else "not a readable directory"

    def ignored(self) -> list[Ignored]:
        """What it leaves out, as regaudit lists it: its folder's skipped files, the images held out,
        the folder itself when skipped."""
        def folder(reason: IgnoreReason, message: str) -> Ignored:
            return Ignored(self.abs_dir, "dir", reason, message)

        if self.skip is Skip.REPEATS_BELOW_ONE:
            return [folder(IgnoreReason.REPEATS_BELOW_ONE, f"num_repeats {self.config.num_repeats} < 1: the subset "
                                                          f"is skipped")]
        if self.skip is Skip.DUPLICATE:
            return [folder(IgnoreReason.DUPLICATE_SUBSET, f"the same folder is already a subset of this dataset; "
                                                         f"this {self.role} entry is ignored")]
        out = list(self.listing.ignored) if self.listing is not None else []
        if self.skip is Skip.EMPTY_SPLIT:
            out.append(folder(IgnoreReason.NO_IMAGES, "no image files found"))
        elif self.skip is Skip.NO_IMAGES:
            out.append(folder(IgnoreReason.NO_IMAGES, f"{self.why_empty}: sd-scripts ignores the subset "
                                                      f"('no images found')"))
        elif self.split:
            out += [Ignored(os.path.abspath(p), "file", IgnoreReason.VALIDATION,
                            "held out for validation (validation_split): never trained on") for p in self.held_out]
            if self.skip is Skip.ALL_HELD_OUT:
                out.append(folder(IgnoreReason.NO_IMAGES,
                                  "every image is held out for validation: sd-scripts ignores the subset"))
        return out


def folders_to_list(specs: Sequence[DatasetSpec]) -> list[tuple[str, str]]:
    """(image_dir, caption_extension) of each subset whose folder DreamBoothDataset lists (num_repeats
    >= 1), once each."""
    return list(dict.fromkeys((sc.image_dir, sc.caption_extension) for spec in specs for sc in spec.subsets
                              if sc.num_repeats >= 1))


def list_folders(specs: Sequence[DatasetSpec], case_insensitive: bool | None = None) -> dict[tuple[str, str],
                                                                                               FolderListing]:
    """The listing of each folder in folders_to_list (train_util.glob_images of each subset)."""
    return {(d, ext): list_subset(d, case_insensitive, ext) for d, ext in folders_to_list(specs)}


def decide_subsets(spec: DatasetSpec, listed: Listed | None = None, latents_suffix: str | None = "_sd.npz",
                   case_insensitive: bool | None = None) -> list[SubsetFate]:
    """The fate of each of ``spec``'s subsets, in order: DreamBoothDataset.__init__'s loop over its
    subsets, with train_util.load_dreambooth_dir's listing, validation split (split_train_val) and
    latent cache sizes. ``listed``: the folders listed already (list_folders); without it each is
    listed here. ``latents_suffix``: the latent cache suffix whose file names give sizes (None: the
    trainer installs no caching strategy)."""
    params = spec.params
    out = []
    kept_dirs: set[str] = set()
    for sc in spec.subsets:
        if sc.num_repeats < 1:
            error = None
            if params.validation_split > 0 and latents_suffix is not None and os.path.isdir(sc.image_dir):
                error = _validation_cache_error(sc.image_dir, latents_suffix, case_insensitive)
            out.append(SubsetFate(sc, Skip.REPEATS_BELOW_ONE, cache_error=error))
            continue
        if sc.image_dir in kept_dirs:  # DreamBoothSubset equality: the raw image_dir string (spec §10.3)
            out.append(SubsetFate(sc, Skip.DUPLICATE))
            continue
        listing = listed[(sc.image_dir, sc.caption_extension)] if listed is not None else \
            list_subset(sc.image_dir, case_insensitive, sc.caption_extension)
        split = params.validation_split > 0 and not sc.is_reg
        if not listing.images:
            empty_split = split and os.path.isdir(sc.image_dir)
            out.append(SubsetFate(sc, Skip.EMPTY_SPLIT if empty_split else Skip.NO_IMAGES, listing))
            continue
        kept_dirs.add(sc.image_dir)
        paths, held_out = listing.images, []
        if split:
            paths, held_out = validation_split(paths, params.validation_split, params.validation_seed)
        if not paths:
            out.append(SubsetFate(sc, Skip.ALL_HELD_OUT, listing, split, paths, held_out))
            continue
        sizes, error = _cache_sizes(sc, listing, paths, held_out, latents_suffix)
        out.append(SubsetFate(sc, None, listing, split, paths, held_out, sizes, error))
    return out


def validation_only(spec: DatasetSpec, fates: Sequence[SubsetFate],
                    case_insensitive: bool | None = None) -> list[tuple[int, SubsetFate]]:
    """The subsets only the validation dataset reads, with the images it holds out of each, as
    (the number of kept subsets before it, its fate with ``held_out`` filled in). With
    validation_split, DreamBoothDataset builds the validation dataset over the same subsets with
    num_repeats taken as 1: a train subset the training dataset skipped for num_repeats < 1 is
    listed and split there, and its held-out share is read (captions, then sizes for its buckets).
    A folder the validation dataset already registered (one with held-out images) is skipped there."""
    params = spec.params
    if not params.validation_split > 0:
        return []
    out: list[tuple[int, SubsetFate]] = []
    seen: set[str] = set()
    kept = 0
    for fate in fates:
        sc = fate.config
        if fate.kept:
            kept += 1
            if fate.split and round((len(fate.paths) + len(fate.held_out)) * params.validation_split) > 0:
                seen.add(sc.image_dir)
            continue
        if fate.skip not in (Skip.REPEATS_BELOW_ONE, Skip.ALL_HELD_OUT) or sc.is_reg or sc.image_dir in seen \
                or fate.cache_error is not None:
            continue
        listing = fate.listing or list_subset(sc.image_dir, case_insensitive, sc.caption_extension)
        if not listing.images:
            continue
        held_out = validation_part(listing.images, params.validation_split, params.validation_seed)
        if held_out:
            seen.add(sc.image_dir)
            out.append((kept, SubsetFate(sc, fate.skip, listing, True, [], held_out)))
    return out


def build_stops(fates: Sequence[SubsetFate]) -> tuple[tuple[tuple[str, str], ...], tuple[tuple[str, str], ...]]:
    """A dataset's (folder, error) pairs where building it stops: in the validation dataset (a
    skipped subset's latent cache name: Dataset.validation_errors), in its own validation split
    (an empty train folder: Dataset.split_errors)."""
    return (tuple((f.abs_dir, str(f.cache_error)) for f in fates
                  if f.skip is Skip.REPEATS_BELOW_ONE and f.cache_error is not None),
            tuple((f.abs_dir, SPLIT_ERROR) for f in fates if f.skip is Skip.EMPTY_SPLIT))


def _validation_cache_error(image_dir: str, suffix: str, case_insensitive: bool | None) -> CacheNameError | None:
    """The validation dataset reads a subset with num_repeats < 1 anyway (with repeats 1): the latent
    cache name it fails on there, if any."""
    try:
        cache_sizes(image_dir, list_subset(image_dir, case_insensitive).images, suffix)
    except CacheNameError as exc:
        return exc
    return None


def _cache_sizes(sc: SubsetConfig, listing: FolderListing, paths: list[str], held_out: list[str],
                 suffix: str | None) -> tuple[list | None, CacheNameError | None]:
    """(the latent cache size of each trained image, or None: none read; the cache name it fails on).
    The names are matched on the whole sorted listing, before the validation split, as
    load_dreambooth_dir does; a folder without a '.npz' file, whose name the glob reads literally,
    has none."""
    if suffix is None or sc.cache_info or not (listing.has_npz or glob.has_magic(sc.image_dir)):
        return None, None
    try:
        in_order = sorted(paths + held_out)
        by_path = dict(zip(in_order, cache_sizes(sc.image_dir, in_order, suffix)))
    except CacheNameError as exc:
        return None, exc
    return [by_path[p] for p in paths], None
