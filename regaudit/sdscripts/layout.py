"""Which folders and files sd-scripts reads, exactly as it reads them (spec §1-2).

Two jobs: turn a train/reg root into subset configs (config_util's
generate_dreambooth_subsets_config_by_subdirs), and list one subset folder the way
train_util.glob_images does, keeping everything it skips, with the reason, as data.
Facts only: what the findings say about them is ``rules.layout``'s.
"""

from __future__ import annotations

import errno
import os
import re
import stat
from dataclasses import dataclass, field
from itertools import repeat
from operator import attrgetter
from pathlib import Path

from ..errors import check_exhausted
from ..safeio import files_below
from ..model import Ignored, IgnoreReason, SubsetConfig

# train_util.IMAGE_EXTENSIONS without the optional AVIF / JPEG XL plugins.
GLOB_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".PNG", ".JPG", ".JPEG", ".WEBP", ".BMP")
_GLOB_LOWER = frozenset(e.lower() for e in GLOB_EXTENSIONS)
OTHER_CAPTION_EXTENSIONS = (".txt", ".caption", ".tags", ".cap")  # what people name caption files
OTHER_IMAGE_EXTENSIONS = frozenset({
    ".gif", ".tif", ".tiff", ".heic", ".heif", ".avif", ".jxl", ".jfif", ".jpe", ".psd", ".xcf",
    ".tga", ".ico", ".svg", ".ppm", ".pgm", ".pbm", ".exr", ".hdr", ".dng", ".cr2", ".cr3",
    ".nef", ".arw", ".orf", ".raf", ".rw2", ".jp2",
})
CASE_INSENSITIVE_GLOB = os.name == "nt"
# endings of files a listing has nothing to say about (captions, latent caches, notes): none is an
# image extension in any case, so a name with one is skipped before its extension is looked at
_QUIET = OTHER_CAPTION_EXTENSIONS + (".npz", ".json", ".toml", ".yaml", ".md")
assert not {q.lower() for q in _QUIET} & (_GLOB_LOWER | OTHER_IMAGE_EXTENSIONS)
_NESTED_WALK_LIMIT = 100_000  # entries looked at below one nested folder before giving up counting


def is_globbed(name: str, case_insensitive: bool | None = None) -> bool:
    """Would sd-scripts' image glob match this directory entry name? ``case_insensitive``: the
    glob of the OS that will train (Windows matches '.Png'; Linux and macOS do not); default: this
    machine's."""
    if name.startswith("."):
        return False  # glob's '*' never matches a leading dot
    if CASE_INSENSITIVE_GLOB if case_insensitive is None else case_insensitive:
        return os.path.splitext(name)[1].lower() in _GLOB_LOWER
    return name.endswith(GLOB_EXTENSIONS)


def looks_like_image(name: str) -> bool:
    ext = os.path.splitext(name)[1].lower()
    return ext in _GLOB_LOWER or ext in OTHER_IMAGE_EXTENSIONS


def parse_folder_name(name: str) -> tuple[int, str] | None:
    """(repeats, class tokens) as config_util reads a subfolder name, or None when the folder is
    ignored for having no repeats. int() is the rule: '010' is 10, '+5' is 5, ' 7' is 7,
    Arabic-Indic digits count, '10 dog' and '1e3' do not parse."""
    pieces = name.split("_")
    try:
        repeats = int(pieces[0])
    except ValueError:
        return None
    return repeats, "_".join(pieces[1:])


def suggest_folder_name(name: str) -> str:
    m = re.match(r"^\s*(\d+)\s*[-. x]+\s*(\S.*)$", name)
    if m:
        return f"{int(m.group(1))}_{m.group(2)}"
    m = re.match(r"^(.*\S)[\s_\-.]+(\d+)$", name)
    if m:
        return f"{int(m.group(2))}_{m.group(1)}"
    return f"1_{name.lstrip('.')}" if name.strip(". ") else "1_<class tokens>"


def _abs(path: str) -> str:
    return os.path.abspath(path)


def _count_images_direct(path: str) -> int:
    try:
        with os.scandir(path) as it:
            return sum(1 for e in it if looks_like_image(e.name))
    except OSError:
        return 0


