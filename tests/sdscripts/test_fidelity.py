"""sd-scripts' behaviours pinned end to end, with the numbers sd-scripts itself reported.

Each case was run through the real sd-scripts (commit 48d368f) with ../shared/oracle (the trainer's
own train() up to its first model load, `--oracle_probe_load` for load failures); the figures in
the comments are the oracle's. Spec references are to ../shared/spec/kohya-dataset-semantics.md.
"""

from __future__ import annotations

import json
import os

import pytest

from regaudit.sdscripts import argv as sdargs

from regaudit.sdscripts import trainers
from regaudit.cli import main
from tests.conftest import make_image, write_toml


def balance(capsys, monkeypatch, cwd, *argv):
    monkeypatch.chdir(cwd)
    code = main(["balance", "--json", "--no-progress", *argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


def images(doc, ds=0):
    return {os.path.relpath(i["path"]): i for i in doc["datasets"][ds]["images"]}


# --- the command line, as each trainer's argparse reads it (spec §10.11)

def test_unique_prefixes_are_the_option():
    values, given, unknown = sdargs.parse_argv("train_network", ["--max_train_epoch", "10", "--resol", "512",
                                                                 "--enable_buck", "--train_data", "t"])
    assert values == {"max_train_epochs": 10, "resolution": "512", "enable_bucket": True, "train_data_dir": "t"}
    assert not unknown


@pytest.mark.parametrize("argv, needle", [
    (["--max_train", "5"], "ambiguous option: --max_train could match"),
    (["--caption_ext", ".txt"], "ambiguous option: --caption_ext"),
    (["--max_train_epochs", "3.0"], "invalid int value: '3.0'"),
    (["--enable_bucket=yes"], "ignored explicit argument 'yes'"),
    (["--resolution"], "expected one argument"),
])
def test_argparse_stops(argv, needle):
    with pytest.raises(sdargs.ArgvError, match=needle):
        sdargs.parse("train_network", argv)


def test_unknown_option_suggests_the_closest():
    with pytest.raises(sdargs.ArgvError) as exc:
        sdargs.parse("train_network", ["--resolutoin", "512"])
    assert exc.value.suggestion == "--resolution" and "unrecognized arguments" in str(exc.value)
    # an option of another trainer is unknown to this one: sdxl_train has no --prior_loss_weight
    with pytest.raises(sdargs.ArgvError, match="unrecognized"):
        sdargs.parse("sdxl_train", ["--prior_loss_weight", "1.0"])


def test_config_file_merges_flat_and_the_command_line_wins(tmp_path):
    # spec §10.11: [model] max_train_epoch = 7 is kept but does nothing; [dataset] max_train_epochs = 3
    # gives 3 epochs; --max_train_epochs 5 gives 5; --max_train_epoch 6 gives 6
    write_toml(tmp_path / "args.toml", "[model]\nmax_train_epoch = 7\n[dataset]\nmax_train_epochs = 3\n")
    cfg = str(tmp_path / "args")  # '.toml' is appended
    assert sdargs.parse("train_network", ["--config_file", cfg]).values["max_train_epochs"] == 3
    assert sdargs.parse("train_network", ["--config_file", cfg, "--max_train_epochs", "5"]).values[
        "max_train_epochs"] == 5
    got = sdargs.parse("train_network", ["--config_file", cfg, "--max_train_epoch", "6"])
    assert got.values["max_train_epochs"] == 6 and got.unknown_config_keys == ["max_train_epoch"]
    with pytest.raises(sdargs.ArgvError) as exc:
        sdargs.parse("train_network", ["--config_file", str(tmp_path / "missing")])
    assert exc.value.exit_code == 1


def test_pasted_accelerate_command():
    trainer, argv, launcher = sdargs.split_command(
        ["accelerate", "launch", "--num_processes", "2", "--mixed_precision", "bf16", "sdxl_train_network.py",
         "--train_data_dir", "t", "--resolution", "1024"])
    assert trainer == "sdxl_train_network" and launcher == {"num_processes": 2}
    assert argv == ["--train_data_dir", "t", "--resolution", "1024"]


def test_config_file_resolution_as_integer_stops_at_start(tmp_path, capsys, monkeypatch):
    # oracle: resolution = 512 in --config_file -> AttributeError in prepare_dataset_args (stage start)
    make_image(tmp_path / "train" / "2_dog" / "a.png", size=(512, 512))
    write_toml(tmp_path / "cf.toml", "[a]\nresolution = 512\n")
    doc = balance(capsys, monkeypatch, tmp_path, "--train_data_dir", "train", "--config_file", "cf")
    assert doc["crash"]["stage"] == "start" and doc["crash"]["exception"] == "AttributeError"


# --- trainers (trainers.md)

def test_every_trainer_is_registered_with_its_facts():
    assert set(trainers.REGISTRY) == set(sdargs.known_trainers())
    multiple = {n: t.required_multiple for n, t in trainers.REGISTRY.items()}
    assert multiple["flux_train_network"] == 64 and multiple["lumina_train_network"] == 64
    assert multiple["sdxl_train_network"] == 32 and multiple["sd3_train"] == 8 and multiple["flux_train"] == 16
    assert multiple["train_control_net"] is None
    assert trainers.get("train_db").cache_suffix == "_sdxl.npz"
    assert not trainers.get("sdxl_train").cache_names_always


@pytest.mark.parametrize("trainer, steps, stops", [
    ("flux_train_network", "32", True),  # train_network's 64 check runs first
    ("sdxl_train_network", "32", False),
    ("sd3_train", "8", False),
    ("train_network", "32", True),
    ("train_control_net", "48", False),  # no check enforced... but ControlNet does not read folders
])
def test_bucket_reso_steps_rule_per_trainer(tmp_path, capsys, monkeypatch, trainer, steps, stops):
    make_image(tmp_path / "train" / "2_dog" / "a.png", size=(512, 512))
    doc = balance(capsys, monkeypatch, tmp_path, "--trainer", trainer, "--train_data_dir", "train",
                  "--resolution", "512", "--enable_bucket", "--bucket_reso_steps", steps)
    if trainer == "train_control_net":
        # oracle: MultipleInvalid, conditioning_data_dir required, while building
        assert doc["crash"]["stage"] == "build" and doc["crash"]["exception"] == "MultipleInvalid"
        return
    assert (doc["crash"] is not None and doc["crash"]["code"] == "RA062") == stops


# --- registration corners

def test_dataset_repeats_reach_toml_subsets(tmp_path, capsys, monkeypatch):
    # spec §10.4: --dataset_repeats 3; t (2 images, no num_repeats), u (1 image, num_repeats 5),
    # reg r (1 image) -> repeats 3, 5, 3; num_train_images 11, num_reg_images 3; r balanced to 11; length 22
    for rel in ("t/a.png", "t/b.png", "u/c.png", "r/d.png"):
        make_image(tmp_path / rel, size=(512, 512))
    write_toml(tmp_path / "ds.toml", """
[[datasets]]
  [[datasets.subsets]]
  image_dir = "t"
  [[datasets.subsets]]
  image_dir = "u"
  num_repeats = 5
  [[datasets.subsets]]
  image_dir = "r"
  is_reg = true
""")
    doc = balance(capsys, monkeypatch, tmp_path, "--dataset_config", "ds.toml", "--resolution", "512",
                  "--dataset_repeats", "3")
    ds = doc["datasets"][0]
    assert [s["num_repeats"] for s in ds["subsets"]] == [3, 5, 3]
    assert (ds["num_train_images"], ds["num_reg_images"], ds["batches_per_epoch"]) == (11, 3, 22)
    assert images(doc)["r/d.png"]["num_repeats"] == 11


def test_subsets_compare_by_raw_string(tmp_path, capsys, monkeypatch):
    # spec §10.3: D (2 repeats, .txt) then D/ (3 repeats, .cap), 2 images: both subsets are listed,
    # num_train_images 4 + 6 = 10, each image once with the later subset's settings; length 6
    for name in ("a", "b"):
        make_image(tmp_path / "D" / f"{name}.png", size=(512, 512))
        (tmp_path / "D" / f"{name}.txt").write_text("from txt\n")
        (tmp_path / "D" / f"{name}.cap").write_text("from cap\n")
    write_toml(tmp_path / "ds.toml", """
[[datasets]]
  [[datasets.subsets]]
  image_dir = "D"
  num_repeats = 2
  caption_extension = ".txt"
  [[datasets.subsets]]
  image_dir = "D/"
  num_repeats = 3
  caption_extension = ".cap"
""")
    doc = balance(capsys, monkeypatch, tmp_path, "--dataset_config", "ds.toml", "--resolution", "512")
    ds = doc["datasets"][0]
    assert [(s["image_dir"], s["img_count"]) for s in ds["subsets"]] == [("D", 2), ("D/", 2)]
    assert ds["num_train_images"] == 10 and ds["batches_per_epoch"] == 6
    assert {(i["num_repeats"], i["caption"]) for i in ds["images"]} == {(3, "from cap")}


def test_latent_cache_glob_is_not_escaped(tmp_path, capsys, monkeypatch):
    # spec §10.2: 1_x[1]/a.png 512x512 beside a_0768x0512_sd.npz -> 512x512, bucket 512x512;
    # the same pair in 1_y -> 768x512, bucket 640x384
    for folder in ("1_x[1]", "1_y"):
        make_image(tmp_path / "train" / folder / "a.png", size=(512, 512))
        (tmp_path / "train" / folder / "a_0768x0512_sd.npz").write_bytes(b"")
    doc = balance(capsys, monkeypatch, tmp_path, "--train_data_dir", "train", "--resolution", "512",
                  "--enable_bucket")
    got = images(doc)
    assert got["train/1_x[1]/a.png"]["image_size"] == [512, 512] and got["train/1_x[1]/a.png"]["bucket"] == [512, 512]
    assert got["train/1_y/a.png"]["image_size"] == [768, 512] and got["train/1_y/a.png"]["bucket"] == [640, 384]


def test_cache_name_without_a_size_stops_the_build(tmp_path, capsys, monkeypatch):
    # spec §10.2: 1_x/a_sd.npz -> ValueError "invalid literal for int() with base 10: ''"
    make_image(tmp_path / "train" / "1_x" / "a.png", size=(512, 512))
    (tmp_path / "train" / "1_x" / "a_sd.npz").write_bytes(b"")
    doc = balance(capsys, monkeypatch, tmp_path, "--train_data_dir", "train", "--resolution", "512")
    assert doc["crash"]["stage"] == "build" and doc["crash"]["exception"] == "ValueError"
    assert "invalid literal for int() with base 10: ''" in doc["crash"]["message"]
    # sdxl_train reads cache names only with --cache_latents: then the _sd name is not its suffix anyway
    doc = balance(capsys, monkeypatch, tmp_path, "--trainer", "sdxl_train", "--train_data_dir", "train",
                  "--resolution", "512")
    assert doc["crash"] is None


def test_cache_latents_with_random_crop_stops_after_the_build(tmp_path, capsys, monkeypatch):
    # spec §10.6: AssertionError after the build; with no images 'No data found' and no assert;
    # with --bucket_reso_steps 32 as well, the caching assert fires first
    make_image(tmp_path / "train" / "2_dog" / "a.png", size=(512, 512))
    base = ["--train_data_dir", "train", "--resolution", "512", "--cache_latents", "--random_crop"]
    doc = balance(capsys, monkeypatch, tmp_path, *base)
    assert (doc["crash"]["stage"], doc["crash"]["exception"], doc["crash"]["code"]) == \
        ("start", "AssertionError", "RA079")
    doc = balance(capsys, monkeypatch, tmp_path, *base, "--enable_bucket", "--bucket_reso_steps", "32")
    assert doc["crash"]["code"] == "RA079"
    (tmp_path / "empty").mkdir()
    doc = balance(capsys, monkeypatch, tmp_path, "--train_data_dir", "empty", "--resolution", "512",
                  "--cache_latents_to_disk", "--color_aug")
    assert doc["no_data"] and doc["crash"] is None


def test_zero_width_bucket_fails_at_load_but_counts_steps(tmp_path, capsys, monkeypatch):
    # spec §10.7: 40x600 at 512 with bucket_no_upscale -> bucket (0, 576), counted in the length,
    # RuntimeError at the first VAE pass; 600x40 -> ZeroDivisionError while building
    make_image(tmp_path / "train" / "1_x" / "a.png", size=(40, 600))
    argv = ["--train_data_dir", "train", "--resolution", "512", "--enable_bucket", "--bucket_no_upscale",
            "--max_train_epochs", "2"]
    doc = balance(capsys, monkeypatch, tmp_path, *argv)
    assert images(doc)["train/1_x/a.png"]["bucket"] == [0, 576]
    assert doc["crash"]["stage"] == "load" and doc["crash"]["exception"] == "RuntimeError"
    assert doc["batches_per_epoch"] == 1 and doc["max_train_steps"] == 2
    make_image(tmp_path / "train" / "1_x" / "a.png", size=(600, 40))
    doc = balance(capsys, monkeypatch, tmp_path, *argv)
    assert doc["crash"]["stage"] == "build" and doc["crash"]["exception"] == "ZeroDivisionError"


def test_empty_dataset_per_trainer(tmp_path, capsys, monkeypatch):
    # oracle: train_network -> 'No data found' (clean); train_db has no such check -> ValueError from
    # its DataLoader; textual inversion with a missing train dir and steps 8 -> 'No data found' (the
    # empty dataset is a ControlNet one, whose bucket_reso_steps is not checked)
    doc = balance(capsys, monkeypatch, tmp_path, "--train_data_dir", "nothing", "--resolution", "512")
    assert doc["no_data"] and doc["crash"] is None
    doc = balance(capsys, monkeypatch, tmp_path, "--trainer", "train_db", "--train_data_dir", "nothing",
                  "--resolution", "512")
    assert doc["crash"]["exception"] == "ValueError" and doc["crash"]["stage"] == "start"
    doc = balance(capsys, monkeypatch, tmp_path, "--trainer", "train_textual_inversion", "--train_data_dir",
                  "nothing", "--resolution", "768,512", "--enable_bucket", "--bucket_reso_steps", "8")
    assert doc["no_data"] and doc["crash"] is None


def test_broken_reg_image_the_loop_does_not_use_is_a_warning(tmp_path, capsys, monkeypatch):
    # 1 train sample, 3 reg images at 1_: only the first reg image is registered; the zero-byte last
    # one is never sized or loaded, so sd-scripts runs
    make_image(tmp_path / "train" / "1_dog" / "a.png", size=(512, 512))
    for n in ("r0", "r1"):
        make_image(tmp_path / "reg" / "1_dog" / f"{n}.png", size=(512, 512))
    (tmp_path / "reg" / "1_dog" / "r2.png").write_bytes(b"")
    doc = balance(capsys, monkeypatch, tmp_path, "--train_data_dir", "train", "--reg_data_dir", "reg",
                  "--resolution", "512")
    assert doc["crash"] is None
    f = next(f for f in doc["findings"] if f["code"] == "RA040")
    assert f["severity"] == "warning" and "counts change" in f["message"]


def test_pasted_command_with_list_options_and_a_folder(tmp_path, capsys, monkeypatch):
    # nargs='*' options take every bare token after them; a bare token after an unknown option is its
    # value; any other bare token is the train folder
    make_image(tmp_path / "train" / "2_dog" / "a.png", size=(512, 512))
    doc = balance(capsys, monkeypatch, tmp_path, "train", "--resolution", "512",
                  "--optimizer_args", "weight_decay=0.1", "betas=0.9,0.99", "--network_args", "conv_dim=4",
                  "--max_train_epochs", "3")
    assert doc["crash"] is None and doc["max_train_steps"] == 6
    assert sdargs.positionals("train_network", ["--bogus", "5", "T", "--resolution", "512", "U"]) == [2, 5]


@pytest.mark.parametrize("argv, toml, exception", [
    # oracle: --resolution 0 -> ZeroDivisionError while building; with --enable_bucket the
    # min_bucket_reso assert fires first; --train_batch_size 0 -> ZeroDivisionError (batches)
    (["--resolution", "0"], None, "ZeroDivisionError"),
    (["--resolution", "0", "--enable_bucket"], None, "AssertionError"),
    (["--resolution", "512", "--train_batch_size", "0"], None, "ZeroDivisionError"),
    (["--resolution", "512", "--enable_bucket", "--min_bucket_reso", "0"], None, "ZeroDivisionError"),
    (["--resolution", "512", "--enable_bucket", "--bucket_reso_steps", "0"], None, "ZeroDivisionError"),
    (["--resolution", "512,", ], None, "ValueError"),  # prepare_dataset_args: int('')
    (["--resolution", "512,512,512"], None, "AssertionError"),
])
def test_zero_values_are_sd_scripts_own_stops(tmp_path, capsys, monkeypatch, argv, toml, exception):
    make_image(tmp_path / "train" / "2_dog" / "a.png", size=(512, 512))
    doc = balance(capsys, monkeypatch, tmp_path, "--train_data_dir", "train", *argv)
    assert doc["crash"]["exception"] == exception and doc["max_train_steps"] is None


@pytest.mark.parametrize("argv, body", [
    (["--max_train_epochs", "-1"], None),
    (["--prior_loss_weight", "nan"], None),
    (["--resolution", "100000000"], None),
    ([], "[general]\nbatch_size = -1\n"),
    ([], "[general]\nresolution = 9223372036854775807\n"),
    ([], "[general]\nnum_repeats = 100000000000\n"),
])
def test_absurd_values_are_refused_with_one_line(tmp_path, capsys, monkeypatch, argv, body):
    make_image(tmp_path / "train" / "2_dog" / "a.png", size=(512, 512))
    monkeypatch.chdir(tmp_path)
    if body is not None:
        write_toml(tmp_path / "ds.toml", body + '[[datasets]]\n[[datasets.subsets]]\nimage_dir = "train/2_dog"\n')
        argv = ["--dataset_config", "ds.toml", "--resolution", "512"]
    else:
        argv = ["--train_data_dir", "train", "--resolution", "512", *argv]
    code = main(["balance", "--json", *argv])
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1 and "Traceback" not in err


# --- found by a hostile-user trial against the oracle

def test_a_stop_on_the_command_line_fails_the_gate_and_is_a_finding(tmp_path, capsys, monkeypatch):
    make_image(tmp_path / "train" / "2_dog" / "a.png", size=(512, 512))
    monkeypatch.chdir(tmp_path)
    code = main(["check", "--train_data_dir", "train", "--resolution", "512", "--enable_buckets"])
    assert code == 1 and "RA077" in capsys.readouterr().out
    doc = balance(capsys, monkeypatch, tmp_path, "--train_data_dir", "train", "--resolution", "512", "--max_train", "3")
    assert doc["summary"]["errors"] >= 1 and "RA077" in {f["code"] for f in doc["findings"]}


@pytest.mark.parametrize("argv, exception", [
    (["accelerate", "launch", "train_network.py", "--config_file", "nope.toml"], "SystemExit"),  # exit(1)
    (["--train_data_dir", "train", "--resolution", "512", "--seed", "-1"], "ValueError"),
    (["--train_data_dir", "train", "--resolution", "512", "--gradient_accumulation_steps", "0"], "ZeroDivisionError"),
    # a pasted command is read as typed: kebab-case and bare folders are sd-scripts' unrecognized arguments
    (["python", "train_network.py", "--train-data-dir", "train", "--resolution", "512"], "SystemExit"),
    (["python", "train_network.py", "train", "--resolution", "512"], "SystemExit"),
    (["--train_data_dir", "train", "--resolution", "512", "--learning_rate", "-1e-4"], "SystemExit"),
])
def test_more_start_stops(tmp_path, capsys, monkeypatch, argv, exception):
    make_image(tmp_path / "train" / "2_dog" / "a.png", size=(512, 512))
    doc = balance(capsys, monkeypatch, tmp_path, *argv)
    assert doc["crash"]["stage"] == "start" and doc["crash"]["exception"] == exception


def test_no_data_in_the_terminal_and_pasted_forms(tmp_path, capsys, monkeypatch):
    make_image(tmp_path / "train" / "2_dog" / "a.png", size=(512, 512))
    monkeypatch.chdir(tmp_path)
    assert main(["balance", "--train_data_dir", "nope", "--resolution", "512"]) == 0
    assert "No data found" in capsys.readouterr().out
    doc = balance(capsys, monkeypatch, tmp_path, "python train_network.py --train_data_dir train --resolution 512",
                  "-j1")  # the whole command as one argument, an attached short option
    assert doc["crash"] is None and doc["batches_per_epoch"] == 2
    assert main(["balance", "train.py", "--train_data_dir", "train"]) == 2
    assert "not one of sd-scripts' trainer scripts" in capsys.readouterr().err


def test_debug_dataset_returns_before_training(tmp_path, capsys, monkeypatch):
    # oracle: train_network --debug_dataset returns (returned_early 'debug_dataset', no steps) before its
    # bucket check; train_db checks bucket_reso_steps first (AssertionError with 32)
    make_image(tmp_path / "train" / "2_dog" / "a.png", size=(512, 512))
    argv = ["--train_data_dir", "train", "--resolution", "512", "--debug_dataset", "--enable_bucket",
            "--bucket_reso_steps", "32"]
    doc = balance(capsys, monkeypatch, tmp_path, *argv)
    assert doc["returned_early"] == "debug_dataset" and doc["crash"] is None and doc["max_train_steps"] is None
    doc = balance(capsys, monkeypatch, tmp_path, "--trainer", "train_db", *argv)
    assert doc["crash"]["code"] == "RA062" and doc["returned_early"] is None


def test_figures_once_a_build_stop_is_fixed(tmp_path, capsys, monkeypatch):
    # an empty caption stops sd-scripts while building (no steps); the figures once it is fixed are given
    for n in ("a", "b"):
        make_image(tmp_path / "train" / "3_dog" / f"{n}.png", size=(512, 512))
    (tmp_path / "train" / "3_dog" / "a.caption").write_bytes(b"")
    doc = balance(capsys, monkeypatch, tmp_path, "--train_data_dir", "train", "--resolution", "512",
                  "--max_train_epochs", "2")
    assert doc["crash"]["exception"] == "AssertionError" and doc["max_train_steps"] is None
    assert doc["if_fixed"] == {"batches_per_epoch": 6, "steps_per_epoch": 6, "max_train_steps": 12, "epochs": 2}


def test_target_os_decides_the_case_of_the_glob(tmp_path, capsys, monkeypatch):
    # Windows' glob is case-insensitive: 'a.Png' is an image there, never on Linux or macOS (spec §2)
    make_image(tmp_path / "train" / "1_x" / "a.Png", size=(64, 64), fmt="PNG")
    monkeypatch.chdir(tmp_path)
    for target, images, code in (("windows", 1, None), ("linux", 0, "RA006"), ("macos", 0, "RA006")):
        assert main(["scan", "--json", "--target-os", target, "train"]) == 0
        doc = json.loads(capsys.readouterr().out)
        assert doc["summary"]["images"] == images
        assert (code in {f["code"] for f in doc["findings"]}) if code else not any(
            f["code"] == "RA006" for f in doc["findings"])


@pytest.mark.parametrize("trainer, folder, crash", [
    # oracle: fine_tune makes one subset of --train_data_dir and its schema wants metadata_file, folder
    # or not; the ControlNet trainers only when the folder exists (else 'No data found')
    ("fine_tune", "train", True), ("fine_tune", "nope", True),
    ("train_control_net", "train", True), ("train_control_net", "nope", False),
])
def test_trainers_that_refuse_dreambooth_folders(tmp_path, capsys, monkeypatch, trainer, folder, crash):
    make_image(tmp_path / "train" / "10 dog" / "a.png", size=(512, 512))  # not even a '<repeats>_' name
    doc = balance(capsys, monkeypatch, tmp_path, "--trainer", trainer, "--train_data_dir", folder,
                  "--resolution", "512")
    if crash:
        assert (doc["crash"]["stage"], doc["crash"]["code"], doc["crash"]["exception"]) == \
            ("build", "RA078", "MultipleInvalid")
    else:
        assert doc["crash"] is None and doc["no_data"]


def test_validation_split_of_an_empty_train_folder_stops_the_build(tmp_path, capsys, monkeypatch):
    # oracle (lumina_train, train_util.py:167): zip(*[]) in split_train_val -> ValueError at build
    (tmp_path / "t").mkdir()
    make_image(tmp_path / "u" / "a.png", size=(512, 512))
    write_toml(tmp_path / "ds.toml", '[[datasets]]\nvalidation_split = 0.2\nvalidation_seed = 42\n'
                                     '  [[datasets.subsets]]\n  image_dir = "t"\n'
                                     '  [[datasets.subsets]]\n  image_dir = "u"\n')
    doc = balance(capsys, monkeypatch, tmp_path, "--dataset_config", "ds.toml", "--resolution", "512")
    assert (doc["crash"]["stage"], doc["crash"]["exception"]) == ("build", "ValueError")


def test_cache_sized_images_fail_at_load_only_when_the_file_is_broken(tmp_path, capsys, monkeypatch):
    # oracle (--oracle_probe_load): a cache name sizes both; the zero-byte file fails when loaded
    # (UnidentifiedImageError), the VP8X WebP imagesize reads as 299x0 loads fine (300x1)
    from PIL import Image

    d = tmp_path / "train" / "5_x"
    d.mkdir(parents=True)
    im = Image.new("RGBA", (300, 1), (200, 10, 10, 255))
    im.putpixel((0, 0), (0, 0, 0, 10))
    im.save(d / "a.webp", "WEBP")
    (d / "b.png").write_bytes(b"")
    for stem in ("a", "b"):
        (d / f"{stem}_0768x0512_sd.npz").write_bytes(b"")
    doc = balance(capsys, monkeypatch, tmp_path, "--train_data_dir", "train", "--resolution", "768,512",
                  "--enable_bucket")
    got = images(doc)
    assert got["train/5_x/a.webp"]["load_error"] is None
    assert got["train/5_x/b.png"]["load_error"].startswith("UnidentifiedImageError")
    assert doc["crash"]["stage"] == "load" and doc["crash"]["path"].endswith("b.png")


@pytest.mark.parametrize("broken, crash", [("c.png", True), ("a.png", False)])
def test_validation_dataset_reads_a_subset_the_training_dataset_skips(tmp_path, capsys, monkeypatch, broken, crash):
    # oracle (train_network, sd-scripts 48d368f): the validation dataset takes every subset with
    # num_repeats 1, so it lists and splits z (num_repeats 0) too; seed 77 gives it z/c.png of
    # a-d. Zero bytes there: ZeroDivisionError in select_bucket while making its buckets (build).
    # Zero bytes in a.png, which only the (skipped) training share holds: it runs, 6 batches, 1600 steps.
    for name in "abcd":
        make_image(tmp_path / "t" / f"{name}.png", size=(512, 512))
        if f"{name}.png" == broken:
            (tmp_path / "z").mkdir(exist_ok=True)
            (tmp_path / "z" / broken).write_bytes(b"")
        else:
            make_image(tmp_path / "z" / f"{name}.png", size=(512, 512))
    write_toml(tmp_path / "ds.toml", '[[datasets]]\nvalidation_split = 0.25\nvalidation_seed = 77\n'
                                     '[[datasets.subsets]]\nimage_dir = "t"\nnum_repeats = 2\n'
                                     '[[datasets.subsets]]\nimage_dir = "z"\nnum_repeats = 0\n')
    doc = balance(capsys, monkeypatch, tmp_path, "--dataset_config", "ds.toml", "--resolution", "512")
    if crash:
        assert (doc["crash"]["stage"], doc["crash"]["exception"]) == ("build", "ZeroDivisionError")
        assert doc["crash"]["path"] == str(tmp_path / "z" / "c.png")
    else:
        assert doc["crash"] is None
        assert (doc["max_train_steps"], doc["datasets"][0]["batches_per_epoch"]) == (1600, 6)
