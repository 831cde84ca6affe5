"""Imports only go down: each folder of the package is one layer (the port ``sdscripts/``, then
``rules/``, ``views/``, ``render/``, ``cli/``) over the base modules (model, errors, limits,
safeio), and a module may import only its own layer, the layers below it and the base modules.
Every import in every module counts, those inside functions too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import regaudit

PACKAGE = Path(regaudit.__file__).resolve().parent
BASE = {"model", "errors", "limits", "safeio"}  # value types and helpers every layer may use

# what each layer may import from the package besides itself: a top-level module or folder name
ALLOWED = {
    "base": BASE,
    "sdscripts": BASE,
    "musubi": BASE,  # the musubi-tuner port, beside the sd-scripts one
    "rules": BASE | {"sdscripts", "musubi"},
    "views": None,  # anything but render/ and cli/ (FORBIDDEN below)
    "render": None,  # anything but cli/
    "cli": None,
}
FORBIDDEN = {"views": {"render", "cli"}, "render": {"cli"}}

# (module, what it imports) cases known to break the layering, outside the work that added this
# test: each names the file, to be fixed there (the test fails once a case is gone, so the list
# only shrinks)
KNOWN: set[tuple[str, str]] = set()


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _targets(source: str, package: str) -> set[str]:
    """The regaudit modules a module's ``source`` imports, as dotted names (``package``: the
    package its relative imports start from)."""
    out = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module == "regaudit":  # from regaudit import x / from .. import x: x is a module
                out |= {f"regaudit.{a.name}" for a in node.names}
            else:
                out.add(module)
    return {t for t in out if t == "regaudit" or t.startswith("regaudit.")}


def _top(dotted: str) -> str:
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else ""


def _violations() -> set[tuple[str, str]]:
    bad = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        name = _module_name(path)
        layer = "base" if _top(name) in BASE else _top(name)
        if layer not in ALLOWED:
            continue
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for target in _targets(path.read_text(encoding="utf-8"), package):
            top = _top(target)
            if top == layer:
                continue
            allowed, forbidden = ALLOWED[layer], FORBIDDEN.get(layer, set())
            if (allowed is not None and top not in allowed) or top in forbidden:
                bad.add((str(path.relative_to(PACKAGE.parent)), target))
    return bad


def test_imports_only_go_down():
    bad = _violations() - KNOWN
    assert not bad, "imports against the layering:\n" + "\n".join(f"  {m} imports {t}" for m, t in sorted(bad))


def test_known_cases_are_still_there():
    gone = KNOWN - _violations()
    assert not gone, "fixed, take them off KNOWN: " + ", ".join(f"{m} -> {t}" for m, t in sorted(gone))


@pytest.mark.parametrize("source, expected", [
    ("from ..views.captions import Trigger", {"regaudit.views.captions"}),
    ("from .. import model", {"regaudit.model"}),
    ("from .registry import rule", {"regaudit.rules.registry"}),
    ("import regaudit.cli.app", {"regaudit.cli.app"}),
    ("def f():\n    from ..render import human", {"regaudit.render"}),
    ("import os\nfrom collections import Counter", set()),
])
def test_the_walk_sees_each_kind_of_import(source, expected):
    assert _targets(source, "regaudit.rules") == expected
