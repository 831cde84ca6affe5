"""Many datasets in one config take linear time (no pass over every dataset per dataset)."""

from __future__ import annotations

import time

from tests.hostile_fixtures import run
from tests.hostile_fixtures import ds_captioned  # noqa: F401 (a fixture)


def test_many_reg_only_datasets_take_linear_time(capsys, ds_captioned):
    """Each dataset asked whether another one trains used to walk every other dataset (quadratic:
    8,000 reg-only datasets took 56 s); the report matched each path against every subset."""
    cfg = ds_captioned / "many.toml"
    reg = (ds_captioned / "reg" / "1_dog").as_posix()
    cfg.write_text("".join(f"[[datasets]]\n[[datasets.subsets]]\nimage_dir = '{reg}'\nis_reg = true\n\n"
                           for _ in range(1500)))
    start = time.monotonic()
    code, out, err = run(capsys, "scan", "--dataset_config", cfg, "--json", "-j", "1")
    assert code == 0, err
    code, out, err = run(capsys, "balance", "--dataset_config", cfg, "-j", "1")
    assert code == 0 and "… and 1300 more datasets (use --json for every one)" in out, err
    # the human scan draws the first 500 subsets (a table of 8,000 took 30 s) and says so
    code, out, err = run(capsys, "scan", "--dataset_config", cfg, "-j", "1")
    assert code == 0 and out.startswith("✗ sd-scripts stops after building the dataset: 'No data found'"), out[:300]
    assert "1500 subsets" in out and "… and 1000 more (use --json for the full list)" in out, out[-2000:]
    assert time.monotonic() - start < 60
