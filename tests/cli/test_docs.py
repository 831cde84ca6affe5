"""The README and docs/ tell the truth: every code, every command, the exact test command CI runs,
no link to a file or heading that is not there."""

from __future__ import annotations

import re
from pathlib import Path

import typer.main

from regaudit.cli import app
from regaudit.rules import REGISTRY

ROOT = Path(__file__).resolve().parent.parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
DOCS = ROOT / "docs"


def _doc(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def test_every_rule_is_listed_with_its_severity():
    rules = _doc("rules.md")
    for r in REGISTRY.values():
        assert f"| {r.code} | {r.name} | {r.severity.value} |" in rules


def test_every_command_is_in_the_readme_and_documented():
    commands = _doc("commands.md")
    for name in typer.main.get_command(app).commands:
        assert f"| `regaudit {name}" in README  # the README's table of commands
        assert f"## `regaudit {name}" in commands


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(text: str) -> set[str]:
    out, fence = set(), False
    for line in text.splitlines():
        if line.startswith("```"):
            fence = not fence
        elif not fence and line.startswith("#"):
            out.add(_slug(line.lstrip("#")))
    return out


def test_links_between_the_readme_and_docs_resolve():
    pages = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
    broken = []
    for page in pages:
        for link in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            if link.startswith(("http://", "https://", "mailto:")):
                continue
            path, _, anchor = link.partition("#")
            target = (page.parent / path).resolve() if path else page
            if not target.exists():
                broken.append(f"{page.name}: {link}")
            elif anchor and target.suffix == ".md" and anchor not in _anchors(target.read_text(encoding="utf-8")):
                broken.append(f"{page.name}: {link}")
    assert broken == []


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci in README


def test_rules_have_texts():
    for r in REGISTRY.values():
        assert r.code.startswith(("RA", "RM")) and r.summary and r.why and r.hint
