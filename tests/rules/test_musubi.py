"""musubi-tuner findings (RM001-RM015) through `regaudit balance --json` on a pasted musubi command.
Numbers are from the musubi oracle (../shared/oracle-musubi, musubi-tuner 30c658c) on the same trees."""

from __future__ import annotations

import json
import struct

import pytest

pytest.importorskip("toml")  # musubi's own TOML parser (a regaudit dependency)

from tests.rules.cli_table import F, Img, No, build, row, run_case, run_json  # noqa: E402

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


def launch(script="qwen_image_train_network.py"):
    return ["balance", "--json", "accelerate", "launch", f"src/musubi_tuner/{script}", "--dataset_config",
            "{root}/ds.toml", "--max_train_epochs", "10"]


NO_ITEMS = ("ValueError: No training items found in the dataset. Please ensure that the latent/Text Encoder cache "
            "has been created beforehand. (the cache directories hold no latent + text-encoder cache pair; after "
            "caching {n} items would train)")
SHARED = ("cache directory should be unique for each dataset (note that cache directory is image/video directory if "
          "not specified) / cache directory \u306f\u5404\u30c7\u30fc\u30bf\u30bb\u30c3\u30c8\u3054\u3068\u306b"
          "\u7570\u306a\u308b\u5fc5\u8981\u304c\u3042\u308a\u307e\u3059\uff08\u6307\u5b9a\u3055\u308c\u3066"
          "\u3044\u306a\u3044\u5834\u5408\u306fimage/video directory\u304c\u4f7f\u308f\u308c\u308b\u306e\u3067"
          "\u6ce8\u610f\uff09")
CV2 = ("OpenCV(4.10.0) /io/opencv/modules/imgproc/src/resize.cpp:4155: error: (-215:Assertion failed) inv_scale_x > 0 "
       "in function 'resize'")
STALE = {"cache/a_1024x1024_qi.safetensors": cache(["latents_1x64x64_bfloat16"]),
         "cache/a_qi_te.safetensors": cache(["x"]),
         "cache/old_0800x0800_qi.safetensors": cache(["latents_1x128x128_bfloat16"]),
         "cache/old_qi_te.safetensors": cache(["x"]),
         "cache/b_1_1200x0800_qi.safetensors": cache(["latents_1x104x156_bfloat16"])}

