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


def _config(path, folders: list[str], n: int, per_dataset: int = 1):
    """A JSON dataset config of ``n`` datasets of ``per_dataset`` subsets, naming ``folders`` in turn."""
    import json

    subsets = [[{"image_dir": folders[(k * per_dataset + j) % len(folders)]} for j in range(per_dataset)]
               for k in range(n)]
    path.write_text(json.dumps({"general": {"caption_extension": ".caption"},
                                "datasets": [{"subsets": s} for s in subsets]}))
    return path


def test_too_many_subsets_are_refused_when_the_config_is_read(capsys, ds_captioned, monkeypatch):
    """limits.MAX_SUBSETS (subsets of all datasets together): one line naming the config, the count and
    the way out, exit 2, before any subset is checked or any folder listed."""
    from regaudit import limits
    from regaudit.sdscripts import subsets

    monkeypatch.setattr(limits, "MAX_SUBSETS", 10)
    listed: list = []
    train = (ds_captioned / "train" / "10_dog").as_posix()
    cfg = _config(ds_captioned / "many.json", [train], 4, per_dataset=3)  # 12 subsets
    with monkeypatch.context() as m:
        m.setattr(subsets, "list_subset", lambda *a: listed.append(a))
        for command in (["scan", "--json"], ["balance"], ["check"], ["captions", "--json"]):
            code, out, err = run(capsys, *command, "--dataset_config", cfg, "-j", "1")
            assert code == 2 and out == "", (command, out)
            assert err.strip().splitlines() == [
                f"regaudit: error: {cfg}: 12 subsets in 4 [[datasets]], more than regaudit audits in one run (10); "
                f"split the config into files of fewer [[datasets]] and audit each"], err
    assert listed == []
    _config(cfg, [train], 5, per_dataset=2)  # 10 subsets: at the limit, audited
    code, out, err = run(capsys, "scan", "--dataset_config", cfg, "--json", "-j", "1")
    assert code == 0, err


def test_repeated_registrations_are_refused_before_any_image_is_read(capsys, ds_captioned, monkeypatch):
    """limits.MAX_REPEATED_REGISTRATIONS: the images registered by subsets whose folder an earlier
    subset registered, counted once the folders are listed; exit 2 before any image is read. The first
    subset of each folder is free: a folder larger than the limit, named once, is audited."""
    from regaudit import limits
    from regaudit.views import scan_parts

    train = (ds_captioned / "train" / "10_dog").as_posix()  # 12 images
    reg = (ds_captioned / "reg" / "1_dog").as_posix()  # 3 images
    monkeypatch.setattr(limits, "MAX_REPEATED_REGISTRATIONS", 10)
    probed: list[str] = []
    real_probe = scan_parts._images.probe
    monkeypatch.setattr(scan_parts._images, "probe", lambda p, deep=False: probed.append(p) or real_probe(p, deep))
    cfg = _config(ds_captioned / "many.json", [train, reg], 1, per_dataset=2)  # each folder once: 15 images
    code, out, err = run(capsys, "scan", "--dataset_config", cfg, "--json", "-j", "1")
    assert code == 0, err
    _config(cfg, [reg], 4)  # 3 images, then 3 + 3 + 3 = 9 again: at the limit
    code, out, err = run(capsys, "balance", "--dataset_config", cfg, "--json", "-j", "1")
    assert code == 0, err
    probed.clear()
    _config(cfg, [train, reg], 4)  # train, reg, train (12 again), reg (3 again): 15
    for command in (["scan", "--json"], ["balance"], ["check", "--format", "junit"], ["captions"]):
        code, out, err = run(capsys, *command, "--dataset_config", cfg, "-j", "1")
        assert code == 2 and out == "", (command, out)
        assert err.strip().splitlines() == [
            f"regaudit: error: {cfg}: subsets whose folder another subset already reads register 15 images again, "
            f"more than regaudit audits in one run (10); split the config into files that name each folder fewer "
            f"times and audit each"], err
    assert probed == []


def test_too_many_subset_folders_are_refused_before_they_are_read(capsys, ds_captioned, monkeypatch):
    """A train_data_dir of more '<repeats>_<class>' folders than limits.MAX_SUBSETS: the same refusal,
    naming the folder."""
    from regaudit import limits

    monkeypatch.setattr(limits, "MAX_SUBSETS", 1)
    root = ds_captioned / "train"
    code, out, err = run(capsys, "scan", root, "--reg_data_dir", ds_captioned / "reg", "-j", "1")
    assert code == 2 and out == "", out
    assert err.startswith(f"regaudit: error: {root}, {ds_captioned / 'reg'}: ") and \
        "subsets, more than regaudit audits in one run (1); split them over several runs" in err, err
