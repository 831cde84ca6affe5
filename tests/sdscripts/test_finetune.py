"""Fine-tuning datasets (--in_json, metadata_file subsets): sdscripts.finetune and `regaudit balance`
on them. Every number is from the oracle (sd-scripts 48d368fa, `sdscripts_oracle.py --oracle_trainer
fine_tune`) on the same tree, with metadata written by sd-scripts' own
finetune/merge_captions_to_metadata.py (stem keys by default, absolute paths with --full_path)."""

from __future__ import annotations

import json
import os

import pytest

from regaudit.cli import main
from regaudit.sdscripts.finetune import read_subset
from tests.conftest import make_image

SIZES = {"a.png": (640, 480), "b.jpg": (480, 640), "c.png": (512, 512), "ab.png": (300, 900)}
CAPTIONS = {"a": "a cat", "b": "a dog", "ab": "two", "c": "cee"}


def _tree(tmp_path):
    for name, size in SIZES.items():
        make_image(tmp_path / "img" / name, size=size)
    # as merge_captions_to_metadata.py writes them (glob order, then keys)
    stems = {stem: {"caption": CAPTIONS[stem]} for stem in ("a", "ab", "b", "c")}
    full = {str(tmp_path / "img" / n): {"caption": CAPTIONS[os.path.splitext(n)[0]]}
            for n in ("a.png", "ab.png", "b.jpg", "c.png")}
    (tmp_path / "meta_stem.json").write_text(json.dumps(stems, indent=2))
    (tmp_path / "meta_full.json").write_text(json.dumps(full, indent=2))


def _balance(tmp_path, capsys, *args):
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        capsys.readouterr()
        main(["balance", "--json", "-j", "1", "--trainer", "fine_tune", *args])
        return json.loads(capsys.readouterr().out)
    finally:
        os.chdir(cwd)


def test_full_path_keys_register_buckets_and_steps(tmp_path, capsys):
    _tree(tmp_path)
    doc = _balance(tmp_path, capsys, "--in_json", "meta_full.json", "--train_data_dir", "img", "--resolution", "512",
                   "--cache_latents", "--enable_bucket", "--dataset_repeats", "3", "--train_batch_size", "2")
    assert doc["crash"] is None
    # oracle: len 8, max_train_steps 1600, num_train_epochs 200, num_train_images 12
    assert (doc["batches_per_epoch"], doc["max_train_steps"], doc["epochs"]) == (8, 1600, 200)
    ds = doc["datasets"][0]
    assert ds["num_train_images"] == 12
    # oracle registration order: longest key first, then the file's order
    got = [(os.path.basename(i["path"]), i["image_size"], i["bucket"], i["num_repeats"], i["caption"])
           for i in ds["images"]]
    assert got == [("ab.png", [300, 900], [256, 832], 3, "two"), ("a.png", [640, 480], [576, 448], 3, "a cat"),
                   ("b.jpg", [480, 640], [448, 576], 3, "a dog"), ("c.png", [512, 512], [512, 512], 3, "cee")]
    assert not [f for f in doc["findings"] if f["code"] in ("RA069", "RA090", "RA078")]


def test_stops(tmp_path, capsys):
    _tree(tmp_path)
    base = ["--train_data_dir", "img", "--resolution", "512", "--cache_latents"]
    cases = [
        # oracle: AttributeError "'NoneType' object has no attribute 'cache_suffix'" (no --cache_latents)
        (["--in_json", "meta_stem.json", "--train_data_dir", "img", "--resolution", "512"],
         ("RA097", "AttributeError")),
        # oracle: FileNotFoundError "No such file or directory: 'img/ab'" (stem keys name no file)
        (["--in_json", "meta_stem.json", *base], ("RA063", "FileNotFoundError")),
        # oracle: MultipleInvalid "expected str ... ['image_dir']" (no --train_data_dir)
        (["--in_json", "meta_full.json", "--resolution", "512", "--cache_latents"], ("RA091", "MultipleInvalid")),
        # oracle: ValueError "no metadata / ...: nope.json"
        (["--in_json", "nope.json", *base], ("RA097", "ValueError")),
        # oracle: TypeError "'<' not supported between instances of 'NoneType' and 'NoneType'" (no resolution)
        (["--in_json", "meta_full.json", "--train_data_dir", "img", "--cache_latents"], ("RA060", "TypeError")),
    ]
    for args, want in cases:
        doc = _balance(tmp_path, capsys, *args)
        assert doc["crash"]["stage"] == "build", args
        assert (doc["crash"]["code"], doc["crash"]["exception"]) == want, args
    doc = _balance(tmp_path, capsys, "--in_json", "meta_stem.json", *base)
    assert doc["crash"]["path"] == str(tmp_path / "img" / "ab")  # the longest key is sized first


