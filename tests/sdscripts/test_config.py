"""Spec §1, --dataset_config: strict schema, value fallbacks, duplicate and aliased subsets."""

from __future__ import annotations

import os

import pytest

from regaudit.views.balance import BalanceOptions, plan
from regaudit.sdscripts.config import TrainingArgs, load_dataset_config
from regaudit.errors import ConfigError
from regaudit.rules.build import spec_findings
from regaudit.views.scan import load_specs, scan
from tests.conftest import build_tree, write_toml
from tests import platforms


@pytest.mark.parametrize("body, needle", [
    # voluptuous' wording, as sd-scripts' MultipleInvalid prints it (oracle runs, sd-scripts 48d368f)
    ("[general]\nnum_repeats = 2.0\n", "expected int for dictionary value @ data['general']['num_repeats']"),
    ("[general]\nbogus = 1\n", "extra keys not allowed @ data['general']['bogus']"),
    ("[general]\nimage_dir = 'x'\n", "belongs in [[datasets.subsets]]"),
    ("[[datasets]]\nis_reg = true\n", "extra keys not allowed @ data['datasets'][0]['is_reg']"),
    ("[[datasets]]\nnetwork_multiplier = 1\n", "must be a float"),
    ("[[datasets]]\n[[datasets.subsets]]\nnum_repeats = 1\n", "required key not provided"),
    ("[[datasets]]\n[[datasets.subsets]]\nimage_dir = 'x'\nprior_loss_weight = 1.0\n",
     "extra keys not allowed @ data['datasets'][0]['subsets'][0]['prior_loss_weight']"),
    # a fine-tuning subset beside a DreamBooth one, and a DreamBooth key in a fine-tuning subset
    ("[[datasets]]\n[[datasets.subsets]]\nimage_dir = 'x'\n[[datasets.subsets]]\nmetadata_file = 'm.json'\n",
     "cannot be mixed in the same dataset"),
    ("[[datasets]]\n[[datasets.subsets]]\nmetadata_file = 'm.json'\nclass_tokens = 'x'\n",
     "extra keys not allowed @ data['datasets'][0]['subsets'][0]['class_tokens']"),
    ("other = 1\n", "extra keys not allowed @ data['other']"),
    ("[general\n", "cannot be parsed"),
    # a [[datasets]] without subsets is checked against the fine-tuning schema (spec §10.5)
    ("[[datasets]]\n[[datasets.subsets]]\nimage_dir = 'x'\n[[datasets]]\nclass_tokens = 'x'\n",
     "extra keys not allowed @ data['datasets'][1]['class_tokens']"),
])
def test_invalid_configs_are_rejected_precisely(tmp_path, body, needle):
    with pytest.raises(ConfigError) as exc:
        load_dataset_config(write_toml(tmp_path / "c.toml", body), TrainingArgs())
    assert needle in str(exc.value)


def test_wrong_extension_and_missing_file(tmp_path):
    (tmp_path / "c.yaml").write_text("x: 1")
    with pytest.raises(ConfigError, match="not supported config file format"):
        load_dataset_config(str(tmp_path / "c.yaml"), TrainingArgs())
    with pytest.raises(ConfigError, match="not found"):
        load_dataset_config(str(tmp_path / "missing.toml"), TrainingArgs())


def test_fallback_order_subset_dataset_general_cli_default(tmp_path):
    cfg = write_toml(tmp_path / "c.toml", """
[general]
num_repeats = 3
caption_extension = 'txt'
resolution = [768, 512]
[[datasets]]
class_tokens = 'ds tokens'
  [[datasets.subsets]]
  image_dir = 'a'
  num_repeats = 7
  [[datasets.subsets]]
  image_dir = 'b'
  class_tokens = 'own'
[[datasets]]
resolution = 640
  [[datasets.subsets]]
  image_dir = 'c'
""")
    specs = load_dataset_config(cfg, TrainingArgs(caption_extension=".caption", dataset_repeats=9,
                                                   train_batch_size=4))
    a, b = specs[0].subsets
    (c,) = specs[1].subsets
    assert (a.num_repeats, b.num_repeats, c.num_repeats) == (7, 3, 3)
    assert (a.class_tokens, b.class_tokens, c.class_tokens) == ("ds tokens", "own", None)
    assert a.caption_extension == ".txt"
    assert specs[0].params.resolution == (768, 512) and specs[1].params.resolution == (640, 640)
    assert specs[0].params.batch_size == 4


def test_cli_fallbacks_when_config_is_silent(tmp_path):
    cfg = write_toml(tmp_path / "c.toml", "[[datasets]]\n[[datasets.subsets]]\nimage_dir = 'a'\n")
    (sub,) = load_dataset_config(cfg, TrainingArgs(caption_extension=".txt", dataset_repeats=4))[0].subsets
    assert (sub.num_repeats, sub.caption_extension, sub.class_tokens) == (4, ".txt", None)


def test_bool_counts_as_int_like_sd_scripts(tmp_path):
    cfg = write_toml(tmp_path / "c.toml", "[[datasets]]\n[[datasets.subsets]]\nimage_dir = 'a'\nnum_repeats = true\n")
    assert load_dataset_config(cfg, TrainingArgs())[0].subsets[0].num_repeats == 1


