"""Hostile inputs, second campaign (issue 21): full disks mid-write, a deleted working directory,
deep trees, absurd numbers, huge captions and configs, long paths, odd terminal widths, job
summary escaping, SIGTERM and stale temp files, a damaged or older hash cache."""

from __future__ import annotations

import os
import signal
import sqlite3
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from regaudit.cli import main
from tests.conftest import textured

ROOT = Path(__file__).resolve().parent.parent


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err, needle=""):
    assert code == 2, err
    assert "Traceback" not in err and "internal error" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err, err


def child(*argv, cwd=None, env=None, stdout=subprocess.PIPE, preexec_fn=None, timeout=120):
    e = dict(os.environ, **(env or {}))
    e["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), e.get("PYTHONPATH")) if p)
    # as the installed 'regaudit' script starts it (python -m would put the working directory on sys.path)
    start = "import sys; sys.argv[0] = 'regaudit'; from regaudit.entry import run; run()"
    return subprocess.run([sys.executable, "-c", start, *map(str, argv)], stdout=stdout, stderr=subprocess.PIPE,
                          cwd=cwd, env=e, preexec_fn=preexec_fn, timeout=timeout)


@pytest.fixture
def ds(tmp_path, monkeypatch):
    """train/10_dog (12 captioned pictures, long names) and reg/1_dog; cwd is tmp_path."""
    t, r = tmp_path / "train" / "10_dog", tmp_path / "reg" / "1_dog"
    t.mkdir(parents=True)
    r.mkdir(parents=True)
    for k in range(12):
        textured(k, (64, 64)).save(t / f"a_rather_long_picture_name_{k:03d}.png")
        (t / f"a_rather_long_picture_name_{k:03d}.caption").write_text("a dog, sitting, in a park, " * 4)
    for k in range(3):
        textured(40 + k, (64, 64)).save(r / f"r{k}.png")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    yield tmp_path
    # the deep trees some tests make would break pytest's own (recursive) clean-up of old temp
    # folders in a later run: rm removes them without recursion
    if shutil.which("rm"):
        subprocess.run(["rm", "-rf", str(tmp_path)], check=False)


# --- 1. every byte of output checked --------------------------------------------------------------

def _file_size_limit(limit: int):
    def set_limit():
        import resource

        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))  # (Python ignores SIGXFSZ: writes fail EFBIG)
    return set_limit


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE")
@pytest.mark.parametrize("argv", [
    ["scan", "train", "--images"],
    ["balance", "--train_data_dir", "train", "--reg_data_dir", "reg", "--images"],
    ["captions", "train"],
    ["check", "train", "--format", "junit"],
    ["scan", "train", "--json"],
])
def test_output_cut_short_by_a_full_disk_is_exit_2(ds, argv):
    """The disk fills partway (RLIMIT_FSIZE of 1 KiB: the kernel takes part of a write, then
    refuses): one line naming standard output, exit 2 (Python's buffered writer used to drop the
    rest silently and exit 0)."""
    out = ds / "out.txt"
    with open(out, "wb") as fh:
        res = child(*argv, cwd=ds, stdout=fh, preexec_fn=_file_size_limit(1024))
    err = res.stderr.decode()
    assert res.returncode == 2, (argv, err, out.stat().st_size)
    assert "standard output" in err and len(err.strip().splitlines()) == 1, err


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE")
@pytest.mark.parametrize("argv", [["report", "train", "-o", "out.html", "--no-dupes"],
                                  ["check", "train", "--format", "junit", "-o", "out.xml"]])
def test_output_file_cut_short_by_a_full_disk_is_exit_2(ds, argv):
    res = child(*argv, cwd=ds, preexec_fn=_file_size_limit(1024))
    err = res.stderr.decode()
    assert res.returncode == 2 and "out." in err and "cannot be written" in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert sorted(p.name for p in ds.iterdir()) == ["reg", "train"]  # no temp file left


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE")
def test_job_summary_cut_short_by_a_full_disk_is_exit_2(ds):
    summary = ds / "summary.md"
    res = child("check", "train", "--format", "github", cwd=ds, env={"GITHUB_STEP_SUMMARY": str(summary)},
                preexec_fn=_file_size_limit(200))
    err = res.stderr.decode()
    assert res.returncode == 2 and "GITHUB_STEP_SUMMARY" in err, err
    assert len(err.strip().splitlines()) == 1, err


# --- 2. a deleted working directory ---------------------------------------------------------------

