"""Human output at 80 and 120 columns: the verdict first, no line wider than the terminal, no name
broken inside a word, paths relative to the working folder, never-used reg images as runs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from rich.cells import cell_len
from rich.console import Console

from regaudit.cli import main
from regaudit.cli.app import stdout as cli_stdout
from regaudit.render.width import Breakable, run_text, runs, shorten
from tests.conftest import make_image

MARKS = ("✓ ", "✗ ", "• ")
LONG = "IMG_20240101_123456789_portrait_session.jpg"  # wider than a table cell at 80 columns


@pytest.fixture
def photos(tmp_path, monkeypatch):
    """5 train images ×10 repeats (a truncated JPEG and a long file name among them), 61 reg images ×1,
    a stray image in the root; run from the dataset's parent so paths show relative."""
    t = tmp_path / "img" / "10_ohwx woman"
    for k in range(3):
        make_image(t / f"IMG_40{k:02d}.jpg", color=(k * 40, 20, 30))
    make_image(t / LONG)
    for k in range(61):
        make_image(tmp_path / "reg" / "1_woman" / f"img_{k + 1:04d}.png", color=(k, k, k))
    make_image(tmp_path / "img" / "stray.png")
    (t / "cut.jpg").write_bytes((t / "IMG_4000.jpg").read_bytes()[:200])
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(capsys, monkeypatch, width: int, *argv: str) -> tuple[int, str]:
    monkeypatch.setenv("COLUMNS", str(width))
    monkeypatch.setattr(cli_stdout, "_console", None)  # (a fresh console reads COLUMNS)
    code = main(list(argv))
    return code, capsys.readouterr().out


def names(root: Path) -> list[str]:
    """Every file and folder name of the tree, and every path relative to it."""
    out = set()
    for p in root.rglob("*"):
        rel = p.relative_to(root).as_posix()
        out.add(p.name)
        out.add(rel)
    return sorted(out)


def broken(text: str, words: list[str]) -> list[str]:
    """Names split inside a word between two lines (of one table cell, or of plain lines)."""
    lines = text.splitlines()
    out = []
    for a, b in zip(lines, lines[1:]):
        ca, cb = re.split(r"[│┃]", a), re.split(r"[│┃]", b)
        pairs = list(zip(ca, cb)) if len(ca) == len(cb) > 1 else [(a, b)]
        for x, y in pairs:
            x, y = x.rstrip(), y.lstrip()
            for name in words:
                for k in range(1, len(name)):
                    if name[k - 1] in "/ " or name[k] == " ":
                        continue  # (a break at a separator or a space is where lines may break)
                    if x.endswith(name[:k]) and y.startswith(name[k:]):
                        out.append(f"{name!r} at {k}: {x!r} / {y!r}")
    return out


TRAINING = ("--resolution", "512", "--enable_bucket", "--max_train_steps", "1280")
COMMANDS = [
    ("scan", ("img", "--reg_data_dir", "reg")),
    ("scan", ("--train_data_dir", "img", "--reg_data_dir", "reg", "--images", *TRAINING)),
    ("balance", ("--train_data_dir", "img", "--reg_data_dir", "reg", "--images", *TRAINING)),
    ("captions", ("--train_data_dir", "img", "--reg_data_dir", "reg", "--images")),
    ("dupes", ("--train_data_dir", "img", "--reg_data_dir", "reg", "--no-cache")),
    ("check", ("--train_data_dir", "img", "--reg_data_dir", "reg", "--format", "human", *TRAINING)),
    ("fix", ("--train_data_dir", "img", "--reg_data_dir", "reg")),
]


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("command,args", COMMANDS, ids=lambda v: v if isinstance(v, str) else "")
def test_every_command_fits_the_width(capsys, monkeypatch, photos, width, command, args):
    code, out = run(capsys, monkeypatch, width, command, *args)
    assert code in (0, 1), out
    lines = out.splitlines()
    assert lines and lines[0].startswith(MARKS), lines[:3]  # the verdict first
    wide = [line for line in lines if cell_len(line) > width]
    assert not wide, wide
    assert not broken(out, names(photos))
    assert str(photos) not in out  # paths relative to where the user stands


