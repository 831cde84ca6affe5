"""The hash cache is only ever regaudit's: a foreign, damaged, locked, read-only or older cache
file is refused, rebuilt or read without harm, never one inside the dataset or a FIFO."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import time
from pathlib import Path

import pytest

from tests import platforms
from tests.hostile_fixtures import cli, dupes_cached, one_line_error, run
from tests.hostile_fixtures import ds, ds_captioned  # noqa: F401 (fixtures)


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
    code, out, err = dupes_cached(capsys, cache)
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
    assert json.loads(dupes_cached(capsys, cache)[1])["hashed"] == 6
    assert int.from_bytes(cache.read_bytes()[68:72], "big") == APPLICATION_ID
    assert json.loads(dupes_cached(capsys, cache)[1])["hashed"] == 0
    db = sqlite3.connect(cache)  # right version, wrong columns
    db.execute("DROP TABLE extras")
    db.execute("CREATE TABLE extras (path TEXT, other TEXT)")
    db.commit()
    db.close()
    code, out, err = dupes_cached(capsys, cache)
    assert code == 0 and json.loads(out)["hashed"] == 6 and "rebuilt" in err
    assert json.loads(dupes_cached(capsys, cache)[1])["hashed"] == 0
    data = cache.read_bytes()  # regaudit's mark intact, the pages garbage
    cache.write_bytes(data[:100] + b"\x07" * (len(data) - 100))
    code, out, err = dupes_cached(capsys, cache)
    assert code == 0 and json.loads(out)["hashed"] == 6 and "damaged" in err
    assert json.loads(dupes_cached(capsys, cache)[1])["hashed"] == 0


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
    code, out, err = dupes_cached(capsys, cache)
    assert code == 0 and json.loads(out)["hashed"] == 6
    assert json.loads(dupes_cached(capsys, cache)[1])["hashed"] == 0


def test_a_locked_cache_is_used_without_losing_the_other_process_data(capsys, ds):
    cache = ds / "c.sqlite"
    assert dupes_cached(capsys, cache)[0] == 0
    ino = os.stat(cache).st_ino
    other = sqlite3.connect(cache)
    other.execute("BEGIN EXCLUSIVE")  # another run in the middle of a write
    other.execute("INSERT INTO meta VALUES ('theirs', '1')")
    (ds / "train" / "10_dog" / "t0.png").write_bytes((ds / "reg" / "1_dog" / "r0.png").read_bytes())
    t0 = time.monotonic()
    code, out, err = dupes_cached(capsys, cache)
    assert code == 0 and json.loads(out)["hashed"] == 1 and "locked" in err
    assert time.monotonic() - t0 < 20
    other.commit()
    other.execute("PRAGMA locking_mode=EXCLUSIVE")  # now one that holds the file for itself
    other.execute("BEGIN EXCLUSIVE")
    other.execute("INSERT INTO meta VALUES ('theirs-too', '1')")
    code, out, err = dupes_cached(capsys, cache)
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
    assert dupes_cached(capsys, cache)[0] == 0
    before = cache.read_bytes()
    real = os.access
    monkeypatch.setattr(hc.os, "access", lambda p, mode: False if mode == os.W_OK else real(p, mode))
    (ds / "train" / "10_dog" / "t0.png").write_bytes((ds / "reg" / "1_dog" / "r0.png").read_bytes())
    code, out, err = dupes_cached(capsys, cache)
    assert code == 0 and "read-only" in err and json.loads(out)["hashed"] == 1
    assert cache.read_bytes() == before


@platforms.symlinks
def test_cache_inside_the_dataset_through_a_symlink_is_refused(capsys, ds):
    os.symlink(ds / "train", ds / "elsewhere")
    code, _, err = dupes_cached(capsys, ds / "elsewhere" / "c.sqlite")
    assert code == 2 and "never writes into a dataset" in err
    assert not (ds / "train" / "c.sqlite").exists()


def _dupes_json(capsys, *extra):
    import json

    code, out, err = run(capsys, "dupes", "--train", "train", "--reg", "reg", "--json", *extra)
    return code, (json.loads(out) if code == 0 else None), err


@pytest.mark.parametrize("kind", ["random", "zero", "folder", "other-sqlite"])
def test_a_damaged_file_at_the_default_cache_place_is_left_alone_and_the_run_goes_on(capsys, ds_captioned, kind):
    default = ds_captioned / "xdg" / "regaudit" / "hashes.sqlite"
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
def test_a_cache_of_an_earlier_regaudit_schema_is_rebuilt(capsys, ds_captioned, schema):
    """Schemas as regaudit's history made them (git: hashcache.py): 1 meta + hashes; 2 adds
    pixels; 3 drops nothing and adds extras (an upgraded file keeps pixels)."""
    from regaudit.views.hashcache import APPLICATION_ID

    cache = ds_captioned / "old.sqlite"
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


@pytest.mark.skipif(os.name == "nt", reason="flock: a live run's temporary cache is told by its lock")
def test_a_killed_runs_temporary_cache_is_removed_by_the_next_run_and_nothing_else(capsys, ds):
    # SIGKILL while a cache is built left .c.sqlite.XXXXXXXX.tmp (and SQLite's -wal/-shm): no later run removed them
    import fcntl

    cache = ds / "cache" / "c.sqlite"
    code, _, err = dupes_cached(capsys, cache)
    assert code == 0, err
    stale = cache.parent / ".c.sqlite.abcd1234.tmp"
    stale.write_bytes(cache.read_bytes())  # regaudit's own (its application_id)
    Path(str(stale) + "-wal").write_bytes(b"")
    empty = cache.parent / ".c.sqlite.empty123.tmp"  # killed between mkstemp and the first write
    empty.write_bytes(b"")
    users = {cache.parent / ".c.sqlite.userfile.tmp": b"my notes", cache.parent / ".c.sqlite.tmp": b"x",
             cache.parent / ".other.sqlite.abcd1234.tmp": cache.read_bytes()}
    for path, data in users.items():
        path.write_bytes(data)
    live = cache.parent / ".c.sqlite.live1234.tmp"  # another run building its cache now: it holds the flock
    live.write_bytes(cache.read_bytes())
    fd = os.open(live, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        code, _, err = dupes_cached(capsys, cache)
    finally:
        os.close(fd)
    assert code == 0, err
    assert not stale.exists() and not Path(str(stale) + "-wal").exists() and not empty.exists()
    assert live.exists()
    assert all(path.read_bytes() == data for path, data in users.items())


def test_a_relative_xdg_cache_home_is_ignored(monkeypatch, tmp_path):
    # XDG_CACHE_HOME=relcache made ./relcache in whatever folder regaudit ran in; the XDG spec ignores it
    from regaudit.views.hashcache import default_path

    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("XDG_CACHE_HOME", "relcache")
    assert default_path() == tmp_path / "home" / ".cache" / "regaudit" / "hashes.sqlite"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_path() == tmp_path / "xdg" / "regaudit" / "hashes.sqlite"
    monkeypatch.setenv("XDG_CACHE_HOME", "")
    monkeypatch.setenv("HOME", "relhome")  # (it made ./relhome/.cache/regaudit in the working directory)
    assert default_path() is None
