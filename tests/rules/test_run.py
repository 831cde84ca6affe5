"""Run family (RA060-RA075, RA090): registration, reg balancing, buckets and steps, through
`regaudit balance`. The figures were worked by hand and match sd-scripts (train_network.py) as its
own dataset code computes them on the same trees (the oracle under /work/shared/oracle)."""

from __future__ import annotations

import pytest

from .cli_table import F, Img, No, row, run_case

BALANCE = ["balance", "--json", "-j", "1"]
TRAIN_REG = BALANCE + ["--train", "train", "--reg", "reg"]


def pics(folder: str, n: int, size=(64, 64)) -> dict:
    return {f"{folder}/{chr(97 + i)}.png": Img(size=size) for i in range(n)}


TWO_REG_FOLDERS = """\
[general]
resolution = 64
[[datasets]]
[[datasets.subsets]]
image_dir = "train/1_sks"
class_tokens = "sks"
[[datasets.subsets]]
image_dir = "reg/1_dog"
is_reg = true
[[datasets.subsets]]
image_dir = "reg/1_cat"
is_reg = true
"""

REG_ONLY_DATASET = """\
[general]
resolution = 64
[[datasets]]
[[datasets.subsets]]
image_dir = "train/1_sks"
[[datasets]]
[[datasets.subsets]]
image_dir = "reg/1_dog"
is_reg = true
"""

