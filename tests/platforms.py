"""Marks for tests that need what only some operating systems have. Everything that can be
simulated runs everywhere (tests/test_platforms.py); these mark what cannot."""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest

WINDOWS = os.name == "nt"
ROOT_USER = getattr(os, "geteuid", lambda: -1)() == 0  # (no user ids on Windows)

fifos = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes (os.mkfifo) are POSIX's")
symlinks = pytest.mark.skipif(WINDOWS, reason="symlinks on Windows need a privilege and are made for a file or a "
                                              "folder in advance")
permissions = pytest.mark.skipif(WINDOWS or ROOT_USER, reason="unreadable files need POSIX permissions and a user "
                                                              "who is not root")
preexec = pytest.mark.skipif(WINDOWS, reason="subprocess's preexec_fn is POSIX's")
rlimits = pytest.mark.skipif(importlib.util.find_spec("resource") is None, reason="resource limits are POSIX's")
# names that are not UTF-8 (Windows stores UTF-16, macOS' file systems refuse invalid UTF-8) or hold
# control characters (Windows refuses them)
byte_names = pytest.mark.skipif(WINDOWS or sys.platform == "darwin",
                                reason="file names of arbitrary bytes are Linux's")
linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux only")
