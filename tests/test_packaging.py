"""The wheel carries every file regaudit reads at run time (a plain `pip install .` has no source tree)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_has_the_trainer_option_tables(tmp_path):
    try:
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                        str(tmp_path), str(ROOT)], check=True, capture_output=True, timeout=300)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:  # no setuptools/wheel offline
        pytest.skip(f"cannot build a wheel here: {exc}")
    (wheel,) = tmp_path.glob("regaudit-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    data = {str(p.relative_to(ROOT)) for p in (ROOT / "regaudit").rglob("*")
            if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts}
    assert data and data <= names
