"""scan, check and report on a pasted musubi-tuner command (balance: tests/rules/test_musubi.py).
Figures are the musubi oracle's on the same trees (musubi-tuner 30c658c, qi, --max_train_epochs 10)."""

from __future__ import annotations

import json
import os
from xml.etree import ElementTree as ET

import pytest

pytest.importorskip("toml")

from regaudit.cli import main  # noqa: E402
from tests.rules.cli_table import Img, build  # noqa: E402
from tests.rules.test_musubi import cache, tree  # noqa: E402
from tests.views.test_musubi import FRESH  # noqa: E402

SCRIPT = ["accelerate", "launch", "src/musubi_tuner/qwen_image_train_network.py"]


@pytest.fixture
def ds(tmp_path, monkeypatch):
    """No caches yet, one image without a caption, one mixed-case extension: RM012 error, RM003 and RM007
    warnings, RM002 info."""
    build(tmp_path, tree(**{"img/nocap.png": Img((300, 200)), "img/c.Png": Img((30, 20))}))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    return tmp_path


def run(capsys, *argv):
    code = main([*argv, *SCRIPT, "--dataset_config", "ds.toml", "--max_train_epochs", "10"])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_scan_says_the_verdict_first_then_what_musubi_uses_and_leaves_out(ds, capsys):
    code, out, _ = run(capsys, "scan", "--images")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("✗ qwen_image_train_network.py finds no training items ('No training items")
    text = " ".join(out.split())
    assert "3 images used (3 with a caption), 2 files left out, 3 repeats, batch size 2" in text
    assert "a.jpg 512x768 → bucket 832x1248 a_0512x0768_qi.safetensors 'a photo of sks dog\\nsecond line kept'" in text
    assert f"left out (no-caption): {os.path.join(f'{ds}/img', 'nocap.png')}" in text
    assert "left out (extension-case):" in text and "RM012 error" in text


