"""regaudit smoke on the CPU: the weighted step passes its checks, and a broken weighting is caught."""

from __future__ import annotations

import json
import sys

import pytest

torch = pytest.importorskip("torch")

from regaudit.views.balance import BalanceOptions, plan  # noqa: E402
from regaudit.cli import main  # noqa: E402
from regaudit.sdscripts.config import TrainingArgs  # noqa: E402
from regaudit.views.scan import load_specs, scan  # noqa: E402
from regaudit.views.smoke import LossType, SmokeError, SmokeOptions, Weighting, run  # noqa: E402
from tests.conftest import textured  # noqa: E402


def tree(tmp_path, train_size=(64, 64), reg_size=(64, 64), reg=True):
    t = tmp_path / "train" / "2_sks dog"
    t.mkdir(parents=True)
    for k in range(3):
        textured(k, train_size).save(t / f"t{k}.png")
    if reg:
        r = tmp_path / "reg" / "1_dog"
        r.mkdir(parents=True)
        for k in range(4):
            textured(10 + k, reg_size).save(r / f"r{k}.png")
    return tmp_path


def smoke(root, plw=1.0, enable_bucket=False, reg=True, train_batch_size=4, **kw):
    args = TrainingArgs(resolution=(64, 64), enable_bucket=enable_bucket, min_bucket_reso=32, max_bucket_reso=128,
                        bucket_reso_steps=32 if enable_bucket else 64, train_batch_size=train_batch_size)
    specs = load_specs(str(root / "train"), str(root / "reg") if reg else None, None, args)
    from regaudit.sdscripts import trainers

    p = plan(scan(specs, jobs=1), BalanceOptions(prior_loss_weight=plw, trainer=trainers.get("sdxl_train_network")))
    return run(p, SmokeOptions(prior_loss_weight=plw, device="cpu", train_batch_size=train_batch_size, **kw))


def test_weighted_step_passes_every_check(tmp_path):
    res = smoke(tree(tmp_path), plw=0.5)
    assert res.passed, [c for c in res.checks if not c.passed]
    assert {c.name for c in res.checks} >= {"weights", "batch loss", "gradient", "prior weight 0",
                                            "prior weight doubled", "finite", "step", "diffusers comparison"}
    assert sorted((s.is_reg, s.weight) for s in res.samples) == [(False, 1.0), (False, 1.0), (True, 0.5), (True, 0.5)]
    manual = sum(s.weight * s.loss for s in res.samples) / len(res.samples)
    assert abs(manual - res.weighted_loss) < 1e-5 * res.weighted_loss
    assert "one bucket 64x64" in res.batch_note


def test_ignored_weights_are_caught(tmp_path):
    res = smoke(tree(tmp_path), plw=0.5, weighting=Weighting.IGNORED)
    failed = {c.name for c in res.checks if not c.passed}
    assert not res.passed and {"batch loss", "gradient", "prior weight 0"} <= failed


def test_prior_weight_zero(tmp_path):
    res = smoke(tree(tmp_path), plw=0.0)
    assert res.passed and all(s.weight == 0.0 for s in res.samples if s.is_reg)


@pytest.mark.parametrize("loss", list(LossType))
def test_loss_types(tmp_path, loss):
    assert smoke(tree(tmp_path), plw=2.0, loss_type=loss).passed


def test_bf16_autocast_on_cpu(tmp_path):
    res = smoke(tree(tmp_path), dtype="bf16")
    assert res.passed and res.dtype == "bf16"


def test_batch_composed_from_two_buckets(tmp_path):
    res = smoke(tree(tmp_path, train_size=(96, 48), reg_size=(48, 96)), enable_bucket=True)
    assert res.passed and "no bucket holds both" in res.batch_note
    assert {s.is_reg for s in res.samples} == {True, False}


def test_train_only(tmp_path):
    res = smoke(tree(tmp_path, reg=False), reg=False)
    assert res.passed and "no reg images" in res.batch_note


def test_nothing_to_train_on(tmp_path):
    root = tree(tmp_path)
    for f in (root / "train" / "2_sks dog").iterdir():
        f.unlink()
    with pytest.raises(SmokeError):
        smoke(root)


def test_cli_json_and_exit_codes(tmp_path, capsys, monkeypatch):
    root = tree(tmp_path)
    code = main(["smoke", "--train", str(root / "train"), "--reg", str(root / "reg"), "--resolution", "64",
                 "--prior_loss_weight", "0.25", "--device", "cpu", "--json"])
    out, _ = capsys.readouterr()
    doc = json.loads(out)
    assert code == 0 and doc["passed"] and doc["schema_version"] == 1
    assert {"device", "samples", "weighted_loss", "checks"} <= set(doc)
    assert all({"path", "is_reg", "weight", "loss"} <= set(s) for s in doc["samples"])
    assert all({"name", "passed", "detail"} <= set(c) for c in doc["checks"])
    code = main(["smoke", "--train", str(root / "train"), "--dtype", "fp16", "--device", "cpu"])
    assert code == 2 and "fp16 needs a CUDA device" in capsys.readouterr().err
    (root / "train" / "2_sks dog" / "t0.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 30)
    code = main(["smoke", "--train", str(root / "train"), "--resolution", "64", "--device", "cpu"])
    assert code == 2 and "would not start" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "torch", None)
    (root / "train" / "2_sks dog" / "t0.png").unlink()
    code = main(["smoke", "--train", str(root / "train"), "--resolution", "64"])
    assert code == 2 and "pip install 'regaudit[smoke]'" in capsys.readouterr().err


