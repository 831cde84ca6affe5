"""``regaudit fix``: a corrected copy of a dataset; the original is only ever read.

1. ``make_plan``: the audit of the original (``scan_inputs``, decoding every image), then a walk of
   every folder it read: each file and folder gets its place in the copy and, where a safe fix
   applies (``rules.fixes``), its action; every other finding is listed as unfixed, with why.
2. ``write_copy``: the copy is built in a temporary folder beside DIR (files cloned where the
   filesystem offers copy-on-write, else copied with ``shutil.copy2`` (``fix_clone``), or
   hard-linked with ``hardlink``; changed captions written new), the dataset config and the
   fine-tuning metadata (``fix_finetune``) rewritten to point at it, audited again (images it finds sd-scripts would crash on are
   left out too), the manifest written, and only then renamed to DIR. Any failure or Ctrl-C
   removes the temporary folder: DIR is either the whole copy or what it was before. A temporary
   folder a fix killed mid-way left beside DIR is removed by the next one (``fix_tmp``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ..errors import RegauditError
from ..model import Finding
from ..outputs import folder_problem, written_by_regaudit
from ..placement import containing_root, first_folder_above
from ..rules import REGISTRY
from ..rules.fixes import CRASHING_IMAGE_CODES, DUPLICATE_CODES, FixKind, why_unfixed
from ..safeio import cwd, hold_signals, short_path
from ..sdscripts.argv import ArgvError, match_option, read_config_toml
from ..sdscripts.config import read_config_file
from . import fix_finetune, fix_images, fix_tmp, paste
from .fix_clone import Copier
from .fix_finetune import Metadata, Rewritten
from .fix_walk import Action, Entry, WalkFacts, walk
from .headline import Headline, headline
from .inputs import Inputs, read_inputs
from .scan import scan_inputs

MANIFEST = "regaudit-fix.json"
_PATH_DESTS = ("train_data_dir", "reg_data_dir", "dataset_config", "config_file", "in_json")
_NAMED = ("dataset_config", "config_file")  # keyed by their dest in rewrite_command's new_paths


@dataclass(frozen=True)
class Unfixed:
    code: str
    path: str
    message: str
    why: str


@dataclass
class FixPlan:
    entries: list[Entry]
    actions: list[Action]
    unfixed: list[Unfixed]
    findings: tuple[Finding, ...]
    roots: list[tuple[str, str]]  # (source folder, its name in DIR)
    config: tuple[str, str] | None  # (dataset config, its name in DIR)
    argv: list[str]
    trainer: str | None
    target_os: str | None
    unsafe: bool = False
    config_file: tuple[str, str] | None = None  # (the --config_file TOML, its name in DIR)
    headline: Headline | None = None  # the original's verdict: whether sd-scripts runs, where it stops
    metadata: list[Metadata] = field(default_factory=list)  # fine-tuning metadata files the copy rewrites
    notes: list[str] = field(default_factory=list)  # what this fix does not do for these inputs, and why
    key_folders: list[str] = field(default_factory=list)  # the folders of fine-tuning keys (no DIR inside one)


@dataclass
class FixResult:
    plan: FixPlan
    out: str
    actions: list[Action]
    command: list[str]
    remaining: tuple[Finding, ...]
    gone: list[Finding] = field(default_factory=list)
    stale_removed: list[str] = field(default_factory=list)  # temporary folders of a fix killed mid-way
    metadata: list[Rewritten] = field(default_factory=list)  # the fine-tuning metadata rewritten
    copies: dict[str, int] = field(default_factory=dict)  # unchanged files: cloned, copied, hardlinked


def _digest(data: bytes) -> tuple[int, str]:
    return len(data), hashlib.sha256(data).hexdigest()


def _file_digest(path: str) -> tuple[int, str]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            size += len(chunk)
            h.update(chunk)
    return size, h.hexdigest()


class _Names:
    """The names given in DIR so far: ``unique`` gives a name, or the first of 'name-2', 'name-3' ...
    not given yet. Each name remembers the number it got to, so that 100,000 folders of one name
    cost linear time, not the square of it."""

    def __init__(self, *given: str):
        self.given: set[str] = set(given)
        self._next: dict[str, int] = {}  # name -> the first number not tried for it yet

    def unique(self, name: str) -> str:
        out, k = name, self._next.get(name, 2)
        if out in self.given:  # (the numbers below k are all given: names are never given back)
            out, k = f"{name}-{k}", k + 1
            while out in self.given:
                out, k = f"{name}-{k}", k + 1
            self._next[name] = k
        self.given.add(out)
        return out


def make_plan(inp: Inputs, argv: list[str], trainer: str | None, target_os: str | None,
              jobs: int | None = None, progress=None, unsafe: bool = False) -> FixPlan:
    """The plan for ``inp`` (read from ``argv``): what the copy holds and what each fix does;
    the unsafe fixes are listed, and applied only with ``unsafe``."""
    result = scan_inputs(inp, deep=True, jobs=jobs, progress=progress)
    config = inp.sd.get("dataset_config")  # type: ignore[attr-defined]
    taken = _Names(MANIFEST)
    roots: list[tuple[str, str, str]] = []  # (folder, name in DIR, "root" of subsets | "subset" | "finetune")
    metadata: list[Metadata] = []
    if config or any(sc.metadata_file is not None for spec in inp.specs for sc in spec.subsets):
        if any(sc.conditioning_data_dir for spec in inp.specs for sc in spec.subsets):
            raise RegauditError(f"{config}: ControlNet conditioning folders are not copied by regaudit fix in "
                                f"this version")
        seen: dict[str, str] = {}
        for spec in inp.specs:
            for sc in spec.subsets:
                folder = _absolute_folder(sc.image_dir) if sc.image_dir else None
                if folder is not None and folder not in seen and os.path.isdir(folder):
                    seen[folder] = taken.unique(os.path.basename(folder) or "subset")
                    roots.append((folder, seen[folder], "subset" if sc.metadata_file is None else "finetune"))
        listed: set[str] = set()  # the metadata files placed
        order = {f: k for k, f in enumerate(seen)}
        for spec in inp.specs:  # (after the folders: a metadata file inside one keeps its place there)
            for sc in spec.subsets:
                meta = None if sc.metadata_file is None else os.path.abspath(str(sc.metadata_file))
                if meta is None or meta in listed or not os.path.isfile(meta):
                    continue
                listed.add(meta)
                inside = first_folder_above(meta, order)
                name = seen[inside] + meta[len(inside):] if inside is not None else \
                    taken.unique(os.path.basename(meta))
                metadata.append(Metadata(meta, name, os.path.abspath(sc.image_dir) if sc.image_dir else None))
        cfg_name = taken.unique(os.path.basename(str(config))) if config else None
    else:
        for source in inp.sources:
            folder = _absolute_folder(source)
            if os.path.isdir(folder):
                roots.append((folder, taken.unique(os.path.basename(folder) or "root"), "root"))
    captions: dict[str, tuple[str, bool]] = {}
    probes = {}
    for s in result.subsets:
        captions.setdefault(s.abs_path, (s.config.caption_extension, s.config.enable_wildcard))
        for img in s.images:
            probes[img.abs_path] = img.probe
    for spec in inp.specs:  # (folders the scan could not read: as configured)
        for sc in spec.subsets:
            if sc.image_dir:  # (a fine-tuning subset of absolute keys has none)
                captions.setdefault(os.path.abspath(sc.image_dir), (sc.caption_extension, sc.enable_wildcard))
    facts = WalkFacts({f.path: f.code for f in result.findings if f.code in CRASHING_IMAGE_CODES},
                      inp.case_insensitive, captions,
                      (inp.args.caption_extension, inp.args.enable_wildcard),  # type: ignore[attr-defined]
                      probes, _alpha_mask(inp, config), unsafe, _duplicates(result, jobs))
    entries: list[Entry] = []
    for folder, name, role in roots:
        if role == "finetune":
            entries += fix_finetune.walk_folder(folder, name, facts.crashing)
        else:
            entries += walk(folder, name, role == "root", facts)
    actions = [a for e in entries for a in e.actions]
    applied = [a for a in actions if a.applied]
    pending = [a for a in actions if not a.applied]
    ft_images = {img.abs_path for s in result.subsets if s.config.metadata_file is not None for img in s.images}
    fixed, listed = _Fixes(applied), _Fixes(pending)
    unfixed = [Unfixed(f.code, f.path, f.message,
                       why_unfixed(f.code, REGISTRY[f.code].family.value, REGISTRY[f.code].hint,
                                   listed.correct(f), f.path in ft_images))
               for f in result.findings if not fixed.correct(f)]
    config_file = inp.sd.get("config_file")  # type: ignore[attr-defined]
    if config_file:  # (sd-scripts adds '.toml' to a name without it)
        config_file = str(config_file) if str(config_file).endswith(".toml") else f"{config_file}.toml"
        config_file = (os.path.abspath(config_file), taken.unique(os.path.basename(config_file)))
    return FixPlan(entries, actions, unfixed, result.findings, [(r[0], r[1]) for r in roots],
                   (os.path.abspath(str(config)), cfg_name) if config else None, argv, trainer, target_os, unsafe,
                   config_file or None, headline(inp, result, result.findings), metadata,
                   [fix_finetune.FIX_SET] if any(r[2] == "finetune" for r in roots) else [],
                   list(dict.fromkeys(os.path.dirname(img.abs_path) for s in result.subsets
                                      if s.config.metadata_file is not None for img in s.images)))


def _absolute_folder(path: str) -> str:
    """``path`` made absolute, as the copy's plan names its folders; refused (exit 2) where the absolute
    path is one this system cannot open but the relative one is a folder (a working directory over 4096
    bytes deep): the copy would silently leave that folder out."""
    folder = os.path.abspath(path)
    if not os.path.isdir(folder) and os.path.isdir(path):
        raise RegauditError(f"{path}: its absolute path is {len(os.fsencode(folder))} bytes long, more than this "
                            f"system takes in one path; run regaudit fix from a shorter working directory (or give "
                            f"the folder by a shorter path); nothing was written")
    return folder


def _alpha_mask(inp: Inputs, config) -> bool:
    """Whether any subset trains with alpha_mask (its transparency is then kept): --alpha_mask, or
    alpha_mask = true anywhere in the dataset config."""
    if inp.sd.get("alpha_mask"):  # type: ignore[attr-defined]
        return True
    if not config:
        return False
    try:
        doc = read_config_file(str(config))
    except Exception:  # noqa: BLE001 - the audit said what is wrong with it
        return False
    for ds in doc.get("datasets", []) if isinstance(doc, dict) else []:
        if isinstance(ds, dict) and (ds.get("alpha_mask") or any(
                isinstance(sub, dict) and sub.get("alpha_mask") for sub in ds.get("subsets", []) or [])):
            return True
    return isinstance(doc, dict) and bool(doc.get("general", {}).get("alpha_mask") if isinstance(
        doc.get("general"), dict) else False)


def _duplicates(result, jobs) -> dict[str, tuple[str, str]]:
    """Each exact duplicate but the one kept: the members of an exact group of views.dupes (no hash
    cache), and byte-identical files within any other group; the one kept is the one dupes names the
    reference: a train image in a train/reg group (a reg copy of a train image is the leak), the
    original name before a second copy's ('a.jpg' before 'a (1).jpg'), then by path order.
    -> (the finding code of such a group, the kept image)."""
    from .dupes import DupesOptions, copy_rank, find_dupes
    from .hashing import file_digest

    out: dict[str, tuple[str, str]] = {}
    for g in find_dupes(result, DupesOptions(cache=None, jobs=jobs), failures=False).groups:
        if g.kind == "exact":
            parts = [list(g.members)]
        else:  # (a near group can hold byte-identical files: those are exact duplicates)
            by_bytes: dict[str, list] = {}
            for m in g.members:
                try:
                    by_bytes.setdefault(file_digest(m.path), []).append(m)
                except OSError:
                    continue
            parts = [ms for ms in by_bytes.values() if len(ms) > 1]
        for ms in parts:
            members = sorted(ms, key=lambda m: (copy_rank(m.path), m.path))
            roles = {m.role for m in members}
            label = "leakage" if roles == {"train", "reg"} else "cross-reg" if roles == {"reg"} else "cross-train"
            keep = next(m for m in members if m.role == "train") if label == "leakage" else members[0]
            for m in members:
                if m.path != keep.path:
                    out[m.path] = (DUPLICATE_CODES[label], keep.path)
    return out


class _Fixes:
    """Which findings a list of actions corrects, each answered by a lookup: the actions indexed
    once (a copy of 100,000 subsets has as many findings and actions: trying every action for
    every finding took the square of that)."""

    def __init__(self, actions: list[Action]):
        self.by_path = {(a.code, a.source) for a in actions}
        # (on a subset folder: the folders of the captions RA026 and RA025 actions fix)
        self.in_folder = {(a.code, os.path.dirname(a.source)) for a in actions if a.code in ("RA026", "RA025")}
        self.moved_from: set[str] = set()  # every folder above an image RA004 moves up (the nested folders)
        for a in actions:
            if a.code == "RA004":
                above = os.path.dirname(a.source)
                while above not in self.moved_from and os.path.dirname(above) != above:
                    self.moved_from.add(above)
                    above = os.path.dirname(above)

    def correct(self, f: Finding) -> bool:
        """Whether an action corrects finding ``f``."""
        if f.code in ("RA026", "RA025"):  # (on the subset folder: fixed when a caption in it was)
            return (f.code, f.path) in self.in_folder
        if f.code == "RA004":  # (on the nested folder: fixed when its images were moved up)
            return f.path in self.moved_from
        return (f.code, f.path) in self.by_path


# --- writing the copy

def check_out(out: str, dataset_folders: list[str]) -> str:
    """The absolute DIR after making sure it may be written: not inside a dataset folder, no
    dataset folder inside it, and either missing or an earlier regaudit fix output."""
    target = os.path.abspath(out)
    root = containing_root(target, dataset_folders)
    if root is not None:
        raise RegauditError(f"{out}: lies inside the dataset folder {root}; regaudit never writes into a dataset: "
                            f"choose a folder outside it")
    for folder in dataset_folders:
        if containing_root(folder, [target]) is not None:
            raise RegauditError(f"{out}: holds the dataset folder {folder}; choose another folder")
    if os.path.lexists(target):
        if not is_fix_output(target):
            raise RegauditError(f"{out}: exists and is not an earlier 'regaudit fix' output (no {MANIFEST} in it); "
                                f"choose a folder that does not exist")
    parent = os.path.dirname(target)
    problem = folder_problem(parent)
    if problem is not None:
        raise RegauditError(f"{short_path(out)}: the folder {short_path(parent)} {problem}")
    return target


def is_fix_output(path: str) -> bool:
    manifest = os.path.join(path, MANIFEST)
    if os.path.islink(path) or not os.path.isdir(path) or not written_by_regaudit(manifest):
        return False
    try:
        with open(manifest, "rb") as fh:
            return json.loads(fh.read()).get("kind") == "regaudit fix"
    except (OSError, ValueError, AttributeError):
        return False


def write_copy(plan: FixPlan, out: str, hardlink: bool, render_manifest: Callable[[FixResult], str],
               jobs: int | None = None, background: tuple[int, int, int] = (255, 255, 255),
               progress: Callable[[int, int], None] | None = None) -> FixResult:
    """Build the copy in a temporary folder beside ``out`` and rename it into place (see the
    module docstring)."""
    parent, base = os.path.split(out)
    stale = fix_tmp.remove_stale(parent, is_fix_output)  # (left by a fix killed mid-way)
    release = hold_signals()
    try:
        tmp = fix_tmp.make_tmp(parent, base)
    except OSError as exc:
        release()
        raise RegauditError(f"{out}: cannot write in {parent}: {exc.strerror or exc}; nothing was written") from None
    except BaseException:
        release()
        raise
    try:
        release()  # (a signal held since before the folder was made is handled here: the folder is removed)
        # (the config first: one regaudit could not read back stops the fix before any file is copied)
        config = None if plan.config is None else _dataset_config(plan, *_new_paths(plan, tmp), tmp)
        copier = Copier()
        actions, linked = _copy_entries(plan, tmp, hardlink, background, progress, copier)
        remaining, extra = _audit_copy(plan, tmp, out, _config_and_command(plan, tmp, tmp, config)[0], jobs)
        command, rewritten = _config_and_command(plan, tmp, out)
        for e in reversed(plan.entries):  # a folder's mode and times as the original's, once its files are in
            if e.is_dir and not e.left_out:
                shutil.copystat(e.source, os.path.join(tmp, e.dest))
        result = FixResult(plan, out, actions + extra, command, remaining, _gone(plan, remaining, out), stale,
                           rewritten, {"cloned": copier.cloned, "copied": copier.copied, "hardlinked": linked})
        with open(os.path.join(tmp, MANIFEST), "x", encoding="utf-8") as fh:
            fh.write(render_manifest(result))
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o777 & ~mask)  # (mkdtemp makes it 0700: DIR gets a new folder's mode)
        fix_tmp.unmark(tmp)
        _into_place(tmp, out)
    except BaseException as exc:
        fix_tmp.remove(tmp)
        if isinstance(exc, OSError):
            where = f" ({exc.filename})" if exc.filename else ""
            raise RegauditError(f"{out}: cannot be written: {exc.strerror or exc}{where}; nothing was written, "
                                f"the original is untouched") from None
        raise
    return result


def _copy_entries(plan: FixPlan, tmp: str, hardlink: bool, background: tuple[int, int, int],
                  progress: Callable[[int, int], None] | None = None,
                  copier: Copier | None = None) -> tuple[list[Action], int]:
    """Write every entry of the plan under ``tmp``; the applied actions, with sizes and hashes, and
    how many files were hard-linked."""
    copier = copier or Copier()
    actions, linked = [], 0
    total = len(plan.entries)
    for k, e in enumerate(plan.entries):
        if progress is not None and k % 64 == 0:
            progress(k, total)
        applied = [a for a in e.actions if a.applied]
        if e.left_out:  # left out of the copy
            before = None if e.is_dir else _file_digest(e.source)
            actions += [replace(a, before=before) for a in applied]
            continue
        dest = os.path.join(tmp, e.dest)
        data, note = e.data, ""
        if e.ops:  # pixels changed: the image encoded again (views.fix_images)
            try:
                data, note = fix_images.rewrite(e.source, e.ops, background)
            except OSError:
                raise
            except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds on a bad file
                raise RegauditError(f"{e.source}: cannot be re-encoded ({type(exc).__name__}: {exc}); nothing was "
                                    f"written, the original is untouched") from None
        if e.is_dir:
            os.makedirs(dest, exist_ok=True)
        elif data is not None:  # new content: a new file with the original's mode
            with open(dest, "xb") as fh:
                fh.write(data)
            shutil.copymode(e.source, dest)
        elif hardlink:
            os.link(e.source, dest)
            linked += 1
        else:
            copier.copy(e.source, dest)  # (a copy-on-write clone where the filesystem offers one)
        if applied:
            before = None if e.is_dir else _file_digest(e.source)
            after = _digest(data) if data is not None else before
            actions += [replace(a, before=before, after=after,
                                changed=a.changed + (f"; {note}" if note and a.fix in _PIXEL_FIXES else ""))
                        for a in applied]
    if progress is not None:
        progress(total, total)
    for e in reversed(plan.entries):  # a folder's mode and times as the original's, once its files are in
        if e.is_dir and not e.left_out:
            shutil.copystat(e.source, os.path.join(tmp, e.dest))
    return actions, linked


_PIXEL_FIXES = frozenset({FixKind.ROTATE_EXIF.value, FixKind.TO_SRGB.value, FixKind.FLATTEN_ALPHA.value})


def _config_and_command(plan: FixPlan, tmp: str, base: str, dataset_config: str | None = None
                        ) -> tuple[list[str], list[Rewritten]]:
    """The training command pointing at the copy as it lies under ``base``, and the fine-tuning
    metadata rewritten; the metadata copies and the dataset config (``dataset_config``: its text,
    when worked out already) are written in ``tmp`` with their paths under ``base``, and the
    --config_file with its train_data_dir, reg_data_dir, in_json and dataset_config pointing there too."""
    where, new_paths = _new_paths(plan, base)
    left_out = {e.source for e in plan.entries if e.left_out}
    rewritten = [fix_finetune.rewrite(m, where, left_out, os.path.join(tmp, m.name)) for m in plan.metadata]
    if plan.config is not None:
        name = plan.config[1]
        _write_new(os.path.join(tmp, name), dataset_config or _dataset_config(plan, where, new_paths, base))
        new_paths["dataset_config"] = os.path.join(base, name)
    if plan.config_file is not None:
        import toml

        source, name = plan.config_file
        data = read_config_toml(source, source)
        for table in [data] + [v for v in data.values() if isinstance(v, dict)]:  # (sd-scripts flattens sections)
            for key in ("train_data_dir", "reg_data_dir", "in_json"):
                if isinstance(table.get(key), str):
                    table[key] = new_paths.get(os.path.abspath(table[key]), table[key])
            if isinstance(table.get("dataset_config"), str) and "dataset_config" in new_paths:
                table["dataset_config"] = new_paths["dataset_config"]
        _write_new(os.path.join(tmp, name), toml.dumps(data))
        new_paths["config_file"] = os.path.join(base, name)
    return rewrite_command(plan.argv, plan.trainer, new_paths), rewritten


def _new_paths(plan: FixPlan, base: str) -> tuple[dict[str, str], dict[str, str]]:
    """Each copied folder's place under ``base``, and that of each folder and metadata file."""
    where = {folder: os.path.join(base, rel) for folder, rel in plan.roots}
    return where, {**where, **{m.source: os.path.join(base, m.name) for m in plan.metadata}}