def test_port_captions_tags_sizes_and_cache_names(tmp_path):
    make_image(tmp_path / "img" / "x.png", size=(64, 64))
    (tmp_path / "img" / "x_0512x0768_sdxl.npz").write_bytes(b"")
    meta = {str(tmp_path / "img" / "x.png"): {"caption": "cap", "tags": "t1, t2"},
            "rel.png": {"tags": "only", "image_size": [100, 200]},
            str(tmp_path / "img" / "y.png"): {}}
    (tmp_path / "m.json").write_text(json.dumps(meta))
    sub = read_subset(str(tmp_path / "m.json"), str(tmp_path / "img"), 2, "_sdxl.npz")
    assert sub.stop is None
    by_key = {e.key: e for e in sub.entries}
    x = by_key[str(tmp_path / "img" / "x.png")]
    assert (x.caption, x.size, x.size_from) == ("cap,t1, t2", (512, 768), "cache")
    assert x.path == str(tmp_path / "img" / "x_0512x0768_sdxl.npz")
    rel = by_key["rel.png"]
    assert (rel.caption, rel.size, rel.size_from, rel.path) == ("only", (100, 200), "metadata",
                                                                 str(tmp_path / "img" / "rel.png"))
    assert by_key[str(tmp_path / "img" / "y.png")].caption == ""
    # set_tag_frequency of the tags values used (keys longest first), not of the captions
    assert sub.tag_frequency == {"t1": 1, "t2": 1, "only": 1}
    # relative keys without image_dir: the assert
    assert read_subset(str(tmp_path / "m.json"), None, 1, "_sdxl.npz").stop.exception == "AssertionError"
    # no entries: skipped with a warning
    (tmp_path / "e.json").write_text("{}")
    assert read_subset(str(tmp_path / "e.json"), None, 1, "_sdxl.npz").skipped is not None


def test_dataset_config_metadata_file_subset(tmp_path, capsys):
    _tree(tmp_path)
    (tmp_path / "ds.toml").write_text('[[datasets]]\nresolution = 512\nbatch_size = 2\n[[datasets.subsets]]\n'
                                      'metadata_file = "meta_full.json"\nnum_repeats = 3\n')
    # oracle (fine_tune --dataset_config ds.toml --cache_latents --enable_bucket): len 8, max_train_steps 1600
    doc = _balance(tmp_path, capsys, "--dataset_config", "ds.toml", "--cache_latents", "--enable_bucket")
    assert doc["crash"] is None
    assert (doc["batches_per_epoch"], doc["max_train_steps"]) == (8, 1600)


def test_the_cache_file_search_takes_what_the_list_scan_takes():
    """sd-scripts scans its cache file list (longest names first) for the first path starting with
    each key's stem and takes it out; _FirstMatch must take the same path every time, shared
    prefixes, repeated paths and the empty prefix included."""
    import random

    from regaudit.sdscripts.finetune import _FirstMatch

    rng = random.Random(21)
    for _ in range(2000):
        alphabet = "ab/_."
        paths = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 6))) for _ in range(rng.randint(0, 12))]
        paths.sort(key=len, reverse=True)
        scanned, fast = list(paths), _FirstMatch(list(paths))
        for _ in range(15):
            prefix = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 4)))
            want = next((c for c in scanned if c.startswith(prefix)), None)
            if want is not None:
                scanned.remove(want)
            assert fast.take(prefix) == want, (paths, prefix)