ROWS = [
    row("RA060 no resolution",
        pics("train/1_dog", 1), BALANCE + ["--train", "train"],
        F("RA060", "error", "train/1_dog", "dataset 0 has no resolution; sd-scripts stops with 'resolution is required'"),
        facts={"crash.code": "RA060", "crash.exception": "AssertionError", "max_train_steps": None}),
    row("RA061 resolution under min_bucket_reso",
        pics("train/1_dog", 1), BALANCE + ["--train", "train", "--resolution", "128", "--enable_bucket"],
        F("RA061", "error", "train/1_dog", "resolution 128x128 is outside min/max_bucket_reso 256..1024: sd-scripts "
                                           "stops with an assertion while building dataset 0"),
        facts={"crash.code": "RA061", "crash.exception": "AssertionError"}),
    row("RA062 bucket_reso_steps not a multiple of 64",
        pics("train/1_dog", 1), BALANCE + ["--train", "train", "--resolution", "256", "--enable_bucket",
                                           "--bucket_reso_steps", "32"],
        F("RA062", "error", "train", "bucket_reso_steps 32 is not a multiple of 64, which train_network.py checks "
                                     "right after building the dataset: it stops before training"),
        facts={"crash.code": "RA062", "crash.stage": "start"}),
    row("RA062 bucket_reso_steps 0",
        pics("train/1_dog", 1), BALANCE + ["--train", "train", "--resolution", "256", "--enable_bucket",
                                           "--bucket_reso_steps", "0"],
        F("RA062", "error", "train/1_dog", "bucket_reso_steps is 0: sd-scripts divides by it while building the dataset"),
        facts={"crash.code": "RA062", "crash.exception": "ZeroDivisionError"}),
    row("RA063 a registered image of size 0x0",
        {**pics("train/1_dog", 1), "train/1_dog/z.png": b""},
        BALANCE + ["--train", "train", "--resolution", "256", "--enable_bucket"],
        F("RA063", "error", "train/1_dog/z.png", "registered train image: sd-scripts divides by zero choosing its "
                                                 "bucket{*}; it stops while building the dataset"),
        facts={"crash.code": "RA063", "crash.stage": "build", "crash.exception": "ZeroDivisionError"}),
    row("RA065 RA070 reg images only",
        {"train/1_dog/notes.txt": "x", **pics("reg/1_dog", 1)}, TRAIN_REG + ["--resolution", "64"],
        F("RA065", "error", "train", "no dataset registers any image: sd-scripts stops with 'No data found' and "
                                     "trains nothing"),
        F("RA070", "warning", "reg/1_dog", "dataset 0 has 1 reg samples but no train samples: the balancing loop "
                                           "never runs, so none of its 1 reg images is used"),
        facts={"no_data": True, "would_crash": False, "batches_per_epoch": 0}),
    row("RA066 more reg samples than train samples",
        # 2 train samples: the first pass registers a.png and b.png of reg/1_dog, then stops
        {**pics("train/1_sks", 2), **pics("reg/1_dog", 5)}, TRAIN_REG + ["--resolution", "64"],
        F("RA066", "warning", "reg/1_dog", "reg samples 5 > train samples 2: 3 of 5 reg images are never used "
                                           "(the first 2 in listing order are): c.png, d.png, e.png",
          images=("reg/1_dog/c.png", "reg/1_dog/d.png", "reg/1_dog/e.png")),
        facts={"batches_per_epoch": 4, "max_train_steps": 1600, "epochs": 400}),
    row("RA067 RA066 which of two reg folders is used",
        # subsets in the config's order: 1 train sample takes reg/1_dog/a.png; reg/1_cat is never reached
        {**pics("train/1_sks", 1), **pics("reg/1_dog", 1), **pics("reg/1_cat", 2), "ds.toml": TWO_REG_FOLDERS},
        BALANCE + ["--dataset_config", "ds.toml"],
        F("RA067", "warning", "reg/1_cat",
          "which reg images are used depends on the order the OS lists the reg folders ('{root}/reg/1_dog' then "
          "'{root}/reg/1_cat' here); another machine or a copied tree may choose differently"),
        F("RA066", "warning", "reg/1_cat", "reg samples 3 > train samples 1: 2 of 3 reg images are never used (the "
                                           "first 1 in listing order are): a.png, b.png",
          images=("reg/1_cat/a.png", "reg/1_cat/b.png")),
        facts={"batches_per_epoch": 2}),
    row("RA068 reg repeats overshoot",
        # 3 train samples; reg '2_dog': a.png x2 (2 < 3), b.png x2 (4 >= 3): 4 reg samples, +1; c.png unused
        {**pics("train/1_sks", 3), **pics("reg/2_dog", 3)}, TRAIN_REG + ["--resolution", "64"],
        F("RA068", "info", "reg/2_dog", "reg folders' repeats overshoot: 4 reg samples are used against 3 train "
                                        "samples (+1)"),
        F("RA066", "warning", "reg/2_dog", "reg samples 6 > train samples 3: 1 of 3 reg images are never used (the "
                                           "first 2 in listing order are): c.png"),
        facts={"batches_per_epoch": 7, "epochs": 229}),
    row("RA069 no reg images",
        pics("train/1_dog", 2), BALANCE + ["--train", "train", "--resolution", "64", "--max_train_epochs", "3"],
        F("RA069", "info", "train/1_dog", "dataset 0 has no regularization images"),
        facts={"batches_per_epoch": 2, "max_train_steps": 6, "epochs": 3}),
    row("RA070 reg subsets in a dataset of their own",
        {**pics("train/1_sks", 1), **pics("reg/1_dog", 2), "ds.toml": REG_ONLY_DATASET},
        BALANCE + ["--dataset_config", "ds.toml"],
        F("RA070", "warning", "reg/1_dog", "dataset 1 has 2 reg samples but no train samples: the balancing loop "
                                           "never runs, so none of its 2 reg images is used"),
        facts={"batches_per_epoch": 1}),
    row("RA071 sizes without bucketing",
        {**pics("train/1_dog", 2, size=(8, 8)), "train/1_dog/big.png": Img(size=(128, 96)),
         "train/1_dog/ok.png": Img(size=(64, 64))},
        BALANCE + ["--train", "train", "--resolution", "64"],
        F("RA071", "error", "train/1_dog/a.png", "2 registered images are smaller than 64x64 without --enable_bucket "
                                                 "(a.png 8x8, b.png 8x8): training stops with 'image size is small' "
                                                 "when it loads them",
          images=({"path": "train/1_dog/a.png", "size": "8x8"}, {"path": "train/1_dog/b.png", "size": "8x8"})),
        F("RA071", "error", "train/1_dog/big.png", "1 registered image is larger than 64x64 without --enable_bucket or "
                                                   "--random_crop (big.png 128x96): training stops with 'image too "
                                                   "large' when it loads it"),
        facts={"crash.code": "RA071", "crash.stage": "load", "batches_per_epoch": 4}),
    row("RA064 upscaled more than 2x into the bucket",
        # sizes, buckets and resized sizes as the oracle (train_network.py's BucketManager) gives them at 512:
        # 64x64 -> 512x512 (x8), 200x100 -> 704x352 in 704x320 (x3.52), 240x256 -> 512x546 in 512x512 (x2.13),
        # 400x400 -> 512x512 (x1.28, under the x2 threshold)
        {"train/1_sks/tiny.png": Img(size=(64, 64)), "train/1_sks/wide.png": Img(size=(200, 100)),
         "train/1_sks/mid.png": Img(size=(240, 256)), "train/1_sks/ok.png": Img(size=(400, 400))},
        BALANCE + ["--train", "train", "--resolution", "512", "--enable_bucket"],
        F("RA064", "warning", "train/1_sks",
          "3 of 4 images are upscaled more than ×2 into their bucket at resolution 512x512: tiny.png 64x64 ×8.0 to "
          "512x512 (bucket 512x512), wide.png 200x100 ×3.5 to 704x352 (bucket 704x320), mid.png 240x256 ×2.1 to "
          "512x546 (bucket 512x512)",
          images=({"path": "train/1_sks/tiny.png", "size": "64x64", "bucket": "512x512", "upscale": 8.0},
                  {"path": "train/1_sks/wide.png", "size": "200x100", "bucket": "704x320", "upscale": 3.52},
                  {"path": "train/1_sks/mid.png", "size": "240x256", "bucket": "512x512", "upscale": 2.13}))),
    row("RA064 bucket_no_upscale: a tiny image is its own bucket",
        # the oracle at 1024 with --bucket_no_upscale: 128x128 stays 128x128 in bucket 128x128 (1/64 of the
        # area); 600x600 is bucket 576x576 (34.3% of the area: under the threshold of 1/4 only for smaller ones)
        {"train/1_sks/tiny.png": Img(size=(128, 128)), "train/1_sks/big.png": Img(size=(600, 600))},
        BALANCE + ["--train", "train", "--resolution", "1024", "--enable_bucket", "--bucket_no_upscale"],
        F("RA064", "warning", "train/1_sks",
          "1 of 2 images are trained far below the resolution 1024x1024: with --bucket_no_upscale each is not "
          "upscaled but trained in a bucket of its own size, under 1/4 of the resolution's area: tiny.png 128x128 "
          "(1.6% of the area) in bucket 128x128",
          images=({"path": "train/1_sks/tiny.png", "size": "128x128", "bucket": "128x128", "short_of_area": 8.0},))),
    row("RA064 not at x2 or less (256x256 -> 512x512 is x2 exactly)",
        # the oracle: 256x256 -> 512x512 (x2), 400x300 -> 597x448 in bucket 576x448 (x1.49)
        {"train/1_sks/a.png": Img(size=(256, 256)), "train/1_sks/b.png": Img(size=(400, 300))},
        BALANCE + ["--train", "train", "--resolution", "512", "--enable_bucket"],
        No("RA064")),
    row("RA072 bucket limits rounded",
        # 200 rounds down to 192, 1000 up to 1024 (steps 64)
        pics("train/1_dog", 1), BALANCE + ["--train", "train", "--resolution", "256", "--enable_bucket",
                                           "--min_bucket_reso", "200", "--max_bucket_reso", "1000"],
        F("RA072", "info", "train/1_dog", "min/max_bucket_reso 200/1000 are not multiples of bucket_reso_steps 64; "
                                          "sd-scripts uses 192/1024"),
        facts={"would_crash": False, "batches_per_epoch": 1}),
    row("RA073 reg images repeated",
        # 2 x 5 = 10 train samples, 3 reg images: repeats 4, 3, 3 = 10, so 2-3 beyond the folder's 1
        {**pics("train/2_sks", 5), **pics("reg/1_dog", 3)}, TRAIN_REG + ["--resolution", "64"],
        F("RA073", "info", "reg/1_dog", "only 3 reg images for 10 train samples: each is repeated 2-3 times beyond "
                                        "its folder's repeats (10 reg samples)"),
        facts={"batches_per_epoch": 20, "max_train_steps": 1600, "epochs": 80}),
    row("RA075 reg samples halve the epochs",
        # 2 x 2 = 4 train samples + 4 reg samples: 8 batches of 1 instead of 4; 1600 / 8 = 200, 1600 / 4 = 400
        {**pics("train/2_sks", 2), **pics("reg/1_dog", 4)}, TRAIN_REG + ["--resolution", "64"],
        F("RA075", "info", "train", "4 reg samples join 4 train samples: 8 batches per epoch instead of 4, so "
                                    "max_train_steps 1600 covers 200.00 epochs instead of 400.00"),
        facts={"batches_per_epoch": 8, "max_train_steps": 1600, "epochs": 200}),
    row("RA090 validation_split",
        pics("train/1_dog", 4), BALANCE + ["--train", "train", "--resolution", "64", "--validation_split", "0.5",
                                           "--validation_seed", "1"],
        F("RA090", "warning", "train/1_dog", "validation_split 0.5: sd-scripts trains on 2 of this subset's 4 images "
                                             "and holds 2 back (validation_seed 1: the same ones as here)"),
        facts={"batches_per_epoch": 2, "max_train_steps": 1600}),
    row("RA090 debug_dataset",
        pics("train/1_dog", 1), BALANCE + ["--train", "train", "--resolution", "64", "--debug_dataset"],
        F("RA090", "warning", "train", "--debug_dataset: train_network.py shows the dataset and returns; it trains "
                                       "nothing and counts no steps (the figures here are what the dataset holds)"),
        facts={"returned_early": "debug_dataset", "max_train_steps": None}),
]


@pytest.mark.parametrize("case", ROWS)
def test_run_findings(case, root, capsys, monkeypatch):
    run_case(case, root, capsys, monkeypatch)
