"""The kohya_ss GUI path (bmaltais/kohya_ss): the --config_file TOML it writes, the commands it
logs, and the step figure it prints.

Every sd-scripts figure here is the oracle's (../shared/oracle, the trainer's own train() up to its
first model load, sd-scripts 48d368f, toml 0.10.2), run on the same tree and file; every GUI
figure is what the GUI's own code (kohya_gui/*.py at bmaltais/kohya_ss 45088f0) computes, worked
by hand from that code.
"""

from __future__ import annotations

import json
import os

import pytest

from regaudit.cli import main
from regaudit.sdscripts import argv as sdargs
from regaudit.sdscripts.caption_options import config_max_token_length
from tests.conftest import make_image

# lora_gui.py's config_toml_data for test/config/SDXL-Standard-AdamW.json, as the GUI writes it:
# keys sorted, every value in ("", False, None) -- and so 0 -- left out, toml.dump spellings.
GUI_SDXL_LORA = """\
bucket_no_upscale = true
bucket_reso_steps = 32
cache_latents = true
cache_latents_to_disk = true
caption_extension = ".txt"
clip_skip = 1
dynamo_backend = "no"
enable_bucket = true
epoch = 1
gradient_accumulation_steps = 1
gradient_checkpointing = true
huber_c = 0.1
huber_scale = 1
huber_schedule = "snr"
learning_rate = 0.0001
loss_type = "l2"
lr_scheduler = "cosine"
lr_scheduler_args = []
lr_scheduler_num_cycles = 1
lr_scheduler_power = 1
max_bucket_reso = 2048
max_data_loader_n_workers = 0
max_grad_norm = 1
max_timestep = 1000
max_token_length = 75
max_train_steps = 1600
min_bucket_reso = 256
min_snr_gamma = 10
mixed_precision = "fp16"
network_alpha = 1
network_args = []
network_dim = 8
network_module = "networks.lora"
noise_offset = 0.0357
noise_offset_type = "Original"
optimizer_type = "AdamW"
output_dir = "./out"
output_name = "SDXL-Standard-AdamW"
pretrained_model_name_or_path = "stabilityai/stable-diffusion-xl-base-1.0"
prior_loss_weight = 1
resolution = "1024,1024"
sample_sampler = "euler_a"
save_every_n_epochs = 1
save_model_as = "safetensors"
save_precision = "fp16"
train_batch_size = 1
train_data_dir = "./img"
xformers = true
"""

BASE = 'train_data_dir = "./img"\nresolution = "512"\ncaption_extension = ".txt"\nenable_bucket = true\n'


def darius(root):
    """8 JPEGs 64..120 x 64 in img/10_darius kawasaki person (the GUI's test/img, small)."""
    for i in range(8):
        make_image(root / "img" / "10_darius kawasaki person" / f"a{i}.jpg", size=(64 + 8 * i, 64))


def run(capsys, monkeypatch, cwd, *argv, command="balance"):
    monkeypatch.chdir(cwd)
    code = main([command, "--json", "--no-progress", *argv])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


# --- 1. --config_file as train_util.read_config_from_file reads it (toml 0.10.2, no argparse check)


def test_gui_sdxl_lora_config_trains_with_max_token_length_75(tmp_path, capsys, monkeypatch):
    # oracle (sdxl_train_network): starts; 80 train images, buckets 64x64 and 96x64 with 40 each,
    # 80 batches per epoch, max_train_steps 1600 (20 epochs)
    darius(tmp_path)
    (tmp_path / "config_lora.toml").write_text(GUI_SDXL_LORA)
    code, doc, err = run(capsys, monkeypatch, tmp_path, "accelerate", "launch", "--num_processes", "1",
                         "sdxl_train_network.py", "--config_file", "config_lora.toml")
    assert code == 0, err
    assert doc["crash"] is None
    assert (doc["batches_per_epoch"], doc["max_train_steps"], doc["epochs"]) == (80, 1600, 20)
    assert doc["datasets"][0]["num_train_images"] == 80
    # the GUI's own keys are noted once, by name
    assert err.count("epoch, noise_offset_type: kohya_ss GUI settings") == 1


def test_gui_config_captions_command_takes_max_token_length_75(tmp_path, capsys, monkeypatch):
    darius(tmp_path)
    (tmp_path / "config_lora.toml").write_text(GUI_SDXL_LORA)
    code, doc, err = run(capsys, monkeypatch, tmp_path, "sdxl_train_network.py", "--config_file", "config_lora.toml",
                         command="captions")
    assert code == 0, err
    assert "150 or 225" not in err


def test_config_file_max_token_length_100_trains(tmp_path, capsys, monkeypatch):
    # oracle (train_network): max_token_length = 100, train_batch_size = 3 -> starts, 28 batches
    darius(tmp_path)
    (tmp_path / "c.toml").write_text(BASE + "max_token_length = 100\ntrain_batch_size = 3\n")
    code, doc, err = run(capsys, monkeypatch, tmp_path, "train_network.py", "--config_file", "c.toml")
    assert code == 0, err
    assert doc["crash"] is None and doc["batches_per_epoch"] == 28


