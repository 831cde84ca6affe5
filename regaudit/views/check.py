"""The verdict of ``regaudit check``: findings after the policy, and which of them fail the gate."""

from __future__ import annotations

from dataclasses import dataclass

from .balance import BalancePlan
from .headline import Headline
from ..model import Finding, sort_findings
from .policy import FailOn, Policy


@dataclass(frozen=True)
class Verdict:
    findings: tuple[Finding, ...]  # after levels, 'off' and ignore patterns; sorted
    failing: tuple[Finding, ...]
    fail_on: FailOn
    policy: str
    ran: tuple[str, ...]
    balance: BalancePlan | None
    musubi: dict | None = None  # views.musubi.document of a musubi-tuner command (then balance is None)
    headline: Headline | None = None  # the verdict printed first: whether sd-scripts runs, where it stops

    @property
    def passed(self) -> bool:
        return not self.failing

    def counts(self) -> dict[str, int]:
        out = {"error": 0, "warning": 0, "info": 0}
        for f in self.findings:
            out[f.severity.value] += 1
        return out


def merge(*groups: list[Finding]) -> list[Finding]:
    """Findings of several audits; one (code, path) reported by two audits (a broken image seen
    by the scan and again by the hashing) is kept once."""
    seen: set[tuple[str, str]] = set()
    out = []
    for group in groups:
        for f in group:
            key = (f.code, f.path)
            if f.code in ("RA041", "RA043") and key in seen:
                continue
            seen.add(key)
            out.append(f)
    return out


def evaluate(findings: list[Finding], policy: Policy, fail_on: FailOn, ran: list[str],
             balance: BalancePlan | None, musubi: dict | None = None, headline: Headline | None = None) -> Verdict:
    kept = sort_findings(policy.apply(findings))
    failing = tuple(f for f in kept if fail_on.fails(f.severity))
    return Verdict(tuple(kept), failing, fail_on, policy.source, tuple(ran), balance, musubi, headline)
