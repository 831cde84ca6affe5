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