@pytest.mark.parametrize("value, kept", [(None, None), (75, None), (150, 150), (225, 225), (100, 75),
                                         (160, 150), (300, 300), (40, 40), ("75", None), (10**30, 10**30 - 25)])
def test_config_max_token_length_as_the_tokenizer_cuts(value, kept):
    # _get_input_ids: truncation at value + 2, then 75-token chunks at range(1, value + 2 - 77 + 2, 75)
    assert config_max_token_length(value) == kept


@pytest.mark.parametrize("text, stage, exception", [
    # oracle: MultipleInvalid "expected int for object value @ data['train_batch_size']" (build)
    ('train_batch_size = "2"\n', "build", "MultipleInvalid"),
    # oracle: MultipleInvalid "not a valid value for object value @ data['max_token_length']" (build)
    ('max_token_length = "75"\n', "build", "MultipleInvalid"),
    # oracle: TomlDecodeError "Not a homogeneous array" (start): tomllib would accept it
    ('network_args = [1, "x"]\n', "start", "TomlDecodeError"),
    # oracle (train_network --oracle_via_train): MultipleInvalid "expected int for object value @
    # data['keep_tokens']" (build); the caption options of the wrong type were an internal error
    ('keep_tokens = "x"\n', "build", "MultipleInvalid"),
    ('caption_dropout_rate = "x"\n', "build", "MultipleInvalid"),
    ('caption_tag_dropout_rate = [1]\n', "build", "MultipleInvalid"),
    ('token_warmup_step = "x"\n', "build", "MultipleInvalid"),
    ('token_warmup_min = [1]\n', "build", "MultipleInvalid"),
    ('caption_dropout_every_n_epochs = "x"\n', "build", "MultipleInvalid"),
])
def test_config_file_wrong_types_are_sd_scripts_stops_not_exit_2(tmp_path, capsys, monkeypatch, text, stage,
                                                                 exception):
    darius(tmp_path)
    (tmp_path / "c.toml").write_text(BASE + text)
    code, doc, err = run(capsys, monkeypatch, tmp_path, "sdxl_train_network.py", "--config_file", "c.toml")
    assert code == 0, err
    assert (doc["crash"]["stage"], doc["crash"]["exception"]) == (stage, exception)


def test_config_file_with_a_byte_order_mark_loses_its_first_key(tmp_path, capsys, monkeypatch):
    # oracle: a BOM before 'train_batch_size = 2' -> batch size 1, 80 batches (toml 0.10.2 reads the
    # key as '\ufefftrain_batch_size')
    darius(tmp_path)
    (tmp_path / "c.toml").write_bytes(b"\xef\xbb\xbftrain_batch_size = 2\n" + BASE.encode())
    code, doc, err = run(capsys, monkeypatch, tmp_path, "sdxl_train_network.py", "--config_file", "c.toml")
    assert code == 0, err
    assert doc["batches_per_epoch"] == 80
    assert "byte-order mark" in err and "train_batch_size is ignored" in err


