"""sdscripts.startup: the stops sd-scripts makes on its command line and namespace, as Crash values."""

from __future__ import annotations

import os

import pytest

from regaudit.model import Crash
from regaudit.sdscripts import startup, trainers
from regaudit.sdscripts.argv import SdArgs
from regaudit.sdscripts.config import DatasetConfigCrash


@pytest.mark.parametrize("value, expected", [
    (None, None),
    ("512", (512, 512)),
    ("512,768", (512, 768)),
])
def test_resolution_parses_like_prepare_dataset_args(value, expected):
    assert startup.resolution(value, "train_network") == (expected, None)


@pytest.mark.parametrize("value, exception", [("big", "ValueError"), ("1,2,3", "AssertionError"),
                                              (512, "AttributeError")])
def test_resolution_stops(value, exception):
    nums, crash = startup.resolution(value, "train_network")
    assert nums is None
    assert (crash.stage, crash.code, crash.exception, crash.path) == ("start", "RA077", exception, "--resolution")


def test_unknown_option_stops_and_the_rest_is_still_read():
    sd, stop, positional = startup.parse_command_line("train_network", ["--train_data_dir", "x", "--bogus_option"])
    assert sd.get("train_data_dir") == "x"
    assert positional == []
    assert (stop.stage, stop.code, stop.exception, stop.path) == ("start", "RA077", "SystemExit", os.getcwd())
    assert stop.message.startswith("train_network.py stops on its command line: unrecognized arguments: --bogus_option")


def test_a_clean_command_line_does_not_stop():
    sd, stop, positional = startup.parse_command_line("train_network", ["--resolution", "512", "--enable_bucket"])
    assert (sd.get("resolution"), sd.get("enable_bucket"), stop, positional) == ("512", True, None, [])


def test_unrecognized_arguments():
    assert startup.unrecognized_arguments("sdxl_train", ["a", "b"]) == Crash(
        "start", "RA077", "SystemExit", os.getcwd(), "sdxl_train.py stops on its command line: unrecognized "
                                                     "arguments: a b")


@pytest.mark.parametrize("seed, stops", [(0, False), (2 ** 32 - 1, False), (2 ** 32, True), (-1, True), (None, False)])
def test_seed_range(seed, stops):
    crash = startup.seed(seed, "train_network")
    assert (crash is not None) == stops
    if stops:
        assert (crash.code, crash.exception) == ("RA077", "ValueError")


def test_output_config_needs_a_config_file_to_stop():
    assert startup.output_config(SdArgs("train_network", {"output_config": True}), "train_network") is None
    crash = startup.output_config(SdArgs("train_network", {"output_config": True, "config_file": "c.toml"}),
                                  "train_network")
    assert (crash.code, crash.exception) == ("RA077", "SystemExit")


def test_namespace_types_from_the_config_file():
    sd = SdArgs("train_network", {"train_batch_size": "2", "flip_aug": True},
                from_config_file={"train_batch_size", "flip_aug"})
    crash = startup.namespace_types(sd)
    assert (crash.stage, crash.code, crash.exception) == ("build", "RA077", "MultipleInvalid")
    assert crash.message.startswith("--config_file: train_batch_size = '2' must be an integer")
    assert startup.namespace_types(SdArgs("train_network", {"train_batch_size": 2},
                                          from_config_file={"train_batch_size"})) is None


@pytest.mark.parametrize("trainer, stops", [("train_network", True), ("train_textual_inversion", False),
                                            ("sdxl_train_textual_inversion", False)])
def test_textual_inversion_does_not_check_caption_dropout_types(trainer, stops):
    # oracle (differential seed 39028, sdxl_train_textual_inversion): caption_tag_dropout_rate = [1] in --config_file
    # builds the dataset (its ConfigSanitizer has no dropout keys); train_network stops with MultipleInvalid
    sd = SdArgs(trainer, {"caption_tag_dropout_rate": [1]}, from_config_file={"caption_tag_dropout_rate"})
    assert (startup.namespace_types(sd) is not None) is stops
    assert startup.schema_typed(sd)("caption_tag_dropout_rate", 0.0) == 0.0  # never simulated as [1]


def test_dataset_kind_of_fine_tune_and_dreambooth(tmp_path):
    sd = SdArgs("fine_tune", {})
    crash = startup.dataset_kind(trainers.get("fine_tune"), str(tmp_path), None, [], sd)
    assert (crash.stage, crash.code, crash.exception, crash.path) == ("build", "RA078", "MultipleInvalid",
                                                                      str(tmp_path))
    assert "['metadata_file']" in crash.message
    with_json = SdArgs("fine_tune", {"in_json": "meta.json"})
    assert startup.dataset_kind(trainers.get("fine_tune"), str(tmp_path), None, [], with_json) is None
    assert startup.dataset_kind(trainers.get("train_network"), str(tmp_path), None, [], sd) is None


def test_dataset_config_stop():
    exc = DatasetConfigCrash("/d/c.toml", "ValueError", "file not found: /d/c.toml")
    assert startup.dataset_config(exc) == Crash(
        "build", "RA091", "ValueError", "/d/c.toml",
        "sd-scripts stops on the dataset config: ValueError: file not found: /d/c.toml")
