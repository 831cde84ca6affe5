"""regaudit check: policy validation, verdicts and exit codes, every output format (golden files)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from regaudit.cli import main
from regaudit.errors import ConfigError
from regaudit.views.policy import load
from tests.conftest import build_tree, make_image

GOLDEN = Path(__file__).parent / "golden"


@pytest.fixture
def dataset(tmp_path, monkeypatch):
    """A small tree with one error (RA006), one warning (RA044) and info findings; cwd is its parent."""
    build_tree(tmp_path, {"train/4_sks dog": 2, "reg/1_dog": 3}, size=(64, 64))
    make_image(tmp_path / "train" / "4_sks dog" / "phone.jpg", size=(64, 64), exif_orientation=6)
    make_image(tmp_path / "train" / "4_sks dog" / "camera.Jpg", size=(64, 64))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    return tmp_path


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write_policy(tmp_path, text):
    p = tmp_path / "policy.yaml"
    p.write_text(text)
    return str(p)


def test_default_gate_fails_on_error_only(capsys, dataset):
    code, out, _ = run(capsys, "check", "--train", "train", "--reg", "reg")
    assert code == 1 and "FAILED: 1 finding(s) at or above 'error'" in out
    code, out, _ = run(capsys, "check", "--train", "train", "--reg", "reg", "--fail-on", "never")
    assert code == 0 and "PASSED" in out


def test_levels_off_and_ignore(capsys, dataset):
    pol = write_policy(dataset, "fail-on: warning\nrules:\n  extension-case: off\n  RA044: info\n")
    code, out, _ = run(capsys, "check", "--train", "train", "--reg", "reg", "--policy", pol, "--format", "json")
    doc = json.loads(out)
    assert code == 0 and doc["passed"] and doc["fail_on"] == "warning"
    assert "RA006" not in {f["code"] for f in doc["findings"]}
    assert {f["severity"] for f in doc["findings"] if f["code"] == "RA044"} == {"info"}
    pol = write_policy(dataset, "fail-on: info\nignore: ['train/*']\n")
    code, out, _ = run(capsys, "check", "--train", "train", "--reg", "reg", "--policy", pol, "--format", "json")
    doc = json.loads(out)
    assert not [f for f in doc["findings"] if f["path"].startswith(str(dataset / "train") + "/")]


def test_policy_from_working_directory_and_cli_override(capsys, dataset):
    (dataset / "regaudit.yaml").write_text("fail-on: never\n")
    code, out, _ = run(capsys, "check", "--train", "train", "--format", "json")
    assert code == 0 and json.loads(out)["policy"] == "regaudit.yaml"
    code, _, _ = run(capsys, "check", "--train", "train", "--fail-on", "error", "--format", "json")
    assert code == 1


def test_training_section_runs_balance(capsys, dataset):
    pol = write_policy(dataset, "fail-on: never\ntraining: {resolution: 64, enable_bucket: true, "
                                "min_bucket_reso: 64, max_bucket_reso: 128, max_train_epochs: 2}\n")
    code, out, _ = run(capsys, "check", "--train", "train", "--reg", "reg", "--policy", pol, "--format", "json")
    doc = json.loads(out)
    assert doc["ran"] == ["scan", "balance"] and doc["balance"]["max_train_steps"] == 2 * (12 + 12)


def test_dupes_with_policy_options(capsys, dataset, tmp_path):
    import shutil

    shutil.copy(dataset / "train" / "4_sks dog" / "img0000.png", dataset / "reg" / "1_dog" / "leak.png")
    pol = write_policy(dataset, "rules:\n  near-duplicate: {max-distance: 4, hash: dhash}\n")
    code, out, _ = run(capsys, "check", "--train", "train", "--reg", "reg", "--policy", pol, "--dupes",
                       "--no-cache", "--format", "json")
    doc = json.loads(out)
    assert "dupes" in doc["ran"] and "RA080" in {f["code"] for f in doc["findings"]}


@pytest.mark.parametrize("text, needle", [
    ("fail_on: error\n", "unknown key 'fail_on'; allowed: fail-on, caption-extension"),
    ("fail-on: sometimes\n", "fail-on: 'sometimes' is not one of error, warning, info, never"),
    ("rules:\n  RA999: error\n", "rules: unknown rule 'RA999'"),
    ("rules:\n  RA001: fatal\n", "rules.RA001: level 'fatal' is not one of error, warning, info, off"),
    ("rules:\n  RA001: {max-distance: 3}\n", "rules.RA001: unknown option 'max-distance'; allowed: level"),
    ("rules:\n  near-duplicate: {max_distance: 3}\n", "unknown option 'max_distance'; allowed: level, max-distance"),
    ("rules:\n  near-duplicate: {max-distance: '3'}\n", "rules.near-duplicate.max-distance: '3' should be int"),
    ("training: {resolutoin: 512}\n", "training: unknown option 'resolutoin'"),
    ("training: {enable_bucket: 1}\n", "training.enable_bucket: 1 should be bool"),
    ("ignore: 'x'\n", "ignore must be a list of glob patterns"),
    ("rules: [1, 2]\n", "rules must be a mapping"),
    ("fail-on: [\n", "not valid YAML (line 2)"),
])
def test_policy_validation_is_precise(tmp_path, text, needle):
    p = tmp_path / "p.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load(str(p))
    assert needle in str(exc.value)


def test_bad_policy_exits_2(capsys, dataset):
    pol = write_policy(dataset, "rules:\n  RA999: off\n")
    code, _, err = run(capsys, "check", "--train", "train", "--policy", pol)
    assert code == 2 and "unknown rule 'RA999'" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "check", "--train", "train", "--policy", "missing.yaml")
    assert code == 2 and "policy file not found" in err


def _golden(name: str, text: str, root: Path) -> None:
    text = text.replace(str(root), "<ROOT>")
    if os.environ.get("REGAUDIT_UPDATE_GOLDEN"):  # after a deliberate change of the output
        (GOLDEN / name).write_text(text)
    assert text == (GOLDEN / name).read_text()


def test_github_format_golden_and_automatic(capsys, dataset, monkeypatch):
    code, out, _ = run(capsys, "check", "--train", "train", "--reg", "reg", "--format", "github")
    assert code == 1
    _golden("check_github.txt", out, dataset)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    code, auto, _ = run(capsys, "check", "--train", "train", "--reg", "reg")
    assert auto == out


def test_junit_format_golden(capsys, dataset):
    code, out, _ = run(capsys, "check", "--train", "train", "--reg", "reg", "--format", "junit", "--fail-on",
                       "warning")
    assert code == 1
    _golden("check_junit.xml", out, dataset)
    root = ET.fromstring(out.split("\n", 1)[1])
    assert root.get("failures") == "2"
    failed = [s.get("name") for s in root if s.get("failures") != "0"]
    assert failed == ["RA006 extension-case", "RA044 exif-rotated"]


def test_json_format_golden(capsys, dataset):
    code, out, _ = run(capsys, "check", "--train", "train", "--reg", "reg", "--format", "json")
    _golden("check.json", out, dataset)


def test_human_format_and_output_file(capsys, dataset):
    code, out, _ = run(capsys, "check", "--train", "train", "--reg", "reg", "--format", "junit", "-o", "r.xml")
    assert code == 1 and out == "" and (dataset / "r.xml").read_text().startswith("<?xml")
    code, out, _ = run(capsys, "check", "--train", "train", "--reg", "reg")
    assert "RA006" in out and "FAILED" in out


def test_check_and_report_leave_the_dataset_untouched(capsys, dataset):
    from tests.conftest import tree_fingerprint

    before = tree_fingerprint(dataset / "train"), tree_fingerprint(dataset / "reg")
    run(capsys, "check", "--train", "train", "--reg", "reg", "--dupes", "--deep", "--no-cache",
        "--resolution", "64", "--format", "junit", "-o", "out.xml")
    run(capsys, "report", "--train", "train", "--reg", "reg", "--resolution", "64", "--no-cache", "-o", "r.html")
    assert (tree_fingerprint(dataset / "train"), tree_fingerprint(dataset / "reg")) == before