def _in_deleted_folder(tmp_path: Path):
    gone = tmp_path / "gone"
    gone.mkdir()
    return gone, (lambda: os.rmdir(gone))  # (runs in the child after its chdir: the shell's 'rmdir' of its cwd)


@pytest.mark.parametrize("argv", [
    ["scan", "{t}"], ["scan", "{t}", "--json"], ["balance", "--train_data_dir", "{t}", "--reg_data_dir", "{r}"],
    ["dupes", "{t}"], ["captions", "{t}"], ["check", "{t}", "--format", "junit"], ["check", "{t}", "--format", "github"],
    ["report", "{t}", "-o", "{out}"]])
def test_a_deleted_working_directory_with_absolute_paths(ds, argv):
    gone, remove = _in_deleted_folder(ds)
    values = {"t": ds / "train", "r": ds / "reg", "out": ds / "page.html"}
    res = child(*[a.format(**values) for a in argv], cwd=gone, preexec_fn=remove)
    assert res.returncode == 0, res.stderr.decode()
    assert b"error" not in res.stderr


@pytest.mark.parametrize("argv, needle", [
    (["scan", "train"], "train: the current folder no longer exists"),
    (["scan", "--dataset_config", "x.toml"], "x.toml: the current folder no longer exists"),
    (["report", "{t}"], "report.html: a relative path"),
    (["check", "{t}", "-o", "out.xml"], "out.xml: a relative path"),
])
def test_a_deleted_working_directory_with_a_relative_path_is_one_line(ds, argv, needle):
    gone, remove = _in_deleted_folder(ds)
    res = child(*[a.format(t=ds / "train") for a in argv], cwd=gone, preexec_fn=remove)
    one_line_error(res.returncode, res.stderr.decode(), needle)


# --- 8. COLUMNS that is no width ------------------------------------------------------------------

@pytest.mark.parametrize("columns", ["0", "-5", "abc", "", "99999999999"])
def test_nonsense_terminal_width_is_no_width(ds, columns):
    res = child("scan", "train", cwd=ds, env={"COLUMNS": columns})
    assert res.returncode == 0 and b"sd-scripts reads 12 images" in res.stdout, res
    res = child("scan", "nowhere", cwd=ds, env={"COLUMNS": columns})
    assert b"No data found" in res.stdout, res
    res = child("--bogus", cwd=ds, env={"COLUMNS": columns})
    one_line_error(res.returncode, res.stderr.decode(), "No such option")


# --- 4. / 9. numbers that reach int() or range() ---------------------------------------------------

@pytest.mark.parametrize("value", ["inf", "1e309", "nan", "-inf"])
def test_token_warmup_step_that_is_no_number(capsys, ds, value):
    code, _, err = run(capsys, "captions", "train", "--token_warmup_step", value, "--max_train_steps", "100")
    one_line_error(code, err, "token_warmup_step")


def test_token_warmup_step_in_a_dataset_config_that_is_no_number(capsys, ds):
    cfg = ds / "ds.toml"
    cfg.write_text(f"[[datasets]]\n[[datasets.subsets]]\nimage_dir = '{(ds / 'train' / '10_dog').as_posix()}'\n"
                   f"token_warmup_step = inf\n")
    for command in ("captions", "scan"):
        code, _, err = run(capsys, command, "--dataset_config", cfg, "--max_train_steps", "100")
        one_line_error(code, err, "token_warmup_step = inf")


def test_a_huge_token_warmup_step_is_a_number(capsys, ds):
    code, _, err = run(capsys, "captions", "train", "--token_warmup_step", "1e23", "--max_train_steps", "100",
                       "--shuffle_caption")
    assert code == 0, err


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "1e309", "1e23", "0", "1"])
def test_reg_share_is_validated(capsys, ds, value):
    code, _, err = run(capsys, "balance", "--train_data_dir", "train", "--reg_data_dir", "reg", "--suggest",
                       "--reg-share", value)
    one_line_error(code, err, "--reg-share")


def test_a_valid_reg_share_gives_its_suggestion(capsys, ds):
    code, out, err = run(capsys, "balance", "--train_data_dir", "train", "--reg_data_dir", "reg", "--suggest",
                         "--reg-share", "0.25", "--json")
    assert code == 0, err
    import json

    assert any(s["goal"] == "reg-share" for s in json.loads(out)["suggestions"])


# --- 10. the GitHub job summary escapes names -----------------------------------------------------