def _dataset_config(plan: FixPlan, where: dict[str, str], new_paths: dict[str, str], base: str) -> str:
    """The dataset config's text with its image_dir and metadata_file paths under ``base``, as JSON
    indented by 2 or as TOML (toml.dumps), as the original was. It must be read back, by the audit
    of the copy and by the next regaudit run, so it may not pass the size regaudit reads (16 MiB of
    JSON, 1 MiB of TOML): an indented JSON that would is written compact, and a config that still
    would (its paths under a long DIR are longer) stops the fix before anything is copied."""
    from ..safeio import CONFIG_LIMIT
    from ..sdscripts.tomlfile import TOML_LIMIT

    source = plan.config[0]  # type: ignore[index]
    doc = read_config_file(source)
    for ds in doc.get("datasets", []) if isinstance(doc, dict) else []:
        for sub in ds.get("subsets", []) if isinstance(ds, dict) else []:
            if isinstance(sub, dict) and isinstance(sub.get("image_dir"), str):
                sub["image_dir"] = where.get(os.path.abspath(sub["image_dir"]), sub["image_dir"])
            if isinstance(sub, dict) and isinstance(sub.get("metadata_file"), str):
                sub["metadata_file"] = new_paths.get(os.path.abspath(sub["metadata_file"]), sub["metadata_file"])
    is_json = source.lower().endswith(".json")
    if is_json:
        text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
        if len(text) > CONFIG_LIMIT // 4 and len(text.encode("utf-8")) > CONFIG_LIMIT:  # (4 bytes a character at most)
            text = json.dumps(doc, ensure_ascii=False) + "\n"
    else:
        import toml

        text = toml.dumps(doc)
    limit = CONFIG_LIMIT if is_json else TOML_LIMIT
    size = len(text.encode("utf-8")) if len(text) > limit // 4 else len(text)
    if size > limit:
        raise RegauditError(f"{source}: the copy's dataset config would be {size:,} bytes with its folders under "
                            f"{os.path.dirname(base)}, more than the {limit >> 20} MiB regaudit reads back, so the copy "
                            f"could not be checked: choose a shorter --out path{'' if is_json else ' or a JSON config'}; "
                            f"nothing was written")
    return text


