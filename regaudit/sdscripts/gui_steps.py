"""The step figure the kohya_ss GUI (bmaltais/kohya_ss) computes and writes as ``max_train_steps``
before it runs sd-scripts, ported from its training tabs (kohya_gui/lora_gui.py, dreambooth_gui.py,
textual_inversion_gui.py: ``train_model``'s folder loop; finetune_gui.py: its ``image_num`` count).

Users compare it with what sd-scripts does, so it is shown beside the exact figure. It is not
sd-scripts' arithmetic: the GUI counts every file ending (in any case) in .jpg .jpeg .png .webp in
each subfolder whose name starts with an integer before the first '_', doubles the whole figure
whenever a reg folder is set (whatever the balancing loop does), multiplies by its own ``epoch``
field, and skips the formula altogether with a dataset config. Reads folder listings only.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from enum import Enum

GUI_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")  # compared with the lower-cased name


class GuiFormula(str, Enum):
    FOLDERS = "folders"  # LoRA, DreamBooth, textual inversion tabs
    FINE_TUNE = "fine-tune"  # the fine-tune tab: one image folder x dataset_repeats, halved with flip_aug
    DATASET_CONFIG = "dataset-config"  # every tab: no formula, max_train_steps as typed (0: sd-scripts' 1600)


@dataclass(frozen=True)
class GuiSteps:
    formula: GuiFormula
    steps: int | None  # what the GUI writes as max_train_steps when its field is 0; None: no formula
    epoch: int  # the GUI's 'Epoch' field (the config's ``epoch`` key)
    total: int = 0  # images x repeats as the GUI counts them
    batch: int = 1
    accumulation: int = 1
    reg_factor: int = 1  # 2 whenever a reg folder is set
    halved: bool = False  # fine-tune with flip_aug
    from_config: bool = False  # the config file carries the GUI's own ``epoch`` key: the GUI wrote it
    printed: int | None = None  # what the GUI printed and wrote as max_train_steps (the file's value; 0: absent)

    @property
    def shown(self) -> int | None:
        """The figure to show: what the GUI printed where it wrote the config, else its formula."""
        return self.printed if self.from_config and self.printed else self.steps

    @property
    def log_line(self) -> str:
        """The figure as the GUI logs it."""
        if self.formula is GuiFormula.FOLDERS:
            return (f"max_train_steps ({self.total} / {self.batch} / {self.accumulation} * {self.epoch} * "
                    f"{self.reg_factor}) = {self.steps}")
        if self.formula is GuiFormula.FINE_TUNE:
            return f"Max train steps: {self.steps}" + (" (halved for flip_aug)" if self.halved else "")
        return "Dataset config toml file used, skipping ... max_train_steps calculations"


def _count_images(folder: str) -> int:
    # lora_gui.train_model: os.listdir, name.lower().endswith((".jpg", ".jpeg", ".png", ".webp"))
    return sum(1 for name in os.listdir(folder) if name.lower().endswith(GUI_IMAGE_SUFFIXES))


def folder_total(train_data_dir: str) -> int | None:
    """lora_gui.train_model's loop: every subfolder whose name up to the first '_' is an int
    (``int(folder.split("_")[0])``, so '5' and ' 5_x' count too), repeats x its image count."""
    total = 0
    try:
        names = os.listdir(train_data_dir)
    except OSError:
        return None
    for name in names:
        path = os.path.join(train_data_dir, name)
        if not os.path.isdir(path):
            continue
        try:
            repeats = int(name.split("_")[0])
        except ValueError:
            continue  # "does not contain an underscore, skipping..."
        try:
            total += repeats * _count_images(path)
        except OSError:
            return None
    return total


def gui_steps(*, train_data_dir: str | None, reg_data_dir: str | None, dataset_config: str | None,
              in_json: str | None, batch: int, accumulation: int, epoch: int, dataset_repeats: int,
              flip_aug: bool, from_config: bool) -> GuiSteps | None:
    """The GUI's figure for these settings, or None where it would stop (no folder, batch 0)."""
    if dataset_config:
        return GuiSteps(GuiFormula.DATASET_CONFIG, None, epoch, from_config=from_config)
    if batch <= 0 or accumulation <= 0:
        return None  # the GUI's own division by zero
    if in_json:  # finetune_gui.train_model: the image folder itself, x dataset_repeats
        if not train_data_dir:
            return None
        try:
            total = _count_images(train_data_dir) * dataset_repeats
        except OSError:
            return None
        steps = int(math.ceil(float(total) / batch / accumulation * epoch))
        halved = bool(flip_aug and steps)
        if halved:  # "Divide by two because flip augmentation create two copied of the source images"
            steps = int(math.ceil(float(steps) / 2))
        return GuiSteps(GuiFormula.FINE_TUNE, steps, epoch, total, batch, accumulation, 1, halved, from_config)
    if not train_data_dir:
        return None
    total = folder_total(train_data_dir)
    if total is None:
        return None
    reg_factor = 2 if reg_data_dir else 1
    steps = int(math.ceil(float(total) / batch / accumulation * epoch * reg_factor))
    return GuiSteps(GuiFormula.FOLDERS, steps, epoch, total, batch, accumulation, reg_factor, False, from_config)