def test_job_summary_lets_no_name_become_markup(capsys, ds, monkeypatch):
    markdown_it = pytest.importorskip("markdown_it")
    t = ds / "train" / "10_<b onclick=alert(1)>dog"
    t.mkdir()
    for k, name in enumerate(["x`y.png", "a|b|c.png", "<img src=x onerror=alert(1)>.png", "*bold* [l](u).png"]):
        textured(60 + k, (64, 64)).save(t / name, format="PNG")
    (t / "zero.png").write_bytes(b"")  # an error finding in this folder
    (t / "a|b|c.caption").write_text("<script>alert(1)</script> | x ` y")
    summary = ds / "summary.md"
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


# --- 11. / 12. SIGTERM cleans up; what SIGKILL left is removed by the next run ---------------------

_SIGNAL_MID_WRITE = """
import os, signal, sys
import regaudit.outputs as outputs
real = outputs.os.fchmod
def fchmod(fd, mode):  # the text is in the temporary file: the signal arrives now
    os.kill(os.getpid(), signal.{sig})
    return real(fd, mode)
outputs.os.fchmod = fchmod
sys.argv[0] = "regaudit"
from regaudit.entry import run
run()
"""


def _child_with(code: str, *argv, cwd):
    e = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", code, *map(str, argv)], capture_output=True, cwd=cwd, env=e,
                          timeout=120)


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signals")
@pytest.mark.parametrize("sig, code", [("SIGTERM", 143), ("SIGINT", 130)])
@pytest.mark.parametrize("argv", [["report", "train", "--no-dupes", "-o", "out/page.html"],
                                  ["check", "train", "--format", "junit", "-o", "out/result.xml"]])
def test_a_signal_mid_write_leaves_no_temp_file(ds, sig, code, argv):
    (ds / "out").mkdir()
    res = _child_with(_SIGNAL_MID_WRITE.replace("{sig}", sig), *argv, cwd=ds)
    assert res.returncode == code, res.stderr.decode()
    assert list((ds / "out").iterdir()) == [], list((ds / "out").iterdir())
    err = res.stderr.decode()
    assert err.strip() == ("regaudit: terminated" if sig == "SIGTERM" else "regaudit: interrupted"), err


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX signals")
def test_sigterm_while_scanning_exits_143(ds):
    """SIGTERM at any moment of a run: exit 143 and one line, never a traceback."""
    e = dict(os.environ, PYTHONPATH=str(ROOT))
    for delay in (0.0, 0.3, 0.8):
        p = subprocess.Popen([sys.executable, "-m", "regaudit", "dupes", "train", "--no-cache"], cwd=ds, env=e,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(delay)
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=60)
        assert p.returncode in (143, 0, -signal.SIGTERM), err  # (0: done first; -15: before the handler)
        assert b"Traceback" not in err and b"internal error" not in err, err


@pytest.mark.skipif(not hasattr(signal, "SIGKILL") or not hasattr(os, "geteuid"), reason="POSIX")
def test_temp_files_a_killed_run_left_are_removed_by_the_next_and_nothing_else(ds):
    out = ds / "out"
    out.mkdir()
    killed = _child_with(_SIGNAL_MID_WRITE.replace("{sig}", "SIGKILL"), "report", "train", "--no-dupes",
                         "-o", "out/page.html", cwd=ds)
    assert killed.returncode == -signal.SIGKILL
    left = [p.name for p in out.iterdir()]
    assert len(left) == 1 and left[0].startswith(".page.html.") and left[0].endswith(".tmp"), left
    (out / ".page.html.abcd1234.tmp").write_bytes(b"")  # an empty one (killed before the first byte)
    keep = {".page.html.user0001.tmp": b"my notes", ".page.html.tmp": b"<!-- generator: regaudit -->",
            ".page.html.abcd12345.tmp": b"<!-- generator: regaudit -->", ".other.html.abcd1234.tmp": b"",
            "page.html.abcd1234.tmp": b""}
    for name, data in keep.items():
        (out / name).write_bytes(data)
    os.symlink(ds / "train" / "10_dog" / "a_rather_long_picture_name_000.png", out / ".page.html.link0001.tmp")
    res = child("report", "train", "--no-dupes", "-o", "out/page.html", cwd=ds)
    assert res.returncode == 0, res.stderr.decode()
    assert sorted(p.name for p in out.iterdir()) == sorted([*keep, ".page.html.link0001.tmp", "page.html"])
    for name, data in keep.items():
        assert (out / name).read_bytes() == data


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX")
def test_a_temp_file_a_live_run_is_writing_is_left_alone(tmp_path):
    import fcntl

    from regaudit.outputs import remove_stale_temps

    live = tmp_path / ".page.html.live0001.tmp"
    live.write_text("<!-- generator: regaudit -->")
    with open(live) as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        pid = os.fork()
        if pid == 0:  # another process: the lock is held there
            os._exit(remove_stale_temps(str(tmp_path), "page.html"))
        _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0 and live.exists()
    assert remove_stale_temps(str(tmp_path), "page.html") == 1 and not live.exists()