def test_sizes_that_are_no_pair_of_numbers_are_no_internal_error(tmp_path, capsys):
    """image_size values a hostile metadata file may hold (a list inside, an object, null) are no
    traceback (each such size gets a record of its own: it cannot be shared by value)."""
    meta = tmp_path / "m.json"
    meta.write_text(json.dumps({str(tmp_path / "a.png"): {"caption": "a", "image_size": [[512], 512]},
                                str(tmp_path / "b.png"): {"caption": "b", "image_size": [{"w": 1}, None]},
                                str(tmp_path / "c.png"): {"caption": "c", "image_size": [512, 512]}}))
    code = main(["scan", "--json", "fine_tune.py", "--in_json", str(meta), "--train_data_dir", str(tmp_path),
                 "--cache_latents"])
    out, err = capsys.readouterr()
    assert code == 0 and "internal error" not in err
    # make_buckets divides the width by the height: TypeError (regaudit says so where it reads the size)
    (f,) = json.loads(out)["findings"]
    assert f["code"] == "RA097" and "TypeError" in f["message"]


def test_sizes_equal_as_numbers_keep_their_own_values(tmp_path, capsys):
    """Sizes equal as numbers but written otherwise (64.0, 64, true, 1) are each shown as the
    metadata writes them: a probe is shared only by sizes of ints."""
    meta = tmp_path / "m.json"
    meta.write_text('{"longername_float.png": {"caption": "x", "image_size": [64.0, 64.0]}, '
                    '"b.png": {"caption": "y", "image_size": [64, 64]}, "c.png": {"caption": "z", "image_size": [true, 64]}, '
                    '"d.png": {"caption": "w", "image_size": [1, 64]}, "e.png": {"caption": "v", "image_size": [64, 64]}}')
    code = main(["scan", "--json", "fine_tune.py", "--in_json", str(meta), "--train_data_dir", str(tmp_path),
                 "--cache_latents"])
    out, _ = capsys.readouterr()
    (s,) = json.loads(out)["subsets"]
    shown = {os.path.basename(i["path"]): [i["width"], i["height"]] for i in s["images"]}
    assert code == 0 and json.dumps(shown, sort_keys=True) == json.dumps(
        {"longername_float.png": [64.0, 64.0], "b.png": [64, 64], "c.png": [True, 64], "d.png": [1, 64],
         "e.png": [64, 64]}, sort_keys=True)


def _keys_without_files(tmp_path):
    """A metadata file whose sizes spare sd-scripts from opening the files: one key names a real
    image, one names nothing, one is matched to a cache file (no image_size)."""
    make_image(tmp_path / "img" / "here.png", size=(512, 512))
    (tmp_path / "img" / "cached_0512x0512_sdxl.npz").write_bytes(b"")  # (fine_tune.py: the SDXL suffix)
    meta = {str(tmp_path / "img" / "here.png"): {"caption": "here", "image_size": [512, 512]},
            str(tmp_path / "img" / "gone.png"): {"caption": "gone", "image_size": [640, 480]},
            str(tmp_path / "img" / "cached.png"): {"caption": "cached"}}
    (tmp_path / "m.json").write_text(json.dumps(meta))
    return ["--in_json", "m.json", "--train_data_dir", "img", "--resolution", "512", "--enable_bucket"]


