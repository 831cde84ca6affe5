"""safeio: open_regular refuses FIFOs, devices and folders; parse_guarded turns deep nesting
into a ConfigError."""

from __future__ import annotations

import json
import os
import sys

import pytest

from tests import platforms


@platforms.fifos
def test_open_regular_refuses_fifos_and_devices(tmp_path):
    from regaudit.views.hashing import encode
    from regaudit.safeio import NotRegularFile, open_regular

    os.mkfifo(tmp_path / "f.png")
    for p in (tmp_path / "f.png", "/dev/null", tmp_path):
        with pytest.raises(NotRegularFile):
            open_regular(p)
    assert encode(str(tmp_path / "f.png"), __import__("regaudit.views.hashing").views.hashing.HashKind.PHASH).error


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


def test_read_regular_reads_what_the_file_holds_not_its_limit(tmp_path):
    """A small file read under a limit of a GiB takes memory for what it holds (a read of the limit
    took a buffer of a GiB first); a file larger than the limit is refused; a file holding more than
    its size says (as /proc's do) is read whole, in pieces."""
    import tracemalloc

    from regaudit.safeio import read_regular

    (tmp_path / "m.json").write_bytes(b"{}" * 500)
    tracemalloc.start()
    try:
        assert read_regular(tmp_path / "m.json", 1 << 30) == b"{}" * 500
        assert tracemalloc.get_traced_memory()[1] < 1 << 20
    finally:
        tracemalloc.stop()
    (tmp_path / "big").write_bytes(b"x" * 3000)
    with pytest.raises(OSError, match="larger than"):
        read_regular(tmp_path / "big", 2999)
    assert read_regular(tmp_path / "big", 3000) == b"x" * 3000
    if os.path.exists("/proc/self/status"):  # (size 0 in its stat, text when read)
        assert b"Name:" in read_regular("/proc/self/status")
