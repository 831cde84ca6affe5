"""Safe on any input (issue 11): outputs never harm a user's file, the hash cache is only ever
regaudit's, nothing blocks on a FIFO, any file name is carried and shown safely, deep nesting,
broken pipes, full disks and absurd numbers end in one line and exit 2, workers die with their
parent, exact hashing streams."""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest

from regaudit.cli import main
from tests.conftest import make_image, textured, tree_fingerprint
from tests import platforms

ROOT = Path(__file__).resolve().parent.parent
BAD = b"\xff.png"  # a file name that is not UTF-8
CTRL = "esc\x1b[2Jx\x01.png"  # a file name with control characters


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code, err, needle=""):
    assert code == 2, err
    assert "Traceback" not in err and "internal error" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert needle in err, err


def cli(*argv, timeout=60, cwd=None, env=None):
    """regaudit in a child process (for what could hang or needs real file descriptors)."""
    e = dict(os.environ, **(env or {}))
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "regaudit", *map(str, argv)], capture_output=True, timeout=timeout,
                          cwd=cwd, env=e)


@pytest.fixture
def ds(tmp_path, monkeypatch):
    """train/10_dog and reg/1_dog with distinct pictures; cwd is tmp_path; the cache in tmp_path/xdg."""
    t, r = tmp_path / "train" / "10_dog", tmp_path / "reg" / "1_dog"
    t.mkdir(parents=True)
    r.mkdir(parents=True)
    for k in range(3):
        textured(k, (64, 64)).save(t / f"t{k}.png")
        textured(20 + k, (64, 64)).save(r / f"r{k}.png")
    (t / "t1.caption").write_text("a dog")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    return tmp_path


def hostile_names(ds):
    t = ds / "train" / "10_dog"
    textured(7, (64, 64)).save(os.path.join(os.fsencode(t), BAD), format="PNG")
    textured(8, (64, 64)).save(t / CTRL)
    (t / "zero\x01.png").write_bytes(b"")  # findings whose paths hold \x01 and the byte 0xfe
    with open(os.path.join(os.fsencode(t), b"\xfe.png"), "wb"):
        pass
    return t


# --- outputs -----------------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["train/10_dog/t0.png", "train/10_dog/t1.caption", "reg/1_dog/../1_dog/r0.png",
                                    "train/new.html"])
@pytest.mark.parametrize("command", ["report", "check"])
def test_output_inside_the_dataset_is_refused(capsys, ds, command, target):
    before = tree_fingerprint(ds / "train"), tree_fingerprint(ds / "reg")
    extra = ["--no-dupes", "--no-cache"] if command == "report" else []
    code, _, err = run(capsys, command, "--train", "train", "--reg", "reg", *extra, "-o", target, "--force")
    one_line_error(code, err, "inside the dataset folder")
    assert (tree_fingerprint(ds / "train"), tree_fingerprint(ds / "reg")) == before


@platforms.symlinks
def test_output_through_a_symlink_or_from_inside_the_dataset_is_refused(capsys, ds, monkeypatch):
    os.symlink(ds / "train" / "10_dog" / "t0.png", ds / "link.html")
    os.symlink(ds / "train" / "10_dog", ds / "dir")
    before = tree_fingerprint(ds / "train")
    for target in ("link.html", "dir/report.html"):
        code, _, err = run(capsys, "report", "--train", "train", "--no-dupes", "--no-cache", "-o", target)
        one_line_error(code, err, "inside the dataset folder")
    monkeypatch.chdir(ds / "train")  # cd T && regaudit report --train .
    code, _, err = run(capsys, "report", "--train", ".", "--no-dupes", "--no-cache")
    one_line_error(code, err, "inside the dataset folder")
    assert tree_fingerprint(ds / "train") == before
    assert os.path.islink(ds / "link.html")