def test_relative_image_dir_is_resolved_against_working_directory(tmp_path, monkeypatch):
    build_tree(tmp_path / "work", {"imgs": 2}, size=(8, 8))
    (tmp_path / "conf").mkdir()
    cfg = write_toml(tmp_path / "conf" / "c.toml", "[[datasets]]\n[[datasets.subsets]]\nimage_dir = 'imgs'\n")
    monkeypatch.chdir(tmp_path / "work")
    result = scan(load_specs(dataset_config=cfg), jobs=1)
    assert len(result.subsets[0].images) == 2
    monkeypatch.chdir(tmp_path / "conf")
    result = scan(load_specs(dataset_config=cfg), jobs=1)
    assert result.subsets == () and "RA008" in {f.code for f in result.findings}


def test_num_repeats_zero_in_config_is_skipped_with_warning(tmp_path):
    build_tree(tmp_path, {"a": 1}, size=(8, 8))
    cfg = write_toml(tmp_path / "c.toml",
                     f"[[datasets]]\n[[datasets.subsets]]\nimage_dir = '{tmp_path}/a'\nnum_repeats = 0\n")
    result = scan(load_specs(dataset_config=cfg), jobs=1)
    assert result.subsets == () and "RA002" in {f.code for f in result.findings}


def test_duplicate_subset_first_wins_even_train_vs_reg(tmp_path):
    build_tree(tmp_path, {"a": 2, "t": 3}, size=(8, 8))
    cfg = write_toml(tmp_path / "c.toml", f"""
[[datasets]]
  [[datasets.subsets]]
  image_dir = '{tmp_path}/a'
  is_reg = true
  [[datasets.subsets]]
  image_dir = '{tmp_path}/t'
  [[datasets.subsets]]
  image_dir = '{tmp_path}/a'
  [[datasets.subsets]]
  image_dir = '{tmp_path}/a/'
[[datasets]]
  [[datasets.subsets]]
  image_dir = '{tmp_path}/a'
""")
    result = scan(load_specs(dataset_config=cfg), jobs=1)
    # subsets compare by the raw image_dir string (spec §10.3): the exact repeat is dropped, 'a/' is
    # another subset
    assert [(s.config.is_reg, s.config.image_dir[len(str(tmp_path)):]) for s in result.datasets[0].subsets] == \
        [(True, "/a"), (False, "/t"), (False, "/a/")]
    assert len(result.datasets[1].subsets) == 1  # another dataset uses the same folder again
    assert "RA009" in {f.code for f in result.findings}


@platforms.symlinks
def test_aliased_folder_is_registered_twice(tmp_path, monkeypatch):
    build_tree(tmp_path, {"t": 2}, size=(64, 64))
    os.symlink(tmp_path / "t", tmp_path / "alias")
    cfg = write_toml(tmp_path / "c.toml", f"""
[general]
resolution = 64
[[datasets]]
  [[datasets.subsets]]
  image_dir = '{tmp_path}/t'
  [[datasets.subsets]]
  image_dir = '{tmp_path}/alias'
""")
    p = plan(scan(load_specs(dataset_config=cfg), jobs=1), BalanceOptions())
    assert p.datasets[0].num_train_images == 4 and p.batches_per_epoch == 4
    assert "RA010" in {f.code for f in p.findings}


def test_options_regaudit_does_not_simulate_are_flagged(tmp_path):
    build_tree(tmp_path, {"a": 1}, size=(8, 8))
    (tmp_path / "a" / "metadata_cache.json").write_text("{}")
    cfg = write_toml(tmp_path / "c.toml", f"[[datasets]]\n[[datasets.subsets]]\n"
                                          f"image_dir = '{tmp_path}/a'\ncache_info = true\n")
    (spec,) = load_dataset_config(cfg, TrainingArgs())
    assert [f.code for f in spec_findings(spec)] == ["RA090"]


def test_validation_split_holds_images_back(tmp_path):
    # oracle (train_network, sd-scripts 48d368f): 7 train images, validation_split 0.3, validation_seed 42
    # -> trains on i1 i2 i3 i4 i6 (ceil(7 x 0.7) = 5 after random.seed(42) + shuffle); reg is never split
    from tests.conftest import make_image

    for i in range(7):
        make_image(tmp_path / "t" / f"i{i}.png", size=(64, 64))
    cfg = write_toml(tmp_path / "c.toml", f"[general]\nvalidation_split = 0.3\nvalidation_seed = 42\n"
                                          f"[[datasets]]\n[[datasets.subsets]]\nimage_dir = '{tmp_path}/t'\n")
    result = scan(load_specs(dataset_config=cfg), jobs=1)
    kept = sorted(os.path.basename(i.path) for i in result.datasets[0].subsets[0].images)
    assert kept == ["i1.png", "i2.png", "i3.png", "i4.png", "i6.png"]
    assert sorted(os.path.basename(i.path) for i in result.datasets[0].subsets[0].held_out) == ["i0.png", "i5.png"]
