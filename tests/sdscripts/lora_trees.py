"""The small trees the LoRA-metadata tests were built from: the same files every time, so the
metadata sd-scripts recorded for them (tests/differential/lora_meta.py, pinned in
tests/sdscripts/lora_recorded/) can be compared with a tree made again in tmp_path.

    python tests/sdscripts/lora_trees.py DIR   (makes every tree under DIR)
"""

from __future__ import annotations

import sys
from pathlib import Path

from PIL import Image

SIZES = [(64, 48), (48, 64), (64, 64), (96, 48), (40, 72)]


def _image(path: Path, k: int, size: tuple[int, int] | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size or SIZES[k % len(SIZES)], (20 * k % 256, 90, 160)).save(path)


def _caption(path: Path, text: str) -> None:
    path.write_text(text + "\n", encoding="utf-8")


def folder_scan(root: Path, reg: bool = True) -> Path:
    """train/10_sks dog (3 images, captions), train/4_sks cat (2 images, one caption);
    with ``reg``: reg/1_dog (7 images, no captions) and reg/2_cat (3 images)."""
    dog, cat = root / "train" / "10_sks dog", root / "train" / "4_sks cat"
    for k, tags in enumerate(("sks dog, running, grass", "sks dog, sitting, Grass", "sks dog, running")):
        _image(dog / f"d{k}.png", k)
        _caption(dog / f"d{k}.txt", tags)
    _image(cat / "c0.png", 3)
    _caption(cat / "c0.txt", "sks cat, sleeping, sofa")
    _image(cat / "c1.png", 4)
    if reg:
        for k in range(7):
            _image(root / "reg" / "1_dog" / f"r{k}.png", k)
        for k in range(3):
            _image(root / "reg" / "2_cat" / f"q{k}.png", k + 1)
    return root


CONFIG = """[general]
caption_extension = ".txt"
enable_bucket = true

[[datasets]]
resolution = 512
batch_size = 2

  [[datasets.subsets]]
  image_dir = "{root}/data/dogs"
  class_tokens = "sks dog"
  num_repeats = 6
  keep_tokens = 1
  shuffle_caption = true
  caption_prefix = "photo, "

  [[datasets.subsets]]
  image_dir = "{root}/data/regdogs"
  class_tokens = "dog"
  is_reg = true
  num_repeats = 1

[[datasets]]
resolution = [512, 384]
batch_size = 1

  [[datasets.subsets]]
  image_dir = "{root}/data/cats"
  class_tokens = "sks cat"
  num_repeats = 3
  flip_aug = true
"""


def dataset_config(root: Path) -> Path:
    """A dataset config of two datasets: dogs (4 images) with a reg folder of 30, cats (2 images)."""
    for k in range(4):
        _image(root / "data" / "dogs" / f"d{k}.png", k)
        _caption(root / "data" / "dogs" / f"d{k}.txt", ["sks dog, park", "sks dog, beach, sunset", "sks dog",
                                                        "sks dog, park, ball"][k])
    for k in range(30):
        _image(root / "data" / "regdogs" / f"r{k:02d}.png", k)
    for k in range(2):
        _image(root / "data" / "cats" / f"c{k}.png", k + 2)
        _caption(root / "data" / "cats" / f"c{k}.txt", "sks cat, indoors")
    (root / "dataset.toml").write_text(CONFIG.format(root=root.as_posix()), encoding="utf-8")
    return root / "dataset.toml"


if __name__ == "__main__":
    base = Path(sys.argv[1])
    folder_scan(base / "scan")
    folder_scan(base / "noreg", reg=False)
    dataset_config(base / "config")