def test_keys_sized_without_opening_their_files_fail_when_first_loaded(tmp_path, capsys):
    """sd-scripts (FineTuningDataset) registers a key with image_size, or one matched to a cache file
    (whose .npz it stores as the image), without opening anything: the oracle builds the dataset and
    counts it (3 images here, no stop while building). The failure comes when latent caching, or
    uncached the first batch that draws it, opens the path (BaseDataset.new_cache_latents and
    load_image, read from sd-scripts: the oracle stops before the models load)."""
    args = _keys_without_files(tmp_path)
    doc = _balance(tmp_path, capsys, *args, "--cache_latents")
    assert doc["datasets"][0]["num_train_images"] == 3  # all registered
    crash = doc["crash"]
    # latent caching loads a dataset's images by bucket area (new_cache_latents' stable sort): gone.png's
    # 576x448 bucket before cached.png's 512x512, though cached.png's longer key registered first
    assert (crash["stage"], crash["code"], crash["exception"]) == ("load", "RA098", "FileNotFoundError")
    assert crash["path"] == str(tmp_path / "img" / "gone.png")
    (f,) = [f for f in doc["findings"] if f["code"] == "RA098"]
    assert f["severity"] == "error" and f["path"] == str(tmp_path / "m.json")
    assert "2 keys" in f["message"] and "gone.png" in f["message"]
    assert [i["path"] for i in f["images"]] == [str(tmp_path / "img" / "cached_0512x0512_sdxl.npz"),
                                                 str(tmp_path / "img" / "gone.png")]  # (registration order)
    errors = [i["error"] for i in f["images"]]
    assert errors[0].startswith("UnidentifiedImageError: cannot identify image file")
    assert errors[1].startswith("FileNotFoundError: [Errno 2]")


def test_cache_latents_to_disk_reads_an_existing_cache_file_instead(tmp_path, capsys):
    """With --cache_latents_to_disk, get_latents_npz_path names the file read instead of the image:
    '<stem>_<WWWW>x<HHHH>_sdxl.npz' (fine_tune.py's suffix), or an old '<stem>.npz' (for a key matched to a cache file, that
    file itself). Where it exists, the key's image is not opened."""
    args = _keys_without_files(tmp_path)
    doc = _balance(tmp_path, capsys, *args, "--cache_latents_to_disk")
    (f,) = [f for f in doc["findings"] if f["code"] == "RA098"]  # the cached key now loads
    assert [os.path.basename(i["path"]) for i in f["images"]] == ["gone.png"]
    (tmp_path / "img" / "gone_0640x0480_sdxl.npz").write_bytes(b"")
    doc = _balance(tmp_path, capsys, *args, "--cache_latents_to_disk")
    assert not [f for f in doc["findings"] if f["code"] == "RA098"] and doc["crash"] is None
    # without the disk cache the .npz stored as the image is opened as one
    doc = _balance(tmp_path, capsys, *args, "--cache_latents")
    (f,) = [f for f in doc["findings"] if f["code"] == "RA098"]
    assert [(os.path.basename(i["path"]), i["error"].split(":")[0]) for i in f["images"]] == [
        ("cached_0512x0512_sdxl.npz", "UnidentifiedImageError"), ("gone.png", "FileNotFoundError")]


def test_fine_tuning_tag_frequency_is_the_tags_under_the_metadata_name(tmp_path, capsys):
    """ss_tag_frequency of a FineTuningDataset: set_tag_frequency(basename(metadata_file), tags_list),
    the tags values only (with enable_wildcard, line breaks made separators first), and commands on
    absolute keys without an image_dir are no internal error."""
    make_image(tmp_path / "img" / "a.png", size=(64, 64))
    make_image(tmp_path / "img" / "b.png", size=(64, 64))
    meta = {str(tmp_path / "img" / "a.png"): {"caption": "a photo, red", "tags": "Cat, red,, "},
            str(tmp_path / "img" / "b.png"): {"caption": "b", "tags": "dog\nred"},
            str(tmp_path / "img" / "c.png"): {"caption": "no tags", "image_size": [64, 64]}}
    (tmp_path / "meta.json").write_text(json.dumps(meta))
    for wildcard, want in (("false", {"cat": 1, "red": 1, "dog\nred": 1}), ("true", {"cat": 1, "red": 2, "dog": 1})):
        (tmp_path / "ds.toml").write_text(f'[general]\nresolution = 64\n[[datasets]]\n[[datasets.subsets]]\n'
                                          f'metadata_file = "{(tmp_path / "meta.json").as_posix()}"\n'
                                          f'enable_wildcard = {wildcard}\n')
        capsys.readouterr()
        assert main(["captions", "--json", "--dataset-config", str(tmp_path / "ds.toml")]) == 0
        out, err = capsys.readouterr()
        got = json.loads(out)["tag_frequency"]
        assert got == {"meta.json": want} and list(got["meta.json"]) == list(want), wildcard
    for cmd in (["dupes", "--json", "--no-cache"], ["fix", "--json"], ["report", "-o", str(tmp_path / "r.html")]):
        code = main([*cmd, "--dataset-config", str(tmp_path / "ds.toml")])
        _, err = capsys.readouterr()
        assert code in (0, 1) and "internal error" not in err, (cmd, err)


