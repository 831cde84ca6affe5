"""Build family (RA074, RA076-RA079, RA091-RA093, RA095): where sd-scripts stops on its command line, its
dataset config, while building the dataset or right after, through `regaudit balance`."""

from __future__ import annotations

import os

import pytest

from .cli_table import F, Img, row, run_case

BALANCE = ["balance", "--json", "-j", "1", "--train", "train"]
DOG = {"train/1_dog/a.png": Img(size=(64, 64))}
NO_STEPS = {"max_train_steps": None, "batches_per_epoch": None}

ROWS = [
    row("RA074 zero-width bucket",
        # bucket_no_upscale keeps 32x128 (under 128x128 pixels); 32 - 32 % 64 = 0: bucket 0x128
        {"train/1_dog/a.png": Img(size=(32, 128)), "train/1_dog/b.png": Img(size=(128, 128))},
        BALANCE + ["--resolution", "128", "--enable_bucket", "--bucket_no_upscale", "--min_bucket_reso", "64",
                   "--max_bucket_reso", "256"],
        F("RA074", "error", "train/1_dog/a.png", "train image 32x128 gets bucket 0x128: sd-scripts builds the dataset, "
                                                 "then fails in the VAE when it first encodes the image"),
        facts={"crash.code": "RA074", "crash.stage": "load", "crash.exception": "RuntimeError",
               "batches_per_epoch": 2, "max_train_steps": 1600}),
    row("RA076 cache file name without a size",
        # 'train/1_dog/a_sd.npz' -> the piece between the last two '_' is 'a', no 'x' to split on
        {**DOG, "train/1_dog/a_sd.npz": b""}, BALANCE + ["--resolution", "64"],
        F("RA076", "error", "train/1_dog/a_sd.npz",
          "sd-scripts reads an image size from this latent cache file name and fails (ValueError: not enough values "
          "to unpack (expected 2, got 1)): it stops while building the dataset"),
        facts={"crash.code": "RA076", "crash.stage": "build", "crash.exception": "ValueError", **NO_STEPS}),
    row("RA077 unknown option",
        DOG, BALANCE + ["--resolution", "64", "--resolutoin", "64"],
        F("RA077", "error", "", "train_network.py stops on its command line: unrecognized arguments: --resolutoin 64 "
                                "(did you mean --resolution?)"),
        facts={"crash.code": "RA077", "crash.stage": "start", "crash.exception": "SystemExit", **NO_STEPS}),
    row("RA078 fine_tune given DreamBooth folders",
        DOG, BALANCE + ["--resolution", "64", "--trainer", "fine_tune"],
        F("RA078", "error", "train",
          "fine_tune.py does not take DreamBooth folders or subsets: its config check stops the run (expected str "
          "for dictionary value @ data['datasets'][0]['subsets'][0]['metadata_file'])"),
        facts={"crash.code": "RA078", "crash.stage": "build", "crash.exception": "MultipleInvalid", **NO_STEPS}),
    row("RA079 cache_latents with color_aug",
        DOG, BALANCE + ["--resolution", "64", "--cache_latents", "--color_aug"],
        F("RA079", "error", "train/1_dog",
          "latents are cached (--cache_latents) and this subset uses color_aug: sd-scripts stops ('when caching "
          "latents, either color_aug or random_crop cannot be used')"),
        facts={"crash.code": "RA079", "crash.stage": "start", "crash.exception": "AssertionError", **NO_STEPS}),
    row("RA093 a --masked_loss subset missing a mask",
        # oracle (train_network --masked_loss): AssertionError 'missing conditioning data for 1 images' (build)
        {"img/a0.png": Img(size=(64, 64)), "img/a1.png": Img(size=(64, 64)), "mask/a0.png": Img(size=(64, 64)),
         "ds.toml": '[[datasets]]\nresolution = 64\n[[datasets.subsets]]\nimage_dir = "img"\n'
                    'conditioning_data_dir = "mask"\n'},
        ["balance", "--json", "-j", "1", "--dataset_config", "ds.toml", "--masked_loss"],
        F("RA093", "error", "mask",
          "1 images have no conditioning image of the same name (a1): sd-scripts stops while building the dataset "
          "('missing conditioning data for 1 images')"),
        facts={"crash.code": "RA093", "crash.stage": "build", "crash.exception": "AssertionError", **NO_STEPS}),
    row("RA095 fine_tune --in_json without --cache_latents",
        # oracle (fine_tune --in_json meta.json --train_data_dir img --resolution 512): AttributeError
        # "'NoneType' object has no attribute 'cache_suffix'" at build_dataset (train_util.py:2290)
        {"img/a.png": Img(size=(64, 64)), "meta.json": '{"a": {"caption": "a cat"}}'},
        ["balance", "--json", "-j", "1", "--trainer", "fine_tune", "--in_json", "meta.json", "--train_data_dir",
         "img", "--resolution", "64"],
        F("RA095", "error", "meta.json",
          "sd-scripts stops reading the fine-tuning metadata: AttributeError: 'NoneType' object has no attribute "
          "'cache_suffix' (no latents caching strategy is installed: this trainer installs one only with "
          "--cache_latents)"),
        facts={"crash.code": "RA095", "crash.stage": "build", "crash.exception": "AttributeError", **NO_STEPS}),
    row("RA091 prior_loss_weight in the dataset config",
        {**DOG, "ds.toml": "[[datasets]]\nprior_loss_weight = 1.0\n"},
        ["balance", "--json", "-j", "1", "--dataset_config", "ds.toml", "--resolution", "64"],
        F("RA091", "error", "ds.toml",
          "sd-scripts stops on the dataset config: MultipleInvalid: extra keys not allowed @ "
          "data['datasets'][0]['prior_loss_weight'] (it is a command-line option only)"),
        facts={"crash.code": "RA091", "crash.stage": "build", "crash.exception": "MultipleInvalid", **NO_STEPS}),
]


ELSEWHERE = [
    row("RA092 a Windows reg folder in a command pasted from the kohya_ss GUI's log",
        DOG, ["balance", "--json", "-j", "1", "C:\\kohya_ss\\venv\\Scripts\\accelerate.EXE", "launch",
              "C:/kohya_ss/sd-scripts/train_network.py", "--resolution", "64", "--train_data_dir", "train",
              "--reg_data_dir", "D:\\data\\reg"],
        F("RA092", "warning", "", "1 path(s) of the train_network.py command cannot exist on this machine: "
                                  "--reg_data_dir D:\\data\\reg; regaudit leaves out the images and captions of "
                                  "--reg_data_dir and audits the rest"),
        facts={"crash": None, "batches_per_epoch": 1, "max_train_steps": 1600}),
]


@pytest.mark.skipif(os.name == "nt", reason="a drive letter is a path of this machine on Windows")
@pytest.mark.parametrize("case", ELSEWHERE)
def test_paths_of_another_machine(case, root, capsys, monkeypatch):
    run_case(case, root, capsys, monkeypatch)


@pytest.mark.parametrize("case", ROWS)
def test_build_findings(case, root, capsys, monkeypatch):
    run_case(case, root, capsys, monkeypatch)