def test_config_file_values_keep_their_toml_types(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text('[a]\nmax_token_length = 75\nresolution = "1024,1024"\n[b]\nlearning_rate = 1\nnetwork_args = []\n'
                   "epoch = 8\n")
    got = sdargs.parse("sdxl_train_network", ["--config_file", str(cfg)])
    assert got.values["max_token_length"] == 75 and got.values["resolution"] == "1024,1024"
    assert got.values["learning_rate"] == 1 and isinstance(got.values["learning_rate"], int)
    assert got.values["network_args"] == [] and got.unknown_config_keys == ["epoch"]


def test_config_file_crlf_and_not_utf8(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_bytes(b"train_batch_size = 4\r\nresolution = \"512\"\r\n")
    assert sdargs.parse("train_network", ["--config_file", str(cfg)]).values["train_batch_size"] == 4
    cfg.write_bytes(b"caption_extension = \"\xff\"\n")
    with pytest.raises(sdargs.ArgvError) as exc:
        sdargs.parse("train_network", ["--config_file", str(cfg)])
    assert exc.value.exception == "UnicodeDecodeError"


@pytest.mark.skipif(os.name == "nt" or os.geteuid() == 0, reason="root reads any file")
def test_config_file_regaudit_cannot_read_is_exit_2(tmp_path, capsys, monkeypatch):
    darius(tmp_path)
    cfg = tmp_path / "c.toml"
    cfg.write_text(BASE)
    cfg.chmod(0)
    code, _, err = run(capsys, monkeypatch, tmp_path, "train_network.py", "--config_file", "c.toml")
    assert code == 2 and "c.toml" in err and "cannot read" in err


def test_config_file_a_folder_is_exit_2(tmp_path, capsys, monkeypatch):
    darius(tmp_path)
    (tmp_path / "c.toml").mkdir()
    code, _, err = run(capsys, monkeypatch, tmp_path, "train_network.py", "--config_file", "c.toml")
    assert code == 2 and "c.toml" in err


# --- 2. commands as people paste them: the GUI's log, cmd, PowerShell


from regaudit.views import paste  # noqa: E402


def test_split_the_guis_log_line_on_windows():
    # common_gui/class_command_executor: log.info(f"Executing command: {' '.join(run_cmd)}")
    line = ("C:\\kohya_ss\\venv\\Scripts\\accelerate.EXE launch --dynamo_backend no --dynamo_mode default "
            "--mixed_precision fp16 --num_processes 1 --num_machines 1 --num_cpu_threads_per_process 2 "
            "C:\\kohya_ss/sd-scripts/sdxl_train_network.py --config_file C:\\out/config_lora-20240101-120000.toml")
    tokens = paste.split_pasted(line)
    assert tokens[0] == "C:\\kohya_ss\\venv\\Scripts\\accelerate.EXE"
    assert tokens[-3:] == ["C:\\kohya_ss/sd-scripts/sdxl_train_network.py", "--config_file",
                           "C:\\out/config_lora-20240101-120000.toml"]
    assert sdargs.split_command(tokens)[0] == "sdxl_train_network"


@pytest.mark.parametrize("text", [
    '"C:\\kohya ss\\venv\\Scripts\\accelerate.exe" launch ^\n  "C:\\kohya ss\\sd-scripts\\train_network.py" ^\n'
    '  --config_file "C:\\my out\\c.toml"',
    '& "C:\\kohya ss\\venv\\Scripts\\accelerate.exe" launch `\r\n  "C:\\kohya ss\\sd-scripts\\train_network.py" `\r\n'
    "  --config_file 'C:\\my out\\c.toml'",
])
def test_cmd_and_powershell_continuations_and_quotes(text):
    assert paste.split_pasted(text) == ["C:\\kohya ss\\venv\\Scripts\\accelerate.exe", "launch",
                                        "C:\\kohya ss\\sd-scripts\\train_network.py", "--config_file",
                                        "C:\\my out\\c.toml"]


def test_bash_commands_still_split_as_bash():
    assert paste.split_pasted("accelerate launch train_network.py \\\n --train_data_dir 'my data' --seed=1") == [
        "accelerate", "launch", "train_network.py", "--train_data_dir", "my data", "--seed=1"]


def test_unquoted_config_path_with_spaces_from_the_log_is_one_path(tmp_path, capsys, monkeypatch):
    darius(tmp_path)
    (tmp_path / "my out").mkdir()
    (tmp_path / "my out" / "config_lora.toml").write_text(GUI_SDXL_LORA)
    line = ("C:\\kohya_ss\\venv\\Scripts\\accelerate.EXE launch --num_processes 2 "
            "C:/kohya_ss/sd-scripts/sdxl_train_network.py --config_file my out/config_lora.toml")
    code, doc, err = run(capsys, monkeypatch, tmp_path, line)
    assert code == 0, err
    # 80 batches over 2 processes: 40 optimizer steps per epoch
    assert doc["crash"] is None and (doc["batches_per_epoch"], doc["steps_per_epoch"]) == (80, 40)


def test_tokens_a_shell_passed_on_with_continuation_marks(tmp_path, capsys, monkeypatch):
    darius(tmp_path)
    (tmp_path / "c.toml").write_text(GUI_SDXL_LORA)
    code, doc, err = run(capsys, monkeypatch, tmp_path, "C:\\kohya\\accelerate.exe", "launch", "^",
                         "C:\\kohya\\sd-scripts\\sdxl_train_network.py", "`", "--config_file", "c.toml")
    assert code == 0, err
    assert doc["crash"] is None and doc["batches_per_epoch"] == 80


@pytest.mark.skipif(os.name == "nt", reason="a drive letter is a path of this machine on Windows")
def test_windows_paths_are_named_once_and_the_rest_is_audited(tmp_path, capsys, monkeypatch):
    darius(tmp_path)
    (tmp_path / "c.toml").write_text(BASE + 'reg_data_dir = "D:\\\\data\\\\reg"\n')
    code, doc, err = run(capsys, monkeypatch, tmp_path, "C:\\k\\sd-scripts\\train_network.py", "--config_file",
                         "c.toml")
    assert code == 0, err
    ra092 = [f for f in doc["findings"] if f["code"] == "RA092"]
    assert len(ra092) == 1 and "reg_data_dir (--config_file) D:\\data\\reg" in ra092[0]["message"]
    assert doc["crash"] is None and doc["datasets"][0]["num_train_images"] == 80


@pytest.mark.skipif(os.name == "nt", reason="a drive letter is a path of this machine on Windows")
def test_nothing_readable_here_is_exit_2_naming_the_path(tmp_path, capsys, monkeypatch):
    code, _, err = run(capsys, monkeypatch, tmp_path,
                       "C:\\k\\accelerate.exe launch C:\\k\\sd-scripts\\train_network.py --config_file C:\\out\\c.toml")
    assert code == 2 and "--config_file C:\\out\\c.toml cannot exist here" in err


@pytest.mark.parametrize("path, elsewhere", [("C:\\data", True), ("c:/data", True), ("\\\\nas\\share\\x", True),
                                             (".\\test\\img", True), ("./test/img", False), ("/data/x", False)])
def test_foreign(path, elsewhere):
    assert paste.foreign(path) is (elsewhere and os.name != "nt")


# --- 3. the options that change the dataset schema: ConfigSanitizer(DreamBooth, fine-tuning,
# --masked_loss or ControlNet, dropout) as each trainer builds it, from the command line or the file


def masked(root):
    """The GUI's test/config/dataset-masked_loss.toml, small: 4 images, 4 masks of the same names,
    a mask folder one short and one with one extra."""
    for i in range(4):
        make_image(root / "img" / f"a{i}.png", size=(64, 64))
        make_image(root / "mask" / f"a{i}.png", size=(64, 64), mode="L")
    for i in range(3):
        make_image(root / "mask_missing" / f"a{i}.png", size=(64, 64), mode="L")
    for i in range(5):
        make_image(root / "mask_extra" / f"a{i}.png", size=(64, 64), mode="L")
    for name in ("mask", "mask_missing", "mask_extra"):
        (root / f"ds_{name}.toml").write_text(
            '[general]\nresolution = 64\nbatch_size = 2\n\n[[datasets]]\n  [[datasets.subsets]]\n  image_dir = "./img"\n'
            f'  num_repeats = 3\n  caption_extension = ".txt"\n  conditioning_data_dir = "./{name}"\n')
    (root / "ds_plain.toml").write_text('[general]\nresolution = 64\n\n[[datasets]]\n  [[datasets.subsets]]\n'
                                        '  image_dir = "./img"\n  num_repeats = 3\n  class_tokens = "dog"\n')
    (root / "cfg_ml.toml").write_text('masked_loss = true\ndataset_config = "ds_mask.toml"\n')


@pytest.mark.parametrize("argv, expected", [
    # oracle: ControlNetDataset, 12 train images, 6 batches, 1600 steps (config file or command line alike)
    (["train_network.py", "--config_file", "cfg_ml.toml"], (12, 6)),
    (["train_network.py", "--dataset_config", "ds_mask.toml", "--masked_loss"], (12, 6)),
    (["train_db.py", "--dataset_config", "ds_mask.toml", "--masked_loss"], (12, 6)),
    # oracle: the ControlNet trainers take the same subsets: 12 images, 6 batches; one mask short stops them
    (["train_control_net.py", "--dataset_config", "ds_mask.toml"], (12, 6)),
    (["sdxl_train_control_net.py", "--dataset_config", "ds_mask_missing.toml"], ("build", "AssertionError", "RA093")),
    # oracle: MultipleInvalid "extra keys not allowed @ data['datasets'][0]['subsets'][0]['conditioning_data_dir']"
    (["train_network.py", "--dataset_config", "ds_mask.toml"], ("build", "MultipleInvalid", "RA091")),
    # oracle: train_db --masked_loss checks every dataset against the ControlNet schema: MultipleInvalid
    # "extra keys not allowed @ data['datasets'][0]['subsets'][0]['class_tokens']"
    (["train_db.py", "--dataset_config", "ds_plain.toml", "--masked_loss"], ("build", "MultipleInvalid", "RA078")),
    # oracle: AssertionError "missing conditioning data for 1 images" / "extra conditioning data for 1 images"
    (["train_network.py", "--dataset_config", "ds_mask_missing.toml", "--masked_loss"],
     ("build", "AssertionError", "RA093")),
    (["train_network.py", "--dataset_config", "ds_mask_extra.toml", "--masked_loss"],
     ("build", "AssertionError", "RA093")),
    # oracle: AssertionError "random_crop is not supported in ControlNetDataset"
    (["train_network.py", "--dataset_config", "ds_mask.toml", "--masked_loss", "--random_crop"],
     ("build", "AssertionError", "RA093")),
])
def test_masked_loss_schema_as_each_trainer_applies_it(tmp_path, capsys, monkeypatch, argv, expected):
    masked(tmp_path)
    code, doc, err = run(capsys, monkeypatch, tmp_path, *argv)
    assert code == 0, err
    if len(expected) == 2:
        assert doc["crash"] is None
        assert (doc["datasets"][0]["num_train_images"], doc["batches_per_epoch"], doc["max_train_steps"]) == \
            (*expected, 1600)
    else:
        c = doc["crash"]
        assert (c["stage"], c["exception"], c["code"]) == expected


# --- 4. the GUI's own step figure (kohya_gui/*_gui.py train_model), beside the exact one


from regaudit.sdscripts.gui_steps import GuiFormula, gui_steps  # noqa: E402


def gui_tree(root):
    """train/10_a: 7 JPEGs and a folder named 'sub.png' (os.listdir lists it: the GUI counts 8);
    train/20_b: a.png, b.JpEg, c.WEBP, d.webp and e.bmp (the GUI counts 4); train/x: no repeats."""
    for i in range(7):
        make_image(root / "train" / "10_a" / f"a{i}.jpg")
    (root / "train" / "10_a" / "sub.png").mkdir()
    for name, fmt in (("a.png", "PNG"), ("b.JpEg", "JPEG"), ("c.WEBP", "WEBP"), ("d.webp", "WEBP"), ("e.bmp", "BMP")):
        make_image(root / "train" / "20_b" / name, fmt=fmt)
    make_image(root / "train" / "x" / "z.png")


def test_gui_folder_formula_as_the_gui_logs_it(tmp_path):
    # lora_gui.train_model: 10 x 8 + 20 x 4 = 160; "max_train_steps (160 / 2 / 1 * 8 * 2) = 1280"
    gui_tree(tmp_path)
    g = gui_steps(train_data_dir=str(tmp_path / "train"), reg_data_dir="anything", dataset_config=None, in_json=None,
                  batch=2, accumulation=1, epoch=8, dataset_repeats=1, flip_aug=False, from_config=True)
    assert g.formula is GuiFormula.FOLDERS and g.steps == 1280
    assert g.log_line == "max_train_steps (160 / 2 / 1 * 8 * 2) = 1280"
    # no reg folder: no x2; accumulation 3: ceil(160 / 2 / 3 * 8) = 214
    g = gui_steps(train_data_dir=str(tmp_path / "train"), reg_data_dir=None, dataset_config=None, in_json=None,
                  batch=2, accumulation=3, epoch=8, dataset_repeats=1, flip_aug=False, from_config=True)
    assert g.steps == 214


def test_gui_fine_tune_formula_halved_with_flip_aug(tmp_path):
    # finetune_gui.train_model: image_num = 4 (a.png b.JpEg c.WEBP d.webp) x dataset_repeats 40 = 160;
    # ceil(160 / 4 / 1 * 2) = 80, halved with flip_aug: 40
    gui_tree(tmp_path)
    folder = str(tmp_path / "train" / "20_b")
    args = dict(train_data_dir=folder, reg_data_dir=None, dataset_config=None, in_json="meta_lat.json", batch=4,
                accumulation=1, epoch=2, dataset_repeats=40, from_config=True)
    assert gui_steps(flip_aug=False, **args).steps == 80
    g = gui_steps(flip_aug=True, **args)
    assert (g.formula, g.steps, g.halved) == (GuiFormula.FINE_TUNE, 40, True)


def test_gui_skips_the_formula_with_a_dataset_config():
    g = gui_steps(train_data_dir="t", reg_data_dir="r", dataset_config="ds.toml", in_json=None, batch=1,
                  accumulation=1, epoch=8, dataset_repeats=1, flip_aug=False, from_config=True)
    assert (g.formula, g.steps) == (GuiFormula.DATASET_CONFIG, None)


GUI_DREAMBOOTH = """\
caption_extension = ".txt"
epoch = 8
gradient_accumulation_steps = 1
max_data_loader_n_workers = 0
max_token_length = 75
max_train_steps = 1360
noise_offset_type = "Original"
prior_loss_weight = 1
reg_data_dir = "./reg"
resolution = "64,64"
train_batch_size = 2
train_data_dir = "./train"
"""


def gui_reg_tree(root):
    """train/10_a 8 JPEGs, train/20_b 3 PNGs and b3.JpEg, train/5 2 PNGs, train/notes 1 PNG,
    reg/1_person 20 PNGs. The GUI counts 10 x 8 + 20 x 4 + 5 x 2 = 170: (170 / 2 / 1 * 8 * 2) = 1360."""
    for i in range(8):
        make_image(root / "train" / "10_a" / f"a{i}.jpg", size=(64, 64))
    for i in range(3):
        make_image(root / "train" / "20_b" / f"b{i}.png", size=(64, 64))
    make_image(root / "train" / "20_b" / "b3.JpEg", size=(64, 64), fmt="JPEG")
    for i in range(2):
        make_image(root / "train" / "5" / f"c{i}.png", size=(64, 64))
    make_image(root / "train" / "notes" / "d.png", size=(64, 64))
    for i in range(20):
        make_image(root / "reg" / "1_person" / f"r{i:02d}.png", size=(64, 64))


@pytest.mark.parametrize("trainer", ["train_network", "train_db"])
def test_gui_figure_beside_the_exact_one(tmp_path, capsys, monkeypatch, trainer):
    # oracle (train_network and train_db alike): 150 train images (80 + 60 + the '5' folder's 10), 20
    # reg images balanced to 150 reg samples, 150 batches per epoch, max_train_steps 1360 (10 epochs);
    # with max_train_epochs = 8: 1200 steps
    gui_reg_tree(tmp_path)
    (tmp_path / "gui.toml").write_text(GUI_DREAMBOOTH)
    code, doc, err = run(capsys, monkeypatch, tmp_path, f"{trainer}.py", "--config_file", "gui.toml")
    assert code == 0, err
    assert (doc["batches_per_epoch"], doc["max_train_steps"], doc["epochs"]) == (150, 1360, 10)
    assert doc["gui_estimate_steps"] == 1360
    assert doc["gui_estimate_note"] == (
        "the GUI wrote 1360 steps for Epoch 8: that is 9.07 real epochs, the 10th partial (the GUI counts 170 "
        "images x repeats in the folders, sd-scripts registers 150); for exactly 8 set max_train_epochs = 8 "
        "(1200 steps)")
    ra075 = [f for f in doc["findings"] if f["code"] == "RA075"]
    assert len(ra075) == 1 and "already doubled max_train_steps" in ra075[0]["message"]
    assert ra075[0]["hint"] == ("Do not raise max_train_steps: for exactly 8 epochs set max_train_epochs = 8 "
                                "(1200 steps).")
    (tmp_path / "gui.toml").write_text(GUI_DREAMBOOTH + "max_train_epochs = 8\n")
    code, doc, err = run(capsys, monkeypatch, tmp_path, f"{trainer}.py", "--config_file", "gui.toml")
    assert (doc["max_train_steps"], doc["epochs"]) == (1200, 8)
    assert doc["gui_estimate_note"] == ("max_train_epochs 8 overrides the GUI's max_train_steps 1360: sd-scripts "
                                        "trains 8 epochs, 1200 steps")


def test_gui_figure_with_a_dataset_config(tmp_path, capsys, monkeypatch):
    # oracle (train_network, --masked_loss, ds_mask.toml): 6 batches per epoch, 1600 steps
    masked(tmp_path)
    (tmp_path / "cfg.toml").write_text('masked_loss = true\ndataset_config = "ds_mask.toml"\nepoch = 8\n')
    code, doc, err = run(capsys, monkeypatch, tmp_path, "train_network.py", "--config_file", "cfg.toml")
    assert code == 0, err
    assert doc["gui_estimate_steps"] is None
    assert doc["gui_estimate_note"] == (
        "the kohya_ss GUI computes no steps with a dataset config: sd-scripts trains max_train_steps 1600 "
        "(sd-scripts' default: the GUI's Max train steps was 0), 266.67 epochs of 6 steps; for exactly 8 set "
        "max_train_epochs = 8 (48 steps)")


# --- 5. the GUI's own presets and test configurations (presets/*/*.json, test/config/*.json), converted as
# the GUI converts them by tests/differential/kohya_gui_configs.py (tests/views/kohya_gui/README.md), on the
# tree that script makes (the GUI's test/ layout). Every sd-scripts figure is the oracle's on that tree
# (kohya_gui_configs.py --keep, sd-scripts 48d368f); every GUI figure is the line the converter logs.


import json as _json  # noqa: E402
from pathlib import Path  # noqa: E402

from PIL import Image  # noqa: E402

GUI_CONFIGS = Path(__file__).parent / "kohya_gui"
GUI_RUNS = _json.loads((GUI_CONFIGS / "runs.json").read_text(encoding="utf-8"))
GUI_SIZES = [(1024, 1024), (832, 1216), (1216, 832), (768, 1024), (1024, 768), (640, 1536), (1024, 1024), (900, 600)]


def gui_test_tree(root, pin: str) -> list[str]:
    """kohya_gui_configs.make_tree: test/img/10_darius kawasaki person (8 captioned JPEGs), their masks
    in test/masked_loss, test/reg/1_person (12 JPEGs), the GUI's dataset TOMLs in test/config; then the
    pin's TOML (and fine-tune metadata) where its command reads them. Returns the command."""
    folder = root / "test" / "img" / "10_darius kawasaki person"
    masks = root / "test" / "masked_loss"
    folder.mkdir(parents=True)
    masks.mkdir(parents=True)
    for i, size in enumerate(GUI_SIZES):
        stem = "Dariusz_Zawadzki" + (f"_{i + 1}" if i else "")
        Image.new("RGB", size, (20 * i, 90, 160)).save(folder / f"{stem}.jpg", quality=30)
        Image.new("L", size, 255).save(masks / f"{stem}.jpg", quality=30)
        (folder / f"{stem}.txt").write_text(f"a painting number {i} , by darius kawasaki\n")
    (root / "test" / "reg" / "1_person").mkdir(parents=True)
    for i in range(12):
        Image.new("RGB", (1024, 1024), (5, 5, 5 * i)).save(root / "test" / "reg" / "1_person" / f"r{i:02d}.jpg",
                                                           quality=30)
    (root / "test" / "config").mkdir()
    for name in ("dataset.toml", "dataset-finetune.toml", "dataset-masked_loss.toml", "dataset-masked_loss-posix.toml"):
        (root / "test" / "config" / name).write_bytes((GUI_CONFIGS / name).read_bytes())
    (root / "test" / "output").mkdir()
    here = root.as_posix()
    command = [x.replace("{scriptdir}", "/opt/kohya_ss") for x in GUI_RUNS[pin]["command"]]
    config = command[command.index("--config_file") + 1]
    (root / config).write_text((GUI_CONFIGS / f"{pin}.toml").read_text().replace("{root}", here))
    for meta in GUI_CONFIGS.glob(f"{pin}.*.json"):
        (root / "test" / meta.name[len(pin) + 1:]).write_text(meta.read_text().replace("{root}", here))
    return command


def _windows(command: list[str]) -> list[str]:
    """The same command as the GUI logs it on Windows, pasted whole."""
    exe = ["C:\\kohya_ss\\venv\\Scripts\\accelerate.EXE"] + command[1:]
    return [" ".join(f'"{x}"' if " " in x else x for x in exe).replace("/opt/kohya_ss", "C:\\kohya_ss")]


GUI_PINS = [
    # SDXL LoRA, Max train steps typed (1600): oracle 80 images, 80 batches, 1600 steps (20 epochs)
    ("SDXL-Standard-AdamW", dict(images=80, batches=80, steps=1600, epochs=20, gui=1600, note="is not what the GUI")),
    # SD 1.x LoRA with a reg folder: the GUI doubles (80 / 4 / 1 * 8 * 2) = 320; oracle 80 train + 12 reg images
    # (the balancing loop), 42 batches, 320 steps, 8 epochs (the 8th partial)
    ("locon-AdamW8bit+reg", dict(images=80, batches=42, steps=320, epochs=8, gui=320, note="7.62 real epochs")),
    # DreamBooth (train_db): GUI (80 / 4 / 1 * 4 * 1) = 80; oracle 22 batches (buckets), 80 steps, 4 epochs
    ("dreambooth-AdamW", dict(images=80, batches=22, steps=80, epochs=4, gui=80, note="3.64 real epochs")),
    # SDXL DreamBooth (sdxl_train): GUI (80 / 1 / 1 * 1 * 1) = 80; oracle 80 batches, 80 steps, 1 epoch
    ("dreambooth-Prodigy-SDXL", dict(images=80, batches=80, steps=80, epochs=1, gui=80,
                                     note="are exactly 1 epoch of 80 steps")),
    # SD3 DreamBooth preset (sd3_train, max_token_length 150): max_train_epochs 8 wins; oracle 80 batches, 640 steps
    ("sd3_bdsqlsz_v2", dict(images=80, batches=80, steps=640, epochs=8, gui=1600, note="max_train_epochs 8 overrides")),
    # FLUX.1 LoRA preset (flux_train_network): typed 1000; oracle 80 batches, 1000 steps, 13 epochs
    ("flux1D-adamw8bit-fp8", dict(images=80, batches=80, steps=1000, epochs=13, gui=1000, note="is not what the GUI")),
    # SDXL preset with max_train_epochs 50: GUI (80 / 3 / 1 * 50 * 1) = 1334; oracle 30 batches, 1500 steps
    ("SDXL-LoRA-AI_characters-standard-v1.1", dict(images=80, batches=30, steps=1500, epochs=50, gui=1334,
                                                   note="max_train_epochs 50 overrides")),
    # TI with dataset.toml: no formula, 'Max train steps: 80'; oracle 22 batches, 80 steps
    ("TI-AdamW8bit-toml", dict(images=80, batches=22, steps=80, epochs=4, gui=80, note="computes no steps")),
    # LoRA with masked_loss and dataset-masked_loss.toml ('/' paths): a ControlNetDataset, whose own
    # bucket_reso_steps is None, so its TOML's 32 passes verify_bucket_reso_steps(64); oracle 22 batches, 1600 steps
    ("locon-AdamW8bit-masked_loss-toml-posix", dict(images=80, batches=22, steps=1600, epochs=73, gui=None,
                                                    note="sd-scripts' default")),
    # fine-tune (sdxl_train, absolute folders, meta_cap.json by merge_captions_to_metadata.py): oracle
    # FineTuningDataset 8 images, 7 batches, max_train_epochs 240 -> 480 steps; the GUI wrote 1600
    ("SDXL-AI_Now-PagedAdamW8bit-finetune-absolute", dict(images=8, batches=7, steps=480, epochs=240, gui=1600,
                                                          note="max_train_epochs 240 overrides")),
    # TI: bucket_reso_steps 1 -> AssertionError right after the build (oracle); the GUI logged (80 / 4 / 1 * 8 * 1)
    ("TI-AdamW8bit", dict(crash=("start", "AssertionError", "RA062"), gui=160)),
    # train_db + masked_loss, dataset TOML with Windows paths: every subset dropped, the empty ControlNetDataset
    # reaches the DataLoader: oracle ValueError 'num_samples should be a positive integer value'
    ("dreambooth-AdamW8bit-masked_loss-toml", dict(crash=("start", "ValueError", "RA065"), gui=None)),
    # fine-tune with relative folders: merge_captions_to_metadata.py writes 'test/img/...' keys, which
    # FineTuningDataset joins to image_dir again: oracle FileNotFoundError while building
    ("finetune-AdamW", dict(crash=("build", "FileNotFoundError", "RA063"), gui=200)),
    # fine-tune, absolute folders: bucket_reso_steps 1 -> oracle AssertionError after the build; the GUI's
    # figure 8 images x 50 / 4 / 1 * 2 = 200, halved with flip_aug to 100
    ("finetune-AdamW-absolute", dict(crash=("start", "AssertionError", "RA062"), gui=200)),
    ("finetune-AdamW-absolute-flip_aug", dict(crash=("start", "AssertionError", "RA062"), gui=100)),
    # dataset-finetune.toml (Windows paths): oracle ValueError 'no metadata' while building
    ("finetune-AdamW-toml", dict(crash=("build", "ValueError", "RA097"), gui=20)),
]


@pytest.mark.parametrize("pin, expected", GUI_PINS, ids=[p for p, _ in GUI_PINS])
@pytest.mark.parametrize("windows", [False, True])
def test_the_guis_own_presets_and_test_configurations(tmp_path, capsys, monkeypatch, pin, expected, windows):
    command = gui_test_tree(tmp_path, pin)
    if windows and "absolute" in pin:
        pytest.skip("absolute POSIX folders in the TOML")
    code, doc, err = run(capsys, monkeypatch, tmp_path, *(_windows(command) if windows else command))
    assert code == 0, err
    assert doc["gui_estimate_steps"] == expected["gui"]
    if "crash" in expected:
        c = doc["crash"]
        assert (c["stage"], c["exception"], c["code"]) == expected["crash"]
        return
    assert doc["crash"] is None
    got = (sum(d["num_train_images"] for d in doc["datasets"]), doc["batches_per_epoch"], doc["max_train_steps"],
           doc["epochs"])
    assert got == tuple(expected[k] for k in ("images", "batches", "steps", "epochs"))
    assert expected["note"] in doc["gui_estimate_note"]
    assert "150 or 225" not in err


def test_every_pin_is_a_run_of_the_converter():
    # each pinned TOML is the converter's, with the run it came from named
    assert {p for p, _ in GUI_PINS} == set(GUI_RUNS)
    for pin, meta in GUI_RUNS.items():
        assert ".json" in meta["from"] and (GUI_CONFIGS / f"{pin}.toml").is_file()
        assert meta["command"][:2] == ["accelerate", "launch"] and meta["gui_log"]


def test_config_key_notes_name_each_key_once_and_keep_the_gui_keys_apart():
    from regaudit.views.inputs import _config_key_notes

    # the GUI's own keys alone: one short note, each key named once (it was 230 characters, naming them twice)
    (gui,) = _config_key_notes(["epoch", "noise_offset_type"], "sdxl_train_network")
    assert gui == ("epoch, noise_offset_type: kohya_ss GUI settings, not sdxl_train_network.py options; "
                   "sd-scripts ignores them")
    assert len("regaudit: note: " + gui) <= 125
    # a typo beside them is a note of its own
    typo, gui = _config_key_notes(["epoch", "leraning_rate"], "train_network")
    assert typo == ("1 key of the --config_file is not a train_network.py option: sd-scripts keeps it silently "
                    "and nothing reads it: leraning_rate")
    assert gui.startswith("epoch: kohya_ss GUI settings") and gui.endswith("sd-scripts ignores it")


def test_steps_table_labels_the_figure_the_gui_wrote(tmp_path, capsys, monkeypatch):
    # 8 images x 10 repeats = 80 samples, batch 1, the GUI's epoch 1: its formula gives 80; the config says 50
    # (typed into Max train steps): the row shows 50, so it must not call it "its formula"
    darius(tmp_path)
    (tmp_path / "config_lora.toml").write_text(BASE + "epoch = 1\nmax_train_steps = 50\ntrain_batch_size = 1\n")
    monkeypatch.chdir(tmp_path)
    code = main(["balance", "--no-progress", "accelerate", "launch", "train_network.py", "--config_file",
                 "config_lora.toml"])
    out = " ".join(capsys.readouterr().out.split())
    assert code == 0
    assert "kohya_ss GUI figure (the config's max_train_steps) │ 50 │" in out
    assert "its formula, ×2" not in out
    assert "(max_train_steps (80 / 1 / 1 * 1 * 1) = 80)" in out


def test_a_pasted_command_with_options_added_around_it(tmp_path, capsys, monkeypatch):
    # `regaudit balance "accelerate launch … train_network.py --config_file c.toml" --train_batch_size 4` took the
    # whole quoted command for a train folder (RA011) and ran train_network.py with no resolution
    from regaudit.views.paste import splice_pasted

    pasted = "accelerate launch --num_processes 1 sdxl_train_network.py --config_file config_lora.toml"
    assert splice_pasted([pasted, "--train_batch_size", "4"]) == [
        "accelerate", "launch", "--num_processes", "1", "sdxl_train_network.py", "--config_file", "config_lora.toml",
        "--train_batch_size", "4"]
    assert splice_pasted(["--max_train_epochs", "3", pasted])[-2:] == ["--max_train_epochs", "3"]
    assert splice_pasted(["img/10_ohwx woman", "--x"]) == ["img/10_ohwx woman", "--x"]  # a folder with a space
    darius(tmp_path)  # 8 images x 10 repeats = 80 samples
    (tmp_path / "config_lora.toml").write_text(BASE + "epoch = 1\ntrain_batch_size = 1\n")
    code, doc, err = run(capsys, monkeypatch, tmp_path, "accelerate launch train_network.py --config_file "
                         "config_lora.toml", "--train_batch_size", "4", "--max_train_epochs", "2")
    assert code == 0, err
    assert doc["crash"] is None
    # buckets 512x512 (20), 576x448 (20), 640x384 (40) at batch 4: 5 + 5 + 10 = 20 batches per epoch, 2 epochs
    assert (doc["batches_per_epoch"], doc["max_train_steps"]) == (20, 40)


@pytest.mark.parametrize("command", ["scan", "captions"])
def test_config_file_dropout_rate_past_one_is_simulated_not_refused(tmp_path, capsys, monkeypatch, command):
    # oracle (train_network --oracle_via_train): caption_dropout_rate = 5 starts (random() < 5 on every step)
    darius(tmp_path)
    (tmp_path / "c.toml").write_text(BASE + "caption_dropout_rate = 5\n")
    code, doc, err = run(capsys, monkeypatch, tmp_path, "sdxl_train_network.py", "--config_file", "c.toml",
                         command=command)
    assert code == 0, err
    assert not [f for f in doc["findings"] if f["severity"] == "error"]
    dropout = [f for f in doc["findings"] if f["code"] == "RA038"]
    assert dropout and "caption_dropout_rate 5: every step trains these images with an empty caption" \
        in dropout[0]["message"]
