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
          "train ↔ reg: 1 train image (train/1_sks/a.jpg) and 2 reg images (reg/1_dog/a.jpg: byte-identical to "
          "train/1_sks/a.jpg; reg/1_dog/z.jpg: byte-identical to train/1_sks/a.jpg) are the same picture: it trains "
          "1 time per epoch as a train sample and 1 time as a reg sample (1 of the 2 reg images used by the reg "
          "balancing loop now)",
          images=({"path": "train/1_sks/a.jpg", "role": "train", "per_epoch": 1, "relation": "reference",
                   "distance": 0, "of": None},
                  {"path": "reg/1_dog/a.jpg", "role": "reg", "per_epoch": 1, "relation": "byte-identical",
                   "distance": 0, "of": "{root}/train/1_sks/a.jpg"},
                  {"path": "reg/1_dog/z.jpg", "role": "reg", "per_epoch": 0, "relation": "byte-identical",
                   "distance": 0, "of": "{root}/train/1_sks/a.jpg"}))),
    row("RA080 a train mirror pair under flip_aug is not leakage",
        # m.png and n.png (its mirror image) train; r.png in reg is a copy of m.png. Under flip_aug the mirror pair
        # is one training picture twice (RA083); only m.png and r.png are train and reg copies (RA080). 2 train
        # samples, 1 reg image: it is registered twice by the balancing loop.
        {"train/1_sks/m.png": Pic(2), "train/1_sks/n.png": Pic(2, mirrored=True), "reg/1_dog/r.png": Pic(2)},
        DUPES + ["--flip_aug"],
        F("RA080", "warning", "train/1_sks/m.png",
          "train ↔ reg: 1 train image (train/1_sks/m.png) and 1 reg image (reg/1_dog/r.png: byte-identical to "
          "train/1_sks/m.png) are the same picture: it trains 1 time per epoch as a train sample and 2 times as a "
          "reg sample (1 of the 1 reg images used by the reg balancing loop now)",
          images=({"path": "train/1_sks/m.png", "role": "train", "per_epoch": 1, "relation": "reference",
                   "distance": 0, "of": None},
                  {"path": "reg/1_dog/r.png", "role": "reg", "per_epoch": 2, "relation": "byte-identical",
                   "distance": 0, "of": "{root}/train/1_sks/m.png"})),
        F("RA083", "warning", "train/1_sks/m.png",
          "2 training images are the same sample under flip_aug (mirror images), so the picture trains 2 times per "
          "epoch (2 copies × 1 repeat) instead of 1: train/1_sks/m.png; train/1_sks/n.png: mirror image of m.png, "
          "distance 0"), No("RA081")),
    row("RA080 a train image mirrored in the reg set is leakage under flip_aug",
        {"train/1_sks/m.png": Pic(2), "train/1_sks/b.png": Pic(3), "reg/1_dog/r.png": Pic(2, mirrored=True)},
        DUPES + ["--flip_aug"],
        F("RA080", "warning", "train/1_sks/m.png",
          "train ↔ reg: 1 train image (train/1_sks/m.png) and 1 reg image (reg/1_dog/r.png: mirror image of "
          "train/1_sks/m.png, distance 0) are the same picture: it trains 1 time per epoch as a train sample and 2 "
          "times as a reg sample (1 of the 1 reg images used by the reg balancing loop now)"), No("RA083")),
    row("RA081 duplicate training images",
        # '2_sks': each copy trains twice an epoch, so the picture 4 times instead of 2
        {"train/2_sks/a.jpg": Pic(0), "train/2_sks/b.jpg": Pic(0), "train/2_sks/c.jpg": Pic(1),
         "reg/1_dog/r.jpg": Pic(2)}, DUPES,
        F("RA081", "warning", "train/2_sks/a.jpg",
          "2 training images are the same picture, so it trains 4 times per epoch (2 copies × 2 repeats) instead of "
          "2: train/2_sks/a.jpg; train/2_sks/b.jpg: byte-identical to a.jpg")),
    row("RA081 a byte copy stays exact in a group that holds a near copy",
        # 'IMG_4023 (1).jpg' is a byte copy of IMG_4023.jpg, small.jpg the same picture saved again at quality 40:
        # one group, each file with its own relation (small.jpg's 64-bit hash equals the others', its bytes and
        # pixels do not: near, distance 0); 2 copies in '10_sks' and one in '5_sks' train 25 times
        {"train/10_sks/IMG_4023.jpg": Pic(7), "train/10_sks/IMG_4023 (1).jpg": Pic(7),
         "train/5_sks/small.jpg": Pic(7, quality=40), "train/10_sks/b.jpg": Pic(1), "reg/1_dog/r.jpg": Pic(2)},
        DUPES,
        # the reference is IMG_4023.jpg, not the name of a second download '(1)': the one a fix keeps
        F("RA081", "warning", "train/10_sks/IMG_4023.jpg",
          "3 training images are the same picture, so it trains 25 times per epoch (3 copies, 10 + 10 + 5 repeats) "
          "instead of 10: train/10_sks/IMG_4023.jpg; train/10_sks/IMG_4023 (1).jpg: byte-identical to "
          "IMG_4023.jpg; train/5_sks/small.jpg: near train/10_sks/IMG_4023 (1).jpg, distance 0",
          images=({"path": "train/10_sks/IMG_4023.jpg", "role": "train", "per_epoch": 10,
                   "relation": "reference", "distance": 0, "of": None},
                  {"path": "train/10_sks/IMG_4023 (1).jpg", "role": "train", "per_epoch": 10,
                   "relation": "byte-identical", "distance": 0, "of": "{root}/train/10_sks/IMG_4023.jpg"},
                  {"path": "train/5_sks/small.jpg", "role": "train", "per_epoch": 5,
                   "relation": "near", "distance": 0, "of": "{root}/train/10_sks/IMG_4023 (1).jpg"}))),
    row("RA082 duplicate reg images in two folders",
        {"train/1_sks/a.jpg": Pic(0), "reg/1_dog/s.jpg": Pic(4), "reg/1_cow/t.jpg": Pic(4)}, DUPES,
        F("RA082", "info", "reg/1_cow/t.jpg", "2 reg images are the same picture, which makes 1 of the reg samples per "
                                              "epoch: reg/1_cow/t.jpg; reg/1_dog/s.jpg: byte-identical to "
                                              "reg/1_cow/t.jpg")),
    row("RA082 duplicate reg images in one folder",
        {"train/1_sks/a.jpg": Pic(0), "reg/1_dog/s.jpg": Pic(4), "reg/1_dog/t.jpg": Pic(4)}, DUPES,
        # 1 train sample: the balancing loop registers s.jpg once, t.jpg never
        F("RA082", "info", "reg/1_dog/s.jpg", "2 reg images are the same picture, which makes 1 of the reg samples per "
                                              "epoch: reg/1_dog/s.jpg; reg/1_dog/t.jpg: byte-identical to s.jpg",
          images=({"path": "reg/1_dog/s.jpg", "role": "reg", "per_epoch": 1, "relation": "reference", "distance": 0,
                   "of": None},
                  {"path": "reg/1_dog/t.jpg", "role": "reg", "per_epoch": 0, "relation": "byte-identical",
                   "distance": 0, "of": "{root}/reg/1_dog/s.jpg"})), No("RA081")),
    row("RA083 mirror images under flip_aug",
        {"train/1_sks/m.png": Pic(2), "train/1_sks/n.png": Pic(2, mirrored=True), "reg/1_dog/r.png": Pic(5)},
        DUPES + ["--flip_aug"],
        F("RA083", "warning", "train/1_sks/m.png",
          "2 training images are the same sample under flip_aug (mirror images), so the picture trains 2 times per "
          "epoch (2 copies × 1 repeat) instead of 1: train/1_sks/m.png; train/1_sks/n.png: mirror image of m.png, "
          "distance 0")),
    row("RA083 not without flip_aug",
        {"train/1_sks/m.png": Pic(2), "train/1_sks/n.png": Pic(2, mirrored=True), "reg/1_dog/r.png": Pic(5)},
        DUPES, No("RA083"), No("RA081")),
    row("RA084 the same picture once EXIF rotation is applied",
        {"train/1_sks/e.jpg": Pic(3), "train/1_sks/f.jpg": Pic(3, turned_exif=True), "reg/1_dog/r.jpg": Pic(5)},
        DUPES,
        F("RA084", "warning", "train/1_sks/e.jpg",
          "train/1_sks/e.jpg and train/1_sks/f.jpg are the same picture once EXIF rotation is applied, but their "
          "stored pixels differ, so sd-scripts trains them as different images"),
        F("RA081", "warning", "train/1_sks/e.jpg",
          "2 training images are the same picture, so it trains 2 times per epoch (2 copies × 1 repeat) instead of "
          "1: train/1_sks/e.jpg; train/1_sks/f.jpg: near e.jpg, distance 0 once EXIF rotation is applied")),
]


@pytest.mark.parametrize("case", ROWS)
def test_dupes_findings(case, root, capsys, monkeypatch):
    run_case(case, root, capsys, monkeypatch)
