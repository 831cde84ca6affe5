"""Typed errors raised by the core; the CLI maps each to a one-line message and an exit code."""

from __future__ import annotations


class RegauditError(Exception):
    """Base class: a problem with what the user asked for, not a finding about their data."""

    exit_code = 2


class InputPathError(RegauditError):
    """A path the user named does not exist or is not what it must be."""


class ConfigError(RegauditError):
    """A dataset config, training-arguments file or policy is invalid."""


class OptionError(RegauditError):
    """A command-line option has a value regaudit cannot use."""