def _count_images_below(path: str) -> int:
    """Images anywhere below ``path`` (safeio.files_below: symlinked folders not followed, any depth)."""
    return sum(1 for name in files_below(path, _NESTED_WALK_LIMIT) if looks_like_image(name))


@dataclass(frozen=True)
class SkippedFolder:
    """A folder of a train/reg root that sd-scripts makes no subset of."""

    path: str  # absolute
    name: str
    reason: IgnoreReason  # HIDDEN, UNPARSED_NAME or REPEATS_BELOW_ONE
    images: int = 0  # images directly in it (not counted for REPEATS_BELOW_ONE)
    repeats: int = 0  # the repeats its name gives (REPEATS_BELOW_ONE)
    suggestion: str = ""  # a name sd-scripts would read (UNPARSED_NAME)


@dataclass
class RootScan:
    root: str = ""  # as given
    is_reg: bool = False
    subsets: list[SubsetConfig] = field(default_factory=list)
    ignored: list[Ignored] = field(default_factory=list)
    missing: str | None = None  # "does not exist" / "is not a folder": the root contributes nothing
    # what Path.is_dir or Path.iterdir raises on the root or a folder in it, and that path: sd-scripts stops
    crash: tuple[OSError, str] | None = None
    skipped: list[SkippedFolder] = field(default_factory=list)  # in listing order
    root_images: int = 0  # image files directly in the root (never read)

    @property
    def role(self) -> str:
        return "reg" if self.is_reg else "train"


def scan_root(root: str, is_reg: bool, caption_extension: str, subset_defaults: dict | None = None) -> RootScan:
    """The subsets sd-scripts builds from one train_data_dir/reg_data_dir, in its order
    (Path.iterdir, unsorted), plus everything in the root it skips
    (config_util.generate_dreambooth_subsets_config_by_subdirs). A root that is missing or not a
    folder contributes nothing, silently, as in sd-scripts (spec §10.9). Where Path.is_dir or
    Path.iterdir raises (a path longer than the system takes, a folder it may not list), sd-scripts
    stops: ``crash`` holds the error."""
    out = RootScan(root, is_reg)
    base = Path(root)
    try:
        is_dir = _path_is_dir(base)
    except OSError as exc:
        out.crash = (exc, str(base))
        return out
    if not is_dir:
        out.missing = "does not exist" if not os.path.lexists(root) else "is not a folder"
        return out
    role = out.role
    try:
        entries = [e.name for e in os.scandir(base)]
    except OSError as exc:
        check_exhausted(exc, root)
        out.crash = (exc, str(base))
        return out
    for name in entries:
        child = base / name
        image_dir = str(child)
        abs_child = _abs(image_dir)
        try:
            child_is_dir = _path_is_dir(child)  # follows symlinks; False for dangling links and loops
        except OSError as exc:
            out.crash = (exc, image_dir)
            return out
        if not child_is_dir:
            if looks_like_image(name):
                out.root_images += 1
                out.ignored.append(Ignored(abs_child, "file", IgnoreReason.FILE_IN_ROOT,
                                           f"image file directly in the {role} root is never read"))
            else:
                out.ignored.append(Ignored(abs_child, "file", IgnoreReason.FILE_IN_ROOT,
                                           f"file directly in the {role} root is not read"))
            continue
        parsed = parse_folder_name(name)
        if parsed is None:
            n_images = _count_images_direct(image_dir)
            if name.startswith("."):
                out.ignored.append(Ignored(abs_child, "dir", IgnoreReason.HIDDEN,
                                           f"hidden folder without repeats is ignored ({n_images} images)"))
                out.skipped.append(SkippedFolder(abs_child, name, IgnoreReason.HIDDEN, n_images))
                continue
            suggestion = suggest_folder_name(name)
            out.ignored.append(Ignored(abs_child, "dir", IgnoreReason.UNPARSED_NAME,
                                       f"folder name '{name}' has no '<repeats>_' prefix; "
                                       f"{n_images} images ignored (did you mean '{suggestion}'?)"))
            out.skipped.append(SkippedFolder(abs_child, name, IgnoreReason.UNPARSED_NAME, n_images,
                                             suggestion=suggestion))
            continue
        repeats, tokens = parsed
        if repeats < 1:
            out.ignored.append(Ignored(abs_child, "dir", IgnoreReason.REPEATS_BELOW_ONE,
                                       f"repeats {repeats} < 1: the folder is skipped"))
            out.skipped.append(SkippedFolder(abs_child, name, IgnoreReason.REPEATS_BELOW_ONE, repeats=repeats))
            continue
        out.subsets.append(SubsetConfig(image_dir=image_dir, is_reg=is_reg, num_repeats=repeats,
                                        class_tokens=tokens, caption_extension=caption_extension,
                                        **(subset_defaults or {})))
    return out


