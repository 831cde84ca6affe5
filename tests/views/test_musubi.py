"""views.musubi: the verdict line of a musubi-tuner command (both answers), the folders no output may
enter, and the HTML page (render/html_musubi.py). Figures are the musubi oracle's on the same trees
(../shared/oracle-musubi, musubi-tuner 30c658c, architecture qi, --max_train_epochs 10)."""

from __future__ import annotations

import os

import pytest

pytest.importorskip("toml")

from regaudit.render import html_musubi  # noqa: E402
from regaudit.views import musubi  # noqa: E402
from tests.rules.cli_table import Img, build  # noqa: E402
from tests.rules.test_musubi import STALE, cache, tree  # noqa: E402

FRESH = {"cache/a_0512x0768_qi.safetensors": cache(["latents_1x156x104_bfloat16"]),
         "cache/a_1024x1024_qi.safetensors": cache(["latents_1x128x128_bfloat16"]),
         "cache/a_qi_te.safetensors": cache(["x"]),
         "cache/b_1_1200x0800_qi.safetensors": cache(["latents_1x104x156_bfloat16"]),
         "cache/b_1_qi_te.safetensors": cache(["x"])}


def result(tmp_path, t, script="qwen_image_train_network.py", *extra):
    build(tmp_path, t)
    argv = [f"src/musubi_tuner/{script}"] if script else []
    return musubi.musubi_balance(["accelerate", "launch", *argv, "--dataset_config", str(tmp_path / "ds.toml"),
                                  "--max_train_epochs", "10", *extra], None)


def test_fresh_caches_train_as_after_caching(tmp_path):
    # oracle: from the caches on disk and after caching alike 9 items, 6 batches, 60 steps
    assert musubi.verdict(result(tmp_path, tree(**FRESH))) == (
        True, "qwen_image_train_network.py trains from the caches on disk: 9 items, 6 batches per epoch, 60 steps "
              "(10 epochs)")


def test_caches_behind_the_dataset_give_both_answers(tmp_path):
    t = tree(**{"cache/a_1024x1024_qi.safetensors": cache(["latents_1x128x128_bfloat16"]),
                "cache/a_qi_te.safetensors": cache(["x"])})
    # oracle: the caches on disk train 3 items (2 batches, 20 steps); after caching 9 items (6 batches, 60 steps)
    assert musubi.verdict(result(tmp_path, t)) == (
        True, "qwen_image_train_network.py trains from the caches on disk: 3 items, 2 batches per epoch, 20 steps "
              "(10 epochs); after caching now: 9 items, 6 batches per epoch, 60 steps (10 epochs) (run the caching "
              "scripts first)")


def test_no_caches_is_no_training_items(tmp_path):
    ok, text = musubi.verdict(result(tmp_path, tree(), None, "--architecture", "qwen_image"))
    assert not ok
    assert text == ("musubi-tuner (qi, train_network) finds no training items ('No training items found'): the caches "
                    "on disk hold no latent + text-encoder pair; after caching now 9 items would train")


def test_a_caching_script_caches_or_stops(tmp_path):
    assert musubi.verdict(result(tmp_path / "ok", tree(), "qwen_image_cache_latents.py")) == (
        True, "qwen_image_cache_latents.py caches 3 images (after caching: 9 items train)")
    bad = result(tmp_path / "bad", tree(**{"img/bad.png": b"not a png", "img/bad.txt": "x"}),
                 "qwen_image_cache_text_encoder_outputs.py")
    assert musubi.verdict(bad)[0] is True  # the text-encoder script never opens an image
    bad = result(tmp_path / "bad2", tree(**{"img/bad.png": b"not a png", "img/bad.txt": "x"}),
                 "qwen_image_cache_latents.py")
    assert musubi.verdict(bad) == (False, f"qwen_image_cache_latents.py stops at bad.png: UnidentifiedImageError: "
                                          f"cannot identify image file '{tmp_path / 'bad2' / 'img' / 'bad.png'}'")


def test_a_video_dataset_leaves_the_verdict_open(tmp_path):
    extra = '\n[[datasets]]\nvideo_directory = "{root}/vid"\ncache_directory = "{root}/vcache"\n'
    ok, text = musubi.verdict(result(tmp_path, tree(extra=extra), "wan_train_network.py"))
    assert musubi.verdict(result(tmp_path / "c", tree(extra=extra), "wan_cache_latents.py")) == (
        None, "wan_cache_latents.py caches 3 images (after caching: 9 items train); 1 dataset (video, JSONL, control "
              "or multiple-target) not simulated yet")
    assert ok is None
    assert text == ("wan_train_network.py: not known — 1 dataset (video, JSONL, control or multiple-target) not "
                    "simulated yet; the image datasets train 0 items from the caches on disk, 9 items after caching now")


def test_outputs_stay_out_of_every_folder_the_config_names(tmp_path):
    r = result(tmp_path, tree())
    assert musubi.folders(r) == [str(tmp_path / "ds.toml"), f"{tmp_path}/img", f"{tmp_path}/cache"]


def test_the_page_has_both_answers_drops_and_stale_caches(tmp_path):
    r = result(tmp_path, tree(**STALE, **{"img/nocap.png": Img((300, 200))}))
    page = html_musubi.render(musubi.document(r, "report"), "regaudit report ...", {})
    assert page.startswith("<!DOCTYPE html>") and "<section id=musubi>" in page and "</html>" in page
    assert "<p class=answer>✓ qwen_image_train_network.py trains from the caches on disk: 6 items, 3 batches" in page
    # the steps table: after caching 6 batches / 60 steps, from the caches 3 batches / 30 steps (oracle)
    assert "<tr><th>batches per epoch</th><td>6</td><td>3</td></tr>" in page
    assert "<tr><th>steps</th><td>60 (max_train_epochs)</td><td>30 (max_train_epochs)</td></tr>" in page
    assert "<tr><th>bucket 1024×1024</th><td>3 items, 2 batches</td><td>6 items, 3 batches</td></tr>" in page
    assert "<code>a_1024x1024_qi.safetensors</code>" in page.split("class=musubi-stale>")[1].split("</p>")[0]
    assert "old_0800x0800_qi.safetensors" in page.split("class=musubi-orphans>")[1].split("</p>")[0]
    assert "b_1_1200x0800_qi.safetensors" in page.split("class=musubi-skipped>")[1].split("</p>")[0]
    assert f"<td class=path>{os.path.join(f'{tmp_path}/img', 'nocap.png')}</td><td>no-caption</td>" in page
    assert "RM010 musubi-stale-latent" in page


def test_the_page_names_the_crash_and_escapes_names(tmp_path):
    r = result(tmp_path, tree(**{"cache/notes_qi.safetensors": "x", "img/x'&y.png": Img((64, 64)),
                                 "img/x'&y.txt": "<script>"}))
    page = html_musubi.render(musubi.document(r, "report"), "regaudit report", {})
    assert "data-trains=0" in page
    assert "Training start stops on" in page and "invalid literal for int() with base 10: &#x27;notes&#x27;" in page
    assert "x'&y.png" not in page and "x&#x27;&amp;y.png" in page
    assert "<script>" not in page and "&lt;script&gt;" in page