@pytest.mark.parametrize("entry,want", [
    ({"caption": "x", "image_size": -1}, "TypeError"),  # tuple(image_size): not iterable
    ({"caption": "x", "image_size": "512"}, "ValueError"),  # make_buckets: too many values to unpack
    ({"caption": "x", "image_size": [64]}, "ValueError"),  # not enough values to unpack
    ({"caption": "x", "image_size": [64, 64, 64]}, "ValueError"),
    ({"caption": "x", "image_size": [[64, 64], [64, 64]]}, "TypeError"),
    ({"caption": "x", "image_size": ["64", "64"]}, "TypeError"),
    ({"caption": 5, "tags": "t", "image_size": [64, 64]}, "TypeError"),  # caption + separator
    ({"caption": "x", "tags": 5, "image_size": [64, 64]}, "TypeError"),  # len(tags)
    ({"caption": "x", "tags": ["a"], "image_size": [64, 64]}, "TypeError"),  # str + list
    ({"caption": ["a"], "image_size": [64, 64]}, "TypeError"),  # registered, fails where it is used
])
def test_hostile_entries_stop_as_sd_scripts_does_never_an_internal_error(tmp_path, capsys, entry, want):
    make_image(tmp_path / "img" / "a.png", size=(64, 64))
    (tmp_path / "m.json").write_text(json.dumps({"a.png": entry}))
    for cmd in (["scan", "--json"], ["balance", "--json"], ["captions", "--json"], ["dupes", "--json", "--no-cache"],
                ["fix", "--json"]):
        code = main([*cmd, "fine_tune.py", "--in_json", str(tmp_path / "m.json"), "--train_data_dir",
                     str(tmp_path / "img"), "--resolution", "512", "--cache_latents", "--enable_bucket"])
        out, err = capsys.readouterr()
        assert code in (0, 1) and "internal error" not in err, (cmd, err)
        doc = json.loads(out)
        if cmd[0] == "balance":
            assert (doc["crash"]["code"], doc["crash"]["exception"]) == ("RA097", want), doc["crash"]


def test_json_lines_are_split_as_a_text_file_is_read(tmp_path):
    """sd-scripts reads a .jsonl with `for line in f` (universal newlines): a raw U+2028 or \\x85 in a
    string is no line break; a line that is no object, or an image_path that is no path, stops it."""
    from regaudit.sdscripts.finetune import read_metadata

    p = tmp_path / "m.jsonl"
    p.write_text('{"image_path": "a.png", "caption": "x\u2028y\x85z"}\r\n{"image_path": "b.png"}\r', encoding="utf-8")
    assert read_metadata(str(p)) == {"a.png": {"caption": "x\u2028y\x85z"}, "b.png": {"caption": ""}}
    for bad, exc in (('{"image_path": "a.png"}\n[1, 2]\n', "AttributeError"), ('{"image_path": 5}\n', "TypeError")):
        p.write_text(bad)
        sub = read_subset(str(p), str(tmp_path), 1, "_sdxl.npz")
        assert sub.stop is not None and sub.stop.exception == exc