def _write_new(path: str, text: str) -> None:
    """A file regaudit writes in its temporary copy (the second writing, with the final paths,
    replaces the first)."""
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)


def _absolute(path: str) -> str | None:
    """os.path.abspath, or None for a relative path when the working folder is gone (no dataset path
    of the copy can be relative then: inputs are read with absolute paths only)."""
    if os.path.isabs(path):
        return os.path.abspath(path)
    return os.path.abspath(path) if cwd() is not None else None


def rewrite_command(argv: list[str], trainer: str | None, new_paths: dict[str, str]) -> list[str]:
    """``argv`` with its dataset paths (--train_data_dir, --reg_data_dir, a bare DIR,
    --dataset_config) replaced by the copy's; keyed by the old folder's absolute path, or by
    'dataset_config'."""
    from ..sdscripts import trainers

    if len(argv) == 1 and any(c in argv[0] for c in " \n") and ".py" in argv[0]:  # the command as one argument
        argv = paste.split_pasted(argv[0])
    name = trainer or next((os.path.basename(t)[:-3] for t in argv if t.endswith(".py")), None) or trainers.DEFAULT
    if name not in trainers.REGISTRY:
        name = trainers.DEFAULT

    def new(dest: str, value: str) -> str:
        if dest in _NAMED:
            return new_paths.get(dest, value)
        return new_paths.get(_absolute(value), value) if dest in _PATH_DESTS else value

    out, k, script = [], 0, False
    while k < len(argv):
        token = argv[k]
        script = script or token.endswith(".py")
        opt = None
        if token.startswith("--"):
            try:
                opt, explicit = match_option(name, token)
            except ArgvError:
                opt, explicit = None, None
        if opt is not None and opt.dest in _PATH_DESTS:
            if explicit is not None:
                out.append(token.partition("=")[0] + "=" + new(opt.dest, explicit))
            elif k + 1 < len(argv):
                out += [token, new(opt.dest, argv[k + 1])]
                k += 1
            else:
                out.append(token)
        elif not token.startswith("-") and not script and _absolute(token) in new_paths:
            out.append(new_paths[_absolute(token)])  # a bare DIR
        else:
            out.append(token)
        k += 1
    return out