@pytest.mark.skipif(not platforms.ROOT_USER or not shutil.which("mount"), reason="bind mounts need root")
def test_output_and_cache_inside_the_dataset_through_a_bind_mount_are_refused(capsys, ds):
    mnt = ds / "mnt"
    mnt.mkdir()
    if subprocess.run(["mount", "--bind", str(ds / "train"), str(mnt)], capture_output=True).returncode != 0:
        pytest.skip("mount --bind is not permitted here")
    try:
        before = tree_fingerprint(ds / "train")
        code, _, err = run(capsys, "check", "--train", "train", "-o", mnt / "10_dog" / "out.txt")
        one_line_error(code, err, "inside the dataset folder")
        code, _, err = run(capsys, "dupes", "--train", "train", "--cache", mnt / "c.sqlite")
        assert code == 2 and "never writes into a dataset" in err
        assert tree_fingerprint(ds / "train") == before
    finally:
        subprocess.run(["umount", str(mnt)], capture_output=True)


@pytest.mark.parametrize("fmt", ["human", "json", "junit", "github"])
def test_check_output_replaces_only_its_own_files(capsys, ds, fmt):
    out = ds / f"out.{fmt}"
    out.write_text("my notes\n")
    code, _, err = run(capsys, "check", "--train", "train", "--format", fmt, "-o", out)
    one_line_error(code, err, "was not written by regaudit; pass --force")
    assert out.read_text() == "my notes\n"
    code, _, err = run(capsys, "check", "--train", "train", "--format", fmt, "-o", out, "--force")
    assert code == 0 and out.read_text() != "my notes\n"
    first = out.read_bytes()
    code, _, err = run(capsys, "check", "--train", "train", "--format", fmt, "-o", out)  # its own: no --force needed
    assert code == 0 and out.read_bytes() == first
    assert sorted(p.name for p in ds.iterdir() if p.name.startswith(".out")) == []  # no temporary file left


def test_report_replaces_only_its_own_page(capsys, ds):
    page = ds / "report.html"
    page.write_text("<html>mine</html>")
    code, _, err = run(capsys, "report", "--train", "train", "--no-dupes", "--no-cache")
    one_line_error(code, err, "pass --force")
    assert page.read_text() == "<html>mine</html>"
    assert run(capsys, "report", "--train", "train", "--no-dupes", "--no-cache", "--force")[0] == 0
    assert run(capsys, "report", "--train", "train", "--no-dupes", "--no-cache")[0] == 0
    assert "<!-- generator: regaudit -->" in page.read_text()


@platforms.fifos
def test_output_that_is_not_a_regular_file_is_refused_without_waiting(ds):
    os.mkfifo(ds / "fifo.html")
    (ds / "folder.html").mkdir()
    for target in ("fifo.html", "folder.html"):
        res = cli("report", "--train", "train", "--no-dupes", "--no-cache", "-o", target, "--force", cwd=ds, timeout=60)
        assert res.returncode == 2 and b"regular file" in res.stderr
    assert stat.S_ISFIFO(os.stat(ds / "fifo.html").st_mode)


@platforms.fifos
def test_github_step_summary_that_is_a_fifo_never_blocks(ds):
    os.mkfifo(ds / "summary")
    res = cli("check", "--train", "train", cwd=ds, env={"GITHUB_STEP_SUMMARY": str(ds / "summary")}, timeout=60)
    assert res.returncode == 2 and b"job summary" in res.stderr


def test_a_failed_write_keeps_the_earlier_output(capsys, ds, monkeypatch):
    out = ds / "out.json"
    assert run(capsys, "check", "--train", "train", "--format", "json", "-o", out)[0] == 0
    earlier = out.read_bytes()
    import regaudit.outputs as outputs

    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(outputs.os, "write", full)
    code, _, err = run(capsys, "check", "--train", "train", "--format", "json", "-o", out)
    one_line_error(code, err, "No space left on device")
    assert str(out) in err or "out.json" in err
    assert out.read_bytes() == earlier
    assert [p.name for p in ds.iterdir() if p.name.endswith(".tmp")] == []


def test_missing_output_folder_is_one_line(capsys, ds):
    code, _, err = run(capsys, "check", "--train", "train", "-o", ds / "nope" / "out.txt")
    one_line_error(code, err, "does not exist")


