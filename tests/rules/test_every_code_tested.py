"""Every code in the registry is named in some test, so a new code cannot arrive without one."""

from __future__ import annotations

import re
from pathlib import Path

from regaudit.rules import REGISTRY

TESTS = Path(__file__).resolve().parent.parent


def test_every_finding_code_is_named_in_a_test():
    named: set[str] = set()
    for path in TESTS.rglob("test_*.py"):
        if path.resolve() != Path(__file__).resolve():
            named |= set(re.findall(r"R[AM]\d{3}", path.read_text(encoding="utf-8")))
    missing = sorted(set(REGISTRY) - named)
    assert not missing, f"finding codes no test names: {', '.join(missing)}"