# --- 3. / 7. deep trees and paths longer than the system takes --------------------------------------

def _nest(top: Path, levels: int, name: str) -> int:
    """``levels`` folders named ``name`` inside each other under ``top`` (made relative to each
    folder's descriptor: the path soon grows past what the system takes); the innermost's fd."""
    fd = os.open(top, os.O_RDONLY)
    for _ in range(levels):
        os.mkdir(name, dir_fd=fd)
        inner = os.open(name, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    return fd


def _put_picture(fd: int, name: str, seed: int) -> None:
    import io

    buf = io.BytesIO()
    textured(seed, (64, 64)).save(buf, format="PNG")
    out = os.open(name, os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=fd)
    os.write(out, buf.getvalue())
    os.close(out)


@pytest.mark.skipif(os.open not in os.supports_dir_fd, reason="dir_fd")
@pytest.mark.parametrize("argv", [["scan", "train"], ["dupes", "train"], ["report", "train", "-o", "page.html"],
                                  ["check", "train", "--dupes"], ["captions", "train"]])
def test_a_thousand_nested_folders_in_a_subset(capsys, ds, argv):
    fd = _nest(ds / "train" / "10_dog", 1000, "dd")  # 3,000 bytes of path below the subset
    _put_picture(fd, "deep.png", 90)
    os.close(fd)
    code, out, err = run(capsys, *argv)
    assert code == 0, err
    if argv[0] in ("scan", "check"):
        assert "1 images in nested folder 'dd' are never read" in out, out


@pytest.mark.skipif(os.open not in os.supports_dir_fd, reason="dir_fd")
def test_paths_longer_than_the_system_takes(capsys, ds, monkeypatch):
    """The dataset lies 5,000 bytes deep and is named relative to the working directory (as a
    listing reaches it): every command reads every image, finds the exact duplicate, and makes
    every thumbnail."""
    fd = _nest(ds, 20, "x" * 250)
    os.mkdir("train", dir_fd=fd)
    sub = os.open("train", os.O_RDONLY, dir_fd=fd)
    os.mkdir("10_dog", dir_fd=sub)
    leaf = os.open("10_dog", os.O_RDONLY, dir_fd=sub)
    for k in range(3):
        _put_picture(leaf, f"p{k}.png", k)
    _put_picture(leaf, "same.png", 0)
    os.fchdir(fd)
    for f in (leaf, sub, fd):
        os.close(f)
    assert len(os.getcwd()) > 5000
    code, out, err = run(capsys, "dupes", "train", "--json", "--no-cache")
    assert code == 0, err
    import json

    doc = json.loads(out)
    assert not [f for f in doc["findings"] if f["code"] == "RA041"], doc["findings"]
    assert any(g["kind"] == "exact" for g in doc["groups"]), doc["groups"]
    page = ds / "page.html"
    code, _, err = run(capsys, "report", "train", "--no-cache", "-o", page)
    assert code == 0 and "4 thumbnails" in err, err


# --- 5. a huge caption file ----------------------------------------------------------------------

def _peak_of(argv, cwd) -> tuple[int, float, bytes]:
    """(exit code, peak memory in MB, stdout) of regaudit in a child, measured with wait4."""
    # measured by a small Python in between: a child forked straight from this test process would
    # count this process's own memory at the fork in its peak (ru_maxrss survives exec), and this
    # process may hold hundreds of MB (torch, imported by the smoke tests)
    e = dict(os.environ, PYTHONPATH=str(ROOT))
    start = time.monotonic()
    measure = ("import os, subprocess, sys\n"
               "p = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)\n"
               "out = p.stdout.read()\n"
               "_, status, usage = os.wait4(p.pid, 0)\n"
               "sys.stderr.write(f'{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}\\n')\n"
               "sys.stdout.buffer.write(out)\n")
    res = subprocess.run([sys.executable, "-c", measure, sys.executable, "-m", "regaudit", *map(str, argv)], cwd=cwd,
                         env=e, capture_output=True)
    code, maxrss = (int(x) for x in res.stderr.decode().split()[-2:])
    peak = maxrss / (1 << 20 if sys.platform == "darwin" else 1 << 10)
    assert time.monotonic() - start < 30
    return code, peak, res.stdout


@pytest.mark.skipif(not hasattr(os, "wait4"), reason="wait4")
def test_a_sparse_gigabyte_caption_is_read_only_up_to_the_cap(ds):
    import json

    cap = ds / "train" / "10_dog" / "a_rather_long_picture_name_000.caption"
    with open(cap, "r+b") as fh:
        fh.write(b"a dog, ")
        os.truncate(fh.fileno(), 1 << 30)  # sparse: 1 GiB that costs no disk
    code, peak, out = _peak_of(["scan", "--json", "-j", "1", "train"], ds)
    assert code == 0 and peak < 400, peak
    doc = json.loads(out)
    found = [f for f in doc["findings"] if f["code"] == "RA094"]
    assert len(found) == 1 and "1.0 GiB (1073741824 bytes)" in found[0]["message"], found
    assert len(out) < 1 << 20  # (the caption in the JSON is the part read, not the file: 64 KiB of \\u0000)
    code, peak, _ = _peak_of(["captions", "-j", "1", "train"], ds)
    assert code == 0 and peak < 400, peak


def test_a_caption_cut_inside_a_character_is_still_utf8(tmp_path):
    from regaudit.limits import CAPTION_BYTES
    from regaudit.sdscripts.captions import read_caption

    (tmp_path / "a.png").write_bytes(b"")
    (tmp_path / "a.caption").write_bytes(b"x" * (CAPTION_BYTES - 1) + "é".encode() * 10)
    cap = read_caption(str(tmp_path / "a.png"), ".caption", None)
    assert cap.error is None and cap.oversize == CAPTION_BYTES + 19 and cap.text == "x" * (CAPTION_BYTES - 1)


# --- 13. / 14. / 15. the hash cache, and a huge PNG chunk -------------------------------------------

def _dupes_json(capsys, *extra):
    import json

    code, out, err = run(capsys, "dupes", "--train", "train", "--reg", "reg", "--json", *extra)
    return code, (json.loads(out) if code == 0 else None), err


@pytest.mark.parametrize("kind", ["random", "zero", "folder", "other-sqlite"])
def test_a_damaged_file_at_the_default_cache_place_is_left_alone_and_the_run_goes_on(capsys, ds, kind):
    default = ds / "xdg" / "regaudit" / "hashes.sqlite"
    default.parent.mkdir(parents=True)
    if kind == "random":
        default.write_bytes(os.urandom(5000))
    elif kind == "zero":
        default.write_bytes(b"")
    elif kind == "folder":
        default.mkdir()
    else:
        db = sqlite3.connect(default)
        db.execute("CREATE TABLE notes (text TEXT)")
        db.commit()
        db.close()
    before = default.read_bytes() if default.is_file() else None
    code, doc, err = _dupes_json(capsys)
    assert code == 0 and doc["hashed"] == 15, err
    assert "hash cache" in err and "not a regaudit hash cache" in err and "going on without it" in err, err
    assert (default.read_bytes() if default.is_file() else None) == before
    assert sorted(p.name for p in default.parent.iterdir()) == ["hashes.sqlite"]  # no -wal, -shm, journal
    code, _, err = run(capsys, "dupes", "--train", "train", "--cache", default)  # named: still refused
    one_line_error(code, err, "--cache")


_OLD_HASHES = ("CREATE TABLE hashes (path TEXT, size INTEGER, mtime INTEGER, params TEXT, digest TEXT, hash INTEGER, "
               "mirror INTEGER, upright INTEGER, error TEXT{fine}, PRIMARY KEY (path, params))")


@pytest.mark.parametrize("schema", [1, 2, 3])
def test_a_cache_of_an_earlier_regaudit_schema_is_rebuilt(capsys, ds, schema):
    """Schemas as regaudit's history made them (git: hashcache.py): 1 meta + hashes; 2 adds
    pixels; 3 drops nothing and adds extras (an upgraded file keeps pixels)."""
    from regaudit.views.hashcache import APPLICATION_ID

    cache = ds / "old.sqlite"
    db = sqlite3.connect(cache)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(schema),))
    db.execute(_OLD_HASHES.format(fine=", fine TEXT" if schema >= 3 else ""))
    if schema >= 2:
        db.execute("CREATE TABLE pixels (path TEXT PRIMARY KEY, size INTEGER, mtime INTEGER, digest TEXT)")
    if schema >= 3:
        db.execute("CREATE TABLE extras (path TEXT, kind TEXT, size INTEGER, mtime INTEGER, value TEXT, "
                   "PRIMARY KEY (path, kind))")
    db.commit()
    db.close()
    code, doc, err = _dupes_json(capsys, "--cache", cache)
    assert code == 0 and doc["hashed"] == 15 and "rebuilt" in err, err
    assert int.from_bytes(cache.read_bytes()[68:72], "big") == APPLICATION_ID
    code, doc, err = _dupes_json(capsys, "--cache", cache)
    assert code == 0 and doc["hashed"] == 0, err  # every hash from the rebuilt cache


