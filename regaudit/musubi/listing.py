"""What musubi-tuner lists in an ``image_directory`` (``media_utils.glob_images`` through
``ImageDirectoryDatasource``), every file it leaves out and why, the caption of each image as
``get_caption`` reads it, its size as ``get_image_data`` opens it (Pillow, no EXIF rotation), its
bucket and its cache file names (``BaseDataset.get_latent_cache_path`` /
``get_text_encoder_output_cache_path``)."""

from __future__ import annotations

import fnmatch
import glob
import os
from dataclasses import dataclass
from typing import Optional

from ..limits import CAPTION_BYTES
from ..safeio import files_below
from .buckets import BucketSelector

# media_utils.IMAGE_EXTENSIONS (without the optional JPEG-XL plugins): all-lower or all-upper only
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".PNG", ".JPG", ".JPEG", ".WEBP", ".BMP", ".avif",
                    ".AVIF")


@dataclass(frozen=True)
class Listed:
    path: str
    caption: Optional[str]
    caption_error: Optional[str]  # "FileNotFoundError: ..." where get_caption fails
    size: Optional[tuple[int, int]]
    image_error: Optional[str]  # where Image.open fails
    bucket: Optional[tuple[int, int]]
    latent_cache: Optional[str]  # full path
    te_cache: str  # full path
    caption_bytes: int = 0  # the caption file's size where it is over CAPTION_BYTES characters (only those are read)

    @property
    def ok(self) -> bool:
        return self.caption_error is None and self.image_error is None


@dataclass(frozen=True)
class Dropped:
    path: str
    reason: str  # no-caption | extension-case | hidden | subdirectory | not-image | orphan-caption
    detail: str


def glob_all(folder: str) -> list[tuple[str, str]]:
    """``glob.glob(os.path.join(folder, "*"))`` (``folder`` a glob pattern) as (name, path) pairs:
    the entries of the folders it names but those whose name starts with '.', each joined to its
    folder as glob joins it. A folder without glob's magic characters is listed directly
    (``os.scandir``, as glob lists it, without glob's generators: half the time of a
    20,000-dataset config went there)."""
    pattern = os.path.join(folder, "*")
    head = os.path.split(pattern)[0]
    if glob.has_magic(head):  # (a pattern for folders: glob finds them)
        return [(os.path.basename(p), p) for p in glob.glob(pattern)]
    try:
        with os.scandir(head or os.curdir) as it:
            names = [entry.name for entry in it]
    except OSError:  # (glob lists nothing where the folder cannot be listed)
        return []
    return [(name, os.path.join(head, name)) for name in names if not name.startswith(".")]


def glob_images(directory: str, caption_extension: Optional[str]) -> list[str]:
    """media_utils.glob_images: each extension globbed (case-sensitive where the OS is), then, with a
    caption_extension, only images whose stem has a file matching '*' + caption_extension.

    The folder is listed once (``glob`` of '*'), and each '*' + extension pattern matched against
    those names as ``glob`` matches it (``fnmatch.filter``, names starting with '.' left out by
    both): the same paths as a ``glob`` per pattern, which listed the folder 13 times (a config of
    20,000 datasets spent half its time there)."""
    folder = glob.escape(directory)
    by_name = dict(glob_all(folder))  # (an escaped folder is one folder: each name once)
    paths = set()
    for ext in IMAGE_EXTENSIONS:
        paths.update(by_name[n] for n in fnmatch.filter(by_name, "*" + ext))
    if caption_extension is not None:
        if os.sep in caption_extension or (os.altsep and os.altsep in caption_extension):  # (a pattern into subfolders)
            captions = [os.path.basename(p) for p in glob.glob(os.path.join(folder, "*" + caption_extension))]
        else:
            captions = fnmatch.filter(by_name, "*" + caption_extension)
        bases = {os.path.splitext(n)[0] for n in captions}
        paths = {p for p in paths if os.path.splitext(os.path.basename(p))[0] in bases}
    return sorted(paths)


def read_caption(image_path: str, caption_extension: Optional[str]) -> tuple[Optional[str], Optional[str]]:
    """ImageDirectoryDatasource.get_caption: splitext(path)[0] + extension, UTF-8, stripped; with no
    caption_extension the path is '' (FileNotFoundError: '')."""
    text, error, _ = read_caption_bounded(image_path, caption_extension)
    return text, error


