"""``regaudit fix``: a corrected copy of a dataset; the original is only ever read.

1. ``make_plan``: the audit of the original (``scan_inputs``, decoding every image), then a walk of
   every folder it read: each file and folder gets its place in the copy and, where a safe fix
   applies (``rules.fixes``), its action; every other finding is listed as unfixed, with why.
2. ``write_copy``: the copy is built in a temporary folder beside DIR (files copied with
   ``shutil.copy2``, or hard-linked with ``hardlink``; changed captions written new), the dataset
   config rewritten to point at it, audited again (images it finds sd-scripts would crash on are
   left out too), the manifest written, and only then renamed to DIR. Any failure or Ctrl-C
   removes the temporary folder: DIR is either the whole copy or what it was before.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from ..errors import RegauditError
from ..model import Finding
from ..outputs import written_by_regaudit
from ..placement import containing_root
from ..rules import REGISTRY
from ..rules.fixes import (CRASHING_IMAGE_CODES, FIXES, FixKind, caption_rename, clean_caption, extension_rename,
                           folder_rename, why_unfixed)
from ..sdscripts.argv import ArgvError, match_option
from ..sdscripts.config import read_config_file
from ..sdscripts.layout import GLOB_EXTENSIONS
from . import paste
from .headline import Headline, headline
from .inputs import Inputs, read_inputs
from .scan import scan_inputs

MANIFEST = "regaudit-fix.json"
_IMAGE_EXTS = frozenset(e.lower() for e in GLOB_EXTENSIONS)
_PATH_DESTS = ("train_data_dir", "reg_data_dir", "dataset_config")


@dataclass(frozen=True)
class Action:
    code: str
    fix: str  # FixKind value
    source: str  # absolute path in the original
    dest: str | None  # path relative to DIR (None: left out of the copy)
    safe: bool
    changed: str  # what changed, in words
    before: tuple[int, str] | None = None  # (size, sha256) of the original, filled when written
    after: tuple[int, str] | None = None  # of the copy


@dataclass(frozen=True)
class Unfixed:
    code: str
    path: str
    message: str
    why: str


@dataclass
class Entry:
    source: str
    dest: str  # relative to DIR
    is_dir: bool
    actions: tuple[Action, ...] = ()
    data: bytes | None = None  # new content (a cleaned caption)


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
    headline: Headline | None = None  # the original's verdict: whether sd-scripts runs, where it stops


@dataclass
class FixResult:
    plan: FixPlan
    out: str
    actions: list[Action]
    command: list[str]
    remaining: tuple[Finding, ...]
    gone: list[Finding] = field(default_factory=list)


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


def _unique(name: str, taken: set[str]) -> str:
    out, k = name, 2
    while out in taken:
        out, k = f"{name}-{k}", k + 1
    taken.add(out)
    return out


def make_plan(inp: Inputs, argv: list[str], trainer: str | None, target_os: str | None,
              jobs: int | None = None, progress=None) -> FixPlan:
    """The plan for ``inp`` (read from ``argv``): what the copy holds and what each fix does."""
    if inp.sd.get("in_json"):  # type: ignore[attr-defined]
        raise RegauditError("--in_json: fine-tuning metadata is not copied by regaudit fix in this version")
    result = scan_inputs(inp, deep=True, jobs=jobs, progress=progress)
    config = inp.sd.get("dataset_config")  # type: ignore[attr-defined]
    taken: set[str] = set()
    roots: list[tuple[str, str, bool, dict]] = []  # (folder, name in DIR, is a root of subsets, caption exts)
    if config:
        if any(sc.conditioning_data_dir for spec in inp.specs for sc in spec.subsets):
            raise RegauditError(f"{config}: ControlNet conditioning folders are not copied by regaudit fix in "
                                f"this version")
        seen: dict[str, str] = {}
        for spec in inp.specs:
            for sc in spec.subsets:
                folder = os.path.abspath(sc.image_dir)
                if folder not in seen and os.path.isdir(folder):
                    seen[folder] = _unique(os.path.basename(folder) or "subset", taken)
                    roots.append((folder, seen[folder], False, {"": sc.caption_extension}))
        cfg_name = _unique(os.path.basename(str(config)), taken)
    else:
        exts = {os.path.basename(os.path.abspath(sc.image_dir)): sc.caption_extension
                for spec in inp.specs for sc in spec.subsets}
        for source in inp.sources:
            folder = os.path.abspath(source)
            if os.path.isdir(folder):
                roots.append((folder, _unique(os.path.basename(folder) or "root", taken), True,
                              {**exts, "": inp.args.caption_extension}))  # type: ignore[attr-defined]
    crashing = {f.path: f.code for f in result.findings if f.code in CRASHING_IMAGE_CODES}
    entries: list[Entry] = []
    for folder, name, is_root, exts in roots:
        entries += _walk(folder, name, is_root, exts, crashing, inp.case_insensitive)
    actions = [a for e in entries for a in e.actions]
    fixed_paths = {(a.code, a.source) for a in actions}
    unfixed = [Unfixed(f.code, f.path, f.message, why_unfixed(f.code, REGISTRY[f.code].family.value,
                                                              REGISTRY[f.code].hint))
               for f in result.findings if not _fixed(f, fixed_paths, actions)]
    return FixPlan(entries, actions, unfixed, result.findings, [(r[0], r[1]) for r in roots],
                   (os.path.abspath(str(config)), cfg_name) if config else None, argv, trainer, target_os,
                   headline(inp, result, result.findings))


def _fixed(f: Finding, fixed_paths: set, actions: list[Action]) -> bool:
    """Whether an action of the plan corrects finding ``f``."""
    if f.code == "RA026":  # (on the subset folder: fixed when a caption in it was renamed)
        return any(a.code == "RA026" and os.path.dirname(a.source) == f.path for a in actions)
    return (f.code, f.path) in fixed_paths


def _walk(folder: str, name: str, is_root: bool, exts: dict, crashing: dict[str, str],
          case_insensitive: bool | None) -> list[Entry]:
    """Every folder and file under ``folder`` with its place in the copy; a loop over a stack (no
    recursion), symlinked folders followed once each (as sd-scripts follows them)."""
    out = [Entry(folder, name, True)]
    stack = [(folder, name, "root" if is_root else "subset")]
    seen = {os.path.realpath(folder)}
    while stack:
        src, dest, role = stack.pop()
        try:
            with os.scandir(src) as it:
                listed = sorted((e.name, e.is_dir(), e.is_file()) for e in it)
        except OSError as exc:
            raise RegauditError(f"{src}: cannot be listed ({exc.strerror or exc}); nothing was written") from None
        names = {n for n, _, _ in listed}
        dirs = [n for n, d, _ in listed if d]
        for child in dirs:
            path = os.path.join(src, child)
            real = os.path.realpath(path)
            if real in seen:
                continue
            seen.add(real)
            new = folder_rename(child) if role == "root" else None
            actions: tuple[Action, ...] = ()
            if new is not None and new not in names:
                names.add(new)
                actions = (Action("RA001", FixKind.RENAME_FOLDER.value, path, os.path.join(dest, new), True,
                                  f"'{child}' -> '{new}'"),)
            child_dest = os.path.join(dest, new if actions else child)
            out.append(Entry(path, child_dest, True, actions))
            stack.append((path, child_dest, "subset" if role == "root" else "other"))
        files = [n for n, d, f in listed if f]
        if role == "subset":
            ext = exts.get(os.path.basename(src), exts.get(""))
            out += _subset_files(src, dest, files, names, ext, crashing, case_insensitive)
        else:
            out += [Entry(os.path.join(src, n), os.path.join(dest, n), False) for n in files]
    return out


def _subset_files(src: str, dest: str, files: list[str], names: set[str], caption_ext: str,
                  crashing: dict[str, str], case_insensitive: bool | None) -> list[Entry]:
    """A subset folder's files: images sd-scripts crashes on left out, extensions and caption
    files renamed, captions cleaned."""
    out = []
    stems = {os.path.splitext(n)[0] for n in files if os.path.splitext(n)[1].lower() in _IMAGE_EXTS}
    renamed: dict[str, tuple[str, FixKind]] = {}
    for n in files:
        if os.path.join(src, n) in crashing:
            continue
        kind, new = FixKind.RENAME_EXTENSION, extension_rename(n, case_insensitive)
        if new is None:
            kind, new = FixKind.RENAME_CAPTION, caption_rename(n, stems, caption_ext, names)
        if new is not None and new not in names and new not in {v for v, _ in renamed.values()}:
            renamed[n] = (new, kind)  # (where a file of that name is there already: left as it is)
    for n in files:
        path = os.path.join(src, n)
        if path in crashing:
            out.append(Entry(path, "", False, (Action(crashing[path], FixKind.LEAVE_OUT.value, path, None, True,
                                                      "left out: sd-scripts would crash on it"),)))
            continue
        final, kind = renamed.get(n, (n, None))
        target = os.path.join(dest, final)
        actions = []
        if kind is not None:
            actions.append(Action(FIXES[kind].code, kind.value, path, target, True, f"'{n}' -> '{final}'"))
        data = None
        stem, ext = os.path.splitext(final)
        if caption_ext and ext == caption_ext and stem in stems:
            data = _cleaned(path)
            if data is not None:
                actions.append(Action("RA023", FixKind.CLEAN_CAPTION.value, path, target, True,
                                      "byte-order mark, CR/CRLF line ends and trailing blank lines removed"))
        out.append(Entry(path, target, False, tuple(actions), data))
    return out


def _cleaned(path: str) -> bytes | None:
    try:
        with open(path, "rb") as fh:
            data = fh.read(1 << 20)
    except OSError:
        return None
    return clean_caption(data)


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
    if not os.path.isdir(parent):
        raise RegauditError(f"{out}: the folder {parent} does not exist; create it or choose another path")
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
               jobs: int | None = None) -> FixResult:
    """Build the copy in a temporary folder beside ``out`` and rename it into place (see the
    module docstring)."""
    parent, base = os.path.split(out)
    try:
        tmp = tempfile.mkdtemp(prefix=f".{base}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise RegauditError(f"{out}: cannot write in {parent}: {exc.strerror or exc}; nothing was written") from None
    try:
        actions = _copy_entries(plan, tmp, hardlink)
        remaining, extra = _audit_copy(plan, tmp, out, _config_and_command(plan, tmp, tmp), jobs)
        command = _config_and_command(plan, tmp, out)
        for e in reversed(plan.entries):  # a folder's mode and times as the original's, once its files are in
            if e.is_dir and not any(a.dest is None for a in e.actions):
                shutil.copystat(e.source, os.path.join(tmp, e.dest))
        result = FixResult(plan, out, actions + extra, command, remaining, _gone(plan, remaining, out))
        with open(os.path.join(tmp, MANIFEST), "x", encoding="utf-8") as fh:
            fh.write(render_manifest(result))
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o777 & ~mask)  # (mkdtemp makes it 0700: DIR gets a new folder's mode)
        _into_place(tmp, out)
    except BaseException as exc:
        _remove(tmp)
        if isinstance(exc, OSError):
            where = f" ({exc.filename})" if exc.filename else ""
            raise RegauditError(f"{out}: cannot be written: {exc.strerror or exc}{where}; nothing was written, "
                                f"the original is untouched") from None
        raise
    return result


def _remove(tmp: str) -> None:
    """Remove a temporary copy, read-only folders in it included (never the original: ``tmp`` is ours)."""
    def writable(func, path, _exc):
        try:
            os.chmod(os.path.dirname(path), 0o700)
            func(path)
        except OSError:
            pass
    shutil.rmtree(tmp, onerror=writable)


def _copy_entries(plan: FixPlan, tmp: str, hardlink: bool) -> list[Action]:
    actions = []
    for e in plan.entries:
        if any(a.dest is None for a in e.actions):  # left out of the copy
            actions += e.actions
            continue
        dest = os.path.join(tmp, e.dest)
        if e.is_dir:
            os.makedirs(dest, exist_ok=True)
        elif e.data is not None:  # new content: a new file with the original's mode
            with open(dest, "xb") as fh:
                fh.write(e.data)
            shutil.copymode(e.source, dest)
        elif hardlink:
            os.link(e.source, dest)
        else:
            shutil.copy2(e.source, dest)  # (copy_file_range / sendfile where the system has them)
        if e.actions:
            before = None if e.is_dir else _file_digest(e.source)
            after = _digest(e.data) if e.data is not None else before
            actions += [replace(a, before=before, after=after) for a in e.actions]
    for e in reversed(plan.entries):  # a folder's mode and times as the original's, once its files are in
        if e.is_dir:
            shutil.copystat(e.source, os.path.join(tmp, e.dest))
    return actions


def _config_and_command(plan: FixPlan, tmp: str, base: str) -> list[str]:
    """The training command pointing at the copy as it lies under ``base``; the dataset config is
    written in ``tmp`` with its subsets' image_dir under ``base``."""
    where = {folder: os.path.join(base, rel) for folder, rel in plan.roots}
    if plan.config is None:
        return rewrite_command(plan.argv, plan.trainer, where)
    source, name = plan.config
    doc = read_config_file(source)
    for ds in doc.get("datasets", []) if isinstance(doc, dict) else []:
        for sub in ds.get("subsets", []) if isinstance(ds, dict) else []:
            if isinstance(sub, dict) and isinstance(sub.get("image_dir"), str):
                sub["image_dir"] = where.get(os.path.abspath(sub["image_dir"]), sub["image_dir"])
    if source.lower().endswith(".json"):
        text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    else:
        import toml

        text = toml.dumps(doc)
    with open(os.path.join(tmp, name), "w", encoding="utf-8") as fh:
        fh.write(text)
    return rewrite_command(plan.argv, plan.trainer, {"dataset_config": os.path.join(base, name)})


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
        if dest == "dataset_config":
            return new_paths.get("dataset_config", value)
        return new_paths.get(os.path.abspath(value), value) if dest in _PATH_DESTS else value

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
        elif not token.startswith("-") and not script and os.path.abspath(token) in new_paths:
            out.append(new_paths[os.path.abspath(token)])  # a bare DIR
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
    if not f.path.startswith(tmp):
        return f
    return Finding(f.code, f.name, f.severity, out + f.path[len(tmp):], f.message.replace(tmp, out),
                   f.hint.replace(tmp, out), f.images)


def _gone(plan: FixPlan, remaining, out: str) -> list[Finding]:
    """The original's findings the copy no longer has (by code and by the place in the copy)."""
    where = {e.source: os.path.join(out, e.dest) for e in plan.entries if e.dest}
    if plan.config is not None:
        where[plan.config[0]] = os.path.join(out, plan.config[1])
    now = {(f.code, f.path) for f in remaining}
    return [f for f in plan.findings if (f.code, where.get(f.path, f.path)) not in now]


def _into_place(tmp: str, out: str) -> None:
    """Rename the finished copy to ``out``; an earlier output there is moved aside first, and
    removed only once the new copy is in place."""
    old = None
    if os.path.lexists(out):
        old = tempfile.mkdtemp(prefix=f".{os.path.basename(out)}.old.", dir=os.path.dirname(out))
        os.rmdir(old)
        os.rename(out, old)
    try:
        os.rename(tmp, out)
    except BaseException:
        if old is not None:
            os.rename(old, out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
