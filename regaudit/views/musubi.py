"""A pasted musubi-tuner command (``accelerate launch src/musubi_tuner/<arch>_train_network.py
--dataset_config ds.toml ...``, a caching script, or ``--architecture A --dataset_config ds.toml``):
the port's facts (``musubi.run``), the findings (``rules.musubi``) and the JSON document."""

from __future__ import annotations

import errno
import os
import shlex
from dataclasses import dataclass
from typing import Optional

from ..errors import ConfigError, RegauditError
from ..model import Severity
from ..musubi import archs
from ..musubi.run import MusubiRun, simulate
from ..rules import musubi as rules
from ..sdscripts.argv import split_command

_VALUED = ("dataset_config", "max_train_epochs", "max_train_steps", "gradient_accumulation_steps", "model_version",
           "architecture", "num_processes")
_FLAGS = ("edit", "edit_plus")


@dataclass(frozen=True)
class MusubiResult:
    run: MusubiRun
    findings: list
    script: Optional[str] = None  # the script's file name as pasted (None: --architecture)


def is_musubi(raw: list[str], trainer: Optional[str]) -> bool:
    """Whether the command names a musubi script, --architecture, or --trainer names a musubi script."""
    raw = _tokens(raw)
    return any(archs.script_role(t) for t in raw if t.endswith(".py")) or "--architecture" in raw \
        or any(t.startswith("--architecture=") for t in raw) or bool(trainer and archs.script_role(trainer + ".py"))


def _tokens(raw: list[str]) -> list[str]:
    return shlex.split(raw[0]) if len(raw) == 1 and " " in raw[0] else list(raw)


def _options(argv: list[str]) -> dict:
    out: dict = {}
    i = 0
    while i < len(argv):
        tok = argv[i]
        name, eq, value = tok[2:].replace("-", "_").partition("=") if tok.startswith("--") else ("", "", "")
        if name in _VALUED:
            if not eq:
                if i + 1 >= len(argv):
                    raise RegauditError(f"--{name} needs a value")
                value, i = argv[i + 1], i + 1
            out[name] = value
        elif name in _FLAGS:
            out[name] = True
        i += 1
    return out


def _int(opts: dict, name: str, default):
    value = opts.get(name)
    if value is None:
        return default
    try:
        n = int(value)
    except ValueError:
        raise RegauditError(f"--{name} {value!r} is not a whole number") from None
    if not 0 <= n <= 1 << 40:
        raise RegauditError(f"--{name} {n} is outside 0..{1 << 40}")
    return n


def _bounded(path: str, is_json: bool):
    """The dataset config read as musubi reads it (musubi.config.parse_file), bounded as sd-scripts'
    configs are (sdscripts.tomlfile): at most 16 MiB of JSON or 1 MiB of TOML, and nothing nested or
    shaped so that the parser takes minutes; past that one line, exit 2 (musubi has no such limit)."""
    from ..safeio import CONFIG_LIMIT, read_regular
    from ..sdscripts.tomlfile import TOML_LIMIT, loads_json, loads_toml, text_mode

    try:
        raw = read_regular(path, CONFIG_LIMIT if is_json else TOML_LIMIT)
    except OSError as exc:
        if exc.errno == errno.EFBIG:  # (regaudit's own limit: not where musubi stops)
            raise ConfigError(f"{path}: dataset config cannot be read: {exc.strerror}") from None
        raise
    text = text_mode(raw)  # (open(path, encoding="utf-8").read(), as both parsers read it)
    data = loads_json(text, path) if is_json else loads_toml(text, path)
    datasets = data.get("datasets") if isinstance(data, dict) else None
    if isinstance(datasets, list) and len(datasets) > MAX_MUSUBI_DATASETS:
        raise ConfigError(f"{path}: {len(datasets):,} [[datasets]], more than regaudit audits of a musubi-tuner config "
                          f"in one run ({MAX_MUSUBI_DATASETS:,}); split the config into files of fewer [[datasets]] "
                          f"and audit each")
    return data


# [[datasets]] of a musubi-tuner config regaudit audits in one run: each is a folder listed, an image
# header and a caption read (about 0.4 ms; 100,000 of them took 36 s of CPU). Real configs have a few.
MAX_MUSUBI_DATASETS = 50_000


_PARALLEL_MIN = 1000  # datasets; below this, starting worker processes costs more than it saves
_CHUNK = 250  # datasets a worker is handed at a time


