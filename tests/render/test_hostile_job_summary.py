"""The GitHub job summary lets no name become markup."""

from __future__ import annotations

import pytest

from tests.conftest import textured
from tests.hostile_fixtures import run
from tests.hostile_fixtures import ds_captioned  # noqa: F401 (a fixture)


def test_job_summary_lets_no_name_become_markup(capsys, ds_captioned, monkeypatch):
    markdown_it = pytest.importorskip("markdown_it")
    t = ds_captioned / "train" / "10_<b onclick=alert(1)>dog"
    t.mkdir()
    for k, name in enumerate(["x`y.png", "a|b|c.png", "<img src=x onerror=alert(1)>.png", "*bold* [l](u).png"]):
        textured(60 + k, (64, 64)).save(t / name, format="PNG")
    (t / "zero.png").write_bytes(b"")  # an error finding in this folder
    (t / "a|b|c.caption").write_text("<script>alert(1)</script> | x ` y")
    summary = ds_captioned / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    code, _, err = run(capsys, "check", "train", "--format", "github")
    assert code in (0, 1), err
    text = summary.read_text()
    html = markdown_it.MarkdownIt("commonmark").enable("table").render(text)
    import re

    tags = set(re.findall(r"</?([a-zA-Z][a-zA-Z0-9]*)", html))
    assert tags <= {"h2", "p", "strong", "code", "table", "thead", "tbody", "tr", "th", "td"}, (tags, html)
    rows = [line for line in text.splitlines() if line.startswith("| ")]
    assert rows and all(len(re.split(r"(?<!\\)\|", r)) == 6 for r in rows), rows  # 4 cells in every row
    assert "onclick" in html and "&lt;b onclick=alert(1)&gt;" in html  # shown, as text


def test_job_summary_says_a_load_crash_comes_while_caching_latents(capsys, tmp_path, monkeypatch):
    # like the CLI verdict: with --cache_latents the truncated image stops the run before step 1
    t = tmp_path / "train" / "2_cat"
    t.mkdir(parents=True)
    for k in range(2):
        textured(k, (96, 128)).save(t / f"i{k}.jpg", quality=85)
    data = (t / "i0.jpg").read_bytes()
    (t / "i0.jpg").write_bytes(data[: len(data) // 2])
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "check", "--train_data_dir", "train", "--resolution", "128", "--cache_latents",
                         "--format", "github")
    assert code == 1, err
    text = summary.read_text()
    assert "**train_network.py stops while caching latents, before step 1**, on <code>" in text
    assert "first loads" not in text