# --- the hash cache ------------------------------------------------------------------------------

def _dupes(capsys, cache, *extra):
    return run(capsys, "dupes", "--train", "train", "--reg", "reg", "--cache", cache, "--json", *extra)


def _foreign_sqlite(path: Path, app_id: int = 0) -> None:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    db.execute("INSERT INTO notes (text) VALUES ('keep me')")
    if app_id:
        db.execute(f"PRAGMA application_id = {app_id}")
    db.commit()
    db.close()


@pytest.mark.parametrize("kind", ["text", "empty", "sqlite", "sqlite-other-app"])
def test_a_foreign_cache_file_is_refused_and_left_alone(capsys, ds, kind):
    cache = ds / "notes.txt"
    if kind == "text":
        cache.write_text("my notes")
    elif kind == "empty":
        cache.write_bytes(b"")
    else:
        _foreign_sqlite(cache, 0x1234 if kind == "sqlite-other-app" else 0)
    before = cache.read_bytes()
    code, out, err = _dupes(capsys, cache)
    one_line_error(code, err, "not a regaudit hash cache")
    assert cache.read_bytes() == before
    assert sorted(p.name for p in ds.iterdir()) == ["notes.txt", "reg", "train"]  # no -wal, -shm, journal


@platforms.fifos
def test_a_fifo_as_cache_is_refused_without_waiting(ds):
    os.mkfifo(ds / "fifo")
    res = cli("dupes", "--train", "train", "--cache", "fifo", cwd=ds, timeout=60)
    assert res.returncode == 2 and b"FIFO" in res.stderr
    assert stat.S_ISFIFO(os.stat(ds / "fifo").st_mode)


def test_cache_is_marked_rebuilt_when_outdated_and_replaced_when_corrupt(capsys, ds):
    from regaudit.views.hashcache import APPLICATION_ID

    cache = ds / "c" / "h.sqlite"
    assert json.loads(_dupes(capsys, cache)[1])["hashed"] == 6
    assert int.from_bytes(cache.read_bytes()[68:72], "big") == APPLICATION_ID
    assert json.loads(_dupes(capsys, cache)[1])["hashed"] == 0
    db = sqlite3.connect(cache)  # right version, wrong columns
    db.execute("DROP TABLE extras")
    db.execute("CREATE TABLE extras (path TEXT, other TEXT)")
    db.commit()
    db.close()
    code, out, err = _dupes(capsys, cache)
    assert code == 0 and json.loads(out)["hashed"] == 6 and "rebuilt" in err
    assert json.loads(_dupes(capsys, cache)[1])["hashed"] == 0
    data = cache.read_bytes()  # regaudit's mark intact, the pages garbage
    cache.write_bytes(data[:100] + b"\x07" * (len(data) - 100))
    code, out, err = _dupes(capsys, cache)
    assert code == 0 and json.loads(out)["hashed"] == 6 and "damaged" in err
    assert json.loads(_dupes(capsys, cache)[1])["hashed"] == 0


def test_a_cache_of_an_older_regaudit_is_rebuilt(capsys, ds):
    cache = ds / "old.sqlite"
    db = sqlite3.connect(cache)  # schema 4, as regaudit 0.1.0 made it: no application_id
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    db.execute("INSERT INTO meta VALUES ('schema', '4')")
    db.execute("CREATE TABLE hashes (path TEXT, size INTEGER, mtime INTEGER, params TEXT, digest TEXT, hash INTEGER, "
               "mirror INTEGER, upright INTEGER, error TEXT, fine TEXT, PRIMARY KEY (path, params))")
    db.execute("CREATE TABLE extras (path TEXT, kind TEXT, size INTEGER, mtime INTEGER, value TEXT, "
               "PRIMARY KEY (path, kind))")
    db.commit()
    db.close()
    code, out, err = _dupes(capsys, cache)
    assert code == 0 and json.loads(out)["hashed"] == 6
    assert json.loads(_dupes(capsys, cache)[1])["hashed"] == 0