def _in_workers(jobs: Optional[int]):
    """How the port works its datasets: in ``jobs`` worker processes (default: every core) once
    there are many (20,000 datasets, each a folder listed, an image header and a caption read,
    took 12 s on one core), in order."""
    from ..parallel import map_chunks

    n = jobs if jobs is not None else (os.cpu_count() or 1)
    return lambda fn, items: map_chunks(fn, items, n, _CHUNK, _PARALLEL_MIN)


def musubi_balance(raw: list[str], trainer: Optional[str], num_processes: Optional[int] = None,
                   jobs: Optional[int] = None) -> MusubiResult:
    raw = _tokens(raw)
    script, argv, launcher = split_command(raw) if any(archs.script_role(t) for t in raw) else (None, raw, {})
    script_tok = next((t for t in raw if t.endswith(".py") and archs.script_role(t)), None)
    opts = _options(argv)
    role = "train_network"
    if script_tok or trainer:
        stem, role = archs.script_role(script_tok or trainer + ".py")  # type: ignore[misc]
        try:
            short = archs.resolve(stem, opts)
        except ValueError as exc:
            raise RegauditError(str(exc)) from None
        if opts.get("architecture") and archs.lookup(opts["architecture"]) and \
                archs.lookup(opts["architecture"]).short != short:  # type: ignore[union-attr]
            raise RegauditError(f"--architecture {opts['architecture']} disagrees with {script_tok or trainer}")
    else:
        short = opts.get("architecture", "")
    arch = archs.lookup(short)
    if arch is None:
        raise RegauditError(f"--architecture '{short}' is not a musubi-tuner architecture; one of: "
                            f"{', '.join(f'{a.short} ({a.full})' for a in archs.ARCHS.values())}")
    if not opts.get("dataset_config"):
        raise RegauditError("a musubi-tuner command needs --dataset_config (its trainer and caching scripts refuse "
                            "to run without one)")
    processes = num_processes or _int({"n": launcher.get("num_processes", opts.get("num_processes"))}, "n", 1) or 1
    run = simulate(arch, role, str(opts["dataset_config"]), _int(opts, "max_train_epochs", None),
                   _int(opts, "max_train_steps", 1600), max(_int(opts, "gradient_accumulation_steps", 1), 1),
                   max(int(processes), 1), _bounded, _in_workers(jobs))
    return MusubiResult(run, rules.findings(run), os.path.basename(script_tok) if script_tok else None)


def folders(result: MusubiResult) -> list[str]:
    """The dataset config, every image and cache directory: no output may be written inside one."""
    run = result.run
    out = [run.dataset_config]
    for d in run.datasets:
        v = d.params.values
        out += [x for x in (v.get("image_directory"), v.get("video_directory"), v.get("cache_directory"))
                if isinstance(x, str) and x]
    return list(dict.fromkeys(out))


def _count(n: int, what: str) -> str:
    return f"{n} {what}" if n == 1 else f"{n} {what}{'es' if what == 'batch' else 's'}"


def _figures(items: int, steps) -> str:
    return f"{_count(items, 'item')}, " + (
        f"{_count(steps.batches_per_epoch, 'batch')} per epoch, {_count(steps.max_train_steps, 'step')} "
        f"({_count(steps.epochs, 'epoch')})" if steps is not None else "no step figures")


def verdict(result: MusubiResult) -> tuple[Optional[bool], str]:
    """The answer first: does the pasted musubi script run, where it stops if not, and what trains
    (from the caches on disk, and after caching now). (ok, one line); ok is None where a dataset
    regaudit does not simulate yet (video ...) decides it."""
    run = result.run
    script = result.script or f"musubi-tuner ({run.arch.short}, {run.role})"
    stop = run.stop
    if run.config_stop is not None:
        s = run.config_stop
        return False, f"{script} stops on the dataset config: {s.exception}: {s.message}"
    after = sum(d.after.num_train_items for d in run.datasets if d.after)
    unsimulated = sum(not d.simulated for d in run.datasets)
    tail = (f"; {_count(unsimulated, 'dataset')} (video, JSONL, control or multiple-target) not simulated yet"
            if unsimulated else "")
    if run.role != "train_network":
        listed = sum(len(d.images) for d in run.datasets)
        if stop is not None:
            return False, (f"{script} stops at {os.path.basename(stop.path)}: {stop.exception}: {stop.message}"
                           f"{tail}")
        crash = next((d.after.crash for d in run.datasets if d.after and d.after.crash), None)
        then = f"training then stops: {crash[0]}: {crash[1]}" if crash else f"{_count(after, 'item')} train"
        return (None if unsimulated else True), f"{script} caches {_count(listed, 'image')} (after caching: {then}){tail}"
    if stop is not None and stop.kind == "no-items":
        return False, (f"{script} finds no training items ('No training items found'): the caches on disk hold no "
                       f"latent + text-encoder pair; after caching now {_count(after, 'item')} would train{tail}")
    if stop is not None:
        return False, (f"{script} stops at training start on {os.path.basename(stop.path)}: {stop.exception}: "
                       f"{stop.message}{tail}")
    have = sum(d.existing.num_train_items for d in run.datasets if d.existing and not d.existing.crash)
    if unsimulated:
        return None, (f"{script}: not known — {_count(unsimulated, 'dataset')} (video, JSONL, control or "
                      f"multiple-target) not simulated yet; the image datasets train {_count(have, 'item')} from the "
                      f"caches on disk, {_count(after, 'item')} after caching now")
    line = f"{script} trains from the caches on disk: {_figures(have, run.from_steps)}"
    same = (have, run.from_steps) == (after, run.after_steps) and \
        all(not d.stale and not d.orphans for d in run.datasets)
    if not same:
        line += f"; after caching now: {_figures(after, run.after_steps)} (run the caching scripts first)"
    return True, line