def test_scan_json_is_the_musubi_document(ds, capsys):
    code, out, _ = run(capsys, "scan", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["command"] == "scan" and doc["script"] == "qwen_image_train_network.py"
    d = doc["musubi"]["datasets"][0]
    assert [os.path.basename(i["path"]) for i in d["images"]] == ["a.jpg", "a.png", "b_1.jpg"]
    assert sorted((os.path.basename(x["path"]), x["reason"]) for x in d["dropped"]) == [
        ("c.Png", "extension-case"), ("nocap.png", "no-caption")]
    assert doc["verdict"]["ok"] is False and doc["crash"]["code"] == "RM012"


def test_check_gates_on_musubi_findings(ds, capsys, tmp_path):
    code, out, _ = run(capsys, "check")
    assert code == 1
    assert out.splitlines()[0].startswith("✗ qwen_image_train_network.py finds no training items")  # the verdict first
    assert "regaudit check (musubi; policy: built-in default; fail-on error) — 1 error" in out
    assert "FAILED: 1 finding(s)" in out
    assert run(capsys, "check", "--fail-on", "never")[0] == 0
    policy = tmp_path / "p.yaml"
    policy.write_text("rules:\n  RM012: off\n")
    assert run(capsys, "check", "--policy", str(policy))[0] == 0  # the rest are warnings and info
    assert run(capsys, "check", "--policy", str(policy), "--fail-on", "warning")[0] == 1
    policy.write_text("rules:\n  musubi-no-training-items: warning\n  RM003: off\n  RM007: off\nfail-on: warning\n"
                      "training: {resolution: 512}\n")
    code, out, err = run(capsys, "check", "--policy", str(policy), "--json")
    assert "the policy's training and caption-extension are sd-scripts options" in err
    doc = json.loads(out)
    assert code == 1 and doc["ran"] == ["musubi"] and doc["balance"] is None
    assert [(f["code"], f["severity"]) for f in doc["findings"]] == [("RM012", "warning"), ("RM002", "info")]
    assert doc["musubi"]["crash"]["exception"] == "ValueError" and doc["musubi"]["ok"] is False
    assert doc["musubi"]["after_caching_steps"]["max_train_steps"] == 60  # oracle: 9 items, 6 batches, 10 epochs


def test_check_passes_with_fresh_caches_and_every_format(tmp_path, capsys, monkeypatch):
    build(tmp_path, tree(**FRESH))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, out, _ = run(capsys, "check", "--json")
    assert code == 0 and json.loads(out)["musubi"]["from_caches_steps"]["max_train_steps"] == 60
    assert "✓ **musubi-tuner**: qwen\\_image\\_train\\_network\\.py trains from the caches on disk" in \
        summary.read_text(encoding="utf-8")
    code, out, _ = run(capsys, "check", "--format", "github", "--fail-on", "warning")
    assert code == 1  # RM007: a.jpg and a.png share a_qi_te.safetensors
    assert "::warning file=img/a.jpg,title=RM007 musubi-cache-name-shared::2 images share" in out
    code, out, _ = run(capsys, "check", "--format", "junit", "--fail-on", "warning")
    root = ET.fromstring(out.split("\n", 2)[2])
    suite = next(s for s in root if s.get("name") == "RM007 musubi-cache-name-shared")
    assert code == 1 and suite.get("failures") == "1" and root.get("failures") == "1"


def test_check_output_never_goes_into_a_musubi_folder(ds, capsys):
    code, _, err = run(capsys, "check", "-o", "img/report.txt")
    assert code == 2 and not (ds / "img" / "report.txt").exists() and "img" in err
    code, _, _ = run(capsys, "check", "-o", "out.txt")
    text = (ds / "out.txt").read_text(encoding="utf-8")
    assert code == 1 and text.startswith("✗ qwen_image_train_network.py") and "\nregaudit check (musubi;" in text
    assert run(capsys, "check", "-o", "out.txt")[0] == 1  # (its own file, recognised: written again)


def test_report_writes_the_musubi_page(ds, capsys):
    code, _, err = run(capsys, "report", "-o", "r.html")
    page = (ds / "r.html").read_text(encoding="utf-8")
    assert code == 0 and "wrote r.html" in err and "3 thumbnails" in err
    assert "<section id=musubi>" in page and "after caching now — " not in page
    assert "<th>from the caches that exist — No training items found</th>" in page
    assert page.count('<img src="data:image/webp;base64,') == 3
    assert "nocap.png</td><td>no-caption</td>" in page
    assert run(capsys, "report", "-o", "cache/r.html")[0] == 2 and not (ds / "cache" / "r.html").exists()


def test_a_video_dataset_is_said_not_simulated(tmp_path, capsys, monkeypatch):
    extra = '\n[[datasets]]\nvideo_directory = "{root}/vid"\ncache_directory = "{root}/vcache"\n'
    build(tmp_path, tree(extra=extra))
    monkeypatch.chdir(tmp_path)
    code = main(["scan", "python", "src/musubi_tuner/wan_train_network.py", "--dataset_config", "ds.toml"])
    out, _ = capsys.readouterr()
    assert code == 0
    text = " ".join(out.split())
    assert text.startswith("? wan_train_network.py: not known — 1 dataset (video, JSONL, control or multiple-target)")
    assert "dataset 1: " in text and "video dataset: not simulated yet" in text and "RM013 info" in text


def test_commands_that_do_not_read_musubi_say_which_do(ds, capsys):
    code, _, err = run(capsys, "dupes")
    assert code == 2
    assert "is a musubi-tuner script: 'regaudit scan', 'balance', 'check' and 'report' read musubi commands" in \
        " ".join(err.split())


def test_a_stray_cache_stops_check_with_its_exception(ds, capsys):
    (ds / "cache" / "notes_qi.safetensors").write_bytes(cache(["x"]))
    code, out, _ = run(capsys, "check", "--format", "json")
    doc = json.loads(out)
    # oracle: ValueError: invalid literal for int() with base 10: 'notes' while the trainer builds its dataset
    assert code == 1 and doc["musubi"]["crash"]["code"] == "RM011"
    assert doc["musubi"]["verdict"] == ("qwen_image_train_network.py stops at training start on notes_qi.safetensors: "
                                        "ValueError: invalid literal for int() with base 10: 'notes'")
