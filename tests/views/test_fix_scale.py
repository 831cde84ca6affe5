"""regaudit fix on a config of very many datasets: each step linear in the datasets, findings and
actions (issue 21, cause 6), with the same names and answers as the one-by-one search it replaced."""

from __future__ import annotations

import json
import os
import time

from regaudit.model import Finding, Severity
from regaudit.placement import first_folder_above as _first_folder_above
from regaudit.views.fix import _Fixes, _Names
from regaudit.views.fix_walk import Action
from tests.conftest import make_image
from tests.views.test_fix import run


def _one_by_one(name: str, taken: set[str]) -> str:
    """The search _Names replaced: 'name', then 'name-2', 'name-3' ... tried from 2 every time."""
    out, k = name, 2
    while out in taken:
        out, k = f"{name}-{k}", k + 1
    taken.add(out)
    return out


def test_names_are_those_of_the_one_by_one_search():
    asked = ["img", "img", "img-2", "img", "a", "img-3", "img", "a", "a-2", "a", "regaudit-fix.json", "img"]
    names, taken = _Names("regaudit-fix.json"), {"regaudit-fix.json"}
    assert [names.unique(n) for n in asked] == [_one_by_one(n, taken) for n in asked] == \
        ["img", "img-2", "img-2-2", "img-3", "a", "img-3-2", "img-4", "a-2", "a-2-2", "a-3", "regaudit-fix.json-2",
         "img-5"]


def test_many_folders_of_one_name_take_linear_time():
    """100,000 folders called 'img' (a folder per dataset, each '.../<k>/img'): 'img-2' ... tried from
    2 for each took the square of that (minutes); each name now remembers where it got to."""
    names = _Names()
    start = time.monotonic()
    given = [names.unique("img") for _ in range(100_000)]
    assert time.monotonic() - start < 5
    assert given[:3] == ["img", "img-2", "img-3"] and given[-1] == "img-100000" and len(set(given)) == 100_000


def test_a_metadata_file_is_placed_in_the_first_folder_above_it():
    order = {"/d/outer": 0, "/d/outer/inner": 1, "/e": 2}
    assert _first_folder_above("/d/outer/inner/meta.json", order) == "/d/outer"  # the first in order, not the deepest
    assert _first_folder_above("/d/outer/inner/meta.json", {"/d/outer/inner": 0, "/d/outer": 1}) == "/d/outer/inner"
    assert _first_folder_above("/d/outer-2/meta.json", order) is None  # a name that only starts alike
    assert _first_folder_above("/e/meta.json", order) == "/e"
    assert _first_folder_above("/meta.json", {"/": 0}) is None  # the root is never one ('/' + os.sep starts nothing)


def _finding(code: str, path: str) -> Finding:
    return Finding(code, "name", Severity.WARNING, path, "message", "hint")


def _action(code: str, source: str) -> Action:
    return Action(code, "fix", source, None, True, "changed")


def test_which_findings_the_actions_correct():
    fixes = _Fixes([_action("RA023", "/d/10_dog/a.txt"), _action("RA025", "/d/10_dog/b.txt"),
                    _action("RA004", "/d/10_dog/nested/deeper/c.png")])
    assert fixes.correct(_finding("RA023", "/d/10_dog/a.txt"))
    assert not fixes.correct(_finding("RA023", "/d/10_dog/b.txt"))  # another code on that file
    assert fixes.correct(_finding("RA025", "/d/10_dog"))  # (on the subset folder: a caption in it fixed)
    assert not fixes.correct(_finding("RA026", "/d/10_dog"))
    assert fixes.correct(_finding("RA004", "/d/10_dog/nested"))  # (on the nested folder: its images moved up)
    assert fixes.correct(_finding("RA004", "/d/10_dog/nested/deeper"))
    assert not fixes.correct(_finding("RA004", "/d/10_dog/nest"))  # a name that only starts alike
    assert not fixes.correct(_finding("RA004", "/d/10_dog/nested/deeper/c.png"))