@pytest.mark.parametrize("width", [80, 120])
def test_rules_fit_the_width(capsys, monkeypatch, width):
    code, out = run(capsys, monkeypatch, width, "rules")
    assert code == 0 and out.startswith("RA001")
    assert all(cell_len(line) <= width for line in out.splitlines())
    code, out = run(capsys, monkeypatch, width, "rules", "RA003")
    assert all(cell_len(line) <= width for line in out.splitlines())


def test_verdict_lines(capsys, monkeypatch, photos):
    # the figures are the port's (sdscripts/run.py, which the differential harness checks against sd-scripts):
    # 50 train samples (5 images x 10) take 50 of the 61 reg images: 100 batches, 11 reg images never used
    _, out = run(capsys, monkeypatch, 1000, "balance", "--train_data_dir", "img", "--reg_data_dir", "reg",
                 *TRAINING)
    first = out.splitlines()[0]
    assert first.startswith("✗ train_network.py starts, then stops at the first load of img/10_ohwx woman/cut.jpg: "
                            "OSError (RA052); once fixed: 1280 steps = 12.80 epochs (100 batches per epoch); 1 "
                            "image file ignored, 11 reg images never used; 1 error below"), first
    assert "  never used: 11 reg images: reg/1_woman/img_0051.png … img_0061.png (11 images)" in out
    _, out = run(capsys, monkeypatch, 1000, "balance", "--train_data_dir", "img", "--reg_data_dir", "reg",
                 "--cache_latents", *TRAINING)
    assert out.startswith("✗ train_network.py stops while caching latents, before step 1: OSError (RA052) on "
                          "img/10_ohwx woman/cut.jpg; once fixed: 1280 steps = 12.80 epochs")
    (photos / "img" / "10_ohwx woman" / "cut.jpg").unlink()
    _, out = run(capsys, monkeypatch, 1000, "balance", "--train_data_dir", "img", "--reg_data_dir", "reg",
                 "--resolution", "512", "--enable_bucket", "--max_train_steps", "1000")
    # 40 train + 40 reg samples at batch 1: 80 batches per epoch; 1000 / 80 = 12.5 epochs
    assert out.startswith("✓ train_network.py runs; 1000 steps = 12.50 epochs (80 batches per epoch); 1 image file "
                          "ignored, 21 reg images never used\n"), out.splitlines()[0]
    code, out = run(capsys, monkeypatch, 1000, "check", "--train_data_dir", "img", "--reg_data_dir", "reg",
                    "--format", "human")
    lines = out.splitlines()
    assert lines[0].startswith("✓ sd-scripts reads 65 images in 2 subsets")  # (no training command: no steps)
    assert lines[1].startswith("regaudit check (scan; policy:")  # the policy after the verdict


def test_breakable_breaks_only_between_words():
    console = Console(width=20, record=True, color_system=None)
    console.print(Breakable("reg/1_dog/img_0001.png " + LONG))
    lines = console.export_text().splitlines()
    assert lines == ["reg/1_dog/", "img_0001.png", "IMG_202401…ssion.jpg"]
    assert shorten("abcdefghij", 5) == "ab…ij" and shorten("abc", 5) == "abc"


def test_runs_of_one_folder():
    paths = [f"reg/1_dog/img_{k:04d}.png" for k in range(1, 52)] + ["reg/2_cat/a.png"]
    got = runs(paths)
    assert [run_text(*r) for r in got] == ["reg/1_dog/img_0001.png … img_0051.png (51 images)", "reg/2_cat/a.png"]


GOLDEN = Path(__file__).parent.parent / "views" / "golden"