def _png_with_a_huge_chunk(path: Path, claimed: int = 1_000_000_000) -> None:
    import io
    import struct

    buf = io.BytesIO()
    textured(3, (64, 64)).save(buf, format="PNG")
    data = buf.getvalue()
    # a chunk that claims a gigabyte right after IHDR (8 + 25 bytes), then sparse zeros
    with open(path, "wb") as fh:
        fh.write(data[:33] + struct.pack(">L", claimed) + b"abCd")
        os.truncate(fh.fileno(), 1 << 30)


@pytest.mark.skipif(not hasattr(os, "wait4"), reason="wait4")
@pytest.mark.parametrize("argv", [["dupes", "--no-cache", "-j", "1", "train"], ["scan", "-j", "1", "train"],
                                  ["scan", "--deep", "-j", "1", "train"]])
def test_a_sparse_gigabyte_png_costs_little_memory(ds, argv):
    _png_with_a_huge_chunk(ds / "train" / "10_dog" / "huge.png")
    code, peak, out = _peak_of(argv, ds)
    assert code == 0 and peak < 400, (code, peak)
    assert b"huge.png" in out


def test_a_huge_png_chunk_is_not_given_to_pillow(tmp_path):
    from regaudit.sdscripts.headers import chunk_problem
    from regaudit.views.hashing import HashKind, encode

    path = tmp_path / "huge.png"
    _png_with_a_huge_chunk(path)
    with open(path, "rb") as fh:
        assert "'abCd' claims 1000000000 bytes" in chunk_problem(fh.fileno())
    entry = encode(str(path), HashKind.PHASH)
    assert entry.hash is None and "claims 1000000000 bytes" in entry.error and entry.digest
    plain = tmp_path / "plain.png"
    textured(3, (64, 64)).save(plain)
    with open(plain, "rb") as fh:
        assert chunk_problem(fh.fileno()) is None