def test_a_locked_cache_is_used_without_losing_the_other_process_data(capsys, ds):
    cache = ds / "c.sqlite"
    assert _dupes(capsys, cache)[0] == 0
    ino = os.stat(cache).st_ino
    other = sqlite3.connect(cache)
    other.execute("BEGIN EXCLUSIVE")  # another run in the middle of a write
    other.execute("INSERT INTO meta VALUES ('theirs', '1')")
    (ds / "train" / "10_dog" / "t0.png").write_bytes((ds / "reg" / "1_dog" / "r0.png").read_bytes())
    t0 = time.monotonic()
    code, out, err = _dupes(capsys, cache)
    assert code == 0 and json.loads(out)["hashed"] == 1 and "locked" in err
    assert time.monotonic() - t0 < 20
    other.commit()
    other.execute("PRAGMA locking_mode=EXCLUSIVE")  # now one that holds the file for itself
    other.execute("BEGIN EXCLUSIVE")
    other.execute("INSERT INTO meta VALUES ('theirs-too', '1')")
    code, out, err = _dupes(capsys, cache)
    assert code == 0 and "locked" in err and json.loads(out)["hashed"] == 6
    other.commit()
    other.close()
    assert os.stat(cache).st_ino == ino
    db = sqlite3.connect(cache)
    assert {r[0] for r in db.execute("SELECT key FROM meta")} >= {"theirs", "theirs-too"}
    db.close()


def test_a_read_only_cache_is_read_and_not_written(capsys, ds, monkeypatch):
    import regaudit.views.hashcache as hc

    cache = ds / "c.sqlite"
    assert _dupes(capsys, cache)[0] == 0
    before = cache.read_bytes()
    real = os.access
    monkeypatch.setattr(hc.os, "access", lambda p, mode: False if mode == os.W_OK else real(p, mode))
    (ds / "train" / "10_dog" / "t0.png").write_bytes((ds / "reg" / "1_dog" / "r0.png").read_bytes())
    code, out, err = _dupes(capsys, cache)
    assert code == 0 and "read-only" in err and json.loads(out)["hashed"] == 1
    assert cache.read_bytes() == before


@platforms.symlinks
def test_cache_inside_the_dataset_through_a_symlink_is_refused(capsys, ds):
    os.symlink(ds / "train", ds / "elsewhere")
    code, _, err = _dupes(capsys, ds / "elsewhere" / "c.sqlite")
    assert code == 2 and "never writes into a dataset" in err
    assert not (ds / "train" / "c.sqlite").exists()


# --- files that are not regular ---------------------------------------------------------------

@platforms.fifos
def test_fifos_with_image_and_caption_names_never_block(ds):
    t = ds / "train" / "10_dog"
    os.mkfifo(t / "x.png")
    os.mkfifo(t / "t2.caption")
    for argv in (["scan", "train"], ["dupes", "--train", "train", "--no-cache"],
                 ["check", "--train", "train", "--dupes", "--no-cache"],
                 ["report", "--train", "train", "--no-cache", "-o", ds / "r.html"]):
        res = cli(*argv, cwd=ds, timeout=90)
        assert res.returncode in (0, 1), res.stderr
        assert b"internal error" not in res.stderr


@platforms.fifos
def test_policy_fifo_never_blocks(ds):
    os.mkfifo(ds / "p.yaml")
    res = cli("check", "--train", "train", "--policy", "p.yaml", cwd=ds, timeout=60)
    assert res.returncode == 2 and b"regular file" in res.stderr
    os.mkfifo(ds / "regaudit.yaml")  # the default policy file
    res = cli("check", "--train", "train", cwd=ds, timeout=60)
    assert res.returncode == 2 and b"regaudit.yaml" in res.stderr