def test_a_config_of_many_datasets_is_planned(capsys, tmp_path):
    """1,500 datasets, each a folder of its own called 'img' with two copies of one picture: the plan
    (--unsafe-fixes: 2,999 duplicates dropped) keeps the first copy by path order and leaves no
    duplicate finding unfixed, the findings matched to the actions by the index (``_Fixes``)."""
    png = make_image(tmp_path / "one.png")
    folders = []
    for k in range(1500):
        folder = tmp_path / "data" / str(k) / "img"
        folder.mkdir(parents=True)
        os.link(png, folder / "a.png")
        os.link(png, folder / "b.png")
        folders.append(folder.as_posix())
    cfg = tmp_path / "many.json"
    cfg.write_text(json.dumps({"general": {"resolution": 64},
                               "datasets": [{"subsets": [{"image_dir": f, "num_repeats": 1}]} for f in folders]}))
    start = time.monotonic()
    rc, out, err = run(capsys, "fix", "--dataset_config", str(cfg), "--unsafe-fixes", "--json", "-j", "1")
    assert rc == 0, err
    assert time.monotonic() - start < 120
    doc = json.loads(out)
    dropped = [a for a in doc["actions"] if a["fix"] == "drop-duplicate"]
    assert len(dropped) == 2999 and all(a["applied"] for a in dropped)  # one kept of the 3,000 copies
    assert dropped[0]["source"] == folders[0] + "/b.png"
    assert dropped[1]["source"] == folders[1] + "/a.png"
    assert not any(u["code"] in ("RA081", "RA080") for u in doc["unfixed"])  # the copies are fixed


def _three_datasets(tmp_path, suffix: str) -> tuple:
    folders = []
    for k in range(3):
        folder = tmp_path / "data" / f"{k}_dog"
        make_image(folder / "a.png")
        (folder / "a.txt").write_text("a dog")
        folders.append(folder.as_posix())
    cfg = tmp_path / f"ds{suffix}"
    if suffix == ".json":
        cfg.write_text(json.dumps({"datasets": [{"subsets": [{"image_dir": f}]} for f in folders]}))
    else:
        cfg.write_text("".join(f"[[datasets]]\n[[datasets.subsets]]\nimage_dir = '{f}'\n" for f in folders))
    return cfg, folders


def test_a_copy_whose_toml_config_regaudit_cannot_read_back_stops_first(capsys, tmp_path, monkeypatch):
    """The copy's config names folders under DIR: longer paths can take a TOML that fits regaudit's
    1 MiB past it, and the copy's own audit then stopped on its temporary folder's config after the
    whole copy was made. Now the fix stops before copying anything, and says what to do."""
    from regaudit.sdscripts import tomlfile

    cfg, _ = _three_datasets(tmp_path, ".toml")
    monkeypatch.setattr(tomlfile, "TOML_LIMIT", cfg.stat().st_size + 10)  # (the original fits, the copy's does not)
    out = tmp_path / "a-much-longer-name-for-the-output-folder"
    rc, stdout, err = run(capsys, "fix", "--dataset_config", str(cfg), "--out", str(out))
    assert rc == 2 and stdout == "", err
    assert f"{cfg}: the copy's dataset config would be " in err and "choose a shorter --out path or a JSON config; " \
        "nothing was written" in err and ".tmp" not in err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["data", "ds.toml"]


def test_a_json_config_too_large_indented_is_written_compact(capsys, tmp_path, monkeypatch):
    from regaudit import safeio

    cfg, folders = _three_datasets(tmp_path, ".json")
    # compact fits (its paths under the temporary '.out.XXXXXXXX.tmp' are 3 x 13 bytes longer), indented does not
    monkeypatch.setattr(safeio, "CONFIG_LIMIT", cfg.stat().st_size + 45)
    out = tmp_path / "out"
    rc, stdout, err = run(capsys, "fix", "--dataset_config", str(cfg), "--out", str(out), "--json")
    assert rc == 0, err
    text = (out / "ds.json").read_text()
    assert "\n" not in text.rstrip("\n") and json.loads(text) == {
        "datasets": [{"subsets": [{"image_dir": str(out / f"{k}_dog")}]} for k in range(3)]}
    monkeypatch.undo()  # an indented one where it fits, as before
    rc, stdout, err = run(capsys, "fix", "--dataset_config", str(cfg), "--out", str(out), "--json")
    assert rc == 0 and (out / "ds.json").read_text().startswith('{\n  "datasets": [\n'), err


def test_the_copys_findings_name_no_temporary_folder(capsys, tmp_path):
    """The copy is audited under its temporary folder: the files a finding lists (RA029's images
    without a caption) were left naming it, a random name that changed each run."""
    folder = tmp_path / "train" / "10_dog"
    for name in ("a", "b", "c", "d"):
        make_image(folder / f"{name}.png")
    (folder / "a.txt").write_text("a dog")
    out = tmp_path / "out"
    rc, stdout, err = run(capsys, "fix", str(tmp_path / "train"), "--out", str(out), "--json")
    assert rc == 0, err
    (f,) = [f for f in json.loads(stdout)["remaining"] if f["code"] == "RA029"]
    assert [i["path"] for i in f["images"]] == [str(out / "train" / "10_dog" / f"{n}.png") for n in "bcd"]
    assert ".tmp" not in stdout and ".tmp" not in (out / "regaudit-fix.json").read_text()
