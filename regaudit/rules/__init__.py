"""Finding codes (``registry``) and the checks that produce them, one module per family."""

from .registry import BY_NAME, REGISTRY, Family, Rule, lookup, rule

__all__ = ["BY_NAME", "REGISTRY", "Family", "Rule", "lookup", "rule"]
