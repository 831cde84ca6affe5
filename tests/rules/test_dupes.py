"""Dupes family (RA080-RA084): duplicate pictures and train/reg leakage, through `regaudit dupes`
(perceptual hashes of small generated pictures; byte copies are exact duplicates)."""

from __future__ import annotations

import pytest

from .cli_table import F, No, Pic, row, run_case

DUPES = ["dupes", "--json", "-j", "1", "--no-cache", "--train", "train", "--reg", "reg"]

ROWS = [
    row("RA080 train image in the reg set",
        # 2 train samples: the first pass registers reg/1_dog/a.jpg and b.jpg; z.jpg is never used
        {"train/1_sks/a.jpg": Pic(0), "train/1_sks/b.jpg": Pic(1),
         "reg/1_dog/a.jpg": Pic(0), "reg/1_dog/b.jpg": Pic(5), "reg/1_dog/z.jpg": Pic(0)}, DUPES,
        F("RA080", "warning", "train/1_sks/a.jpg",
          "1 train image (train/1_sks/a.jpg) and 2 reg images (reg/1_dog/a.jpg, reg/1_dog/z.jpg) are identical: the "
          "picture is trained 1 time per epoch as a train sample and 1 time as a reg sample (1 of the 2 reg images "
          "used by the reg balancing loop now)",
          images=({"path": "train/1_sks/a.jpg", "role": "train", "per_epoch": 1},
                  {"path": "reg/1_dog/a.jpg", "role": "reg", "per_epoch": 1},
                  {"path": "reg/1_dog/z.jpg", "role": "reg", "per_epoch": 0}))),
    row("RA081 duplicate training images",
        # '2_sks': each copy trains twice an epoch, so the picture 4 times instead of 2
        {"train/2_sks/a.jpg": Pic(0), "train/2_sks/b.jpg": Pic(0), "train/2_sks/c.jpg": Pic(1),
         "reg/1_dog/r.jpg": Pic(2)}, DUPES,
        F("RA081", "warning", "train/2_sks/a.jpg",
          "2 training images are identical: train/2_sks/b.jpg; the picture is trained 4 times per epoch instead of "
          "2")),
    row("RA082 duplicate reg images in two folders",
        {"train/1_sks/a.jpg": Pic(0), "reg/1_dog/s.jpg": Pic(4), "reg/1_cow/t.jpg": Pic(4)}, DUPES,
        F("RA082", "info", "reg/1_cow/t.jpg", "2 reg images are identical: reg/1_dog/s.jpg; the picture makes 1 of "
                                              "the reg samples per epoch")),
    row("RA082 duplicate reg images in one folder",
        {"train/1_sks/a.jpg": Pic(0), "reg/1_dog/s.jpg": Pic(4), "reg/1_dog/t.jpg": Pic(4)}, DUPES,
        # 1 train sample: the balancing loop registers s.jpg once, t.jpg never
        F("RA082", "info", "reg/1_dog/s.jpg", "2 reg images are identical: reg/1_dog/t.jpg; the picture makes 1 of "
                                              "the reg samples per epoch",
          images=({"path": "reg/1_dog/s.jpg", "role": "reg", "per_epoch": 1},
                  {"path": "reg/1_dog/t.jpg", "role": "reg", "per_epoch": 0})), No("RA081")),
    row("RA083 mirror images under flip_aug",
        {"train/1_sks/m.png": Pic(2), "train/1_sks/n.png": Pic(2, mirrored=True), "reg/1_dog/r.png": Pic(5)},
        DUPES + ["--flip_aug"],
        F("RA083", "warning", "train/1_sks/m.png",
          "2 training images are mirror images (distance 0), the same sample under flip_aug: train/1_sks/n.png; the "
          "picture is trained 2 times per epoch instead of 1")),
    row("RA083 not without flip_aug",
        {"train/1_sks/m.png": Pic(2), "train/1_sks/n.png": Pic(2, mirrored=True), "reg/1_dog/r.png": Pic(5)},
        DUPES, No("RA083"), No("RA081")),
    row("RA084 the same picture once EXIF rotation is applied",
        {"train/1_sks/e.jpg": Pic(3), "train/1_sks/f.jpg": Pic(3, turned_exif=True), "reg/1_dog/r.jpg": Pic(5)},
        DUPES,
        F("RA084", "warning", "train/1_sks/e.jpg",
          "{root}/train/1_sks/e.jpg and train/1_sks/f.jpg are the same picture once EXIF rotation is applied, but "
          "their stored pixels differ, so sd-scripts trains them as different images"),
        F("RA081", "warning", "train/1_sks/e.jpg",
          "2 training images are near-identical (distance 0): train/1_sks/f.jpg; the picture is trained 2 times per "
          "epoch instead of 1")),
]


@pytest.mark.parametrize("case", ROWS)
def test_dupes_findings(case, root, capsys, monkeypatch):
    run_case(case, root, capsys, monkeypatch)
