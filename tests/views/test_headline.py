"""The verdict every dataset command prints first (views/headline.py), stage by stage."""

from __future__ import annotations

import pytest

from regaudit.cli import main
from regaudit.cli.app import stdout as cli_stdout
from regaudit.views.headline import Stage
from tests.conftest import make_image


def first_line(capsys, monkeypatch, *argv: str) -> str:
    monkeypatch.setenv("COLUMNS", "1000")
    monkeypatch.setattr(cli_stdout, "_console", None)  # (a fresh console reads COLUMNS)
    main(list(argv))
    return capsys.readouterr().out.splitlines()[0]


@pytest.fixture
def dog(tmp_path, monkeypatch):
    for k in range(3):
        make_image(tmp_path / "train" / "10_sks dog" / f"d{k}.png", size=(64, 64))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_stops_at_start(capsys, monkeypatch, dog):
    line = first_line(capsys, monkeypatch, "balance", "--train_data_dir", "train", "--resolution", "512",
                      "--max_train_steps", "many")
    assert line.startswith("✗ train_network.py stops at start: SystemExit (RA077) — "), line


def test_stops_while_building_with_the_figures_once_fixed(capsys, monkeypatch, dog):
    (dog / "train" / "10_sks dog" / "d1.txt").write_text("")  # an empty caption file: AssertionError in the build
    for command in ("balance", "scan", "captions", "check"):
        line = first_line(capsys, monkeypatch, command, "--train_data_dir", "train", "--caption_extension", ".txt",
                          "--resolution", "64", "--max_train_steps", "100")
        # 3 images x 10 repeats at batch 1: 30 batches per epoch; 100 / 30 = 3.33 epochs
        assert line.startswith("✗ train_network.py stops while building the dataset: AssertionError (RA020) — "), line
        assert line.endswith("; once fixed: 100 steps = 3.33 epochs (30 batches per epoch); 1 error below"), line


def test_no_data(capsys, monkeypatch, dog):
    line = first_line(capsys, monkeypatch, "balance", "--train_data_dir", "train/10_sks dog", "--resolution", "64")
    assert line.startswith("✗ train_network.py stops after building the dataset: 'No data found'"), line


def test_headline_values(dog):
    from regaudit.views.headline import of_plan, of_scan
    from regaudit.views.balance import plan, with_disk_cache
    from regaudit.views.inputs import read_inputs
    from regaudit.views.scan import scan_inputs

    inp = read_inputs(["--train_data_dir", "train", "--resolution", "64", "--max_train_epochs", "3"], None)
    scan = scan_inputs(inp)
    h = of_plan(plan(scan, with_disk_cache(inp)))
    assert (h.stage, h.steps, h.epochs, h.batches_per_epoch, h.unused_reg, h.ignored_images) == (None, 90, 3.0, 30,
                                                                                                 0, 0)
    assert h.runs and h.trainer == "train_network"
    s = of_scan(scan)
    assert s.stage is None and s.trainer is None and s.steps is None and s.images == 3
    make_image(dog / "train" / "loose.png")
    assert of_scan(scan_inputs(read_inputs(["train"], None))).ignored_images == 1
    assert Stage("cache") is Stage.CACHE


def test_a_command_that_lists_only_some_findings_still_counts_the_errors(capsys, monkeypatch, dog):
    (dog / "train" / "10_sks dog" / "cut.png").write_bytes((dog / "train" / "10_sks dog" / "d0.png").read_bytes()[:60])
    line = first_line(capsys, monkeypatch, "captions", "train")
    assert line.startswith("✗ sd-scripts reads 4 images in 1 subset; 1 error ('regaudit scan' lists them)"), line
    line = first_line(capsys, monkeypatch, "scan", "train")
    assert line.startswith("✗ sd-scripts reads 4 images in 1 subset; 1 error below"), line
