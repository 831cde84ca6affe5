"""regaudit inspect end to end: the recorded metadata (oracle runs, see test_lora_metadata.py)
against the tree it came from, made again in tmp_path ("matches"), and against changed copies
(each change named); several files; hostile files (one line, exit 2)."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from regaudit.cli import main
from tests.sdscripts.test_lora_metadata import recorded, write_safetensors
from tests.sdscripts.lora_trees import _caption, _image, dataset_config, folder_scan


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def here(tmp_path):
    cwd = os.getcwd()
    os.chdir(tmp_path)
    yield tmp_path
    os.chdir(cwd)


def lora(here, name: str):
    doc = recorded(name)
    path = write_safetensors(here / f"{name}.safetensors", doc["metadata"])
    return str(path), doc["argv"], doc["trainer"]


def inspect_json(capsys, *argv: str) -> dict:
    code, out, err = run(capsys, "inspect", "--json", "--no-progress", *argv)
    assert code == 0, err
    return json.loads(out)


def test_every_recorded_figure_comes_back(here, capsys):
    path, _, _ = lora(here, "scan_sd15")
    (f,) = inspect_json(capsys, path)["files"]
    assert (f["metadata"], f["trainer"], f["base_model"], f["base_model_version"]) == \
        ("folder_scan", "train_network", "v1-5-pruned.safetensors", "sd_v1")
    assert f["network"] == {"module": "networks.lora", "dim": 8, "alpha": 4.0, "args": None}
    assert (f["train_samples"], f["reg_samples_recorded"], f["reg_samples_used"], f["batches_per_epoch"], f["epochs"],
            f["max_train_steps"]) == (38, 13, 38, 39, 3, 117)
    d = f["datasets"][0]
    assert [(s["name"], s["role"], s["num_repeats"], s["img_count"], s["samples"]) for s in d["subsets"]] == [
        ("10_sks dog", "train", 10, 3, 30), ("4_sks cat", "train", 4, 2, 8), ("2_cat", "reg", 2, 3, 6),
        ("1_dog", "reg", 1, 7, 7)]
    assert sum(b["count"] for b in d["buckets"]) == 76  # 38 train + 38 reg samples
    assert f["tag_frequency"]["4_sks cat"] == {"sks cat": 2, "sleeping": 1, "sofa": 1}
    assert f["keys"]["ss_seed"] == "42" and f["comparison"] is None


@pytest.mark.parametrize("name,tree", [("scan_sd15", "scan"), ("noreg_sdxl", "noreg"), ("config_flux", "config")])
def test_matches_the_tree_it_was_trained_on(here, capsys, name, tree):
    path, argv, trainer = lora(here, name)
    if tree == "config":
        dataset_config(here)
    else:
        folder_scan(here, reg=tree == "scan")
    (f,) = inspect_json(capsys, path, "--trainer", trainer, *argv)["files"]
    c = f["comparison"]
    assert c["verdict"] == "matches the dataset this LoRA was trained on", c
    assert all(x["recorded"] == x["now"] for x in c["figures"])
    assert all(s["status"] == "same" for s in c["subsets"])


def test_a_pasted_command_and_the_human_verdict(here, capsys):
    path, argv, _ = lora(here, "scan_sd15")
    folder_scan(here)
    code, out, _ = run(capsys, "inspect", path, "accelerate", "launch", "train_network.py", *argv)
    assert code == 0
    assert out.splitlines()[0] == "matches the dataset this LoRA was trained on"


def test_changes_are_named(here, capsys):
    path, argv, trainer = lora(here, "scan_sd15")
    folder_scan(here)
    _image(here / "train" / "10_sks dog" / "d3.png", 2)  # an image added
    _caption(here / "train" / "10_sks dog" / "d3.txt", "sks dog, running")
    os.rename(here / "train" / "4_sks cat", here / "train" / "6_sks cat")  # repeats 4 -> 6
    _caption(here / "train" / "6_sks cat" / "c0.txt", "sks cat, sleeping, blanket")  # sofa -> blanket
    os.remove(here / "reg" / "1_dog" / "r6.png")  # a reg image removed
    (f,) = inspect_json(capsys, path, "--trainer", trainer, *argv)["files"]
    c = f["comparison"]
    assert c["matches"] is False
    assert c["differences"] == [
        "'10_sks dog': 1 image added (3 -> 4)",
        "'4_sks cat': repeats 4 -> 6",
        "'4_sks cat': tags gained blanket and lost sofa",
        "reg '1_dog': 1 image removed (7 -> 6)",
        "159 steps today against 117 recorded",
    ]
    cat = next(s for s in c["subsets"] if s["name"] == "4_sks cat")
    assert cat["folder"] == str(here / "train" / "6_sks cat") and cat["status"] == "changed"
    steps = {x["name"]: (x["recorded"], x["now"]) for x in c["figures"]}
    # the oracle on the changed tree (same command): num_train_images 52, num_reg_images 12, 53 batches,
    # max_train_steps 159, 3 epochs
    assert steps["train samples"] == (38, 52) and steps["reg samples (all reg images x repeats)"] == (13, 12)
    assert steps["batches per epoch"] == (39, 53) and steps["steps"] == (117, 159) and steps["epochs"] == (3, 3)


def test_dataset_config_changes(here, capsys):
    path, argv, trainer = lora(here, "config_flux")
    toml = dataset_config(here)
    toml.write_text(toml.read_text().replace("num_repeats = 3", "num_repeats = 5"))
    shutil.rmtree(here / "data" / "regdogs")
    (f,) = inspect_json(capsys, path, "--trainer", trainer, *argv)["files"]
    diffs = f["comparison"]["differences"]
    assert diffs[0] == "reg 'regdogs' (30 images) is gone"
    assert diffs[1] == "'cats': repeats 3 -> 5"


def test_several_files_one_table_and_a_stripped_file(here, capsys):
    a, _, _ = lora(here, "scan_sd15")
    b, _, _ = lora(here, "config_flux")
    stripped = str(write_safetensors(here / "merged.safetensors", {"format": "pt"}))
    code, out, _ = run(capsys, "inspect", a, b, stripped)
    assert code == 0
    assert out.count("LoRA files") == 1
    assert "no ss_* metadata" in out
    code, out, _ = run(capsys, "inspect", stripped)
    assert "no ss_* metadata: stripped (by a merger or converter) or not saved by sd-scripts" in " ".join(out.split())


@pytest.mark.parametrize("key, line", [
    ("ss_datasets", "ss_datasets lists no dataset: the file records nothing of its training data"),
    ("ss_dataset_dirs", None),
])
def test_a_recorded_empty_dataset_list_is_said_not_an_internal_error(here, capsys, key, line):
    # a file whose ss_datasets is '[]' made the human view fail (no line for an empty dataset-config record)
    write_safetensors(here / "e.safetensors", {"ss_network_module": "networks.lora", key: "[]" if key == "ss_datasets"
                                               else "{}", "ss_num_train_images": "0"})
    code, out, err = run(capsys, "inspect", "e.safetensors")
    assert code == 0 and "internal error" not in err
    if line is not None:
        assert line in " ".join(out.split())


@pytest.mark.parametrize("content,why", [
    (b"\xff" * 8 + b"{}", "over the 100 MB"),
    (b"\x05\x00\x00\x00\x00\x00\x00\x00{nope", "not valid JSON"),
    (b"\x10\x27\x00\x00\x00\x00\x00\x00" + b"[" * 5000 + b"]" * 5000, "nested more than"),
])
def test_hostile_file_one_line_exit_2(here, capsys, content, why):
    (here / "bad.safetensors").write_bytes(content)
    code, out, err = run(capsys, "inspect", "bad.safetensors")
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and why in err and err.startswith("regaudit: error: bad.safetensors")


def test_no_file_given(here, capsys):
    code, _, err = run(capsys, "inspect", "--json")
    assert code == 2 and "give at least one .safetensors file" in err
    code, _, err = run(capsys, "inspect", "missing.safetensors")
    assert code == 2 and "missing.safetensors: no such file" in err


def test_report_includes_the_comparison(here, capsys):
    path, argv, trainer = lora(here, "scan_sd15")
    folder_scan(here / "ds")
    os.chdir(here / "ds")
    out = str(here / "report.html")
    code, _, err = run(capsys, "report", "--no-dupes", "--no-progress", "--lora", path, "-o", out, "--trainer",
                       trainer, *argv)
    assert code == 0, err
    page = (here / "report.html").read_text(encoding="utf-8")
    assert "LoRA files against this dataset" in page and "matches the dataset this LoRA was trained on" in page


def test_metadata_strings_are_shown_as_text_never_as_terminal_codes_or_markup(here, capsys):
    """Every string of the metadata is the file's: a control character, a bidi control or rich
    markup in it is shown escaped and as written, in every table and line."""
    meta = {"ss_base_model_version": "sd_v1\x1b[2J", "ss_network_module": "[/]<script>[bold]",
            "ss_output_name": "\u202eevil", "ss_num_train_images": "4", "ss_num_epochs": "1",
            "ss_dataset_dirs": json.dumps({"10_sks \x1b[31mdog\n|x": {"n_repeats": 1, "img_count": 1}}),
            "ss_tag_frequency": json.dumps({"10_sks \x1b[31mdog\n|x": {"\x1b]0;pwn\x07 [/b]": 3}})}
    path = str(write_safetensors(here / "odd.safetensors", meta))
    for argv in ([path], [path, path]):
        code, out, err = run(capsys, "inspect", *argv)
        assert code == 0, err
        assert not any(c in out for c in "\x1b\x07\u202e"), out
        if len(argv) == 1:
            flat = "".join(out.split())
            assert "sd_v1\\x1b[2J" in flat and "[/]<script>[bold]" in flat and "\\x1b]0;pwn\\x07[/b]3" in flat


def test_a_lora_of_many_folders_is_shown_in_bounded_lines(here, capsys):
    """20,000 recorded folders, none of them here: the verdict names the first 8 and the steps; the
    tables show their first 200 rows and count the rest; --json has every one."""
    dirs = {f"{i}_x{i}": {"n_repeats": 1, "img_count": 1} for i in range(20_000)}
    path = str(write_safetensors(here / "many.safetensors", {"ss_base_model_version": "sd_v1",
                                                               "ss_dataset_dirs": json.dumps(dirs)}))
    (here / "train" / "1_dog").mkdir(parents=True)
    _image(here / "train" / "1_dog" / "a.png", 1)
    code, out, err = run(capsys, "inspect", path, "train")
    assert code == 0, err
    first = " ".join(out.split("\n\n")[0].split())
    assert first.startswith("differs: '0_x0' (1 image) is gone; '1_x1' (1 image) is gone;")
    assert "'7_x7' (1 image) is gone; and 19993 more differences of subsets (inspect --json lists every one)" in first
    assert "'8_x8'" not in first
    assert "… and 19800 more subsets (inspect --json lists every one)" in out and len(out) < 100_000
    (f,) = inspect_json(capsys, path, "train")["files"]
    assert len(f["comparison"]["differences"]) == 20_001 and f["comparison"]["differences"][-1] == "'1_dog' is new (1 image x 1)"


def test_a_fine_tuning_lora_is_matched_by_its_metadata_file(here, capsys):
    """train_network.py's metadata of a fine-tuning dataset (read from sd-scripts: a subset is recorded
    with image_dir's and metadata_file's base names, its tags under the metadata file's in the
    dataset's tag_frequency and ss_tag_frequency; --in_json records ss_dataset_dirs by the metadata
    file). The same tree now: the subset is found, its tags are the same."""
    from tests.conftest import make_image

    for n in ("a", "b"):
        make_image(here / "img" / f"{n}.png", size=(64, 64))
    meta = {str(here / "img" / "a.png"): {"caption": "a", "tags": "cat, red"},
            str(here / "img" / "b.png"): {"caption": "b", "tags": "dog, Red"}}
    (here / "meta_cap.json").write_text(json.dumps(meta))
    (here / "ds.toml").write_text('[general]\nresolution = 64\n[[datasets]]\n[[datasets.subsets]]\n'
                                  'image_dir = "img"\nmetadata_file = "meta_cap.json"\n')
    tags = {"meta_cap.json": {"dog": 1, "red": 2, "cat": 1}}
    common = {"ss_network_module": "networks.lora", "ss_base_model_version": "sd_v1", "ss_num_train_images": "2",
              "ss_num_reg_images": "0", "ss_num_batches_per_epoch": "2", "ss_num_epochs": "800",
              "ss_max_train_steps": "1600", "ss_tag_frequency": json.dumps(tags)}
    configured = {**common, "ss_datasets": json.dumps([{
        "is_dreambooth": False, "batch_size_per_device": 1, "num_train_images": 2, "num_reg_images": 0,
        "resolution": [64, 64], "enable_bucket": False, "tag_frequency": tags,
        "subsets": [{"img_count": 2, "num_repeats": 1, "image_dir": "img", "metadata_file": "meta_cap.json"}]}])}
    path = write_safetensors(here / "ft.safetensors", configured)
    (f,) = inspect_json(capsys, str(path), "--dataset_config", "ds.toml")["files"]
    (s,) = f["comparison"]["subsets"]
    assert s["status"] == "same" and s["tags_gained"] == s["tags_lost"] == [], f["comparison"]
    # the tags changed in the metadata: counted from the tags, under the metadata file's name
    meta[str(here / "img" / "b.png")]["tags"] = "dog, blue"
    (here / "meta_cap.json").write_text(json.dumps(meta))
    (f,) = inspect_json(capsys, str(path), "--dataset_config", "ds.toml")["files"]
    (s,) = f["comparison"]["subsets"]
    assert (s["tags_gained"], s["tags_lost"]) == (["blue"], []), f["comparison"]
    meta[str(here / "img" / "b.png")]["tags"] = "dog, Red"
    (here / "meta_cap.json").write_text(json.dumps(meta))
    in_json = {**common, "ss_dataset_dirs": json.dumps({"meta_cap.json": {"n_repeats": 1, "img_count": 2}}),
               "ss_resolution": "(64, 64)", "ss_batch_size_per_device": "1"}
    path = write_safetensors(here / "ft2.safetensors", in_json)
    (f,) = inspect_json(capsys, str(path), "--in_json", "meta_cap.json", "--train_data_dir", "img",
                        "--resolution", "64")["files"]
    (s,) = f["comparison"]["subsets"]
    assert s["status"] == "same", f["comparison"]