# Every RM code, message for message. The figures (listed images, drops, items, batches, steps, the exceptions
# and their messages) are the musubi oracle's on the same trees (musubi-tuner 30c658c, qi unless named).
CASES = [
    row("drops", tree(**{"img/nocap.png": Img((300, 200)), "img/c.Png": Img((30, 20)), "img/gone.txt": "x",
                         "img/.hidden.png": Img((64, 64)), "img/.hidden.txt": "h", "img/sub/x.png": Img((64, 64)),
                         "img/sub/x.txt": "x"}), launch(),
        F("RM002", "info", "img", "1 image has no .txt caption and is left out: nocap.png"),
        F("RM003", "warning", "img/.hidden.png", "never listed: the glob '*' does not match names starting with '.'"),
        F("RM003", "warning", "img/c.Png", "never listed: extension '.Png': only all-lower or all-upper case is "
                                           "globbed"),
        F("RM003", "warning", "img/sub", "never listed: 1 image in a nested folder: image_directory is not searched "
                                         "recursively"),
        F("RM004", "info", "img/gone.txt", "caption without an image: no image named gone.*"),
        F("RM007", "warning", "img/a.jpg", "2 images share the text-encoder cache a_qi_te.safetensors: a.jpg, a.png"),
        F("RM012", "error", "ds.toml", NO_ITEMS.format(n=9)), No("RM008"), No("RM014"),
        facts={"crash.code": "RM012", "musubi.after_caching_steps.max_train_steps": 60,
               "musubi.from_caches_steps": None, "verdict.ok": False}),
    row("caches", tree(**STALE), launch(),
        F("RM008", "warning", "cache", "1 latent cache has no _qi_te.safetensors and is skipped: "
                                       "b_1_1200x0800_qi.safetensors"),
        F("RM009", "warning", "cache", "1 cache of images not in the dataset (now) still train: "
                                       "old_0800x0800_qi.safetensors"),
        F("RM010", "warning", "cache", "1 latent cache was made for another bucket: a_1024x1024_qi.safetensors"),
        F("RM014", "warning", "img", "dataset 0: the caches on disk train 6 items in 3 batches, after caching 9 items "
                                     "in 6 batches"), No("RM012"),
        facts={"crash": None, "musubi.from_caches_steps.max_train_steps": 30,
               "musubi.after_caching_steps.max_train_steps": 60, "verdict.ok": True}),
    row("stray-cache", tree(**{"cache/notes_qi.safetensors": "x"}), launch(),
        F("RM011", "error", "cache/notes_qi.safetensors", "training start stops: ValueError: invalid literal for "
                                                          "int() with base 10: 'notes'"), No("RM012"),
        facts={"crash.stage": "build_dataset", "crash.exception": "ValueError"}),
    row("no-caption-extension", tree(cap=""), launch("qwen_image_cache_latents.py"),
        F("RM005", "error", "img/a.jpg", "caption_extension is not set: cache_latents stops at the first image with "
                                         "FileNotFoundError: ''"),
        facts={"crash.code": "RM005", "crash.message": "[Errno 2] No such file or directory: ''"}),
    row("shared-cache-dir", tree(extra='\n[[datasets]]\nimage_directory = "{root}/img2"\ncache_directory = '
                                       '"{root}/cache"\n', **{"img2/z.png": Img((64, 64))}), launch(),
        F("RM001", "error", "ds.toml", "ValueError: " + SHARED), No("RM007"),
        facts={"crash.stage": "config", "crash.message": SHARED}),
    row("bad-image", tree(**{"img/bad.png": b"not a png", "img/bad.txt": "x"}), launch("qwen_image_cache_latents.py"),
        F("RM006", "error", "img/bad.png", "cache_latents stops here: UnidentifiedImageError: cannot identify image "
                                           "file '{root}/img/bad.png'"),
        facts={"crash.stage": "cache_latents", "crash.exception": "UnidentifiedImageError"}),
    row("zero-bucket", tree(extra="bucket_no_upscale = true\n", **{"img/tiny.png": Img((8, 8)), "img/tiny.txt": "t"}),
        launch("qwen_image_cache_latents.py"),
        F("RM006", "error", "img/tiny.png", "cache_latents stops here: cv2.error: " + CV2),
        facts={"crash.message": CV2, "musubi.after_caching_steps.max_train_steps": 80}),
    row("batch-size-0", tree(extra="batch_size = 0\n"), launch(),
        F("RM013", "info", "img", "dataset 0: batch_size 0: not simulated (musubi divides by it or enumerates buckets "
                                  "up to it; give a value in range)"),
        facts={"crash": None, "verdict.ok": None}),
    row("resolution-10**29", tree(extra="resolution = [" + "1" + "0" * 29 + ", 1024]\n"), launch(),
        F("RM013", "info", "img", "dataset 0: resolution [" + "1" + "0" * 29 + ", 1024] (each side 1..32768): not "
                                  "simulated (musubi divides by it or enumerates buckets up to it; give a value in "
                                  "range)")),
    row("long-caption", tree(**{"img/a.txt": "a photo of sks dog, " + "x" * (100 << 10)}), launch(),
        F("RM015", "warning", "img", "2 images have captions absurdly long, up to 102420 bytes (a.jpg, a.png); "
                                     "regaudit reads only the first 64 KiB of each, musubi all of it")),
    row("video", tree(extra='\n[[datasets]]\nvideo_directory = "{root}/vid"\ncache_directory = "{root}/vcache"\n'),
        launch("wan_train_network.py"),
        F("RM013", "info", "vid", "dataset 1: video dataset: not simulated yet"), No("RM012"),
        facts={"crash": None, "verdict.ok": None, "musubi.after_caching_steps": None}),
]


@pytest.mark.parametrize("case", CASES)
def test_musubi_findings(case, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_case(case, tmp_path, capsys, monkeypatch)


@pytest.mark.parametrize("resolution, area", [("16", 256), ("[31, 31]", 961), ("true", 1), ("0", 0), ("[0, 0]", 0)])
def test_a_resolution_under_two_bucket_steps_divides_by_zero(tmp_path, capsys, monkeypatch, resolution, area):
    # musubi oracle (qi, enable_bucket): BucketSelector.__init__ raises "ZeroDivisionError: integer division or
    # modulo by zero" (dataset/bucket.py:97, bucket_area // w with w = 0) for resolution 16, [31, 31] and true;
    # 32 buckets. Latent caching and prepare_for_training build it first; the text-encoder caching does not.
    t = tree(extra=f"resolution = {resolution}\n")
    doc = balance(tmp_path / "train", capsys, monkeypatch, t)
    assert (doc["crash"]["stage"], doc["crash"]["code"], doc["crash"]["exception"]) == \
        ("build_dataset", "RM016", "ZeroDivisionError")
    rm016 = [f for f in doc["findings"] if f["code"] == "RM016"]
    assert len(rm016) == 1 and f"int(sqrt({area})) // 2 rounded down to the step 16, is 0" in rm016[0]["message"]
    assert "at least 32 a side" in rm016[0]["message"]
    latents = balance(tmp_path / "lat", capsys, monkeypatch, t, "qwen_image_cache_latents.py")
    assert (latents["crash"]["stage"], latents["crash"]["exception"]) == ("cache_latents", "ZeroDivisionError")
    te = balance(tmp_path / "te", capsys, monkeypatch, t, "qwen_image_cache_text_encoder_outputs.py")
    assert te["crash"] is None and te["verdict"]["ok"] is True
    assert te["verdict"]["text"].endswith("(after caching: training then stops: ZeroDivisionError: integer division "
                                          "or modulo by zero)")
    ok = balance(tmp_path / "ok", capsys, monkeypatch, tree(extra="resolution = 32\n"))
    assert "RM016" not in codes(ok)