def _audit_copy(plan: FixPlan, tmp: str, out: str, command: list[str], jobs):
    """The copy audited with the same options (``command`` points at ``tmp`` while it is built;
    the findings name ``out``). An image this audit finds sd-scripts would crash on (in a folder
    the original's audit could not read, as it was ignored there) is left out too, and the copy
    audited again."""
    extra: list[Action] = []
    sources = {os.path.join(tmp, e.dest): e.source for e in plan.entries}
    for _ in range(3):
        inp = read_inputs(command, plan.trainer, target_os=plan.target_os)
        findings = scan_inputs(inp, deep=True, jobs=jobs).findings
        crashing = [f for f in findings if f.code in CRASHING_IMAGE_CODES and os.path.isfile(f.path)
                    and f.path.startswith(tmp + os.sep)]
        if not crashing:
            break
        for f in crashing:
            extra.append(Action(f.code, FixKind.LEAVE_OUT.value, sources.get(f.path, f.path), None, True,
                                "left out: sd-scripts would crash on it"))
            os.unlink(f.path)
    return tuple(_moved(f, tmp, out) for f in findings), extra


def _moved(f: Finding, tmp: str, out: str) -> Finding:
    """A finding on the copy as it is built under ``tmp``, naming its place under ``out``: its path,
    words and the files it lists (the temporary folder's random name is no place to tell anyone)."""
    if not f.path.startswith(tmp):
        return f

    def moved(value: object) -> object:
        return out + value[len(tmp):] if isinstance(value, str) and value.startswith(tmp) else value

    images = tuple(tuple((key, moved(value)) for key, value in image) for image in f.images)
    return Finding(f.code, f.name, f.severity, out + f.path[len(tmp):], f.message.replace(tmp, out),
                   f.hint.replace(tmp, out), images)


def _gone(plan: FixPlan, remaining, out: str) -> list[Finding]:
    """The original's findings the copy no longer has (by code and by the place in the copy)."""
    where = {e.source: os.path.join(out, e.dest) for e in plan.entries if e.dest}
    for named in (plan.config, plan.config_file, *((m.source, m.name) for m in plan.metadata)):
        if named is not None:
            where[named[0]] = os.path.join(out, named[1])
    now = {(f.code, f.path) for f in remaining}
    return [f for f in plan.findings if (f.code, where.get(f.path, f.path)) not in now]


def _into_place(tmp: str, out: str) -> None:
    """Rename the finished copy to ``out``; an earlier output there is moved aside first, and
    removed only once the new copy is in place."""
    old = None
    if os.path.lexists(out):
        old = fix_tmp.old_name(out)
        os.rename(out, old)
    try:
        os.rename(tmp, out)
    except BaseException:
        if old is not None:
            os.rename(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
