"""The family tables run in a fresh folder, which is also the working directory, so that
command lines and the paths in messages are short and the same on every machine."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    real = Path(os.path.realpath(tmp_path))
    monkeypatch.chdir(real)
    monkeypatch.setenv("XDG_CACHE_HOME", str(real / ".cache"))  # (dupes' hash cache; --no-cache is passed too)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    return real