def test_a_metadata_file_of_two_subsets_keeps_the_first_and_scan_lists_stops(tmp_path, capsys):
    """FineTuningSubset.__eq__ compares metadata_file only: the second subset is skipped, the first's
    repeats count. A stop while the metadata is read is a finding `scan` lists too."""
    make_image(tmp_path / "img" / "a.png", size=(64, 64))
    (tmp_path / "m.json").write_text(json.dumps({"a.png": {"caption": "x", "image_size": [64, 64]}}))
    meta = (tmp_path / "m.json").as_posix()
    (tmp_path / "ds.toml").write_text(
        f'[general]\nresolution = 64\n[[datasets]]\n[[datasets.subsets]]\nmetadata_file = "{meta}"\n'
        f'image_dir = "{(tmp_path / "img").as_posix()}"\nnum_repeats = 2\n[[datasets.subsets]]\n'
        f'metadata_file = "{meta}"\nimage_dir = "/nonexistent"\nnum_repeats = 5\n')
    assert main(["balance", "--json", "--dataset-config", str(tmp_path / "ds.toml")]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["datasets"][0]["num_train_images"] == 2
    (tmp_path / "rel.toml").write_text(f'[general]\nresolution = 64\n[[datasets]]\n[[datasets.subsets]]\n'
                                       f'metadata_file = "{meta}"\n')
    main(["scan", "--json", "--dataset-config", str(tmp_path / "rel.toml")])
    doc = json.loads(capsys.readouterr().out)
    assert [f["code"] for f in doc["findings"]] == ["RA097"]  # relative keys without image_dir


def test_fix_writes_no_copy_inside_the_folder_of_absolute_keys(tmp_path, capsys):
    make_image(tmp_path / "img" / "a.png", size=(64, 64))
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "m.json").write_text(json.dumps({str(tmp_path / "img" / "a.png"): {"caption": "x"}}))
    (tmp_path / "ds.toml").write_text(f'[general]\nresolution = 64\n[[datasets]]\n[[datasets.subsets]]\n'
                                      f'metadata_file = "{(tmp_path / "meta" / "m.json").as_posix()}"\n')
    code = main(["fix", "--dataset-config", str(tmp_path / "ds.toml"), "--out", str(tmp_path / "img" / "out")])
    assert code == 2 and "inside the dataset folder" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path / "img")) == ["a.png"]


@pytest.mark.parametrize("text,want", [("[]", "skipped"), ('""', "skipped"), ("5", "TypeError"),
                                       ("null", "TypeError"), ("[1]", "AttributeError"),
                                       ('{"a.png": "x"}', "TypeError")])
def test_metadata_that_is_no_object_in_sd_scripts_order(tmp_path, text, want):
    """FineTuningDataset: len(metadata) first (a number or null: TypeError), an empty one skipped with a
    warning, then metadata.keys() (a list: AttributeError) and each entry's ["abs_path"] (TypeError)."""
    (tmp_path / "m.json").write_text(text)
    sub = read_subset(str(tmp_path / "m.json"), str(tmp_path), 1, "_sdxl.npz")
    assert (sub.skipped is not None and want == "skipped") or (sub.stop is not None and sub.stop.exception == want)


def test_an_empty_image_dir_joins_relative_keys_to_nothing(tmp_path, monkeypatch):
    """image_dir = '' is a folder to sd-scripts (only None asserts): os.path.join('', key) is the key,
    read from the working directory."""
    monkeypatch.chdir(tmp_path)
    make_image(tmp_path / "a.png", size=(64, 64))
    (tmp_path / "m.json").write_text(json.dumps({"a.png": {"caption": "x"}}))
    sub = read_subset("m.json", "", 1, "_sdxl.npz")
    assert sub.stop is None and [e.path for e in sub.entries] == ["a.png"]


def test_deep_decodes_the_images_of_keys_sized_by_the_metadata(tmp_path, capsys):
    """Without --deep a key sized by the metadata is only stat'ed (a million keys); with it the file is
    read and decoded as sd-scripts' load_image does when it first loads it."""
    from PIL import Image

    (tmp_path / "img").mkdir()
    Image.new("RGB", (64, 64)).save(tmp_path / "img" / "ok.png")
    (tmp_path / "img" / "text.png").write_text("not an image")
    (tmp_path / "m.json").write_text(json.dumps({n: {"caption": "x", "image_size": [64, 64]}
                                                 for n in ("ok.png", "text.png")}))
    argv = ["fine_tune.py", "--in_json", str(tmp_path / "m.json"), "--train_data_dir", str(tmp_path / "img"),
            "--resolution", "64", "--cache_latents"]
    assert main(["scan", "--json", *argv]) == 0
    assert not [f for f in json.loads(capsys.readouterr().out)["findings"] if f["code"] == "RA098"]
    assert main(["scan", "--json", "--deep", *argv]) == 0
    (f,) = [f for f in json.loads(capsys.readouterr().out)["findings"] if f["code"] == "RA098"]
    assert [(os.path.basename(i["path"]), i["error"]) for i in f["images"]] == [
        ("text.png", "UnidentifiedImageError: cannot identify image file")]


