"""Typed errors raised by the core; the CLI maps each to a one-line message and an exit code."""

from __future__ import annotations

import errno


class RegauditError(Exception):
    """Base class: a problem with what the user asked for, not a finding about their data."""

    exit_code = 2


class InputPathError(RegauditError):
    """A path the user named does not exist or is not what it must be."""


class ConfigError(RegauditError):
    """A dataset config, training-arguments file or policy is invalid."""


class OptionError(RegauditError):
    """A command-line option has a value regaudit cannot use."""


class ResourceError(RegauditError):
    """This process ran out of something the system gives (file descriptors): a problem of the run,
    never a finding about the file that happened to be opened."""


_EXHAUSTED = frozenset({errno.EMFILE, errno.ENFILE})
EXHAUSTED_HINT = "raise the open-files limit (ulimit -n) or use fewer worker processes (-j)"


def is_exhausted(exc: BaseException) -> bool:
    """Whether ``exc`` says the process or the system has no file descriptor left."""
    return isinstance(exc, OSError) and exc.errno in _EXHAUSTED


def check_exhausted(exc: BaseException, path: str) -> None:
    """Raise ResourceError where ``exc`` (met opening or reading ``path``) says the process or the
    system has no file descriptor left: reported as a fault of that file it would be a false
    finding."""
    if is_exhausted(exc):
        raise ResourceError(f"'{path}': {exc.strerror or exc} while reading it; {EXHAUSTED_HINT}") from None
