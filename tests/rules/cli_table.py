"""What the family tables share: a tiny dataset described as a dict, the command line run
in-process with --json, and the findings compared with literal expectations.

A row's dataset maps paths (relative to the test's folder, which is the working directory) to
what goes there: ``Img(...)`` a generated image, ``str`` a UTF-8 text file, ``bytes`` a raw file,
``DIR`` an empty folder, ``Link(target)`` a symlink. Expected findings are ``F(code, severity,
path, message)`` with ``{root}`` standing for the test's folder, or ``No(code)``; for every code a
row names, the command's findings of that code must be exactly the row's, message for message."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from regaudit.cli import main
from PIL import Image

from tests.conftest import make_image, textured


@dataclass(frozen=True)
class Img:
    size: tuple[int, int] = (8, 8)
    mode: str = "RGB"
    fmt: str | None = None
    color: tuple[int, ...] = (120, 30, 200)
    exif_orientation: int | None = None
    save: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Pic:
    """A picture with structure (``textured(seed)``), for the duplicate finder: as it is, mirrored,
    or stored turned 90° counter-clockwise with the EXIF orientation (6) that shows it upright."""
    seed: int
    size: tuple[int, int] = (64, 48)
    mirrored: bool = False
    turned_exif: bool = False
    quality: int = 95  # a JPEG's


@dataclass(frozen=True)
class Link:
    target: str  # as written into the link (relative to the link's folder, or absolute with {root})


DIR = object()


@dataclass(frozen=True)
class No:
    """No finding of this code at all."""
    code: str


@dataclass(frozen=True)
class F:
    code: str
    severity: str
    path: str  # relative to the test's folder ('' for the folder itself)
    message: str  # exact; '{*}' stands for any text (another library's own words)
    # the finding's 'images' in order, each a path relative to the test's folder or a dict of its figures
    # with such a path (other paths with '{root}'); None: not compared
    images: tuple | None = None


def build(root: Path, tree: dict[str, Any]) -> None:
    for rel, what in tree.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(what, Img):
            make_image(path, size=what.size, mode=what.mode, fmt=what.fmt, color=what.color,
                       exif_orientation=what.exif_orientation, **what.save)
        elif isinstance(what, Pic):
            im = textured(what.seed, what.size)
            save: dict = {"quality": what.quality} if path.suffix == ".jpg" else {}
            if what.mirrored:
                im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            if what.turned_exif:
                im = im.rotate(90, expand=True)
                exif = Image.Exif()
                exif[0x0112] = 6
                save["exif"] = exif.tobytes()
            im.save(path, **save)
        elif isinstance(what, str):
            path.write_text(what.replace("{root}", str(root)), encoding="utf-8")
        elif isinstance(what, bytes):
            path.write_bytes(what)
        elif what is DIR:
            path.mkdir()
        elif isinstance(what, Link):
            os.symlink(what.target.replace("{root}", str(root)), path)
        else:
            raise TypeError(f"{rel}: {what!r}")


def run_json(capsys, argv: list[str]) -> dict:
    """The command's JSON document (it must exit 0 and write nothing but JSON on stdout)."""
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "Traceback" not in err
    return json.loads(out)


def assert_findings(doc: dict, expected: list[F | No], root: Path) -> None:
    base = str(root)
    want: dict[str, list[tuple]] = {}
    for f in expected:
        if isinstance(f, No):
            want.setdefault(f.code, [])
            continue
        path = os.path.join(base, f.path) if f.path else base
        want.setdefault(f.code, []).append((f.code, f.severity, path, f.message.replace("{root}", base)))
    for code, rows in want.items():
        got = sorted((f["code"], f["severity"], f["path"], f["message"]) for f in doc["findings"] if f["code"] == code)
        rows.sort()
        assert len(got) == len(rows) and all(g[:3] == w[:3] and _matches(g[3], w[3]) for g, w in zip(got, rows)), \
            f"{code}: got {got}"
    for f in expected:
        if isinstance(f, F) and f.images is not None:
            path = os.path.join(base, f.path) if f.path else base
            found = next(g for g in doc["findings"] if g["code"] == f.code and g["path"] == path
                         and _matches(g["message"], f.message.replace("{root}", base)))
            got_images = [{**i, "path": os.path.relpath(i["path"], base)} for i in found.get("images", [])]
            want_images = [{"path": i} if isinstance(i, str) else
                           {k: v.replace("{root}", base) if isinstance(v, str) else v for k, v in i.items()}
                           for i in f.images]
            assert got_images == want_images, f"{f.code} images: got {got_images}"


def _matches(message: str, pattern: str) -> bool:
    return re.fullmatch(".*".join(map(re.escape, pattern.split("{*}"))), message, re.DOTALL) is not None


@dataclass(frozen=True)
class Case:
    tree: dict[str, Any]
    argv: list[str]
    expected: tuple[F | No, ...]
    locked: tuple[str, ...] = ()  # paths made unreadable (chmod 0) before the run
    facts: dict[str, Any] = field(default_factory=dict)  # other JSON values: 'crash.code' -> doc["crash"]["code"]
    mtimes: dict[str, float] = field(default_factory=dict)  # paths given this modification time (seconds)


def row(id: str, tree: dict[str, Any], argv: list[str], *expected: F | No, locked: tuple[str, ...] = (),
        facts: dict[str, Any] | None = None, marks=(), mtimes: dict[str, float] | None = None):
    import pytest

    return pytest.param(Case(tree, argv, expected, locked, facts or {}, mtimes or {}), id=id, marks=marks)


def run_case(case: Case, root: Path, capsys, monkeypatch) -> dict:
    """Build the row's dataset in ``root``, run its command line, check its findings; the JSON."""
    if os.name == "nt" and (case.locked or any(isinstance(v, Link) for v in case.tree.values())):
        import pytest

        pytest.skip("symlinks and unreadable files are made the POSIX way")
    build(root, case.tree)
    for rel, t in case.mtimes.items():
        os.utime(root / rel, (t, t))
    locked = [root / p for p in case.locked]
    if locked and getattr(os, "geteuid", lambda: -1)() == 0:
        _deny(monkeypatch, {str(p) for p in locked})  # root reads anything: refuse as the OS refuses others
    for p in locked:
        p.chmod(0)
    try:
        doc = run_json(capsys, [a.replace("{root}", str(root)) for a in case.argv])
    finally:
        for p in locked:
            p.chmod(0o755)
    assert_findings(doc, list(case.expected), root)
    for key, value in case.facts.items():
        got: Any = doc
        for part in key.split("."):
            got = got[part] if got is not None else None
        assert got == value, f"{key}: {got!r}"
    return doc


def _deny(monkeypatch, denied: set[str]) -> None:
    """Refuse to list or open these paths (EACCES), as the OS does for any user but root."""
    import builtins
    import io

    def refusing(real):
        def call(path, *args, **kwargs):
            if isinstance(path, (str, bytes, os.PathLike)) and os.path.realpath(os.fsdecode(path)) in denied:
                raise PermissionError(13, "Permission denied", os.fsdecode(path))
            return real(path, *args, **kwargs)
        return call

    monkeypatch.setattr(os, "scandir", refusing(os.scandir))
    monkeypatch.setattr(os, "open", refusing(os.open))
    monkeypatch.setattr(builtins, "open", refusing(builtins.open))
    monkeypatch.setattr(io, "open", refusing(io.open))