# --- the batch size comes from the command; broken images are the scan's findings, not the step's --------

def test_the_batch_size_is_the_datasets(tmp_path):
    """3 train x 2 repeats and 4 reg images land in one 64x64 bucket: a batch of train_batch_size samples."""
    res = smoke(tree(tmp_path), train_batch_size=2)
    assert (res.batch_size, len(res.samples), res.batch_source) == (2, 2, "sd-scripts' default, no --train_batch_size")
    assert sorted(s.is_reg for s in res.samples) == [False, True]
    res = smoke(tree(tmp_path / "b"), train_batch_size=2, batch_size=3)
    assert (res.batch_size, len(res.samples), res.batch_source) == (3, 3, "--batch-size")


def _cli(capsys, *argv):
    code = main(["smoke", *argv, "--resolution", "64", "--device", "cpu"])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_takes_train_batch_size_and_the_dataset_configs_batch_size(tmp_path, capsys):
    root = tree(tmp_path)
    code, out, _ = _cli(capsys, "--train", str(root / "train"), "--reg", str(root / "reg"), "--train_batch_size", "2",
                        "--json")
    doc = json.loads(out)
    assert code == 0 and (doc["batch_size"], doc["batch_size_from"], len(doc["samples"])) == (2, "--train_batch_size", 2)
    code, out, _ = _cli(capsys, "--train", str(root / "train"), "--reg", str(root / "reg"), "--train_batch_size", "2",
                        "--batch-size", "5", "--json")
    assert (json.loads(out)["batch_size"], len(json.loads(out)["samples"])) == (5, 5)
    cfg = tmp_path / "dataset.toml"
    cfg.write_text(f"""[general]
resolution = 64
[[datasets]]
batch_size = 3
[[datasets.subsets]]
image_dir = '{root / "train" / "2_sks dog"}'
num_repeats = 2
[[datasets.subsets]]
image_dir = '{root / "reg" / "1_dog"}'
is_reg = true
""", encoding="utf-8")
    code, out, _ = _cli(capsys, "--dataset_config", str(cfg), "--train_batch_size", "2", "--json")
    doc = json.loads(out)
    assert code == 0 and (doc["batch_size"], doc["batch_size_from"], len(doc["samples"])) == (
        3, "the dataset config's batch_size", 3)
    code, out, _ = _cli(capsys, "--train", str(root / "train"), "--reg", str(root / "reg"))
    flat = " ".join(out.split())
    assert code == 0 and "batch size 1 (sd-scripts' default, no --train_batch_size)" in flat
    assert "one training step of 1 sample on cpu" in flat
    assert "with batch size 1 each step holds one sample: a reg sample here" in flat
    # the kohya_ss GUI's TOML sets train_batch_size: the --config_file is named, not "sd-scripts' default"
    gui = tmp_path / "config_lora.toml"
    gui.write_text(f"train_data_dir = '{root / 'train'}'\nreg_data_dir = '{root / 'reg'}'\ntrain_batch_size = 2\n",
                   encoding="utf-8")
    code, out, _ = _cli(capsys, "--config_file", str(gui), "--json")
    doc = json.loads(out)
    assert code == 0 and (doc["batch_size"], doc["batch_size_from"], len(doc["samples"])) == (
        2, "train_batch_size in the --config_file", 2)


def test_a_broken_image_is_skipped_with_a_note_not_a_failure(tmp_path, capsys, monkeypatch):
    root = tree(tmp_path)
    t0 = root / "train" / "2_sks dog" / "t0.png"
    t0.write_bytes(t0.read_bytes()[:200])  # the header (64x64) reads; the pixels are cut: sd-scripts crashes loading it
    code, out, _ = _cli(capsys, "--train", str(root / "train"), "--reg", str(root / "reg"), "--train_batch_size", "4",
                        "--json")
    doc = json.loads(out)
    assert code == 0 and doc["passed"]
    (skip,) = doc["skipped"]
    assert skip["path"] == str(t0) and skip["code"] == "RA043" and skip["why"].startswith("OSError")
    assert "images load" not in {c["name"] for c in doc["checks"]}
    assert str(t0) not in {s["path"] for s in doc["samples"]}
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(root)
    code, out, _ = _cli(capsys, "--train", "train", "--reg", "reg", "--train_batch_size", "4")
    flat = " ".join(out.split())
    assert code == 0
    assert "skipped train/2_sks dog/t0.png: it fails to load" in flat and "already reported as RA043" in flat
    assert "PASSED" in flat and "FAILED" not in flat


def test_human_output_says_it_is_a_wiring_check_not_an_estimate(tmp_path, capsys, monkeypatch):
    root = tree(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")
    code, out, _ = _cli(capsys, "--train", str(root / "train"), "--reg", str(root / "reg"), "--train_batch_size", "4")
    lines = out.splitlines()
    assert code == 0
    assert lines[0].startswith("✓ the prior-loss-weighted step is wired as sd-scripts computes it (")  # the answer first
    assert lines[1].startswith("regaudit smoke: one training step of 4 samples on cpu")
    assert ("it checks the prior-loss-weighted step wiring (weights, loss, gradient) on a small stand-in model; it is "
            "not a speed or memory estimate for your model") in " ".join(out.split())
    assert any(ln.startswith("stand-in model's step: ") and "not your model" in ln for ln in lines)
    assert " ms" not in lines[1] and "MiB" not in lines[1]
