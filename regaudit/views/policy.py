"""The YAML policy of ``regaudit check``: what fails the gate, rule levels and options, ignored
paths, and the training options to simulate. Validation is strict: an unknown key, code,
option or level is an error that names the key and what is allowed."""

from __future__ import annotations

import fnmatch
import os
import stat
from dataclasses import dataclass, field
from enum import Enum

import yaml

from ..errors import ConfigError, check_exhausted
from ..limits import problem
from ..model import Finding, Severity
from ..rules import BY_NAME, REGISTRY
from ..safeio import cwd, describe, kind_of, parse_guarded, read_regular

DEFAULT_FILE = "regaudit.yaml"


class FailOn(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"
    NEVER = "never"

    def fails(self, severity: Severity) -> bool:
        if self is FailOn.NEVER:
            return False
        return severity.rank >= Severity(self.value).rank


LEVELS = ("error", "warning", "info", "off")

# Rules that share a detector share its options; the group name addresses them all.
GROUPS = {"near-duplicate": ("RA080", "RA081", "RA082", "RA083", "RA084")}
GROUP_OPTIONS = {"near-duplicate": {"max-distance": int, "hash": str, "flip-aug": bool}}
HASHES = ("phash", "dhash", "whash", "ahash")  # hashing.HashKind, without importing numpy here

TRAINING_KEYS = {
    "resolution": (int, str, list), "enable_bucket": (bool,), "min_bucket_reso": (int,),
    "max_bucket_reso": (int,), "bucket_reso_steps": (int,), "bucket_no_upscale": (bool,),
    "train_batch_size": (int,), "gradient_accumulation_steps": (int,), "max_train_epochs": (int,),
    "max_train_steps": (int,), "prior_loss_weight": (int, float), "num_processes": (int,),
    "cache_latents": (bool,), "random_crop": (bool,), "trainer": (str,), "dataset_repeats": (int,),
}
TOP_KEYS = ("fail-on", "caption-extension", "training", "rules", "ignore", "deep", "dupes")


@dataclass(frozen=True)
class Policy:
    fail_on: FailOn = FailOn.ERROR
    caption_extension: str | None = None
    training: dict = field(default_factory=dict)
    levels: dict[str, str] = field(default_factory=dict)  # code -> level or "off"
    dupes_options: dict = field(default_factory=dict)
    ignore: tuple[str, ...] = ()
    deep: bool = False
    dupes: bool = False
    source: str = "built-in default"

    def apply(self, findings: list[Finding]) -> list[Finding]:
        """Findings after levels, 'off' and ignore patterns."""
        out = []
        for f in findings:
            level = self.levels.get(f.code)
            if level == "off" or self._ignored(f.path):
                continue
            if level is not None and level != f.severity.value:
                f = f.with_severity(Severity(level))
            out.append(f)
        return out

    def _ignored(self, path: str) -> bool:
        if not self.ignore:
            return False
        base = cwd()
        try:
            rel = path if base is None else os.path.relpath(path, base).replace(os.sep, "/")
        except ValueError:  # another drive (Windows)
            rel = path
        return any(fnmatch.fnmatch(rel, pat) or fnmatch.fnmatch(path, pat) for pat in self.ignore)


def _err(src: str, msg: str) -> ConfigError:
    return ConfigError(f"{src}: {msg}")


def _show(value: object, limit: int = 60) -> str:
    """A value for a one-line message, cut short."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _check_resolution(value: object) -> str | None:
    """N, 'N', 'W,H' or [W, H], each side within limits.RANGES['resolution']."""
    if isinstance(value, str):
        try:
            sides: list = [int(p.strip()) for p in value.split(",")]
        except ValueError:
            return f"{_show(value)} should be N or 'W,H' (e.g. 512 or '768,512')"
    elif isinstance(value, list):
        sides = value
    else:
        sides = [value]
    if len(sides) not in (1, 2) or (isinstance(value, list) and len(sides) != 2):
        return f"{_show(value)} should be N, 'W,H' or [W, H]"
    for side in sides:
        if isinstance(side, bool) or not isinstance(side, int):
            return f"{_show(value)} should hold integers"
        why = problem("resolution", side)
        if why:
            return why
    return None


def _check_training(key: str, value: object) -> str | None:
    if key == "resolution":
        return _check_resolution(value)
    if key in ("trainer",) or isinstance(value, bool):
        return None
    return problem(key, value)


def resolve(key: str) -> tuple[str, ...] | None:
    """Codes a policy key addresses: a code, a rule name or a group name."""
    if key.upper() in REGISTRY:
        return (key.upper(),)
    if key in BY_NAME:
        return (BY_NAME[key].code,)
    if key in GROUPS:
        return GROUPS[key]
    return None


def parse(data: object, source: str) -> Policy:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise _err(source, "the policy must be a mapping of keys (fail-on, rules, ...)")
    for key in data:
        if key not in TOP_KEYS:
            raise _err(source, f"unknown key '{key}'; allowed: {', '.join(TOP_KEYS)}")
    fail_on = data.get("fail-on", "error")
    if fail_on not in [f.value for f in FailOn]:
        raise _err(source, f"fail-on: '{fail_on}' is not one of error, warning, info, never")
    ext = data.get("caption-extension")
    if ext is not None and not isinstance(ext, str):
        raise _err(source, "caption-extension must be a string such as .txt")
    training = data.get("training") or {}
    if not isinstance(training, dict):
        raise _err(source, "training must be a mapping of sd-scripts options")
    for key, value in training.items():
        if key not in TRAINING_KEYS:
            raise _err(source, f"training: unknown option '{key}'; allowed (sd-scripts names): "
                               f"{', '.join(TRAINING_KEYS)}")
        types = TRAINING_KEYS[key]
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types):
            raise _err(source, f"training.{key}: {_show(value)} should be {' or '.join(t.__name__ for t in types)}")
        why = _check_training(key, value)
        if why:
            raise _err(source, f"training.{key}: {why}")
    levels: dict[str, str] = {}
    dupes_options: dict = {}
    rules = data.get("rules") or {}
    if not isinstance(rules, dict):
        raise _err(source, "rules must be a mapping of code or name to a level or options")
    for key, value in rules.items():
        codes = resolve(str(key))
        if codes is None:
            raise _err(source, f"rules: unknown rule '{key}'; use a code (RA001), a name (unparsed-folder-name) "
                               f"or a group ({', '.join(GROUPS)}); 'regaudit rules' lists them")
        group = next((g for g, members in GROUPS.items() if set(codes) <= set(members)), None)
        if value is False:
            value = "off"  # YAML 1.1 reads a bare `off` as false
        if isinstance(value, str):
            level, options = value, {}
        elif isinstance(value, dict):
            options = dict(value)
            level = options.pop("level", None)
        else:
            raise _err(source, f"rules.{key}: expected a level ({', '.join(LEVELS)}) or a mapping of options")
        if level is not None and level not in LEVELS:
            raise _err(source, f"rules.{key}: level '{level}' is not one of {', '.join(LEVELS)}")
        allowed = GROUP_OPTIONS.get(group, {}) if group else {}
        for opt, val in options.items():
            if opt not in allowed:
                raise _err(source, f"rules.{key}: unknown option '{opt}'"
                                   + (f"; allowed: level, {', '.join(allowed)}" if allowed else "; allowed: level"))
            if not isinstance(val, allowed[opt]) or (isinstance(val, bool) and allowed[opt] is not bool):
                raise _err(source, f"rules.{key}.{opt}: {_show(val)} should be {allowed[opt].__name__}")
            if opt == "max-distance" and problem(opt, val):
                raise _err(source, f"rules.{key}.{opt}: {problem(opt, val)} (bits of 64 that may differ)")
            if opt == "hash" and val not in HASHES:
                raise _err(source, f"rules.{key}.{opt}: {_show(val)} is not one of {', '.join(HASHES)}")
            dupes_options[opt] = val
        if level is not None:
            for code in codes:
                levels[code] = level
    ignore = data.get("ignore") or []
    if not isinstance(ignore, list) or not all(isinstance(p, str) for p in ignore):
        raise _err(source, "ignore must be a list of glob patterns")
    for key in ("deep", "dupes"):
        if key in data and not isinstance(data[key], bool):
            raise _err(source, f"{key} must be true or false")
    return Policy(FailOn(fail_on), ext, dict(training), levels, dupes_options, tuple(ignore),
                  bool(data.get("deep", False)), bool(data.get("dupes", False)), source)


def load(path: str | None) -> Policy:
    """--policy FILE, else ./regaudit.yaml, else the built-in default. Only a regular file is
    read (a FIFO or device named regaudit.yaml is an error, never a wait)."""
    if path is None:
        try:
            st = os.stat(DEFAULT_FILE)
        except OSError:
            return Policy()
        if not stat.S_ISREG(st.st_mode):
            raise ConfigError(f"{DEFAULT_FILE}: is {kind_of(st.st_mode)}, not a policy file; remove it or pass "
                              f"--policy FILE")
        path = DEFAULT_FILE
    try:
        raw = read_regular(path)
    except FileNotFoundError:
        raise ConfigError(f"{path}: policy file not found") from None
    except OSError as exc:
        check_exhausted(exc, path)
        raise ConfigError(f"{path}: cannot be read: {describe(exc)}") from None
    try:
        data = parse_guarded(lambda: yaml.safe_load(raw), path)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        at = f" (line {where.line + 1})" if where is not None else ""
        raise ConfigError(f"{path}: not valid YAML{at}") from None
    except ValueError as exc:  # a value its constructor refuses: an int of 100,000 digits, a 13th month
        raise ConfigError(f"{path}: a value cannot be read as YAML reads it ({str(exc)[:100]}); no policy needs one "
                          f"like it") from None
    return parse(data, path)
