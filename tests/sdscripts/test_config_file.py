"""Dataset configs as sd-scripts reads them (config.read_config_file, tomlfile: toml 0.10.2 and json),
the ControlNet schema of train_db --masked_loss, the resize_interpolation assert, and the values
the step count uses (step_values, the "train" stage). Every figure and message below is what the
real sd-scripts (commit 48d368f, toml 0.10.2, accelerate 1.6.0) gave through the oracle
(shared/oracle, --oracle_via_train / --oracle_trainer train_db) on the same files: train/2_dog
with a.png and b.png, train/1_cat with c.png, all 64x64."""

from __future__ import annotations

import os

import pytest

from regaudit.errors import ConfigError
from regaudit.sdscripts import startup, trainers
from regaudit.sdscripts.argv import SdArgs
from regaudit.sdscripts.config import DatasetConfigCrash, TrainingArgs, read_config_file
from regaudit.sdscripts.plan import BalanceOptions, Reason
from regaudit.sdscripts.run import simulate
from regaudit.sdscripts.step_values import step_values
from regaudit.sdscripts.tomlfile import MAX_INLINE_TABLES, TOML_LIMIT, shape, text_mode
from regaudit.views.scan import load_specs, scan
from tests.conftest import make_image, textured

SUBSET = b'[[datasets]]\n  [[datasets.subsets]]\n  image_dir = "train/2_dog"\n'