@platforms.fifos
def test_open_regular_refuses_fifos_and_devices(tmp_path):
    from regaudit.views.hashing import encode
    from regaudit.safeio import NotRegularFile, open_regular

    os.mkfifo(tmp_path / "f.png")
    for p in (tmp_path / "f.png", "/dev/null", tmp_path):
        with pytest.raises(NotRegularFile):
            open_regular(p)
    assert encode(str(tmp_path / "f.png"), __import__("regaudit.views.hashing").views.hashing.HashKind.PHASH).error


def test_exact_hashing_streams_the_file(tmp_path):
    import tracemalloc

    from regaudit.views.hashing import HashKind, encode, file_digest

    big = tmp_path / "big.png"
    with open(big, "wb") as fh:
        fh.truncate(64 << 20)  # sparse: 64 MiB of zeros
    tracemalloc.start()
    entry = encode(str(big), HashKind.PHASH)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert entry.digest == file_digest(str(big)) and entry.error  # read, digested, not an image
    assert peak < 16 << 20


# --- any file name -------------------------------------------------------------------------------

@platforms.byte_names
def test_names_that_are_not_utf8_or_hold_control_characters(capsys, ds):
    t = hostile_names(ds)
    cache = ds / "c.sqlite"
    code, out, err = _dupes(capsys, cache)
    assert code == 0 and "internal error" not in err
    doc = json.loads(out)
    assert json.loads(_dupes(capsys, cache)[1])["hashed"] == 0  # the odd names were cached and found again
    code, out, err = run(capsys, "scan", "--json", "train")
    paths = {os.fsencode(i["path"]) for s in json.loads(out)["subsets"] for i in s["images"]}
    assert os.path.join(os.fsencode(t), BAD) in paths  # lossless: the JSON gives back the bytes
    assert doc["images"] == 8  # the empty images are not hashed
    for argv in (["scan", "--images", "train"], ["dupes", "--train", "train", "--reg", "reg", "--no-cache"],
                 ["check", "--train", "train", "--dupes", "--no-cache"]):
        code, out, err = run(capsys, *argv)
        assert code in (0, 1) and "internal error" not in err
        assert "\x1b" not in out and "\x01" not in out and "\udcff" not in out
    code, out, _ = run(capsys, "scan", "--images", "train")
    assert "train/10_dog/\\xfe.png" in out and "train/10_dog/zero\\x01.png" in out  # in the findings


@platforms.byte_names
@pytest.mark.parametrize("fmt", ["human", "json", "junit", "github"])
def test_every_check_format_takes_any_name(capsys, ds, fmt):
    hostile_names(ds)
    out = ds / "out"
    code, _, err = run(capsys, "check", "--train", "train", "--dupes", "--no-cache", "--format", fmt, "-o", out)
    assert code == 1 and "internal error" not in err  # RA040 for the empty image
    text = out.read_bytes().decode("utf-8")  # valid UTF-8
    if fmt == "json":
        paths = [os.fsencode(f["path"]) for f in json.loads(text)["findings"]]
        assert any(p.endswith(b"zero\x01.png") for p in paths)
    elif fmt == "junit":
        root = ET.fromstring(text.split("\n", 1)[1])
        assert any("zero\\x01.png" in (c.get("name") or "") for c in root.iter("testcase"))
    else:
        assert "\x01" not in text and "\x1b" not in text and "zero\\x01.png" in text


@platforms.byte_names
def test_report_takes_any_name(capsys, ds):
    hostile_names(ds)
    code, _, err = run(capsys, "report", "--train", "train", "--reg", "reg", "--no-cache", "-o", "r.html")
    assert code == 0 and "internal error" not in err
    page = (ds / "r.html").read_text(encoding="utf-8")
    assert "\x1b" not in page and "\\xff.png" in page


def test_display_escapes():
    from regaudit.render.escape import display, json_text

    assert display("a\x1b[2J\x01\udcff\u202e\n.png") == "a\\x1b[2J\\x01\\xff\\u202e\\n.png"
    assert display("plain ü.png") == "plain ü.png"
    assert json.loads(json_text(json.dumps({"p": "\udcff"}, ensure_ascii=False)))["p"] == "\udcff"