# the errors pathlib's is_dir answers False to (pathlib._IGNORED_ERRNOS in the Pythons sd-scripts runs
# on: 3.10, 3.11 (the oracle's)); any other (ENAMETOOLONG, EACCES on a folder above, EOVERFLOW) it
# raises, and sd-scripts with it
_IS_DIR_FALSE = {errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP}


def _path_is_dir(path: Path) -> bool:
    """Path.is_dir as sd-scripts' Python has it (a newer pathlib built on os.path.isdir may answer False
    on every error instead)."""
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except OSError as exc:
        if exc.errno in _IS_DIR_FALSE:
            return False
        raise
    except ValueError:  # (an embedded NUL)
        return False


class Absolute:
    """os.path.abspath of many paths in few folders (a listing's images, their captions), each
    folder's part worked out once; the path itself when it is already absolute and normal. Exact:
    what it cannot answer cheaply ('..', doubled slashes, another OS's separators) goes to
    os.path.abspath."""

    def __init__(self) -> None:
        self._heads: dict[str, str] = {}

    def __call__(self, path: str) -> str:
        if os.sep != "/" or os.altsep:
            return os.path.abspath(path)
        i = path.rfind("/")
        head, name = ("/" if i == 0 else path[:i]) if i >= 0 else ".", path[i + 1:]
        if not name or name in (".", "..") or (i > 0 and path[i - 1] == "/"):
            return os.path.abspath(path)
        abs_head = self._heads.get(head)
        if abs_head is None:
            abs_head = self._heads[head] = os.path.abspath(head)
        whole = abs_head + name if abs_head.endswith("/") else abs_head + "/" + name
        return path if whole == path else whole

    def all_of(self, paths: list[str]) -> list[str]:
        """``[self(p) for p in paths]``, without a call per path where all are names in one folder
        (a subset's listing)."""
        if not paths or os.sep != "/" or os.altsep:
            return [self(p) for p in paths]
        first = paths[0]
        i = first.rfind("/")
        head = first[:i + 1]
        n = len(head)
        names = [p[n:] for p in paths]
        if i < 1 or first[i - 1] == "/" or not all(map(str.startswith, paths, repeat(head))) \
                or "/" in "".join(names) or not _ODD_NAMES.isdisjoint(names):
            return [self(p) for p in paths]  # (not one folder's plain names: one by one)
        abs_first = self(first)
        abs_head = abs_first[:len(abs_first) - len(names[0])]
        if abs_head == head:
            return list(paths)  # already absolute and normal: the same strings
        return [abs_head + name for name in names]


_ODD_NAMES = frozenset({"", ".", ".."})


@dataclass(frozen=True)
class UnreadEntry:
    """An entry of a subset folder that the image glob does not return, and why."""

    path: str  # absolute
    name: str
    reason: IgnoreReason  # NESTED_DIR or EXTENSION_CASE
    images: int = 0  # images anywhere below a nested folder
    ext: str = ""  # the extension as spelled (EXTENSION_CASE)


@dataclass
class FolderListing:
    images: list[str] = field(default_factory=list)  # sd-scripts path strings, sorted as it sorts them
    # names of files with a caption extension other than the subset's (for "captions sd-scripts ignores")
    names: frozenset[str] = frozenset()
    ignored: list[Ignored] = field(default_factory=list)
    readable: bool = True
    has_npz: bool = True  # some entry's name ends with '.npz' (a latent cache file may be among them)
    path: str = ""  # the folder, absolute (empty when it is not a folder)
    error: str | None = None  # why the folder cannot be listed
    unread: list[UnreadEntry] = field(default_factory=list)  # nested folders, extensions of the wrong case
    unsupported: list[str] = field(default_factory=list)  # names of image files of formats it does not glob
    hidden_images: list[str] = field(default_factory=list)  # absolute paths of hidden images / image folders


