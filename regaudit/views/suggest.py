"""Concrete changes that reach what users usually want from reg balancing. Pure: from a plan to
suggestions; every figure is recomputed with the same loop sd-scripts runs."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

from .. import limits
from .balance import BalancePlan, DatasetPlan, reg_repeats
from ..model import Subset


@dataclass(frozen=True)
class Suggestion:
    dataset: int
    goal: str  # "use-every-reg-image" | "no-reg-repeats" | "reg-share"
    change: str
    result: str

    def to_json(self) -> dict:
        return {"dataset": self.dataset, "goal": self.goal, "change": self.change, "result": self.result}


def _set_repeats(s: Subset, repeats: int) -> str:
    if s.config.from_config:
        return f"set num_repeats = {repeats} for the subset image_dir = '{s.config.image_dir}'"
    name = os.path.basename(s.abs_path)
    tokens = s.config.class_tokens or ""
    new = f"{repeats}_{tokens}" if tokens else str(repeats)
    return f"rename '{name}' to '{new}'"


def _subsets(d: DatasetPlan, scan_subsets: tuple[Subset, ...], reg: bool) -> list[Subset]:
    return [s for s in scan_subsets if s.config.is_reg == reg]


def suggest(plan: BalancePlan, reg_share: float | None = None) -> list[Suggestion]:
    out: list[Suggestion] = []
    datasets = {d.index: d for d in plan.scan.datasets}
    for d in plan.datasets:
        ds = datasets[d.index]
        train_subsets = _subsets(d, ds.subsets, False)
        reg_subsets = _subsets(d, ds.subsets, True)
        if not train_subsets or not reg_subsets:
            continue
        reg_images = sum(len(s.images) for s in reg_subsets)
        if d.unused_reg:
            out += _use_every_reg_image(d, train_subsets, reg_subsets, reg_images)
        if any(r.is_reg and r.num_repeats > 1 for r in d.images):
            out += _no_reg_repeats(d, train_subsets, reg_subsets, reg_images)
        if reg_share is not None and 0 < reg_share < 1 and d.reg_samples_used:
            w = reg_share * d.num_train_images / ((1 - reg_share) * d.reg_samples_used)
            why = limits.problem("prior_loss_weight", w) if w > 0 else f"{w:.3g} is no weight"
            if why is None and f"{w:.3g}" != "0":
                out.append(Suggestion(d.index, "reg-share", f"pass --prior_loss_weight {w:.3g}",
                                      f"reg images then carry {reg_share:.0%} of the loss weight "
                                      f"({d.reg_samples_used} reg vs {d.num_train_images} train samples)"))
            else:  # (a share next to 0 or 1: the weight it needs is one no run can use)
                out.append(Suggestion(d.index, "reg-share", "none: no --prior_loss_weight reaches it",
                                      f"a reg share of {reg_share} needs a weight of {w:.3g} "
                                      f"({d.reg_samples_used} reg vs {d.num_train_images} train samples), and "
                                      f"prior_loss_weight must be above 0 and at most 1000000"))
    return out


def _use_every_reg_image(d, train_subsets, reg_subsets, reg_images) -> list[Suggestion]:
    out = []
    if any(s.num_repeats > 1 for s in reg_subsets) and reg_images <= d.num_train_images:
        changes = "; ".join(_set_repeats(s, 1) for s in reg_subsets if s.num_repeats > 1)
        rep, _ = reg_repeats([1] * reg_images, d.num_train_images)
        out.append(Suggestion(d.index, "use-every-reg-image", changes,
                              f"all {reg_images} reg images are used, {min(rep)}-{max(rep)} times each"))
    if len(train_subsets) == 1:
        t = train_subsets[0]
        need = math.ceil(d.num_reg_images / len(t.images))
        if need > t.num_repeats:
            out.append(Suggestion(d.index, "use-every-reg-image", _set_repeats(t, need),
                                  f"{need * len(t.images)} train samples >= {d.num_reg_images} reg samples: "
                                  f"every reg image is used"))
    keep = reg_images - len(d.unused_reg)
    out.append(Suggestion(d.index, "use-every-reg-image",
                          f"keep only the {keep} reg images sd-scripts uses now and remove "
                          f"the other {len(d.unused_reg)}",
                          "the reg list then holds no image that is never seen"))
    return out


def _no_reg_repeats(d, train_subsets, reg_subsets, reg_images) -> list[Suggestion]:
    out = []
    missing = d.num_train_images - reg_images
    if missing > 0:
        changes = "; ".join(_set_repeats(s, 1) for s in reg_subsets if s.num_repeats > 1)
        out.append(Suggestion(d.index, "no-reg-repeats",
                              f"add {missing} reg images" + (f" and {changes}" if changes else ""),
                              f"{d.num_train_images} reg images at 1 repeat each match {d.num_train_images} "
                              f"train samples"))
    elif any(s.num_repeats > 1 for s in reg_subsets):
        changes = "; ".join(_set_repeats(s, 1) for s in reg_subsets if s.num_repeats > 1)
        out.append(Suggestion(d.index, "no-reg-repeats", changes, "every used reg image is seen once per epoch"))
    if len(train_subsets) == 1 and missing > 0:
        t = train_subsets[0]
        lower = reg_images // len(t.images)
        if 1 <= lower < t.num_repeats:
            out.append(Suggestion(d.index, "no-reg-repeats", _set_repeats(t, lower),
                                  f"{lower * len(t.images)} train samples <= {reg_images} reg images: no reg "
                                  f"image is repeated"))
    return out