def test_names_in_error_messages_are_escaped(capsys, ds):
    code, _, err = run(capsys, "check", "--train", "train", "--policy", "no\x1b[2Jsuch.yaml")
    one_line_error(code, err, "no\\x1b[2Jsuch.yaml")
    assert "\x1b" not in err


# --- nesting, pipes, full disks, killed parents --------------------------------------------------

@pytest.mark.parametrize("text", ["training: " + "[" * 5000 + "]" * 5000,
                                  "rules: " + "{a: " * 200 + "1" + "}" * 200,
                                  "a: &a [*a]\n"])
def test_deeply_nested_policy_is_one_line(capsys, ds, text):
    (ds / "p.yaml").write_text(text)
    code, _, err = run(capsys, "check", "--train", "train", "--policy", "p.yaml")
    one_line_error(code, err, "p.yaml")


def test_parse_guarded_catches_deep_json_and_toml():
    from regaudit.errors import ConfigError
    from regaudit.safeio import parse_guarded

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    for parse in (lambda: json.loads("[" * 100000 + "]" * 100000),
                  lambda: tomllib.loads("a = " + "[" * 5000 + "]" * 5000),
                  lambda: json.loads("[" * 100 + "]" * 100)):
        with pytest.raises(ConfigError, match="nested"):
            parse_guarded(parse, "x.json")
    assert parse_guarded(lambda: {"a": [[1]]}, "x") == {"a": [[1]]}


