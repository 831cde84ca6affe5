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


def test_a_folder_many_datasets_name_is_read_once(capsys, ds_captioned, monkeypatch):
    """A folder named by many datasets (alike: same caption extension, class tokens, wildcard) has
    each image header and caption read once, not once per dataset; the scan says the same as
    when each is read (the scan of one dataset alone, repeated)."""
    from regaudit.views import scan_parts

    reg = (ds_captioned / "reg" / "1_dog").as_posix()
    train = (ds_captioned / "train" / "10_dog").as_posix()
    one = ds_captioned / "one.toml"
    one.write_text(f"[[datasets]]\n[[datasets.subsets]]\nimage_dir = '{train}'\ncaption_extension = '.caption'\n")
    code, alone, err = run(capsys, "scan", "--dataset_config", one, "--json", "-j", "1")
    assert code == 0, err
    cfg = ds_captioned / "many.toml"
    cfg.write_text("".join(f"[[datasets]]\n[[datasets.subsets]]\nimage_dir = '{train}'\ncaption_extension = '.caption'\n"
                           f"[[datasets.subsets]]\nimage_dir = '{reg}'\nis_reg = true\n\n" for _ in range(40)))
    probed: list[str] = []
    real_probe = scan_parts._images.probe
    monkeypatch.setattr(scan_parts._images, "probe", lambda p, deep=False: probed.append(p) or real_probe(p, deep))
    code, out, err = run(capsys, "scan", "--dataset_config", cfg, "--json", "-j", "1")
    assert code == 0, err
    assert len(probed) == len(set(probed)) == 12 + 3  # each image once
    assert scan_parts._SHARED_READS == {}  # let go once the parts are worked
    import json

    alone_doc, many_doc = json.loads(alone), json.loads(out)
    trains = [s for s in many_doc["subsets"] if s["role"] == "train"]
    assert len(trains) == 40 and len(alone_doc["subsets"]) == 1
    assert all(s["images"] == alone_doc["subsets"][0]["images"] for s in trains)
    assert all(s["captions"] == {"file": 12, "class_tokens": 0, "empty": 0} for s in trains)