# --- 6. many datasets in one config ----------------------------------------------------------------

def test_many_reg_only_datasets_take_linear_time(capsys, ds):
    """Each dataset asked whether another one trains used to walk every other dataset (quadratic:
    8,000 reg-only datasets took 56 s); the report matched each path against every subset."""
    cfg = ds / "many.toml"
    reg = (ds / "reg" / "1_dog").as_posix()
    cfg.write_text("".join(f"[[datasets]]\n[[datasets.subsets]]\nimage_dir = '{reg}'\nis_reg = true\n\n"
                           for _ in range(1500)))
    start = time.monotonic()
    code, out, err = run(capsys, "scan", "--dataset_config", cfg, "--json", "-j", "1")
    assert code == 0, err
    code, out, err = run(capsys, "balance", "--dataset_config", cfg, "-j", "1")
    assert code == 0 and "… and 1300 more datasets (use --json for every one)" in out, err
    assert time.monotonic() - start < 60


def test_report_filters_find_the_innermost_subset_by_lookup():
    from types import SimpleNamespace

    from regaudit.render.html import _Filters

    def subset(path, role):
        return SimpleNamespace(abs_path=path, role=SimpleNamespace(value=role))

    data = SimpleNamespace(scan=SimpleNamespace(datasets=[
        SimpleNamespace(index=0, subsets=[subset("/d/train/10_a", "train"), subset("/d/train/10_a/inner", "reg")]),
        SimpleNamespace(index=1, subsets=[subset("/d/train/10_a", "train")])]))
    f = _Filters(data)
    assert f.of_path("/d/train/10_a/x.png") == ([0, 2], ["train", "train"])
    assert f.of_path("/d/train/10_a/inner/y.png") == ([1], ["reg"])
    assert f.of_path("/elsewhere/z.png") == ([], [])
    assert f.of_dataset(1) == [2] and f.of_dataset(0) == [0, 1]
