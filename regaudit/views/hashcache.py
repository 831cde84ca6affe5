"""A persistent cache of image hashes, keyed by path, size, mtime and hash parameters.

SQLite in the user's cache directory by default. It is only ever a cache, and only ever
regaudit's: the file carries regaudit's ``PRAGMA application_id`` and a known schema.

* A missing cache is created complete in a temporary file and then linked into place, so a
  half-made cache never exists and every cache file regaudit leaves has its mark.
* A file that is not regaudit's (not SQLite, another program's SQLite database, an empty file, a
  FIFO, a folder) is never touched. Named with ``--cache`` it is refused with exit 2
  (``check_outside`` says so before any work); at the default place, which nobody chose, the run
  goes on without the cache and says so on stderr.
* A cache of an earlier regaudit (schemas 1 to 4: its own ``meta`` table, no application_id) is
  recognised by its tables and rebuilt.
* A regaudit cache that is outdated (older schema, or the right version with other columns) is
  rebuilt in one transaction; one that is corrupt is replaced by a fresh one.
* A cache that is locked by another process (after a short wait), read-only, or on a full disk
  is used as far as it can be (or not at all) for this run, with a note; nobody's data is lost.
* It is never inside a dataset (``check_outside``, by device and inode, through bind mounts).

Paths are stored as bytes (``os.fsencode``), so any file name round-trips.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import quote

from ..errors import OptionError
from .hashing import HashEntry
from ..placement import containing_root
from ..safeio import hold_signals, kind_of, open_regular, temp_names, try_lock

SCHEMA = 5  # 5: application_id, paths as BLOB
APPLICATION_ID = 0x52674175  # b"RgAu", at offset 68 of the SQLite header
BUSY_MS = 500  # how long to wait for another run's lock before going on without the cache
_IN_CHUNK = 500  # paths per 'WHERE path IN (...)' lookup (SQLite allows 999 parameters at least)
_MAGIC = b"SQLite format 3\x00"
_TABLES = {
    "meta": (("key", "TEXT"), ("value", "TEXT")),
    "hashes": (("path", "BLOB"), ("size", "INTEGER"), ("mtime", "INTEGER"), ("params", "TEXT"),
               ("digest", "TEXT"), ("hash", "INTEGER"), ("mirror", "INTEGER"), ("upright", "INTEGER"),
               ("error", "TEXT"), ("fine", "TEXT")),
    "extras": (("path", "BLOB"), ("kind", "TEXT"), ("size", "INTEGER"), ("mtime", "INTEGER"), ("value", "TEXT")),
}
_KEYS = {"meta": "key", "hashes": "path, params", "extras": "path, kind"}
# regaudit's caches before schema 5 had no application_id: 'meta' (with its 'schema' row) and
# 'hashes' always, 'pixels' (schema 2, kept by later upgrades) and 'extras' (schemas 3 and 4)
_LEGACY_TABLES = frozenset({"meta", "hashes", "extras", "pixels"})
_LEGACY_SCHEMAS = frozenset({"1", "2", "3", "4"})


_ENC, _ERRORS = sys.getfilesystemencoding(), sys.getfilesystemencodeerrors()


def _encoded(path: str) -> bytes | None:
    """``os.fsencode(path)`` without its checks; None for a path no file can have (a lone surrogate
    outside surrogateescape's range, from a metadata key): nothing is cached under it."""
    try:
        return path.encode(_ENC, _ERRORS)
    except UnicodeEncodeError:
        return None


def default_path() -> Path | None:
    """$XDG_CACHE_HOME/regaudit/hashes.sqlite, else ~/.cache/...; a relative XDG_CACHE_HOME is ignored, as
    the XDG base directory specification says (it made a cache folder in whatever folder regaudit ran in).
    None where neither is an absolute path (HOME unset or relative): no default cache then."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "regaudit" / "hashes.sqlite" if os.path.isabs(base) else None


class _Foreign(Exception):
    """The file is not a regaudit cache; the reason."""


def _kind(exc: sqlite3.Error) -> str:
    """'busy', 'corrupt', 'readonly', 'full' or 'other', from SQLite's result code."""
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        primary = code & 0xFF
        return {5: "busy", 6: "busy", 11: "corrupt", 26: "corrupt", 8: "readonly", 13: "full",
                14: "readonly", 3: "readonly"}.get(primary, "other")
    text = str(exc).lower()  # Python 3.10 has no error codes
    for needle, kind in (("locked", "busy"), ("busy", "busy"), ("malformed", "corrupt"), ("not a database", "corrupt"),
                         ("readonly", "readonly"), ("read-only", "readonly"), ("disk is full", "full"),
                         ("unable to open", "readonly")):
        if needle in text:
            return kind
    return "other"


def _header(path: Path) -> bytes:
    with open_regular(path) as fh:
        return fh.read(100)


def _ro_uri(path: Path, immutable: bool = False) -> str:
    """A read-only SQLite URI; ``immutable`` also skips locks and the -wal/-shm files, so nothing
    is created beside a file that may be another program's."""
    return "file:" + quote(os.fsencode(os.path.abspath(path))) + "?mode=ro" + ("&immutable=1" if immutable else "")


def _identify(path: Path) -> str:
    """'ours' or 'legacy' (an older regaudit cache); raises _Foreign with the reason otherwise,
    and OSError / sqlite3.Error when it cannot be told."""
    head = _header(path)
    if not head:
        raise _Foreign("an empty file")
    if not head.startswith(_MAGIC) or len(head) < 100:
        raise _Foreign("not an SQLite database")
    app_id = int.from_bytes(head[68:72], "big")
    if app_id == APPLICATION_ID:
        return "ours"
    if app_id != 0:
        raise _Foreign(f"another program's SQLite database, application_id {app_id:#x}")
    db = sqlite3.connect(_ro_uri(path, immutable=True), uri=True, timeout=BUSY_MS / 1000)
    try:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        legacy = {"meta", "hashes"} <= tables <= _LEGACY_TABLES
        if legacy:
            row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
            legacy = row is not None and str(row[0]) in _LEGACY_SCHEMAS
    finally:
        db.close()
    if not legacy:
        raise _Foreign("an SQLite database that regaudit did not create")
    return "legacy"


_SQLITE_SIDES = ("-wal", "-shm", "-journal")
STALE_SECONDS = 600  # without flock (Windows): a temporary cache this old was left by a killed run


def _held(path: Path, st: os.stat_result, now: float) -> bool:
    """Whether a live regaudit may still be building the temporary cache at ``path``: it holds an
    exclusive flock on it from creation to removal (without flock: it is younger than STALE_SECONDS)."""
    if os.name == "nt":
        return now - st.st_mtime < STALE_SECONDS
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return True
    try:
        return not try_lock(fd)  # (released when closed, before it is removed: a new run's file has another name)
    finally:
        os.close(fd)


def remove_stale_temps(path: Path, now: float | None = None) -> int:
    """Remove the temporary caches a killed regaudit left beside ``path`` (``.NAME.XXXXXXXX.tmp``, with
    SQLite's -wal/-shm/-journal beside it): only files of this user that no live run holds, empty or
    regaudit's own hash cache (its application_id); anything else of that name is left. How many were
    removed; never raises."""
    import time

    now = time.time() if now is None else now
    uid = os.geteuid() if hasattr(os, "geteuid") else None
    removed = 0
    for name in temp_names(str(path.parent), path.name):
        tmp = path.parent / name
        try:
            st = os.lstat(tmp)
            if not stat.S_ISREG(st.st_mode) or (uid is not None and st.st_uid != uid) or _held(tmp, st, now):
                continue
            if st.st_size and _identify(tmp) != "ours":
                continue
            for side in _SQLITE_SIDES:
                side_path = Path(str(tmp) + side)
                if os.path.isfile(side_path) and not os.path.islink(side_path):
                    os.unlink(side_path)
            os.unlink(tmp)
            removed += 1
        except (OSError, sqlite3.Error, _Foreign):
            continue
    return removed


def _refusal(path: Path, why: str) -> OptionError:
    return OptionError(f"--cache {path}: not a regaudit hash cache ({why}); regaudit never overwrites or deletes "
                       f"it: choose another path, or --no-cache")


def check_usable(cache: Path, named: bool = True) -> None:
    """Refuse (OptionError) a cache path that is a FIFO, a folder or a device, or a file that is
    not regaudit's cache. A missing file, or one that cannot be read now, passes: the run then
    creates it, or goes on without it. At the default place (not ``named``) everything passes:
    the run goes on without such a cache."""
    if not named:
        return
    try:
        st = os.stat(cache)
    except (OSError, ValueError):
        return
    if not stat.S_ISREG(st.st_mode):
        raise OptionError(f"--cache {cache}: is {kind_of(st.st_mode)}; the hash cache must be a file path")
    try:
        _identify(cache)
    except _Foreign as exc:
        raise _refusal(cache, str(exc)) from None
    except (OSError, sqlite3.Error):
        return  # unreadable or locked now: the run goes on without it, with a note


def check_outside(cache: Path, roots: Iterable[str], named: bool = True) -> None:
    """Refuse a cache that lies inside any of the dataset's folders (compared by device and inode,
    so symlinks, '..' and bind mounts do not hide it), or, ``named`` with --cache, that is not a
    usable cache file."""
    root = containing_root(os.fspath(cache), roots)
    if root is not None:
        raise OptionError(f"--cache {cache} lies inside the dataset folder {os.path.abspath(root)}; regaudit never "
                          f"writes into a dataset, choose another place")
    check_usable(cache, named)


def _schema_ok(db: sqlite3.Connection) -> bool:
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if not set(_TABLES) <= tables:
        return False
    for name, cols in _TABLES.items():
        info = tuple((r[1], r[2].upper()) for r in db.execute(f"PRAGMA table_info({name})"))
        if info != cols:
            return False
    row = db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
    return row is not None and row[0] == str(SCHEMA)


def _create_tables(db: sqlite3.Connection) -> None:
    for name, cols in _TABLES.items():
        db.execute(f"DROP TABLE IF EXISTS {name}")
        db.execute(f"CREATE TABLE {name} ({', '.join(f'{c} {t}' for c, t in cols)}, PRIMARY KEY ({_KEYS[name]}))")
    db.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA),))


