"""The dataset definitions sd-scripts reads: from a ``--dataset_config`` file, or else one dataset
of the subfolders of ``--train_data_dir`` and ``--reg_data_dir`` (spec §1). Facts only."""

from __future__ import annotations

from ..errors import InputPathError
from .captions import normalize_extension
from .config import DatasetConfigCrash, DatasetSpec, TrainingArgs, load_dataset_config
from .layout import scan_root


def specs_from_roots(train: str | None, reg: str | None, args: TrainingArgs) -> DatasetSpec:
    """One dataset from train_data_dir / reg_data_dir, as the trainers build it
    (config_util.generate_dreambooth_subsets_config_by_subdirs of each root, train first)."""
    spec = DatasetSpec(0, args.dataset_params(), [])
    for root, is_reg in ((train, False), (reg, True)):
        if root is None:
            continue
        rs = scan_root(root, is_reg, args.caption_extension, args.subset_defaults())
        if rs.crash is not None:
            exc, path = rs.crash
            raise DatasetConfigCrash(path, type(exc).__name__, str(exc), "RA013", f"the {rs.role} folder")
        spec.roots.append(rs)
        spec.subsets += rs.subsets
        spec.ignored += rs.ignored
    return spec


def load_specs(train: str | None = None, reg: str | None = None, dataset_config: str | None = None,
               args: TrainingArgs | None = None, in_json: str | None = None,
               config_data: dict | None = None) -> list[DatasetSpec]:
    """The dataset definitions sd-scripts reads (config_util.generate_dataset_group_by_blueprint's
    input). Raises DatasetConfigCrash where it stops on the dataset config. ``in_json`` (a trainer
    that takes fine-tuning datasets): one metadata subset of ``train``; the reg folder is ignored.
    ``config_data``: the dataset config as config.read_config_file read it already."""
    args = args or TrainingArgs()
    args = TrainingArgs(**{**args.__dict__, "caption_extension": normalize_extension(args.caption_extension)})
    if dataset_config is not None:
        return load_dataset_config(dataset_config, args, config_data)  # train/reg dirs are ignored then, as in sd-scripts
    if in_json is not None:
        from .finetune import spec_from_in_json

        return [spec_from_in_json(train, in_json, args)]
    if train is None and reg is None:
        raise InputPathError("nothing to scan: give a folder, --train/--reg, or --dataset-config")
    return [specs_from_roots(train, reg, args)]


def validation_part(items: list, share: float, seed: int | None) -> list:
    """train_util.split_train_val for the validation dataset: the same shuffle, then the last
    round(n * share) items. (With ceil for the training part and round for this one, an item can be
    in both, or in neither.)"""
    import random

    order = list(items)
    if seed is not None:
        random.Random(seed).shuffle(order)
    return order[len(order) - round(len(order) * share):]


def validation_split(paths: list[str], share: float, seed: int | None) -> tuple[list[str], list[str]]:
    """train_util.split_train_val for the training dataset: shuffle (with ``seed``, as random.seed
    then random.shuffle do), keep the first ceil(n * (1 - share)). Without a seed sd-scripts shuffles
    with its global random state; the sorted order stands in for it (the counts are the same)."""
    import math
    import random

    order = list(paths)
    if seed is not None:
        random.Random(seed).shuffle(order)
    keep = math.ceil(len(order) * (1 - share))
    return order[:keep], order[keep:]