def test_entries_are_checked_key_by_key_as_sd_scripts_loops(tmp_path):
    """A relative key's image_dir assert comes before its entry's type; a JSON Lines image_path that
    is a number is kept until the key loop joins it (a later line without image_path: KeyError first)."""
    (tmp_path / "m.json").write_text(json.dumps({"rel.png": "oops"}))
    assert read_subset(str(tmp_path / "m.json"), None, 1, "_sdxl.npz").stop.exception == "AssertionError"
    assert read_subset(str(tmp_path / "m.json"), str(tmp_path), 1, "_sdxl.npz").stop.exception == "TypeError"
    (tmp_path / "m.jsonl").write_text('{"image_path": 5}\n{"caption": "x"}\n')
    assert read_subset(str(tmp_path / "m.jsonl"), str(tmp_path), 1, "_sdxl.npz").stop.exception == "KeyError"
    (tmp_path / "m.jsonl").write_text('{"image_path": 5}\n')
    assert read_subset(str(tmp_path / "m.jsonl"), str(tmp_path), 1, "_sdxl.npz").stop.exception == "TypeError"


def test_deep_names_the_exception_pillow_raises(tmp_path, capsys):
    """--deep on a key sized by the metadata: a PNG whose header Pillow refuses (over its pixel limit)
    is its DecompressionBombError, not 'cannot identify'."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    (tmp_path / "img").mkdir()
    (tmp_path / "img" / "huge.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(
        ">IIBBBBB", 20000, 20000, 8, 2, 0, 0, 0)) + chunk(b"IEND", b""))
    (tmp_path / "m.json").write_text(json.dumps({"huge.png": {"caption": "x", "image_size": [64, 64]}}))
    assert main(["scan", "--json", "--deep", "fine_tune.py", "--in_json", str(tmp_path / "m.json"),
                 "--train_data_dir", str(tmp_path / "img"), "--resolution", "64", "--cache_latents"]) == 0
    (f,) = [f for f in json.loads(capsys.readouterr().out)["findings"] if f["code"] == "RA098"]
    assert f["images"][0]["error"].startswith("DecompressionBombError")


def test_the_tag_tables_of_a_fine_tuning_subset_are_its_tags():
    """captions' per-subset and train tables count what ss_tag_frequency records for a fine-tuning
    subset (its tags), as its JSON tag_frequency does."""
    from regaudit.model import Dataset, DatasetParams, Subset, SubsetConfig
    from regaudit.sdscripts.tagfreq import tag_tables

    cfg = SubsetConfig(None, False, 1, None, metadata_file="/m/meta.json")  # type: ignore[arg-type]
    s = Subset(cfg, "/m/meta.json", (), tag_frequency={"cat": 2, "red": 1})
    t = tag_tables([Dataset(0, DatasetParams(), (s,), 1, fine_tuning=True)])
    assert t.train == (("cat", 2), ("red", 1)) and t.ss_tag_frequency == {"meta.json": {"cat": 2, "red": 1}}


def test_tags_are_counted_a_part_at_a_time_as_a_whole(monkeypatch):
    # a 64 MiB tags text held its millions of tags at once: 2 GB; counted a megabyte at a time, the same counts
    from collections import Counter

    from regaudit.sdscripts import tagfreq

    text = ", ".join(["dog", " Cat ", "", "sky", "dog"] * 3000) + ",,  tail tag"
    whole = Counter(tagfreq.caption_tags(text))
    for part in (7, 100, 5000, 1 << 20):
        monkeypatch.setattr(tagfreq, "_PART", part)
        counted: dict = {"dog": 1}
        tagfreq.count_tags(text, counted)
        assert counted == {**whole, "dog": whole["dog"] + 1}
