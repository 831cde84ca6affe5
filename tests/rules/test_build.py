"""Build family (RA074, RA076-RA079, RA091-RA093, RA095-RA097): where sd-scripts stops on its command line, its
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
    row("RA097 fine_tune --in_json without --cache_latents",
        # oracle (fine_tune --in_json meta.json --train_data_dir img --resolution 512): AttributeError
        # "'NoneType' object has no attribute 'cache_suffix'" at build_dataset (train_util.py:2290)
        {"img/a.png": Img(size=(64, 64)), "meta.json": '{"a": {"caption": "a cat"}}'},
        ["balance", "--json", "-j", "1", "--trainer", "fine_tune", "--in_json", "meta.json", "--train_data_dir",
         "img", "--resolution", "64"],
        F("RA097", "error", "meta.json",
          "sd-scripts stops on the fine-tuning metadata: AttributeError: 'NoneType' object has no attribute "
          "'cache_suffix' (no latents caching strategy is installed: this trainer installs one only with "
          "--cache_latents)"),
        facts={"crash.code": "RA097", "crash.stage": "build", "crash.exception": "AttributeError", **NO_STEPS}),
    row("RA091 prior_loss_weight in the dataset config",
        {**DOG, "ds.toml": "[[datasets]]\nprior_loss_weight = 1.0\n"},
        ["balance", "--json", "-j", "1", "--dataset_config", "ds.toml", "--resolution", "64"],
        F("RA091", "error", "ds.toml",
          "sd-scripts stops on the dataset config: MultipleInvalid: extra keys not allowed @ "
          "data['datasets'][0]['prior_loss_weight'] (it is a command-line option only)"),
        facts={"crash.code": "RA091", "crash.stage": "build", "crash.exception": "MultipleInvalid", **NO_STEPS}),
    # --- the dataset config as sd-scripts' own readers take it (toml 0.10.2, json); every stop below is the
    # one the oracle (the real sd-scripts on the same files) gave, with its exception and stage
    row("RA091 a mixed-type array: toml 0.10.2 refuses it while parsing",
        {**DOG, "ds.toml": '[[datasets]]\nresolution = [64, 64.0]\n  [[datasets.subsets]]\n  image_dir = "train/1_dog"\n'},
        ["balance", "--json", "-j", "1", "--dataset_config", "ds.toml"],
        F("RA091", "error", "ds.toml", "sd-scripts stops on the dataset config: TomlDecodeError: cannot be parsed: Not "
                                       "a homogeneous array (line 2 column 1 char 13)"),
        facts={"crash.code": "RA091", "crash.stage": "build", "crash.exception": "TomlDecodeError", **NO_STEPS}),
    row("RA091 a byte-order mark before the first table",
        {**DOG, "ds.toml": b'\xef\xbb\xbf[general]\nresolution = 64\n[[datasets]]\n  [[datasets.subsets]]\n'
                           b'  image_dir = "train/1_dog"\n'},
        ["balance", "--json", "-j", "1", "--dataset_config", "ds.toml"],
        F("RA091", "error", "ds.toml", "sd-scripts stops on the dataset config: TomlDecodeError: cannot be parsed: "
                                       "Found invalid character in key name: '['. Try quoting the key name. (line 1 "
                                       "column 2 char 1) (the file starts with a UTF-8 byte-order mark, which "
                                       "sd-scripts' reader keeps as part of the first line: save the file as UTF-8 "
                                       "without BOM)"),
        facts={"crash.code": "RA091", "crash.stage": "build", "crash.exception": "TomlDecodeError", **NO_STEPS}),
    row("RA096 resize_interpolation of a [[datasets]] block is not a known name",
        {**DOG, "ds.toml": '[general]\nresolution = 64\n[[datasets]]\nresize_interpolation = "Lanczos"\n'
                           '  [[datasets.subsets]]\n  image_dir = "train/1_dog"\n'},
        ["balance", "--json", "-j", "1", "--dataset_config", "ds.toml"],
        F("RA096", "error", "train/1_dog",
          'resize_interpolation "Lanczos" of dataset 0 is not one of lanczos, nearest, bilinear, linear, bicubic, '
          'cubic, area, box: sd-scripts stops while building the dataset ("is not a valid interpolation")'),
        facts={"crash.code": "RA096", "crash.stage": "build", "crash.exception": "AssertionError", **NO_STEPS}),
    row("RA078 train_db --masked_loss on folders",
        DOG, BALANCE + ["--resolution", "64", "--trainer", "train_db", "--masked_loss"],
        F("RA078", "error", "train/1_dog",
          "train_db.py --masked_loss checks every dataset against the ControlNet schema, which refuses DreamBooth "
          "folders: its config check stops the run (extra keys not allowed @ data['datasets'][0]['subsets'][0]"
          "['is_reg'])"),
        facts={"crash.code": "RA078", "crash.stage": "build", "crash.exception": "MultipleInvalid", **NO_STEPS}),
    row("RA078 train_db --masked_loss with a DreamBooth dataset config",
        {**DOG, "ds.toml": '[general]\nresolution = 64\n[[datasets]]\n  [[datasets.subsets]]\n  image_dir = "train/1_dog"\n'},
        ["balance", "--json", "-j", "1", "--dataset_config", "ds.toml", "--trainer", "train_db", "--masked_loss"],
        F("RA078", "error", "ds.toml",
          "sd-scripts stops on the dataset config: MultipleInvalid: required key not provided @ data['datasets'][0]"
          "['subsets'][0]['conditioning_data_dir'] (train_db.py --masked_loss checks every dataset against the "
          "ControlNet schema, which refuses DreamBooth subsets)"),
        facts={"crash.code": "RA078", "crash.stage": "build", "crash.exception": "MultipleInvalid", **NO_STEPS}),
    # --- --config_file values that reach the step count unconverted
    row("RA077 gradient_accumulation_steps = \"2\": TypeError where the steps are counted",
        {**DOG, "args.toml": 'gradient_accumulation_steps = "2"\n'},
        BALANCE + ["--resolution", "64", "--config_file", "args.toml"],
        F("RA077", "error", "", "--config_file: gradient_accumulation_steps = '2' is not a number: train_network.py "
                                "stops with TypeError where it counts the steps, after loading its models (write "
                                "gradient_accumulation_steps = 2, an integer without quotes)"),
        facts={"crash.code": "RA077", "crash.stage": "start", "crash.exception": "TypeError", **NO_STEPS,
               "if_fixed.batches_per_epoch": 1}),
    row("RA095 max_train_epochs = 2.5: a float max_train_steps stops training when it starts",
        {**DOG, "args.toml": "max_train_epochs = 2.5\n"},
        BALANCE + ["--resolution", "64", "--config_file", "args.toml"],
        F("RA095", "error", "train", "--config_file: max_train_epochs = 2.5 makes max_train_steps 2.5, a float: "
                                     "train_network.py counts its steps, loads its models and then stops when "
                                     "training starts ('float' object cannot be interpreted as an integer, at "
                                     "range(max_train_steps))"),
        # oracle: 1 batch per epoch, max_train_steps 2.5, 3 epochs
        facts={"crash.code": "RA095", "crash.stage": "train", "crash.exception": "TypeError",
               "batches_per_epoch": 1, "max_train_steps": 2.5, "epochs": 3}),
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
