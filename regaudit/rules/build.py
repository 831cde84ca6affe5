"""Build and start checks: the subsets sd-scripts skips or stops on while it builds the dataset
(RA002, RA008-RA011, RA076), the stops on its command line and config (RA077, RA078, RA091, any
``Crash``), and what regaudit does not simulate (RA090). Facts in, findings out."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import replace

from ..model import Crash, Finding, Severity, Subset
from ..safeio import here
from ..sdscripts.config import DatasetSpec
from ..sdscripts.latents import CacheNameError
from ..sdscripts.subsets import Skip, SubsetFate
from .layout import listing_findings, root_findings
from .registry import rule


def crash_finding(crash: Crash) -> Finding:
    """The finding that explains a stop (its code and message are the crash's)."""
    return rule(crash.code).finding(crash.path, crash.message)


def spec_findings(spec: DatasetSpec) -> list[Finding]:
    """The findings on a dataset definition: its train/reg roots (layout and RA011) and the
    metadata caches sd-scripts reads instead of the folders (RA090)."""
    out = []
    for rs in spec.roots:
        path = os.path.abspath(rs.root)
        if rs.missing is not None:
            if rs.is_reg:
                out.append(rule("RA011").finding(
                    path, f"reg folder {rs.missing}: sd-scripts trains without regularization images",
                    "Check the --reg_data_dir path, or drop the option if you train without reg images.")
                    .with_severity(Severity.WARNING))
            else:
                out.append(rule("RA011").finding(
                    path, f"train folder {rs.missing}: sd-scripts finds no subset and stops with 'No data found'",
                    "Pass the folder that holds the '<repeats>_<class tokens>' subfolders."))
            continue
        out += root_findings(rs)
        if not rs.subsets:
            role = rs.role
            f = rule("RA011").finding(
                path, f"{role} root has no '<repeats>_<class tokens>' subfolder: sd-scripts finds no {role} "
                      f"subset in it" + ("; it trains without regularization images" if rs.is_reg else ""))
            out.append(f.with_severity(Severity.WARNING) if rs.is_reg else f)
    for cache in spec.info_caches:
        out.append(rule("RA090").finding(
            cache, "cache_info is on and this cache exists: sd-scripts takes the image list, captions and sizes "
                   "from it, not from the folder as regaudit shows it; images added or captions changed since "
                   "are not seen"))
    return out


def _root_without_subset(spec: DatasetSpec) -> bool:
    """Whether spec_findings says RA011 of one of its roots."""
    return any(rs.missing is not None or not rs.subsets for rs in spec.roots)


# --- one subset of a dataset, in DreamBoothDataset.__init__'s order of checks

def subset_findings(fate: SubsetFate, spec: DatasetSpec) -> list[Finding]:
    """The findings on what sd-scripts does with one configured subset of ``spec`` (its fate, from
    sdscripts.subsets): why it skips it, what its folder's listing leaves out, what the validation
    split holds back. (A kept subset's latent cache error is cache_name_failure's, said with its
    images.)"""
    abs_dir, skip = fate.abs_dir, fate.skip
    if skip is Skip.REPEATS_BELOW_ONE:
        out = [repeats_below_one(abs_dir, fate.config.num_repeats)]
        if fate.cache_error is not None:
            out.append(validation_cache_failure(fate.cache_error))
        return out
    if skip is Skip.DUPLICATE:
        return [duplicate_subset(abs_dir, spec.index, fate.role)]
    out = listing_findings(fate.listing) if fate.listing is not None else []
    if skip is Skip.EMPTY_SPLIT:
        out.append(empty_split(abs_dir))
    elif skip is Skip.NO_IMAGES:
        out.append(no_images(abs_dir, fate.why_empty))
    elif fate.split:  # kept, or ALL_HELD_OUT
        params = spec.params
        n_images = len(fate.paths) + len(fate.held_out)
        out.append(held_out(abs_dir, params.validation_split, len(fate.paths), n_images, len(fate.held_out),
                            params.validation_seed))
    return out


def repeats_below_one(abs_dir: str, num_repeats: int) -> Finding:
    return rule("RA002").finding(abs_dir, f"subset has num_repeats {num_repeats}; sd-scripts skips it")


def validation_cache_failure(error: CacheNameError) -> Finding:
    """A skipped subset whose latent cache names the validation dataset still reads, and fails on."""
    return rule("RA076").finding(
        os.path.abspath(error.npz_path),
        f"the validation dataset (validation_split) reads this skipped subset's latent cache names "
        f"too, and this one fails ({error}): sd-scripts stops while building it")


def duplicate_subset(abs_dir: str, dataset: int, role: str) -> Finding:
    return rule("RA009").finding(
        abs_dir, f"folder is configured twice in dataset {dataset}; the later ({role}) entry is ignored and the "
                 f"first one is used")


def empty_split(abs_dir: str) -> Finding:
    return rule("RA008").finding(
        abs_dir, "subset has no image files and validation_split is on: sd-scripts fails splitting it "
                 "(ValueError) and stops while building the dataset").with_severity(Severity.ERROR)


def no_images(abs_dir: str, why: str) -> Finding:
    return rule("RA008").finding(abs_dir, f"subset has {why}; sd-scripts ignores it")


def held_out(abs_dir: str, share: float, n_train: int, n_images: int, n_held: int, seed: int | None) -> Finding:
    return rule("RA090").finding(
        abs_dir, f"validation_split {share}: sd-scripts trains on {n_train} of this subset's {n_images} images "
                 f"and holds {n_held} back"
                 + (f" (validation_seed {seed}: the same ones as here)" if seed is not None else
                    "; without validation_seed WHICH ones is random (the counts here are exact, the "
                    "held-out images shown are an example)"))


def cache_name_failure(error: CacheNameError) -> Finding:
    return rule("RA076").finding(
        os.path.abspath(error.npz_path),
        f"sd-scripts reads an image size from this latent cache file name and fails ({error}): it stops "
        f"while building the dataset")


# --- one dataset, once its subsets are read

def dataset_findings(spec: DatasetSpec, subsets: Sequence[Subset], same_folder: Iterable[tuple[str, list[Subset]]],
                     others_train: bool, cwd: str) -> list[Finding]:
    """One folder read as several subsets (``same_folder``: (real path, its subsets)), a dataset
    without train images (RA011; a warning when ``others_train``: another dataset trains)."""
    out = []
    for real, group in same_folder:
        if len(group) > 1:
            spellings = ", ".join(f"'{s.config.image_dir}' ({s.role.value})" for s in group)
            distinct = len({tuple(img.path for img in s.images) for s in group})
            if distinct == 1:
                # 'D' and 'D/' glob to the same path strings: one registration, the later settings
                what = (f"each subset counts in num_train/num_reg_images, but its {len(group[0].images)} images are "
                        f"registered once, with the last spelling's repeats and captions")
            else:
                what = f"sd-scripts registers its {len(group[0].images)} images {distinct} times"
            out.append(rule("RA010").finding(
                real, f"one folder is read as {len(group)} subsets through different spellings: {spellings}; "
                      f"{what}"))
    if not any(not s.config.is_reg for s in subsets):
        where = os.path.abspath(subsets[0].config.image_dir) if subsets else cwd
        n_reg = sum(len(s.images) for s in subsets)
        msg = (f"dataset {spec.index} has no train subset with images"
               + (f"; its {n_reg} reg images are never used (reg images are only drawn to match train samples)"
                  if n_reg else ""))
        if not _root_without_subset(spec) or n_reg:
            f = rule("RA011").finding(where, msg)
            # the run still trains when another dataset has train images: then it is a warning
            out.append(f.with_severity(Severity.WARNING) if others_train else f)
    return out


def finetuning_skipped(metadata_file: str, warning: str) -> Finding:
    """FineTuningDataset's warning on a metadata_file subset it leaves out (sdscripts.finetune)."""
    code = "RA002" if "num_repeats" in warning else "RA009" if "duplicated" in warning else "RA008"
    return rule(code).finding(os.path.abspath(metadata_file), f"fine-tuning subset left out: sd-scripts logs '{warning}'")


# --- what regaudit does not simulate

def in_json(path: str) -> Finding:
    return rule("RA090").finding(
        os.path.abspath(path),
        "--in_json: sd-scripts trains on this fine-tuning metadata's images, which regaudit does not simulate; "
        "the folders and figures shown are not what it trains on")


def foreign_paths(paths: Sequence[tuple[str, str]], trainer: str) -> Finding:
    """The paths of a pasted command that cannot exist here (views.paste.foreign), in one finding."""
    named = "; ".join(f"{what} {value}" for what, value in paths)
    left_out = ("the training options in that file" if any(w == "--config_file" for w, _ in paths) else None)
    data = [w for w, _ in paths if w != "--config_file"]
    missing = ", ".join(x for x in (left_out, "the images and captions of " + ", ".join(data) if data else None) if x)
    return rule("RA092").finding(
        here(), f"{len(paths)} path(s) of the {trainer}.py command cannot exist on this machine: {named}; "
                     f"regaudit leaves out {missing} and audits the rest")


# findings on an image sd-scripts fails to size or load
LOAD_CODES = frozenset({"RA012", "RA040", "RA041", "RA042", "RA043", "RA050", "RA052"})


def soften_unused_reg(findings: list[Finding], reg_paths: set[str], registered: set[str]) -> list[Finding]:
    """A broken reg image the balancing loop does not register is never sized nor loaded: sd-scripts
    runs. Say so, as a warning, and that it would crash once the counts change."""
    out = []
    for f in findings:
        if f.code in LOAD_CODES and f.path in reg_paths and f.path not in registered:
            f = replace(f, severity=Severity.WARNING,
                        message=f"{f.message} — but the reg balancing loop does not use this image today, so "
                                f"sd-scripts never reads it; it would fail if the train/reg counts change")
        out.append(f)
    return out
