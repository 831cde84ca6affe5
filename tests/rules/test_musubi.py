"""musubi-tuner findings (RM001-RM014) through `regaudit balance --json` on a pasted musubi command.
Numbers are from the musubi oracle (../shared/oracle-musubi, musubi-tuner 30c658c) on the same trees."""

from __future__ import annotations

import json
import struct

import pytest

pytest.importorskip("toml")  # musubi's own TOML parser (a regaudit dependency)

from tests.rules.cli_table import Img, build, run_json  # noqa: E402

TOML = ('[general]\nresolution = [1024, 1024]\n{cap}batch_size = 2\nenable_bucket = true\n\n[[datasets]]\n'
        'image_directory = "{root}/img"\ncache_directory = "{root}/cache"\nnum_repeats = 3\n{extra}')


def cache(keys):
    blob = json.dumps({k: {"dtype": "BF16", "shape": [0], "data_offsets": [0, 0]} for k in keys}).encode()
    return struct.pack("<Q", len(blob)) + blob


def tree(cap='caption_extension = ".txt"\n', extra="", **more):
    t = {"img/a.jpg": Img((512, 768)), "img/a.png": Img((1024, 1024)), "img/b_1.jpg": Img((1200, 800)),
         "img/a.txt": "a photo of sks dog\nsecond line kept\n", "img/b_1.txt": "sks dog",
         "cache/.keep": "", "ds.toml": TOML.format(cap=cap, extra=extra, root="{root}")}
    t.update(more)
    return t


def balance(tmp_path, capsys, monkeypatch, t, script="qwen_image_train_network.py", *extra):
    build(tmp_path, t)
    monkeypatch.chdir(tmp_path)
    return run_json(capsys, ["balance", "--json", "accelerate", "launch", f"src/musubi_tuner/{script}",
                             "--dataset_config", str(tmp_path / "ds.toml"), "--max_train_epochs", "10", *extra])


def codes(doc):
    return sorted({f["code"] for f in doc["findings"]})


def test_no_caches_yet_is_no_training_items_and_the_after_caching_answer(tmp_path, capsys, monkeypatch):
    doc = balance(tmp_path, capsys, monkeypatch, tree(**{"img/nocap.png": Img((300, 200)),
                                                          "img/c.Png": Img((30, 20)), "img/gone.txt": "x"}))
    m = doc["musubi"]
    d = m["datasets"][0]
    # oracle: 3 images listed, after caching 9 items / 6 batches, buckets 832x1248, 1024x1024, 1248x832 (3 items,
    # 2 batches each), 60 steps for 10 epochs; from the empty cache directory: "No training items found"
    assert [(i["path"].rsplit("/", 1)[1], i["bucket"], i["latent_cache"], i["te_cache"]) for i in d["images"]] == [
        ("a.jpg", [832, 1248], "a_0512x0768_qi.safetensors", "a_qi_te.safetensors"),
        ("a.png", [1024, 1024], "a_1024x1024_qi.safetensors", "a_qi_te.safetensors"),
        ("b_1.jpg", [1248, 832], "b_1_1200x0800_qi.safetensors", "b_1_qi_te.safetensors")]
    assert d["images"][0]["caption"] == "a photo of sks dog\nsecond line kept"
    assert (d["after_caching"]["items"], d["after_caching"]["batches"]) == (9, 6)
    assert [(b["bucket"], b["items"], b["batches"]) for b in d["after_caching"]["buckets"]] == [
        ([832, 1248], 3, 2), ([1024, 1024], 3, 2), ([1248, 832], 3, 2)]
    assert m["after_caching_steps"]["max_train_steps"] == 60 and m["from_caches_steps"] is None
    assert doc["crash"]["code"] == "RM012" and doc["crash"]["message"].startswith("No training items found")
    assert sorted((x["path"].rsplit("/", 1)[1], x["reason"]) for x in d["dropped"]) == [
        ("c.Png", "extension-case"), ("gone.txt", "orphan-caption"), ("nocap.png", "no-caption")]
    assert codes(doc) == ["RM002", "RM003", "RM004", "RM007", "RM012"]


def test_caches_on_disk_stale_orphaned_skipped(tmp_path, capsys, monkeypatch):
    t = tree(**{"cache/a_1024x1024_qi.safetensors": cache(["latents_1x64x64_bfloat16"]),
                "cache/a_qi_te.safetensors": cache(["x"]),
                "cache/old_0800x0800_qi.safetensors": cache(["latents_1x128x128_bfloat16"]),
                "cache/old_qi_te.safetensors": cache(["x"]),
                "cache/b_1_1200x0800_qi.safetensors": cache(["latents_1x104x156_bfloat16"])})
    doc = balance(tmp_path, capsys, monkeypatch, t)
    f = doc["musubi"]["datasets"][0]["from_caches"]
    # oracle (same shape as its sample): 6 items in 3 batches of bucket 1024x1024; b_1 skipped (no te cache);
    # a_1024x1024 stale (64x64 latent x 8 = 512 != 1024); old_* orphaned but trained
    assert (f["items"], f["batches"]) == (6, 3)
    assert f["skipped"] == ["b_1_1200x0800_qi.safetensors"]
    assert f["stale"] == ["a_1024x1024_qi.safetensors"]
    assert f["orphans"] == ["old_0800x0800_qi.safetensors"]
    assert doc["musubi"]["from_caches_steps"]["max_train_steps"] == 30
    assert doc["crash"] is None
    assert {"RM008", "RM009", "RM010", "RM014"} <= set(codes(doc))


def test_a_stray_cache_name_stops_training_start(tmp_path, capsys, monkeypatch):
    doc = balance(tmp_path, capsys, monkeypatch, tree(**{"cache/notes_qi.safetensors": "x"}))
    assert doc["crash"]["exception"] == "ValueError"  # oracle: invalid literal for int() with base 10: 'notes'
    assert doc["crash"]["message"] == "invalid literal for int() with base 10: 'notes'"
    assert "RM011" in codes(doc)


def test_no_caption_extension_stops_both_caching_scripts(tmp_path, capsys, monkeypatch):
    doc = balance(tmp_path, capsys, monkeypatch, tree(cap=""), "qwen_image_cache_latents.py")
    assert doc["crash"]["exception"] == "FileNotFoundError" and doc["crash"]["code"] == "RM005"
    assert "RM005" in codes(doc)


def test_shared_cache_directory_is_a_config_stop(tmp_path, capsys, monkeypatch):
    extra = '\n[[datasets]]\nimage_directory = "{root}/img2"\ncache_directory = "{root}/cache"\n'
    doc = balance(tmp_path, capsys, monkeypatch, tree(extra=extra, **{"img2/z.png": Img((64, 64))}))
    assert doc["crash"]["stage"] == "config" and doc["crash"]["exception"] == "ValueError"
    assert codes(doc) == ["RM001"]


def test_a_bad_image_stops_caching_and_video_is_not_simulated(tmp_path, capsys, monkeypatch):
    doc = balance(tmp_path, capsys, monkeypatch, tree(**{"img/bad.png": b"not a png", "img/bad.txt": "x"}),
                  "qwen_image_cache_latents.py")
    assert doc["crash"]["code"] == "RM006" and doc["crash"]["exception"] == "UnidentifiedImageError"
    extra = '\n[[datasets]]\nvideo_directory = "{root}/vid"\ncache_directory = "{root}/vcache"\n'
    doc = balance(tmp_path / "v", capsys, monkeypatch, tree(extra=extra), "wan_train_network.py")
    assert "RM013" in codes(doc) and doc["musubi"]["after_caching_steps"] is None
