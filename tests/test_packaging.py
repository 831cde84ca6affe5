"""The release: the wheel carries every file regaudit reads at run time (a plain `pip install .` has
no source tree), the version is written once, and CI runs the README's own commands."""

from __future__ import annotations

import email.parser
import json
import importlib.util
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

import regaudit

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
WORKFLOWS = ROOT / ".github" / "workflows"


def _data_files() -> set[str]:
    """Every file under regaudit/ that is not Python source: what the wheel must carry besides it."""
    return {p.relative_to(ROOT).as_posix() for p in (ROOT / "regaudit").rglob("*")
            if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel `python -m build --wheel` makes of this tree (no network: built with the setuptools
    installed here; skipped where `build` or a new enough setuptools is missing)."""
    if importlib.util.find_spec("build") is None:
        pytest.skip("the 'build' package is not installed (pip install build)")
    src, out = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("dist")
    # built from a copy: setuptools' build/ folder in the tree would carry files of an earlier build
    shutil.copytree(ROOT / "regaudit", src / "regaudit", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, src / name)
    done = subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(src)],
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0 and "Missing dependencies" in done.stdout + done.stderr:
        pytest.skip(f"build's requirements are not installed here: {(done.stdout + done.stderr).strip()[-300:]}")
    assert done.returncode == 0, done.stdout + done.stderr
    (path,) = out.glob("regaudit-*.whl")
    return path


def test_the_wheel_has_every_data_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    data = _data_files()
    assert "regaudit/sdscripts/trainers/sd_options.json" in data  # (the list is not empty by mistake)
    assert data <= names, sorted(data - names)


def test_the_wheel_metadata(wheel):
    with zipfile.ZipFile(wheel) as z:
        meta_name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(z.read(meta_name).decode("utf-8"))
        names = z.namelist()
    assert meta["Version"] == regaudit.__version__
    assert meta["License-Expression"] == "MIT" and any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert meta["Requires-Python"] == ">=3.10" and meta["Summary"]
    assert {"Homepage", "Changelog"} <= {u.split(",")[0] for u in meta.get_all("Project-URL")}
    assert "Operating System :: Microsoft :: Windows" in meta.get_all("Classifier")
    assert meta.get_content_type() == "text/plain" and meta["Description-Content-Type"] == "text/markdown"


def test_the_version_is_written_once():
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "version" not in pyproject["project"] and "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "regaudit.__version__"}
    assert re.fullmatch(r"\d+\.\d+\.\d+", regaudit.__version__)
    assert f"## [{regaudit.__version__}]" in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")


def _runs(workflow: str) -> dict[str, str]:
    """Each step's name -> its `run` command, of a workflow's jobs."""
    doc = yaml.safe_load((WORKFLOWS / workflow).read_text(encoding="utf-8"))
    return {step["name"]: step["run"].strip() for job in doc["jobs"].values() for step in job["steps"]
            if "run" in step and "name" in step}


def _fenced(lang: str) -> list[str]:
    return [line for block in re.findall(rf"```{lang}\n(.*?)```", README, re.S) for line in block.splitlines()]


def test_ci_runs_the_readme_test_commands_on_every_os():
    runs = _runs("tests.yml")
    posix, windows = runs["README test command (Linux, macOS)"], runs["README test command (Windows)"]
    assert posix in _fenced("sh") and windows in _fenced("bat")
    # and .ci/run (the project's own CI, Linux) runs the same line
    assert (ROOT / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()[-1] == posix
    doc = yaml.safe_load((WORKFLOWS / "tests.yml").read_text(encoding="utf-8"))
    matrix = doc["jobs"]["test"]["strategy"]["matrix"]
    assert matrix["os"] == ["ubuntu-latest", "macos-latest", "windows-latest"]
    assert matrix["python"][0] == "3.10"


def _pre_commit_snippet() -> tuple[dict, list[dict]]:
    """The README's pre-commit repo entry and this repository's hook definitions."""
    snippet = re.search(r"```yaml\nrepos:\n(.*?)```", README, re.S)
    assert snippet
    (repo,) = yaml.safe_load("repos:\n" + snippet.group(1))["repos"]
    return repo, yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))


def test_the_readme_pre_commit_snippet_names_the_release_tag():
    repo, hooks = _pre_commit_snippet()
    assert [h["id"] for h in repo["hooks"]] == [h["id"] for h in hooks] == ["regaudit"]
    # the tag the release of this version carries: v0.1.0 for 0.1.0 (the lead creates it on main)
    assert repo["rev"] == f"v{regaudit.__version__}" == "v0.1.0"
    (hook,) = hooks
    assert hook["entry"] == "regaudit check" and hook["language"] == "python"
    assert hook["pass_filenames"] is False and hook["always_run"] is True
    assert "regaudit" in tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]


def test_the_pre_commit_hook_runs_as_written_on_the_fixtures(tmp_path):
    """What pre-commit runs: the hook's entry and the snippet's args (the policy file made here), in
    the repository that holds the dataset; exit 1 refuses the commit (the fixtures have errors)."""
    repo, (hook,) = _pre_commit_snippet()
    (tmp_path / "dataset").mkdir()
    shutil.copytree(ROOT / "fixtures" / "train", tmp_path / "dataset" / "train")
    shutil.copytree(ROOT / "fixtures" / "reg", tmp_path / "dataset" / "reg")
    (tmp_path / "regaudit.yaml").write_text("fail-on: error\n", encoding="utf-8")
    (args,) = [h["args"] for h in repo["hooks"]]
    assert args == ["--train", "dataset/train", "--reg", "dataset/reg", "--policy", "regaudit.yaml"]
    entry = hook["entry"].split()
    assert entry[0] == "regaudit"
    done = subprocess.run([sys.executable, "-m", "regaudit", *entry[1:], *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "broken_download.jpg" in done.stdout and "Traceback" not in done.stderr
    as_json = subprocess.run([sys.executable, "-m", "regaudit", *entry[1:], *args, "--json"], cwd=tmp_path,
                             capture_output=True, text=True, timeout=300)
    result = json.loads(as_json.stdout)
    assert as_json.returncode == 1 and result["passed"] is False and result["policy"] == "regaudit.yaml"
    assert sum(f["severity"] == "error" for f in result["findings"]) == 4