@pytest.fixture
def tree(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for rel in ("train/2_dog/a.png", "train/2_dog/b.png", "train/1_cat/c.png"):
        make_image(tmp_path / rel, size=(64, 64))
    return tmp_path


def run(tree, name: str, data: bytes, opts=BalanceOptions(), **args):
    (tree / name).write_bytes(data)
    specs = load_specs(None, None, name, TrainingArgs(**args))
    return simulate(scan(specs, jobs=1), opts)


def figures(f) -> tuple:
    return (f.batches_per_epoch, f.max_train_steps, f.epochs,
            [(s.config.image_dir, s.config.num_repeats, len(s.images)) for p in f.datasets for s in p.subsets],
            [p.num_train_images for p in f.datasets])


# --- the file as toml 0.10.2 / json read it

def test_text_mode_reads_like_open_in_text_mode():
    assert text_mode(b"a = 1\rb = 2\r\nc = 3\n") == "a = 1\nb = 2\nc = 3\n"
    assert text_mode(b"\xef\xbb\xbfa = 1") == "\ufeffa = 1"  # the BOM is kept (encoding="utf-8")
    with pytest.raises(UnicodeDecodeError):
        text_mode(b"a = '\xe9'")


def test_cr_only_line_ends(tree):
    # oracle: 6 batches, 1600 steps, 267 epochs, subset ('train/2_dog', 3 repeats, 2 images)
    f = run(tree, "cr.toml", b'[general]\rresolution = 64\r[[datasets]]\r  [[datasets.subsets]]\r'
                             b'  image_dir = "train/2_dog"\r  num_repeats = 3\r')
    assert f.crash is None and figures(f) == (6, 1600, 267, [("train/2_dog", 3, 2)], [6])


def test_no_break_space_before_a_number(tree):
    # oracle: 3 batches (6 samples, batch_size 2), 534 epochs
    text = '[general]\nresolution =\u00a064\nbatch_size =\u00a02\n[[datasets]]\n  [[datasets.subsets]]\n' \
           '  image_dir = "train/2_dog"\n  num_repeats =\u00a03\n'
    f = run(tree, "nbsp.toml", text.encode())
    assert f.crash is None and figures(f) == (3, 1600, 534, [("train/2_dog", 3, 2)], [6])


def test_inline_subsets_then_a_subsets_table(tree):
    # toml 0.10.2 appends the [[datasets.subsets]] to the inline array; oracle: both subsets, 6 batches
    f = run(tree, "inline.toml", b'[general]\nresolution = 64\n[[datasets]]\n'
                                 b'subsets = [{image_dir = "train/2_dog", num_repeats = 1}]\n'
                                 b'  [[datasets.subsets]]\n  image_dir = "train/1_cat"\n  num_repeats = 4\n')
    assert f.crash is None
    assert figures(f) == (6, 1600, 267, [("train/2_dog", 1, 2), ("train/1_cat", 4, 1)], [6])


def test_json_config_with_crlf(tree):
    # oracle: resolution [64, 64], 4 samples in 2 batches of 2
    f = run(tree, "ds.json", b'{\r\n "general": {"resolution": [64, 64]},\r\n "datasets": [{"batch_size": 2, '
                             b'"subsets": [{"image_dir": "train/2_dog", "num_repeats": 2}]}]\r\n}\r\n')
    assert f.crash is None and figures(f) == (2, 1600, 800, [("train/2_dog", 2, 2)], [4])


@pytest.mark.parametrize("name, data, exception, detail", [
    # mixed-type arrays: toml 0.10.2 refuses them while parsing, whatever the values are
    ("mixed.toml", b"[general]\nresolution = [64, 64.0]\n" + SUBSET, "TomlDecodeError",
     "cannot be parsed: Not a homogeneous array (line 2 column 1 char 10)"),
    ("mixed_bool.toml", b"[general]\nresolution = [64, true]\n" + SUBSET, "TomlDecodeError",
     "cannot be parsed: Not a homogeneous array (line 2 column 1 char 10)"),
    # a BOM before a table header, before a key, before JSON
    ("bom.toml", b"\xef\xbb\xbf[general]\nresolution = 64\n" + SUBSET, "TomlDecodeError",
     "cannot be parsed: Found invalid character in key name: '['. Try quoting the key name. (line 1 column 2 "
     "char 1) (the file starts with a UTF-8 byte-order mark, which sd-scripts' reader keeps as part of the first "
     "line: save the file as UTF-8 without BOM)"),
    ("bom_key.toml", b"\xef\xbb\xbfdatasets = []\n", "MultipleInvalid",
     "extra keys not allowed @ data['\\ufeffdatasets'] (the file starts with a UTF-8 byte-order mark, which "
     "sd-scripts' reader keeps as part of the first line: save the file as UTF-8 without BOM)"),
    ("bom.json", b'\xef\xbb\xbf{"datasets": []}', "JSONDecodeError",
     "cannot be parsed: Unexpected UTF-8 BOM (decode using utf-8-sig): line 1 column 1 (char 0) (the file starts "
     "with a UTF-8 byte-order mark, which sd-scripts' reader keeps as part of the first line: save the file as "
     "UTF-8 without BOM)"),
    ("latin1.toml", b'[general]\nclass_tokens = "caf\xe9"\n', "UnicodeDecodeError",
     "'utf-8' codec can't decode byte 0xe9 in position 29: invalid continuation byte"),
])
def test_what_the_parser_raises_is_the_stop(tree, name, data, exception, detail):
    (tree / name).write_bytes(data)
    with pytest.raises(DatasetConfigCrash) as info:
        load_specs(None, None, name, TrainingArgs())  # the file, then the schema
    assert (info.value.exception, info.value.detail, info.value.code) == (exception, detail, "RA091")


def test_a_folder_named_like_a_config_is_not_a_file(tree):
    (tree / "ds.toml").mkdir()  # load_user_config: Path.is_file() -> ValueError 'file not found'
    with pytest.raises(DatasetConfigCrash) as info:
        read_config_file("ds.toml")
    assert info.value.exception == "ValueError"


# --- bounded: a hostile file is one line, and never minutes of parsing

def test_shape_skips_strings_comments_and_headers():
    assert shape('[[datasets.subsets]]\na = [[1], {b = [2]}]  # [[[[\nc = "[[[[" \nd = \'{{\'\n') == (3, 1, 0)
    assert shape('a = """\\\\ [ """\nb = [1]') == (1, 0, 1)  # an escaped backslash, then the closing quotes


@pytest.mark.parametrize("text, what", [
    ("a = " + "[" * 30000 + "]" * 30000, "nested more than 64 levels"),
    ("a = [" + ",".join(["{b=1}"] * (MAX_INLINE_TABLES + 1)) + "]", f"{MAX_INLINE_TABLES + 1} inline tables"),
    ('a = "' + "\\\\" * 20000 + '"', "20000 backslashes"),  # 20,000 escapes: toml 0.10.2 would take seconds
])
def test_hostile_toml_is_refused_before_parsing(tree, text, what):
    (tree / "h.toml").write_text(text)
    with pytest.raises(ConfigError, match=what):
        read_config_file("h.toml")


def test_a_huge_config_is_refused(tree):
    (tree / "big.toml").write_bytes(b"#" * (TOML_LIMIT + 1))
    with pytest.raises(ConfigError, match="dataset config cannot be read: is larger than 1 MiB"):
        read_config_file("big.toml")


# --- resize_interpolation: BaseDataset's assert, dataset level only, before 'resolution is required'

@pytest.mark.parametrize("data, stops, value", [
    (b'[general]\nresolution = 64\n[[datasets]]\nresize_interpolation = "Lanczos"\n  [[datasets.subsets]]\n'
     b'  image_dir = "train/2_dog"\n', True, "Lanczos"),
    # [general] reaches dataset 1; dataset 0 sets its own valid name
    (b'[general]\nresolution = 64\nresize_interpolation = "Bicubic"\n[[datasets]]\nresize_interpolation = "area"\n'
     b'  [[datasets.subsets]]\n  image_dir = "train/2_dog"\n[[datasets]]\n  [[datasets.subsets]]\n'
     b'  image_dir = "train/1_cat"\n', True, "Bicubic"),
    # checked before the missing resolution
    (b'[general]\nresize_interpolation = "LANCZOS"\n' + SUBSET, True, "LANCZOS"),
    # a subset's own value is not checked while building: oracle 2 batches, 1600 steps
    (b'[general]\nresolution = 64\nresize_interpolation = "bicubic"\n' + SUBSET +
     b'  resize_interpolation = "Lanczos"\n', False, None),
])
def test_resize_interpolation(tree, data, stops, value):
    f = run(tree, "ds.toml", data)
    if not stops:
        assert f.crash is None and figures(f)[:3] == (2, 1600, 800)
        return
    assert (f.crash.stage, f.crash.code, f.crash.exception) == ("build", "RA096", "AssertionError")
    assert f'resize_interpolation "{value}"' in f.crash.message
    assert [s.reason for s in f.stops] == [Reason.RESIZE_INTERPOLATION]


def test_resize_interpolation_from_the_command_line_level(tree):
    # --config_file: resize_interpolation = "Lanczos" bypasses argparse's choices; oracle: the assert
    f = run(tree, "ds.toml", b"[general]\nresolution = 64\n" + SUBSET, resize_interpolation="Lanczos")
    assert (f.crash.stage, f.crash.code, f.crash.exception) == ("build", "RA096", "AssertionError")


# --- train_db --masked_loss: ConfigSanitizer(True, False, True, True), the ControlNet schema for all

def test_masked_loss_controlnet_schema(tree):
    assert startup.controlnet_schema(trainers.get("train_db"), SdArgs("train_db", {"masked_loss": True}))
    assert not startup.controlnet_schema(trainers.get("train_network"), SdArgs("train_network", {"masked_loss": True}))
    assert not startup.controlnet_schema(trainers.get("train_db"), SdArgs("train_db", {}))
    (tree / "plain.toml").write_bytes(b"[general]\nresolution = 64\n" + SUBSET)
    (tree / "isreg.toml").write_bytes(b"[general]\nresolution = 64\n" + SUBSET + b"  is_reg = false\n")
    for name, message in (("plain.toml", "required key not provided @ data['datasets'][0]['subsets'][0]"
                                         "['conditioning_data_dir']"),
                          ("isreg.toml", "extra keys not allowed @ data['datasets'][0]['subsets'][0]['is_reg']")):
        with pytest.raises(DatasetConfigCrash) as info:
            load_specs(None, None, name, TrainingArgs(controlnet_schema=True))
        assert (info.value.exception, info.value.code) == ("MultipleInvalid", "RA078")
        assert info.value.detail.startswith(message)  # the oracle's messages
    assert load_specs(None, None, "plain.toml", TrainingArgs())[0].subsets  # without --masked_loss: a DreamBooth subset


def test_masked_loss_folders(tree):
    specs = load_specs("train", None, None, TrainingArgs(resolution=(64, 64)))
    sd = SdArgs("train_db", {"masked_loss": True})
    crash = startup.dataset_kind(trainers.get("train_db"), "train", None, specs, sd)
    assert (crash.stage, crash.code, crash.exception) == ("build", "RA078", "MultipleInvalid")
    assert crash.message.endswith("(extra keys not allowed @ data['datasets'][0]['subsets'][0]['is_reg'])")
    assert startup.dataset_kind(trainers.get("train_db"), "train", None, specs, SdArgs("train_db", {})) is None
    assert startup.dataset_kind(trainers.get("sdxl_train"), "train", None, specs,
                                SdArgs("sdxl_train", {"masked_loss": True})) is None


# --- the values the step count uses

def config(**values) -> SdArgs:
    return SdArgs("train_network", dict(values), from_config_file=set(values))


@pytest.mark.parametrize("values, counted, accelerator, count", [
    ({}, (None, 1600, 1), None, None),
    # "2": accelerate takes int("2"), then len / num_processes / "2" raises TypeError (oracle: TypeError)
    ({"gradient_accumulation_steps": "2"}, (None, 1600, 2), None, "TypeError"),
    # accelerate 1.6.0's Accelerator reads int(str(value)): 2.0 -> int('2.0') ValueError, True -> int('True')
    ({"gradient_accumulation_steps": 2.0}, (None, 1600, 2.0), "ValueError", None),
    ({"gradient_accumulation_steps": True}, (None, 1600, 1), "ValueError", None),
    ({"gradient_accumulation_steps": 0}, (None, 1600, 0), None, "ZeroDivisionError"),  # oracle: ZeroDivisionError
    ({"max_train_epochs": "2"}, (2, 1600, 1), None, "TypeError"),  # oracle: TypeError
    ({"max_train_epochs": True}, (1, 1600, 1), None, None),  # oracle: 5 steps for 5 batches
    ({"max_train_epochs": 2.5}, (2.5, 1600, 1), None, None),  # counted; the float stops training later
    ({"max_train_steps": "100"}, (None, 100, 1), None, "TypeError"),
    ({"max_train_steps": "100", "max_train_epochs": 2}, (2, 100, 1), None, None),  # overwritten by the epochs
])
def test_step_values(values, counted, accelerator, count):
    v = step_values(config(**values), "train_network")
    assert (v.max_train_epochs, v.max_train_steps, v.gradient_accumulation_steps) == counted
    assert (v.accelerator_stop and v.accelerator_stop.exception) == accelerator
    assert (v.count_stop and v.count_stop.exception) == count
    for stop in (v.accelerator_stop, v.count_stop):
        assert stop is None or (stop.stage, stop.code) == ("start", "RA077")


def folders(tree, opts: BalanceOptions, **args):
    args.setdefault("resolution", (64, 64))
    return simulate(scan(load_specs("train", None, None, TrainingArgs(**args)), jobs=1), opts)


@pytest.mark.parametrize("opts, steps, epochs", [
    (BalanceOptions(max_train_epochs=2.5), 12.5, 3),  # oracle: max_train_steps 12.5, 3 epochs
    (BalanceOptions(max_train_epochs=2.0), 10.0, 2),  # oracle: 10.0, 2 epochs
    (BalanceOptions(max_train_steps=100.5), 100.5, 21),  # oracle: 100.5, 21 epochs
])
def test_float_steps_stop_when_training_starts(tree, opts, steps, epochs):
    f = folders(tree, opts)
    assert (f.crash.stage, f.crash.code, f.crash.exception) == ("train", "RA095", "TypeError")
    assert (f.batches_per_epoch, f.max_train_steps, f.epochs) == (5, steps, epochs)
    assert type(f.max_train_steps) is float
    assert [s.reason for s in f.stops] == [Reason.FLOAT_STEPS]


def test_a_build_stop_comes_before_the_float_steps(tree):
    # oracle: --enable_bucket --max_bucket_reso 32 with max_train_epochs = 2.5 stops at build (AssertionError)
    f = folders(tree, BalanceOptions(max_train_epochs=2.5), enable_bucket=True, max_bucket_reso=32)
    assert (f.crash.stage, f.crash.code, f.crash.exception) == ("build", "RA061", "AssertionError")
    assert f.max_train_steps is None


def test_a_step_count_stop_comes_after_the_build(tree):
    stop = step_values(config(gradient_accumulation_steps="2"), "train_network").count_stop
    f = folders(tree, BalanceOptions(steps_crash=stop))
    assert f.crash is stop and f.max_train_steps is None and f.if_fixed["batches_per_epoch"] == 5
    built = folders(tree, BalanceOptions(steps_crash=stop), enable_bucket=True, max_bucket_reso=32)
    assert built.crash.code == "RA061"


def test_latent_caching_loads_the_images_before_training_starts(tree):
    textured(1, (64, 64)).save(tree / "whole.jpg", quality=95)
    whole = (tree / "whole.jpg").read_bytes()
    (tree / "train/2_dog/d.jpg").write_bytes(whole[:len(whole) // 2])  # its size reads; its pixels do not
    bucketed = {"enable_bucket": True, "min_bucket_reso": 64}
    cached = folders(tree, BalanceOptions(max_train_epochs=2.5, cache_latents=True), **bucketed)
    assert (cached.crash.stage, os.path.basename(cached.crash.path)) == ("load", "d.jpg")
    uncached = folders(tree, BalanceOptions(max_train_epochs=2.5), **bucketed)
    assert uncached.crash.stage == "train" and uncached.max_train_steps == 17.5  # 7 batches x 2.5


def test_train_db_compares_the_accumulation_with_1_before_its_accelerator(tmp_path, monkeypatch):
    # oracle (train_db, a train folder without subsets, gradient_accumulation_steps = "2"): TypeError "'>' not
    # supported between instances of 'str' and 'int'" (train_db.py:120), before its DataLoader's ValueError
    v = step_values(SdArgs("train_db", {"gradient_accumulation_steps": "2"},
                           from_config_file={"gradient_accumulation_steps"}), "train_db")
    assert (v.accelerator_stop.exception, v.count_stop.exception) == ("TypeError", "TypeError")
    assert "'>' not supported between instances of 'str' and 'int'" in v.accelerator_stop.message
    assert step_values(config(gradient_accumulation_steps="2"), "train_network").accelerator_stop is None
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train").mkdir()
    db = trainers.get("train_db")
    empty = scan(load_specs("train", None, None, TrainingArgs(resolution=(64, 64))), jobs=1)
    f = simulate(empty, BalanceOptions(trainer=db, accelerator_crash=v.accelerator_stop, steps_crash=v.count_stop))
    assert f.crash is v.accelerator_stop and [s.reason for s in f.stops] == [Reason.STEP_VALUES]
    f = simulate(empty, BalanceOptions(trainer=db, steps_crash=v.count_stop))
    assert (f.crash.code, f.crash.exception) == ("RA065", "ValueError")  # the DataLoader comes before the count