def document(result: MusubiResult, command: str = "balance") -> dict:
    """The JSON of ``regaudit balance`` for a musubi command."""
    run = result.run
    counts = {s: sum(f.severity is sev for f in result.findings)
              for s, sev in (("errors", Severity.ERROR), ("warnings", Severity.WARNING), ("info", Severity.INFO))}
    stop = run.stop
    ok, text = verdict(result)
    return {
        "schema_version": 1, "command": command, "trainer": "musubi-tuner", "script": result.script,
        "summary": counts, "verdict": {"ok": ok, "text": text},
        "crash": None if stop is None else {"stage": stop.stage, "code": rules.stop_code(stop),
                                            "exception": stop.exception, "path": stop.path, "message": stop.message},
        "musubi": {
            "architecture": run.arch.short, "architecture_full": run.arch.full, "script_role": run.role,
            "dataset_config": run.dataset_config, "bucket_step": run.arch.reso_steps,
            "datasets": [_dataset(d) for d in run.datasets],
            "after_caching_steps": _steps(run.after_steps), "from_caches_steps": _steps(run.from_steps),
            "no_training_items_after_caching": run.no_items_after, "no_training_items_from_caches": run.no_items_from,
            "notes": list(run.notes),
        },
        "findings": [f.to_json() for f in result.findings],
    }


def _steps(s) -> dict | None:
    return None if s is None else {"batches_per_epoch": s.batches_per_epoch, "max_train_steps": s.max_train_steps,
                                   "source": s.source, "update_steps_per_epoch": s.update_steps_per_epoch,
                                   "epochs": s.epochs}


def _view(v, extra: dict | None = None) -> dict | None:
    if v is None:
        return None
    d = {"items": v.num_train_items, "batches": v.batches,
         "buckets": [{"bucket": list(k), "items": c, "batches": b} for k, c, b in v.buckets]}
    if v.crash:
        d["crash"] = {"exception": v.crash[0], "message": v.crash[1], "path": v.crash[2]}
    return {**d, **(extra or {})}


def _dataset(d) -> dict:
    p = d.params
    base = {"index": p.index, "simulated": d.simulated, "note": d.note,
            "image_directory": p.values.get("image_directory"), "video_directory": p.values.get("video_directory"),
            "cache_directory": p.values.get("cache_directory"),
            "caption_extension": p.values.get("caption_extension"), "resolution": list(p.resolution),
            "enable_bucket": p.enable_bucket, "bucket_no_upscale": p.bucket_no_upscale,
            "batch_size": p.batch_size, "num_repeats": p.num_repeats}
    if not d.simulated:
        return base
    base["images"] = [{"path": im.path, "caption": im.caption, "caption_error": im.caption_error,
                       "size": im.size and list(im.size), "image_error": im.image_error,
                       "bucket": im.bucket and list(im.bucket),
                       "latent_cache": im.latent_cache and os.path.basename(im.latent_cache),
                       "te_cache": os.path.basename(im.te_cache)} for im in d.images]
    base["dropped"] = [{"path": x.path, "reason": x.reason, "detail": x.detail} for x in d.dropped]
    base["after_caching"] = _view(d.after)
    ex = d.existing
    base["from_caches"] = _view(ex, {"skipped": list(ex.skipped), "stale": list(d.stale),
                                     "orphans": list(d.orphans)}) if ex else None
    return base