class HashCache:
    """The cache for one run. ``notes`` says what went wrong with it, for the CLI to show."""

    def __init__(self, path: Path | None, named: bool = True):
        self.path = path
        self.named = named  # given with --cache (else the default place)
        self.db: sqlite3.Connection | None = None
        self.writable = True
        self.write_busy = False  # a write found the cache locked: no more waiting on it this run
        self.notes: list[str] = []
        if path is not None:
            self.db = self._open(Path(path))

    # --- opening -------------------------------------------------------------------------------

    def _note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def _without(self, why: str) -> None:
        self._note(f"hash cache {self.path}: {why}; going on without it this run")
        return None

    def _open(self, path: Path) -> sqlite3.Connection | None:
        remove_stale_temps(path)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return self._create(path)
        except OSError as exc:
            return self._without(f"cannot be read ({exc.strerror or exc})")
        if not stat.S_ISREG(st.st_mode):
            if not self.named:
                return self._without(f"is {kind_of(st.st_mode)}, not a regaudit hash cache; it is left as it is")
            raise OptionError(f"--cache {path}: is {kind_of(st.st_mode)}; the hash cache must be a file path")
        try:
            kind = _identify(path)
        except _Foreign as exc:
            if not self.named:
                return self._without(f"is not a regaudit hash cache ({exc}); it is left as it is (remove it, or "
                                     f"name another file with --cache)")
            raise _refusal(path, str(exc)) from None
        except OSError as exc:
            return self._without(f"cannot be read ({exc.strerror or exc})")
        except sqlite3.Error as exc:
            return self._without(self._why(exc))
        if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK):
            return self._open_read_only(path, kind)
        try:
            db = sqlite3.connect(os.fsencode(path), timeout=BUSY_MS / 1000)
        except sqlite3.Error as exc:
            return self._without(self._why(exc))
        try:
            ours = db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID  # as of the WAL, too
            if ours and _schema_ok(db):
                return db
            with db:  # outdated: rebuilt in one transaction, which waits for (or gives way to) others
                db.execute("BEGIN IMMEDIATE")
                _create_tables(db)
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            db.execute("PRAGMA wal_checkpoint(PASSIVE)")  # the mark reaches the file's header now
            self._note(f"hash cache {path}: made by another regaudit version; rebuilt")
            return db
        except sqlite3.Error as exc:
            db.close()
            if _kind(exc) == "corrupt":
                return self._replace(path)
            return self._without(self._why(exc))

    def _open_read_only(self, path: Path, kind: str) -> sqlite3.Connection | None:
        if kind != "ours":
            return self._without("is read-only and made by another regaudit version")
        db = None
        for immutable in (False, True):  # without write access to the folder, WAL needs immutable
            try:
                db = sqlite3.connect(_ro_uri(path, immutable), uri=True, timeout=BUSY_MS / 1000)
                ok = _schema_ok(db)
                break
            except sqlite3.Error as exc:
                if db is not None:
                    db.close()
                    db = None
                if immutable:
                    return self._without(self._why(exc))
        if not ok:
            db.close()
            return self._without("is read-only and made by another regaudit version")
        self.writable = False
        self._note(f"hash cache {path}: is read-only; hashes are read from it but new ones are not saved")
        return db

    @staticmethod
    def _why(exc: sqlite3.Error) -> str:
        return {"busy": "is locked by another process", "readonly": "cannot be written (read-only)",
                "full": "the disk is full", "corrupt": "is damaged"}.get(_kind(exc), f"cannot be used ({exc})")

    def _fresh_file(self, path: Path) -> tuple[str, int]:
        """A complete, empty cache in a temporary file beside ``path``: its name, and a descriptor of it
        that holds the flock saying a live run is building it (the caller closes it once it is done)."""
        release = hold_signals()
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        except BaseException:
            release()
            raise
        try:
            release()  # (a signal held since before mkstemp is handled here: the temporary file is removed)
            try_lock(fd)  # (held until the caller closes it: _held looks for it)
            db = sqlite3.connect(os.fsencode(tmp))
            try:
                db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                db.execute("PRAGMA journal_mode=WAL")
                with db:
                    _create_tables(db)
            finally:
                db.close()
        except BaseException:
            os.unlink(tmp)
            os.close(fd)
            raise
        return tmp, fd

    def _create(self, path: Path) -> sqlite3.Connection | None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp, fd = self._fresh_file(path)
        except (OSError, sqlite3.Error) as exc:
            why = exc.strerror if isinstance(exc, OSError) else self._why(exc)
            return self._without(f"cannot be created ({why or exc})")
        try:
            os.link(tmp, path)  # never over a file another run made meanwhile
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            if not os.path.lexists(path):
                os.replace(tmp, path)
        finally:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            os.close(fd)
        return self._open_existing(path)

    def _open_existing(self, path: Path) -> sqlite3.Connection | None:
        try:
            if _identify(path) != "ours":
                return self._without("was changed by someone else meanwhile")
            db = sqlite3.connect(os.fsencode(path), timeout=BUSY_MS / 1000)
            if not _schema_ok(db):
                db.close()
                return self._without("was changed by someone else meanwhile")
            return db
        except _Foreign as exc:
            if not self.named:
                return self._without(f"was changed by someone else meanwhile ({exc})")
            raise _refusal(path, str(exc)) from None
        except OSError as exc:
            return self._without(f"cannot be read ({exc.strerror or exc})")
        except sqlite3.Error as exc:
            return self._without(self._why(exc))

    def _replace(self, path: Path) -> sqlite3.Connection | None:
        """Our cache is corrupt: a fresh one takes its place (the only time a cache is deleted)."""
        try:
            tmp, fd = self._fresh_file(path)
            try:
                for suffix in ("-wal", "-shm"):
                    try:
                        os.unlink(str(path) + suffix)
                    except FileNotFoundError:
                        pass
                os.replace(tmp, path)
            finally:
                os.close(fd)
        except (OSError, sqlite3.Error) as exc:
            why = exc.strerror if isinstance(exc, OSError) else self._why(exc)
            return self._without(f"is damaged and cannot be replaced ({why or exc})")
        self._note(f"hash cache {path}: was damaged; replaced by a new one")
        return self._open_existing(path)

    # --- use -----------------------------------------------------------------------------------

    def _failed(self, exc: sqlite3.Error, writing: bool) -> None:
        kind = _kind(exc)
        if kind == "corrupt" and self.writable and self.path is not None:
            if self.db is not None:
                self.db.close()
            self.db = self._replace(Path(self.path))
            return
        if writing and kind in ("busy", "readonly", "full"):
            self._note(f"hash cache {self.path}: {self._why(exc)}; new hashes are not saved this run")
            if kind != "busy":
                self.writable = False
            else:
                self.write_busy = True
            return
        self._note(f"hash cache {self.path}: {self._why(exc)}; not used this run")
        if self.db is not None:
            self.db.close()
        self.db = None

    def get_many(self, keys: list[tuple[str, int, int]], params: str) -> dict[str, HashEntry]:
        """The cached entries of ``keys`` (path, size, mtime) whose size and mtime still match.

        One pass over the rows of ``params`` when the cache holds not much more than these paths
        (the usual case: one dataset, cached by its last run); otherwise lookups by primary key,
        ``_IN_CHUNK`` paths a query, so a cache of many datasets is not read whole."""
        if self.db is None or not keys:
            return {}
        wanted = {}
        for key in keys:
            raw = _encoded(key[0])
            if raw is not None:
                wanted[raw] = key
        out: dict[str, HashEntry] = {}
        cols = "SELECT path, size, mtime, digest, hash, mirror, upright, error, fine FROM hashes WHERE params = ?"
        try:
            top = self.db.execute("SELECT max(rowid) FROM hashes").fetchone()[0] or 0
            if top <= 2 * len(wanted) + _IN_CHUNK:
                queries = [(cols, (params,))]
            else:
                paths = list(wanted)
                queries = [(f"{cols} AND path IN ({','.join('?' * len(chunk))})", (params, *chunk))
                           for chunk in (paths[k:k + _IN_CHUNK] for k in range(0, len(paths), _IN_CHUNK))]
            entry, get = HashEntry.from_columns, wanted.get
            for sql, args in queries:
                for raw, size, mtime, digest, h, m, u, error, fine in self.db.execute(sql, args):
                    want = get(raw if isinstance(raw, bytes) else os.fsencode(raw))
                    if want is not None and want[1] == size and want[2] == mtime:
                        out[want[0]] = entry(digest, h, m, u, error, fine)
        except sqlite3.Error as exc:
            self._failed(exc, writing=False)
            return {}
        return out

    def put_many(self, rows: list[tuple[str, int, int, HashEntry]], params: str) -> None:
        if self.db is None or not self.writable or self.write_busy or not rows:
            return
        try:
            with self.db:
                self.db.executemany("INSERT OR REPLACE INTO hashes VALUES (?,?,?,?,?,?,?,?,?,?)",
                                    [(raw, s, m, params, *e.to_row()) for p, s, m, e in rows
                                     if (raw := _encoded(p)) is not None])
        except sqlite3.Error as exc:
            self._failed(exc, writing=True)

    def get_extra(self, kind: str, path: str | bytes, size: int, mtime: int) -> str | None:
        """A value computed only for some files (pixel digests, verification hashes), or for a
        whole dataset (the pair search, under a ``path`` that no file has)."""
        if self.db is None:
            return None
        try:
            row = self.db.execute("SELECT size, mtime, value FROM extras WHERE path = ? AND kind = ?",
                                  (os.fsencode(path), kind)).fetchone()
        except sqlite3.Error as exc:
            self._failed(exc, writing=False)
            return None
        return row[2] if row is not None and (row[0], row[1]) == (size, mtime) else None

    def put_extra(self, kind: str, path: str | bytes, size: int, mtime: int, value: str) -> None:
        if self.db is None or not self.writable or self.write_busy:
            return
        try:
            with self.db:
                self.db.execute("INSERT OR REPLACE INTO extras VALUES (?,?,?,?,?)",
                                (os.fsencode(path), kind, size, mtime, value))
        except sqlite3.Error as exc:
            self._failed(exc, writing=True)

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None