def read_caption_bounded(image_path: str, caption_extension: Optional[str]) -> tuple[Optional[str], Optional[str], int]:
    """read_caption, reading at most CAPTION_BYTES characters (musubi reads the whole file; a 1 GiB
    sparse caption cost regaudit 3 GB): (text, error, the file's size in bytes where it is longer,
    else 0). A byte that is not UTF-8 past the limit is not seen."""
    caption_path = os.path.splitext(image_path)[0] + caption_extension if caption_extension else ""
    try:
        with open(caption_path, encoding="utf-8") as f:
            text = f.read(CAPTION_BYTES + 1)
            if len(text) <= CAPTION_BYTES:
                return text.strip(), None, 0
            return text[:CAPTION_BYTES].strip(), None, os.fstat(f.fileno()).st_size
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        return None, f"{type(exc).__name__}: {exc}", 0


def image_size(path: str) -> tuple[Optional[tuple[int, int]], Optional[str]]:
    """get_image_data's Image.open(p).size (Pillow reads the header only)."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            return (int(im.size[0]), int(im.size[1])), None
    except Exception as exc:  # Pillow raises many kinds for a hostile file; each is musubi's crash
        return None, f"{type(exc).__name__}: {exc}"


def latent_cache_name(item_key: str, size: tuple[int, int], arch: str) -> str:
    """BaseDataset.get_latent_cache_path's file name: {stem}_{W:04d}x{H:04d}_{arch}.safetensors."""
    stem = os.path.splitext(os.path.basename(item_key))[0]
    return f"{stem}_{size[0]:04d}x{size[1]:04d}_{arch}.safetensors"


def te_cache_name(item_key: str, arch: str) -> str:
    """BaseDataset.get_text_encoder_output_cache_path's file name: {stem}_{arch}_te.safetensors."""
    return f"{os.path.splitext(os.path.basename(item_key))[0]}_{arch}_te.safetensors"


def list_images(directory: str, caption_extension: Optional[str], cache_directory: str, arch: str,
                selector: Optional[BucketSelector]) -> list[Listed]:
    """The images glob_images lists, each with its size, caption, bucket (None: no selector, musubi
    could not make one) and cache names."""
    out = []
    for path in glob_images(directory, caption_extension):
        size, image_error = image_size(path)
        caption, caption_error, caption_bytes = read_caption_bounded(path, caption_extension)
        bucket = selector.get_bucket_resolution(size) if selector is not None and size and size[1] else None
        latent = os.path.join(cache_directory, latent_cache_name(path, size, arch)) if size else None
        out.append(Listed(path, caption, caption_error, size, image_error, bucket, latent,
                          os.path.join(cache_directory, te_cache_name(path, arch)), caption_bytes))
    return out


def dropped(directory: str, listed: list[str], caption_extension: Optional[str]) -> list[Dropped]:
    """Every entry of the folder musubi does not list, with the reason (regaudit's reading of
    glob_images, not a musubi value)."""
    try:
        entries = sorted(os.listdir(directory))
    except OSError as exc:
        return [Dropped(directory, "unreadable", f"{type(exc).__name__}: {exc.strerror or exc}")]
    names = {os.path.basename(p) for p in listed}
    listed_stems = {os.path.splitext(n)[0] for n in names}
    lower = {e.lower() for e in IMAGE_EXTENSIONS}
    out = []
    for name in entries:
        if name in names:
            continue
        path = os.path.join(directory, name)
        stem, ext = os.path.splitext(name)
        if os.path.isdir(path):
            has_images = _has_images(path)
            if has_images:
                out.append(Dropped(path, "subdirectory", f"{has_images} image{'' if has_images == 1 else 's'} in a nested folder: image_directory is "
                                                         f"not searched recursively"))
            continue
        if caption_extension and name.endswith(caption_extension):
            if not name.startswith(".") and stem not in listed_stems:
                out.append(Dropped(path, "orphan-caption", f"no image named {stem}.*"))
            continue
        if ext.lower() not in lower:
            continue  # not an image: nothing meant to train
        if name.startswith("."):
            out.append(Dropped(path, "hidden", "the glob '*' does not match names starting with '.'"))
        elif ext not in IMAGE_EXTENSIONS:
            out.append(Dropped(path, "extension-case", f"extension {ext!r}: only all-lower or all-upper case is globbed"))
        else:
            out.append(Dropped(path, "no-caption", f"no caption file {stem}{caption_extension}"))
    return out


def _has_images(folder: str) -> int:
    """Images below ``folder`` (safeio.files_below: symlinked folders not followed, any depth), counted
    up to a little past 10,000."""
    lower = {e.lower() for e in IMAGE_EXTENSIONS}
    count = 0
    for name in files_below(folder, 100_000):
        if os.path.splitext(name)[1].lower() in lower:
            count += 1
            if count > 10_000:
                break
    return count