def test_broken_pipe_exits_0_quietly(ds):
    for argv in (["rules"], ["rules", "--json"], ["scan", "--json", "train"], ["scan", "train"]):
        read, write = os.pipe()
        os.close(read)  # the reader has gone before the first write (regaudit rules | head -1)
        try:
            res = subprocess.run([sys.executable, "-m", "regaudit", *argv], stdout=write, stderr=subprocess.PIPE,
                                 cwd=ds, timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        finally:
            os.close(write)
        assert res.returncode == 0 and res.stderr == b"", (argv, res.stderr)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_stdout_on_a_full_disk_is_one_line(ds):
    for argv in (["rules"], ["scan", "--json", "train"]):
        with open("/dev/full", "w") as full:
            res = subprocess.run([sys.executable, "-m", "regaudit", *argv], stdout=full, stderr=subprocess.PIPE,
                                 cwd=ds, timeout=60, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        err = res.stderr.decode()
        assert res.returncode == 2 and "standard output" in err and "No space left" in err
        assert len(err.strip().splitlines()) == 1, err


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as fh:
            return any(line.startswith("State:") and "Z" in line for line in fh)
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_die_with_a_killed_parent(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent(f"""
        import os, sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from regaudit.parallel import map_chunks

        def slow(x):
            open(os.path.join({str(tmp_path)!r}, "w%d" % os.getpid()), "w").close()
            time.sleep(60)
            return x

        if __name__ == "__main__":
            map_chunks(slow, list(range(8)), jobs=2, chunk=1, min_parallel=1)
    """))
    parent = subprocess.Popen([sys.executable, str(script)])
    try:
        deadline = time.monotonic() + 30
        while len(list(tmp_path.glob("w*"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        workers = [int(p.name[1:]) for p in tmp_path.glob("w*")]
        assert len(workers) == 2
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while not all(_gone(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert all(_gone(w) for w in workers)
    finally:
        parent.kill()
        for p in tmp_path.glob("w*"):
            try:
                os.kill(int(p.name[1:]), signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_too_many_jobs_start_only_useful_workers():
    from regaudit.parallel import worker_count

    assert worker_count(10**6, 3) == 3
    assert worker_count(10**6, 10**6) <= 4 * (os.cpu_count() or 1)


# --- numbers -----------------------------------------------------------------------------------

@pytest.mark.parametrize("policy, needle", [
    ("training: {resolution: 0}", "training.resolution: 0 is outside"),
    ("training: {resolution: -512}", "outside"),
    ("training: {resolution: 1000000000}", "outside"),
    ("training: {resolution: [512, 0]}", "outside"),
    ("training: {resolution: [512, [1]]}", "integers"),
    ("training: {resolution: '7,x'}", "should be N"),
    ("training: {train_batch_size: 0}", "training.train_batch_size: 0 is outside 1..4096"),
    ("training: {max_train_epochs: -1}", "outside"),
    ("training: {bucket_reso_steps: 0}", "outside"),
    ("training: {prior_loss_weight: .nan}", "not a finite number"),
    ("training: {prior_loss_weight: -1}", "outside"),
    ("rules: {near-duplicate: {max-distance: -5}}", "max-distance: -5 is outside 0..32"),
    ("rules: {near-duplicate: {max-distance: 99}}", "outside 0..32"),
    ("rules: {near-duplicate: {hash: md5}}", "not one of phash"),
])
def test_absurd_numbers_in_the_policy(capsys, ds, policy, needle):
    (ds / "p.yaml").write_text(policy + "\n")
    code, _, err = run(capsys, "check", "--train", "train", "--policy", "p.yaml")
    one_line_error(code, err, needle)


@pytest.mark.parametrize("argv, needle", [
    (["dupes", "train", "--max-distance", "-5"], "--max-distance"),
    (["report", "--train", "train", "--thumb-size", "7"], "--thumb-size"),
])
def test_absurd_numbers_on_the_command_line(capsys, ds, argv, needle):
    code, _, err = run(capsys, *argv)
    one_line_error(code, err, needle)


def test_dupes_options_validate_the_distance():
    from regaudit.views.dupes import DupesOptions
    from regaudit.errors import OptionError

    with pytest.raises(OptionError, match="outside 0..32"):
        DupesOptions(max_distance=-5)


def test_smoke_refuses_an_untrainable_size_and_bad_numbers(capsys, ds):
    pytest.importorskip("torch")
    code, _, err = run(capsys, "smoke", "--train", "train", "--reg", "reg", "--resolution", "7,9", "--device", "cpu")
    one_line_error(code, err, "multiple of 8")
    for argv, needle in ((["--seed", str(10**30)], "--seed"), (["--huber-c", "0"], "--huber-c"),
                         (["--batch-size", "100000"], "--batch-size")):
        code, _, err = run(capsys, "smoke", "--train", "train", "--reg", "reg", "--resolution", "64",
                           "--device", "cpu", *argv)
        one_line_error(code, err, needle)


@pytest.mark.parametrize("inherited", ["ignored", "default"])
def test_ctrl_c_handling_keeps_an_ignored_sigint_ignored(monkeypatch, inherited):
    """A run started with Ctrl-C ignored (a background job of a script) keeps ignoring it; otherwise
    regaudit handles it from its first step (so it can say 'interrupted')."""
    import regaudit.cli  # noqa: F401  (its module 'app' is shadowed by the Typer object of that name)
    from regaudit import entry

    app_mod = sys.modules["regaudit.cli.app"]
    seen = []
    monkeypatch.setattr(app_mod, "run", lambda interrupted: seen.append(signal.getsignal(signal.SIGINT)))
    before = signal.getsignal(signal.SIGINT)
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN if inherited == "ignored" else signal.default_int_handler)
        entry.run()
        if inherited == "ignored":
            assert seen == [signal.SIG_IGN]
        else:
            assert seen and seen[0] not in (signal.SIG_IGN, signal.default_int_handler)
    finally:
        signal.signal(signal.SIGINT, before)


def test_an_undecodable_image_found_while_hashing_is_named_the_same_every_run(tmp_path):
    d = tmp_path / "train" / "1_x"
    d.mkdir(parents=True)
    (d / "bad.png").write_bytes(b"not an image at all")
    make_image(d / "good.png")
    outs = [subprocess.run([sys.executable, "-m", "regaudit", "dupes", "--train", str(tmp_path / "train"),
                            "--no-cache", "--json"], capture_output=True, text=True, timeout=120).stdout
            for _ in range(2)]
    assert outs[0] == outs[1]
    messages = [f["message"] for f in json.loads(outs[0])["findings"] if f["code"] == "RA043"]
    assert messages and all(" at 0x" not in m for m in messages)


# --- the process's own limits ------------------------------------------------------------------

@pytest.mark.parametrize("where", ["image", "caption", "folder", "pillow"])
def test_no_file_descriptor_left_is_one_line_not_a_finding(capsys, ds, monkeypatch, where):
    """Out of file descriptors (EMFILE) is the run's problem: one line naming the file and what to
    do, exit 2; never an 'unreadable' finding on a healthy image, caption or folder."""
    import regaudit.sdscripts.images as images

    real_open, real_scandir = os.open, os.scandir
    emfile = OSError(errno.EMFILE, "Too many open files")

    def fake_open(path, *a, **k):
        if (where == "image" and str(path).endswith("t0.png")) or (where == "caption" and str(path).endswith(".caption")):
            raise emfile
        return real_open(path, *a, **k)

    def fake_scandir(path="."):
        if where == "folder" and str(path).endswith("1_dog"):
            raise emfile
        return real_scandir(path)

    monkeypatch.setattr(os, "open", fake_open)
    monkeypatch.setattr(os, "scandir", fake_scandir)
    if where == "pillow":  # Pillow imports a plugin and fails: the image is not at fault
        (ds / "train" / "10_dog" / "t0.png").write_bytes(b"BM" + b"\0" * 60)  # (a header Pillow must read)

        def fake_pil():
            raise emfile
        monkeypatch.setattr(images, "_pil", fake_pil)
    code, out, err = run(capsys, "scan", "--train", "train", "--reg", "reg", "--json", "-j", "1")
    one_line_error(code, err, "ulimit -n")
    assert "t0.png" in err or ".caption" in err or "1_dog" in err


@platforms.preexec
def test_closed_stdout_or_stderr(ds):
    """Started with stdout closed: one line on stderr, exit 2. With stderr closed: the output as
    usual."""
    e = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "regaudit", "scan", "--train", "train", "--reg", "reg", "--json"]
    no_out = subprocess.run(cmd, capture_output=False, stdout=None, stderr=subprocess.PIPE, env=e, timeout=60,
                            preexec_fn=lambda: os.close(1))
    assert no_out.returncode == 2 and b"standard output" in no_out.stderr and b"Traceback" not in no_out.stderr
    no_err = subprocess.run(cmd, stdout=subprocess.PIPE, env=e, timeout=60, preexec_fn=lambda: os.close(2))
    assert no_err.returncode == 0 and json.loads(no_err.stdout)["command"] == "scan"


@platforms.rlimits
def test_too_few_file_descriptors_are_refused_up_front(ds):
    """A hard open-files limit too low to run is one line and exit 2 before anything is read; a
    low soft limit under a higher hard one is raised and the run goes on."""
    import resource

    e = dict(os.environ, PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "regaudit", "scan", "--train", "train", "--reg", "reg", "--json"]
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    low = subprocess.run(cmd, capture_output=True, env=e, timeout=60,
                         preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (24, 24)))
    one_line_error(low.returncode, low.stderr.decode(), "ulimit -n")
    if hard == resource.RLIM_INFINITY or hard >= 256:
        soft_only = subprocess.run(cmd, capture_output=True, env=e, timeout=60,
                                   preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (24, hard)))
        assert soft_only.returncode == 0, soft_only.stderr
        assert json.loads(soft_only.stdout)["command"] == "scan"


def test_no_descriptor_left_anywhere_else_is_one_line(capsys, ds, monkeypatch):
    """Out of descriptors where no file is to blame (an import, a cache): one line, exit 2."""
    import regaudit.views.scan as scan_module

    def no_fd():
        raise OSError(errno.EMFILE, "Too many open files")

    monkeypatch.setattr(scan_module, "shared_counter", no_fd)
    code, out, err = run(capsys, "scan", "--train", "train", "--reg", "reg", "--json")
    one_line_error(code, err, "ulimit -n")
