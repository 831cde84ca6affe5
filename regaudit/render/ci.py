"""CI formats for ``regaudit check``: GitHub workflow annotations and JUnit XML. Pure functions."""

from __future__ import annotations

import os
import re
from collections import defaultdict
from xml.etree import ElementTree as ET

from ..model import Finding, Severity
from ..outputs import GENERATOR_COMMENT, GENERATOR_GITHUB, GENERATOR_JSON_KEY
from ..rules import REGISTRY
from ..safeio import shown
from .escape import display

_GH_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def _gh_data(text: str) -> str:
    # control characters (a file name may hold any) are shown escaped; %, CR and LF as GitHub wants
    return display(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def _gh_prop(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")


def _rel(path: str) -> str:
    return display(shown(path).replace(os.sep, "/"))


def github(findings: list[Finding]) -> str:
    """One workflow command per finding: ::error file=...,title=RA001 name::message (hint), after a
    debug line that marks the text as regaudit's (GitHub shows it only in debug logging)."""
    lines = [GENERATOR_GITHUB]
    for f in findings:
        lines.append(f"::{_GH_LEVEL[f.severity]} file={_gh_prop(_rel(f.path))},title={_gh_prop(f.code + ' ' + f.name)}"
                     f"::{_gh_data(f.message + ' — ' + f.hint)}")
    return "\n".join(lines) + "\n"


def junit(findings: list[Finding], failing: set[int]) -> str:
    """A JUnit report: one test suite per rule; a rule with no finding is one passing test case, a
    rule with findings has one test case per finding, failed when the finding fails the gate.
    ``failing`` holds the ids of the failing findings."""
    by_code: dict[str, list[Finding]] = defaultdict(list)
    for f in findings:
        by_code[f.code].append(f)
    root = ET.Element("testsuites", name="regaudit")
    total = failures = 0
    for code, rule in REGISTRY.items():
        items = by_code.get(code, [])
        suite = ET.SubElement(root, "testsuite", name=f"{code} {rule.name}")
        fails = 0
        if not items:
            ET.SubElement(suite, "testcase", classname=f"regaudit.{code}", name=f"{code} {rule.name}")
        for f in items:
            case = ET.SubElement(suite, "testcase", classname=f"regaudit.{code}", name=_rel(f.path))
            if id(f) in failing:
                fails += 1
                fail = ET.SubElement(case, "failure", message=display(f.message), type=f.severity.value)
                fail.text = f"{f.code} {f.name} ({f.severity.value}): {display(f.message)}\nhint: {display(f.hint)}"
            else:
                out = ET.SubElement(case, "system-out")
                out.text = f"{f.code} ({f.severity.value}): {display(f.message)}"
        n = max(1, len(items))
        suite.set("tests", str(n))
        suite.set("failures", str(fails))
        suite.set("errors", "0")
        total += n
        failures += fails
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", "0")
    ET.indent(root)
    return (f'<?xml version="1.0" encoding="utf-8"?>\n{GENERATOR_COMMENT}\n' + ET.tostring(root, encoding="unicode")
            + "\n")


def check_json(verdict) -> dict:
    """JSON for ``regaudit check``; ``verdict`` is a gate.Verdict."""
    from .. import SCHEMA_VERSION

    c = verdict.counts()
    b = verdict.balance
    return {"schema_version": SCHEMA_VERSION, "command": "check", GENERATOR_JSON_KEY: "regaudit",
            "passed": verdict.passed,
            "fail_on": verdict.fail_on.value, "policy": verdict.policy, "ran": list(verdict.ran),
            "summary": {"errors": c["error"], "warnings": c["warning"], "info": c["info"],
                        "failing": len(verdict.failing)},
            "balance": None if b is None else {"would_crash": b.would_crash,
                                               "crash": b.crash.to_json() if b.crash else None,
                                               "no_data": b.no_data, "if_fixed": b.if_fixed,
                                               "trainer": b.options.trainer.name,
                                               "max_train_steps": b.max_train_steps,
                                               "batches_per_epoch": b.batches_per_epoch,
                                               "steps_per_epoch": b.steps_per_epoch, "epochs": b.epochs},
            **({} if verdict.musubi is None else {"musubi": musubi_summary(verdict.musubi)}),
            "findings": [f.to_json() for f in verdict.findings]}


def musubi_summary(doc: dict) -> dict:
    """What ``check --json`` says of a musubi-tuner command: its verdict, its first stop and both answers."""
    m = doc["musubi"]
    return {"script": doc["script"], "architecture": m["architecture"], "script_role": m["script_role"],
            "ok": doc["verdict"]["ok"], "verdict": doc["verdict"]["text"], "crash": doc["crash"],
            "after_caching_steps": m["after_caching_steps"], "from_caches_steps": m["from_caches_steps"],
            "no_training_items_from_caches": m["no_training_items_from_caches"]}


_MD_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # every ASCII punctuation character


def _md(text: object) -> str:
    """Text from a file name, a caption or a message as Markdown shows it literally: every ASCII
    punctuation character backslash-escaped (CommonMark lets each be; an escaped '<' opens no HTML
    tag, an escaped '`' no code span, '\\|' is GFM's pipe inside a table cell), after display()
    has made control characters visible. GitHub's job summary renders HTML: nothing of a name may
    become markup there."""
    return _MD_PUNCTUATION.sub(r"\\\1", display(text))


def _md_code(text: object) -> str:
    """A path or name shown in monospace: an HTML code element around escaped text (a Markdown
    code span cannot hold a backtick safely, nor a '|' inside a table)."""
    return f"<code>{_md(text)}</code>"


def step_summary(verdict) -> str:
    """Markdown for GitHub's job summary ($GITHUB_STEP_SUMMARY): the verdict, the figures, the findings."""
    lines = [f"## regaudit check: {'passed' if verdict.passed else 'FAILED'}", ""]
    b = verdict.balance
    if b is not None:
        c = b.crash
        name = b.options.trainer.name
        if b.no_data:
            lines.append(f"**{name}.py finds no data** ('No data found'): nothing is trained.")
        elif c is not None and c.stage not in ("load", "train"):
            lines.append(f"**{name}.py stops at {c.stage}**: {_md_code(c.exception)} ({c.code}) — {_md(c.message)}")
        else:
            if c is not None and c.stage == "train":
                lines.append(f"**{name}.py starts, then stops when training begins**: {_md_code(c.exception)} "
                             f"({c.code}) — {_md(c.message)}")
            elif c is not None and b.options.cache_latents:
                lines.append(f"**{name}.py stops while caching latents, before step 1**, on "
                             f"{_md_code(_rel(c.path))}: {_md_code(c.exception)} ({c.code})")
            elif c is not None:
                lines.append(f"**{name}.py starts, then fails when it first loads** {_md_code(_rel(c.path))}: "
                             f"{_md_code(c.exception)} ({c.code})")
            lines.append(f"Batches per epoch **{b.batches_per_epoch}**, steps **{b.max_train_steps}**, "
                         f"epochs **{b.epochs}**.")
        lines.append("")
    if verdict.musubi is not None:
        v = verdict.musubi["verdict"]
        mark = {True: "✓", False: "✗", None: "?"}[v["ok"]]
        lines += [f"{mark} **musubi-tuner**: {_md(v['text'])}", ""]
    counts = verdict.counts()
    lines.append(f"{counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} info; "
                 f"fail-on `{verdict.fail_on.value}`.")
    if verdict.findings:
        lines += ["", "| severity | code | path | message |", "| --- | --- | --- | --- |"]
        for f in list(verdict.findings)[:50]:
            lines.append(f"| {f.severity.value} | {f.code} | {_md_code(_rel(f.path))} | {_md(f.message)} |")
        if len(verdict.findings) > 50:
            lines.append(f"\n… and {len(verdict.findings) - 50} more.")
    return "\n".join(lines) + "\n"
