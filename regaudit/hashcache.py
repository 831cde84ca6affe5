"""A persistent cache of image hashes, keyed by absolute path, size, mtime and hash parameters.

SQLite in the user's cache directory by default. It is only ever a cache: safe to delete; a
corrupt or unreadable file is replaced; concurrent runs wait on SQLite's lock briefly and, failing
that, carry on without caching. Nothing is ever written inside a dataset.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable
from pathlib import Path

from .errors import OptionError
from .hashing import HashEntry

SCHEMA = 4


def default_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "regaudit" / "hashes.sqlite"


def check_outside(cache: Path, roots: Iterable[str]) -> None:
    real = os.path.realpath(cache)
    for root in roots:
        r = os.path.realpath(root)
        if real == r or real.startswith(r.rstrip(os.sep) + os.sep):
            raise OptionError(f"--cache {cache} lies inside the dataset folder {root}; regaudit never writes "
                              f"into a dataset, choose another place")


class HashCache:
    def __init__(self, path: Path | None):
        self.path = path
        self.db: sqlite3.Connection | None = None
        if path is not None:
            self.db = self._open(path)

    def _open(self, path: Path) -> sqlite3.Connection | None:
        for attempt in range(2):
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                db = sqlite3.connect(str(path), timeout=5.0)
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
                row = db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
                if row is not None and row[0] != str(SCHEMA):
                    db.execute("DROP TABLE IF EXISTS hashes")
                    db.execute("DROP TABLE IF EXISTS extras")
                db.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (str(SCHEMA),))
                db.execute("CREATE TABLE IF NOT EXISTS hashes (path TEXT, size INTEGER, mtime INTEGER, params TEXT, "
                           "digest TEXT, hash INTEGER, mirror INTEGER, upright INTEGER, error TEXT, fine TEXT, "
                           "PRIMARY KEY (path, params))")
                db.execute("CREATE TABLE IF NOT EXISTS extras (path TEXT, kind TEXT, size INTEGER, mtime INTEGER, "
                           "value TEXT, PRIMARY KEY (path, kind))")
                db.commit()
                return db
            except sqlite3.DatabaseError:
                # corrupt (not a database, malformed): it is only a cache, start it afresh
                if attempt == 0:
                    for suffix in ("", "-wal", "-shm"):
                        try:
                            os.unlink(str(path) + suffix)
                        except OSError:
                            pass
            except OSError:
                return None
        return None

    def get_many(self, keys: list[tuple[str, int, int]], params: str) -> dict[str, HashEntry]:
        if self.db is None:
            return {}
        out: dict[str, HashEntry] = {}
        wanted = {path: (size, mtime) for path, size, mtime in keys}
        try:
            cur = self.db.execute("SELECT path, size, mtime, digest, hash, mirror, upright, error, fine FROM hashes "
                                  "WHERE params = ?", (params,))
            for path, size, mtime, *row in cur:
                if wanted.get(path) == (size, mtime):
                    out[path] = HashEntry.from_row(row)
        except sqlite3.DatabaseError:
            return {}
        return out

    def put_many(self, rows: list[tuple[str, int, int, HashEntry]], params: str) -> None:
        if self.db is None or not rows:
            return
        try:
            with self.db:
                self.db.executemany("INSERT OR REPLACE INTO hashes VALUES (?,?,?,?,?,?,?,?,?,?)",
                                    [(p, s, m, params, *e.to_row()) for p, s, m, e in rows])
        except sqlite3.DatabaseError:
            pass  # locked by a concurrent run for too long, or read-only: just do not cache

    def get_extra(self, kind: str, path: str, size: int, mtime: int) -> str | None:
        """A value computed only for some files (pixel digests, verification hashes)."""
        if self.db is None:
            return None
        try:
            row = self.db.execute("SELECT size, mtime, value FROM extras WHERE path = ? AND kind = ?",
                                  (path, kind)).fetchone()
        except sqlite3.DatabaseError:
            return None
        return row[2] if row is not None and (row[0], row[1]) == (size, mtime) else None

    def put_extra(self, kind: str, path: str, size: int, mtime: int, value: str) -> None:
        if self.db is None:
            return
        try:
            with self.db:
                self.db.execute("INSERT OR REPLACE INTO extras VALUES (?,?,?,?,?)", (path, kind, size, mtime, value))
        except sqlite3.DatabaseError:
            pass

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
