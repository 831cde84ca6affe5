"""Wiring: exit codes, one-line errors, the JSON contracts, and that nothing in the dataset changes."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from regaudit.cli import app, main
from regaudit.rules import REGISTRY
from tests.conftest import build_tree, make_image, tree_fingerprint
from tests import platforms


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def demo(tmp_path):
    build_tree(tmp_path, {"train/10_sks dog": 3, "reg/1_dog": 4}, size=(64, 48))
    make_image(tmp_path / "train" / "10_sks dog" / "rot.jpg", exif_orientation=6)
    (tmp_path / "train" / "10_sks dog" / "img0000.txt").write_text("a photo of sks dog")
    (tmp_path / "reg" / "1_dog" / "img0001.caption").write_bytes(b"")
    (tmp_path / "reg" / "1_dog" / "zero.png").write_bytes(b"")
    (tmp_path / "reg" / "1_dog" / "bad.caption").write_bytes(b"\xff\xfe")
    make_image(tmp_path / "reg" / "1_dog" / "bad.png")
    make_image(tmp_path / "train" / "5 cat" / "c.png")
    return tmp_path


def test_scan_json_contract(capsys, demo):
    before = tree_fingerprint(demo)
    code, out, err = run(capsys, "scan", "--train", str(demo / "train"), "--reg", str(demo / "reg"), "--json",
                         "--deep")
    assert code == 0 and "Traceback" not in err
    doc = json.loads(out)
    assert doc["schema_version"] == 1
    assert {"subsets", "ignored", "findings"} <= set(doc)
    sub = doc["subsets"][0]
    assert {"path", "role", "num_repeats", "class_tokens", "image_count", "images"} <= set(sub)
    assert sub["role"] == "train" and sub["num_repeats"] == 10 and sub["class_tokens"] == "sks dog"
    assert sub["image_count"] == 4
    im = sub["images"][0]
    assert {"path", "width", "height", "format", "caption_source", "caption_path", "caption"} <= set(im)
    assert all(os.path.isabs(i["path"]) for s in doc["subsets"] for i in s["images"])
    assert all(os.path.isabs(i["path"]) for i in doc["ignored"])
    assert all(os.path.isabs(f["path"]) for f in doc["findings"])
    assert {f["severity"] for f in doc["findings"]} <= {"error", "warning", "info"}
    assert {"code", "severity", "path", "message", "hint"} <= set(doc["findings"][0])
    codes = {f["code"] for f in doc["findings"]}
    assert {"RA001", "RA020", "RA021", "RA026", "RA040", "RA044"} <= codes
    assert {i["kind"] for i in doc["ignored"]} <= {"dir", "file"}
    assert tree_fingerprint(demo) == before  # read-only


def test_scan_human_output(capsys, demo):
    code, out, _ = run(capsys, "scan", str(demo / "train"))
    assert code == 0 and "sks dog" in out and "RA001" in out and "10_dog" not in out


@pytest.mark.parametrize("argv, needle", [
    (["scan"], "nothing to read"),
    (["balance", "--train", ".", "--trainer", "nope"], "--trainer"),
    (["balance", "--train", ".", "--max_train_epochs", "-1"], "--max_train_epochs"),
    (["balance", "--train", ".", "--resolution", "100000000"], "--resolution"),
    (["balance", "a", "b"], "unexpected argument"),
    (["balance", "--train", ".", "--trainer", "sdxl_train", "train_network.py"], "disagrees"),
    (["rules", "RA999"], "unknown rule"),
])
def test_usage_errors_exit_2_with_one_line(capsys, argv, needle):
    code, out, err = run(capsys, *argv)
    assert code == 2 and needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv, code, exception", [
    # sd-scripts' own stops are results, not usage errors (oracle runs, sd-scripts 48d368f):
    # a missing --dataset_config -> ValueError while building; --resolution big -> ValueError in
    # prepare_dataset_args; an unknown option -> argparse exits 2 before anything else
    (["--dataset_config", "/nonexistent.toml", "--resolution", "512"], "RA091", "ValueError"),
    (["--train_data_dir", ".", "--resolution", "big"], "RA077", "ValueError"),
    (["--train_data_dir", ".", "--resolution", "512", "--resolutoin", "512"], "RA077", "SystemExit"),
    (["--train_data_dir", ".", "--resolution", "512", "--max_train", "5"], "RA077", "SystemExit"),
])
def test_sd_scripts_stops_are_reported_as_crashes(capsys, argv, code, exception):
    rc, out, err = run(capsys, "balance", "--json", *argv)
    doc = json.loads(out)
    assert rc == 0 and doc["would_crash"] and doc["crash"]["code"] == code
    assert doc["crash"]["exception"] == exception and doc["max_train_steps"] is None


def test_a_typo_in_the_only_source_is_shown_as_the_stop(capsys, tmp_path):
    rc, out, _ = run(capsys, "scan", "--json", "--train_dta_dir", str(tmp_path))
    doc = json.loads(out)
    assert rc == 0 and any(f["code"] == "RA077" and "--train_data_dir" in f["message"] for f in doc["findings"])


def test_unknown_option_names_the_closest_real_one(capsys, tmp_path):
    rc, out, _ = run(capsys, "balance", "--json", "--train_data_dir", str(tmp_path), "--resolutoin", "512")
    crash = json.loads(out)["crash"]
    assert crash["stage"] == "start" and "--resolution" in crash["message"] and "--resolutoin" in crash["message"]


def test_missing_roots_follow_sd_scripts(capsys, tmp_path):
    # a missing reg root: sd-scripts trains without reg images; a missing train root (or a file):
    # 'No data found', a clean stop (spec §10.9)
    (tmp_path / "f").write_text("x")
    rc, out, _ = run(capsys, "scan", "--json", str(tmp_path / "f"))
    doc = json.loads(out)
    assert rc == 0 and any(f["code"] == "RA011" and "not a folder" in f["message"] for f in doc["findings"])
    rc, out, _ = run(capsys, "balance", "--json", "--train", str(tmp_path / "nope"), "--resolution", "512")
    doc = json.loads(out)
    assert rc == 0 and doc["no_data"] and not doc["would_crash"]


def test_balance_json_contract_and_pasted_command(capsys, demo):
    tree_fingerprint(demo)
    (demo / "reg" / "1_dog" / "img0001.caption").unlink()
    (demo / "reg" / "1_dog" / "bad.caption").unlink()
    code, out, err = run(capsys, "balance", "--train_data_dir", str(demo / "train"), "--reg_data_dir",
                         str(demo / "reg"), "--resolution", "512", "--enable_bucket", "--network_dim", "32",
                         "--max_train_epochs", "2", "--json")
    assert code == 0 and "network_dim" not in err  # train_network.py knows it: it passes quietly
    doc = json.loads(out)
    assert doc["schema_version"] == 1 and {"max_train_steps", "datasets", "findings"} <= set(doc)
    d = doc["datasets"][0]
    assert {"num_train_images", "num_reg_images", "reg_samples_used", "batches_per_epoch", "images",
            "unused_reg_images", "buckets"} <= set(d)
    # the zero-byte reg image is registered (40 train samples > 6 reg), so sd-scripts would crash
    assert d["num_train_images"] == 40 and d["num_reg_images"] == 6
    assert doc["would_crash"] and doc["max_train_steps"] is None
    assert doc["crash"]["stage"] == "build" and doc["crash"]["exception"] == "ZeroDivisionError"
    assert "RA063" in {f["code"] for f in doc["findings"]}
    (demo / "reg" / "1_dog" / "zero.png").unlink()
    code, out, _ = run(capsys, "balance", "--train", str(demo / "train"), "--reg", str(demo / "reg"),
                       "--resolution", "512", "--enable_bucket", "--max_train_epochs", "2", "--json")
    doc = json.loads(out)
    d = doc["datasets"][0]
    assert d["reg_samples_used"] == 40 and d["batches_per_epoch"] == 80 and doc["max_train_steps"] == 160
    assert all({"path", "is_reg", "num_repeats", "bucket"} <= set(i) for i in d["images"])
    assert {"resolution", "train", "reg", "batches"} <= set(d["buckets"][0])
    assert sorted(i["num_repeats"] for i in d["images"] if i["is_reg"]) == [8, 8, 8, 8, 8]


def test_balance_reads_config_file(capsys, demo, tmp_path):
    for f in ("img0001.caption", "bad.caption", "zero.png"):
        (demo / "reg" / "1_dog" / f).unlink()
    cfg = tmp_path / "args.toml"
    cfg.write_text(f"[model]\npretrained_model_name_or_path = 'x'\n[dataset]\ntrain_data_dir = '{demo}/train'\n"
                   f"resolution = '512,512'\nenable_bucket = true\ntrain_batch_size = 4\n")
    code, out, err = run(capsys, "balance", "--config_file", str(cfg), "--json")
    doc = json.loads(out)
    assert code == 0 and doc["datasets"][0]["batch_size"] == 4 and doc["batches_per_epoch"] == 10


def test_balance_suggest(capsys, tmp_path):
    build_tree(tmp_path, {"train/10_sks dog": 5, "reg/10_dog": 100}, size=(8, 8))
    code, out, _ = run(capsys, "balance", "--train", str(tmp_path / "train"), "--reg", str(tmp_path / "reg"),
                       "--resolution", "512", "--suggest", "--json")
    sugg = json.loads(out)["suggestions"]
    assert any(s["change"] == "rename '10_dog' to '1_dog'" for s in sugg)
    assert any(s["change"] == "rename '10_sks dog' to '200_sks dog'" for s in sugg)


def test_rules_listing_and_explain(capsys):
    code, out, _ = run(capsys, "rules", "--json")
    assert code == 0 and {r["code"] for r in json.loads(out)} == set(REGISTRY)
    code, out, _ = run(capsys, "rules", "exif-rotated")
    assert code == 0 and "RA044" in out and "Why it matters" in out


def test_every_command_has_help(capsys):
    import typer.main

    for name in typer.main.get_command(app).commands:
        code, out, _ = run(capsys, name, "--help")
        assert code == 0 and "Usage" in out


def test_python_dash_m(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "regaudit", "rules"], capture_output=True, text=True)
    assert proc.returncode == 0 and "RA001" in proc.stdout


def test_odd_file_names_and_folder_spellings(capsys, tmp_path):
    import os as _os

    d = tmp_path / "train" / "2_x"
    make_image(d / "ok.png")
    make_image(tmp_path / "elsewhere.png")
    bad = _os.fsencode(str(d)) + b"/caf\xe9.png"  # not valid UTF-8
    with open(bad, "wb") as fh:
        fh.write((tmp_path / "elsewhere.png").read_bytes())
    code, out, err = run(capsys, "scan", str(tmp_path / "train") + "//", "--json")
    assert code == 0 and "Traceback" not in err
    doc = json.loads(out)
    assert doc["subsets"][0]["image_count"] == 2
    code, out, err = run(capsys, "scan", str(tmp_path / "train"))
    assert code == 0 and "Traceback" not in err


def test_caption_extention_alias_wins(capsys, tmp_path):
    make_image(tmp_path / "train" / "1_x" / "a.png")
    (tmp_path / "train" / "1_x" / "a.txt").write_text("from txt")
    code, out, _ = run(capsys, "scan", str(tmp_path / "train"), "--caption_extention", "txt",
                       "--caption_extension", ".caption", "--json")
    assert json.loads(out)["subsets"][0]["images"][0]["caption"] == "from txt"


@platforms.permissions
def test_unreadable_files_are_findings(capsys, tmp_path):
    d = tmp_path / "train" / "1_x"
    make_image(d / "a.png")
    make_image(d / "b.png")
    (d / "b.caption").write_text("x")
    os.chmod(d / "a.png", 0)
    os.chmod(d / "b.caption", 0)
    try:
        code, out, _ = run(capsys, "scan", str(tmp_path / "train"), "--json")
    finally:
        os.chmod(d / "a.png", 0o644)
        os.chmod(d / "b.caption", 0o644)
    codes = {f["code"] for f in json.loads(out)["findings"]}
    assert code == 0 and {"RA041", "RA022"} <= codes


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pseudo-terminal")
@pytest.mark.parametrize("command", [["scan"], ["dupes", "--no-cache"]])
def test_progress_bars_on_a_terminal(command):
    """With stderr on a terminal the progress bars are drawn (rich's Progress takes the real
    console, not regaudit's lazy stand-in), and the command ends as without them."""
    import pty

    main_fd, sub_fd = pty.openpty()
    try:
        env = {**os.environ, "COLUMNS": "100"}
        fixtures = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "fixtures")
        proc = subprocess.run([sys.executable, "-m", "regaudit", *command, "--train", f"{fixtures}/train",
                               "--reg", f"{fixtures}/reg", "--json"], stdout=subprocess.PIPE, stderr=sub_fd,
                              env=env, timeout=120)
        os.close(sub_fd)
        sub_fd = -1
        drawn = b""
        while True:
            try:
                chunk = os.read(main_fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(main_fd)
        if sub_fd >= 0:
            os.close(sub_fd)
    assert proc.returncode == 0, drawn.decode(errors="replace")
    assert b"internal error" not in drawn and b"Traceback" not in drawn
    assert json.loads(proc.stdout)["schema_version"] == 1
    assert b"images" in drawn  # the bar's label