@pytest.mark.parametrize("command,args,name", [
    ("balance", ("--train_data_dir", "img", "--reg_data_dir", "reg", "--cache_latents", *TRAINING), "balance_80.txt"),
    ("check", ("--train_data_dir", "img", "--reg_data_dir", "reg", "--format", "human", *TRAINING), "check_80.txt"),
])
def test_human_golden_at_80_columns(capsys, monkeypatch, photos, command, args, name):
    """The whole human output at 80 columns (REGAUDIT_UPDATE_GOLDEN=1 rewrites it after a deliberate change)."""
    import os

    _, out = run(capsys, monkeypatch, 80, command, *args)
    if os.environ.get("REGAUDIT_UPDATE_GOLDEN"):
        (GOLDEN / name).write_text(out)
    assert out == (GOLDEN / name).read_text()


def test_the_check_for_broken_names_sees_a_break():
    """The helper above finds what the old output did (`img/10_oh│wx woman`, `IMG_4021.jp│g`)."""
    assert broken("│ img/10_oh │\n│ wx woman  │\n", ["img/10_ohwx woman"])
    assert broken("see IMG_4021.jp\ng here", ["IMG_4021.jpg"])
    assert not broken("│ img/      │\n│ 10_ohwx   │\n│ woman     │\n", ["img/10_ohwx woman", "10_ohwx woman"])


def test_smoke_view_keeps_names_whole(tmp_path, monkeypatch):
    """smoke needs torch to run; its view is a pure function of the result, rendered here on its own."""
    from types import SimpleNamespace

    from regaudit.render.human import smoke_view

    monkeypatch.chdir(tmp_path)
    path = str(tmp_path / "img" / "10_ohwx woman" / LONG)
    sample = SimpleNamespace(is_reg=False, weight=1.0, loss=0.12345, path=path)
    check = SimpleNamespace(passed=True, name="finite loss", detail="every loss is finite")
    result = SimpleNamespace(samples=[sample], device="cpu", dtype="fp32", step_seconds=0.5,
                             peak_memory_kind="RSS", peak_memory_bytes=2**30, batch_note="1 train sample",
                             checks=[check], weighted_loss=0.12345, passed=True, batch_size=1,
                             batch_source="--train_batch_size", skipped=[])
    console = Console(width=80, record=True, color_system=None)
    console.print(smoke_view(result))
    out = console.export_text()
    assert " ".join(out.split()).startswith("✓ the prior-loss-weighted step is wired as sd-scripts computes it "
                                            "(1 check passed)")
    assert all(cell_len(line) <= 80 for line in out.splitlines())
    assert not broken(out, [LONG, "10_ohwx woman", f"img/10_ohwx woman/{LONG}"])
    assert str(tmp_path) not in out


def test_smoke_check_lines_keep_their_indent_when_wrapped(tmp_path, monkeypatch):
    from types import SimpleNamespace

    from regaudit.render.human import smoke_view

    monkeypatch.chdir(tmp_path)
    detail = ("with prior_loss_weight 0 the gradient equals the train samples' alone (relative error 0.00e+00) and "
              "nothing of the reg samples is left")
    check = SimpleNamespace(passed=True, name="prior weight 0", detail=detail)
    broken_image = (str(tmp_path / "img" / "10_ohwx woman" / "download.jpg"), "OSError: image file is truncated",
                    "RA043")
    sample = SimpleNamespace(is_reg=False, weight=1.0, loss=0.5, path=str(tmp_path / "a.png"))
    result = SimpleNamespace(samples=[sample], device="cpu", dtype="fp32", step_seconds=0.5, peak_memory_kind="RSS",
                             peak_memory_bytes=2**30, batch_note="1 train sample", checks=[check], weighted_loss=0.5,
                             passed=True, batch_size=1, batch_source="--train_batch_size", skipped=[broken_image])
    console = Console(width=80, record=True, color_system=None)
    console.print(smoke_view(result))
    lines = console.export_text().splitlines()
    k = next(i for i, line in enumerate(lines) if line.startswith("  PASS prior weight 0: "))
    assert lines[k + 1].startswith("       ") and lines[k + 1].strip()  # under the detail, not at column 0
    assert " ".join(line.strip() for line in lines[k:k + 3]).startswith("PASS prior weight 0: " + detail[:60])
    assert not broken("\n".join(lines), ["img/10_ohwx woman/download.jpg"])