def list_subset(image_dir: str, case_insensitive: bool | None = None, caption_extension: str | None = None) -> FolderListing:
    """The image paths train_util.glob_images returns for one subset (non-recursive, exact
    extensions, no dot-files, de-duplicated and sorted by path string), and what it skips.
    ``names`` holds the files named like captions of another extension than ``caption_extension``
    (not every name: a million-image folder would hold them all twice)."""
    out = FolderListing()
    if not os.path.isdir(image_dir):
        out.readable = False
        return out
    out.path = _abs(image_dir)
    try:
        with os.scandir(image_dir) as it:
            entries = list(it)
    except OSError as exc:
        check_exhausted(exc, image_dir)
        out.readable = False
        out.error = str(exc.strerror or exc)
        return out
    others = tuple(e for e in OTHER_CAPTION_EXTENSIONS if e != caption_extension)
    names = list(map(_name, entries))
    out.names = frozenset(n for n in names if n.endswith(others))
    out.has_npz = any(n.endswith(".npz") for n in names)
    # glob builds each result as os.path.join(dirname, name) with the pattern's dirname, which
    # os.path.split has stripped of trailing slashes ('a/b//' -> 'a/b')
    glob_dir = os.path.split(os.path.join(image_dir, "*"))[0]
    found: set[str] = set()
    prefix = glob_dir + os.sep if glob_dir and not glob_dir.endswith(os.sep) else glob_dir
    insensitive = CASE_INSENSITIVE_GLOB if case_insensitive is None else case_insensitive
    for entry in entries:
        name = entry.name
        if name.endswith(GLOB_EXTENSIONS) and name[:1] != "." if not insensitive else is_globbed(name, True):
            found.add(prefix + name)  # = os.path.join(glob_dir, name); directories and dangling links too
            continue
        if name.endswith(_QUIET) and name[:1] != "." and not _entry_is_dir(entry):
            continue  # a caption or cache file (the common case): nothing to report, found without more
        is_dir = _entry_is_dir(entry)  # (asked only of what the glob leaves: nested folders)
        i = name.rfind(".")
        ext = name[i:] if i > 0 and name[:i].lstrip(".") else ""  # = os.path.splitext(name)[1]
        if not is_dir and not name.startswith(".") and ext.lower() not in _GLOB_LOWER and \
                ext.lower() not in OTHER_IMAGE_EXTENSIONS:
            continue  # captions, cache files and other non-images: nothing to report
        path = prefix + name
        abs_path = _abs(path)
        if name.startswith("."):
            if is_dir:
                n = _count_images_below(path)
                out.ignored.append(Ignored(abs_path, "dir", IgnoreReason.HIDDEN,
                                           f"hidden folder is not read ({n} images below it)"))
                if n:
                    out.hidden_images.append(abs_path)
            else:
                out.ignored.append(Ignored(abs_path, "file", IgnoreReason.HIDDEN,
                                           "hidden file is never matched by the image glob"))
                if looks_like_image(name):
                    out.hidden_images.append(abs_path)
            continue
        if is_dir:
            n = _count_images_below(path)
            out.ignored.append(Ignored(abs_path, "dir", IgnoreReason.NESTED_DIR,
                                       f"nested folder is not read ({n} images below it)"))
            out.unread.append(UnreadEntry(abs_path, name, IgnoreReason.NESTED_DIR, images=n))
            continue
        if ext.lower() in _GLOB_LOWER:
            out.ignored.append(Ignored(abs_path, "file", IgnoreReason.EXTENSION_CASE,
                                       f"extension '{ext}' is not matched (only '{ext.lower()}' and "
                                       f"'{ext.upper()}' are)"))
            out.unread.append(UnreadEntry(abs_path, name, IgnoreReason.EXTENSION_CASE, ext=ext))
        elif ext.lower() in OTHER_IMAGE_EXTENSIONS:
            out.ignored.append(Ignored(abs_path, "file", IgnoreReason.UNSUPPORTED_FORMAT,
                                       f"'{ext}' files are not globbed by sd-scripts"))
            out.unsupported.append(name)
    out.images = sorted(found)
    return out


_name = attrgetter("name")


def _entry_is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()  # follows symlinks
    except OSError:
        return False
