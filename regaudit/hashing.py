"""Encode images to hashes for duplicate search: a digest of the file bytes and perceptual hashes
(imagehash) of the pixels as stored, mirrored, and as the camera meant them (EXIF orientation).

Decoding is kept as small as the hash needs: JPEGs decode in draft mode (DCT scaling) and large
images are box-reduced before the final resampling that imagehash itself performs.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import Enum

import imagehash
from PIL import Image

WORK_SIZE = 128  # decode to at least this many pixels on the short side before hashing


class HashKind(str, Enum):
    PHASH = "phash"
    DHASH = "dhash"
    WHASH = "whash"
    AHASH = "ahash"


def _hash_fn(kind: HashKind):
    if kind is HashKind.PHASH:
        return imagehash.phash
    if kind is HashKind.DHASH:
        return imagehash.dhash
    if kind is HashKind.AHASH:
        return imagehash.average_hash
    if kind is HashKind.WHASH:
        return lambda im: imagehash.whash(im, image_scale=64)
    raise AssertionError(kind)


@dataclass(frozen=True)
class HashEntry:
    digest: str  # blake2b of the file bytes
    hash: int | None  # 64-bit perceptual hash of the stored pixels
    mirror: int | None  # of the stored pixels flipped left-right
    upright: int | None  # of the pixels with the EXIF orientation applied (None when it is 1 or absent)
    error: str | None = None

    def to_row(self) -> tuple:
        return (self.digest, _i64(self.hash), _i64(self.mirror), _i64(self.upright), self.error)

    @classmethod
    def from_row(cls, row) -> "HashEntry":
        return cls(row[0], _u64(row[1]), _u64(row[2]), _u64(row[3]), row[4])


def _i64(v: int | None) -> int | None:  # sqlite stores signed 64-bit integers
    return None if v is None else (v - (1 << 64) if v >= (1 << 63) else v)


def _u64(v: int | None) -> int | None:
    return None if v is None else v & ((1 << 64) - 1)


def _to_int(h: imagehash.ImageHash) -> int:
    value = 0
    for bit in h.hash.flatten():
        value = (value << 1) | int(bit)
    return value


def file_digest(path: str) -> str:
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def reduced(im: Image.Image, work: int = WORK_SIZE) -> Image.Image:
    """Grayscale pixels at a small size, decoding as little as that needs."""
    if im.format in ("JPEG", "MPO"):
        im.draft("RGB", (work, work))  # decodes at 1/2, 1/4 or 1/8 scale, still >= work px
    if im.mode not in ("RGB", "L"):
        im = im.convert("RGBA").convert("RGB") if "A" in im.mode or "transparency" in im.info else im.convert("RGB")
    factor = min(im.size) // (2 * work)
    if factor >= 2:
        im = im.reduce(factor)
    return im.convert("L")


def encode(path: str, kind: HashKind, mirror: bool = True) -> HashEntry:
    """Hash one file; never raises (an unreadable file is an entry with an error)."""
    try:
        digest = file_digest(path)
    except OSError as exc:
        return HashEntry("", None, None, None, f"cannot be read: {exc.strerror or exc}")
    fn = _hash_fn(kind)
    try:
        with Image.open(path) as im:
            orientation = im.getexif().get(0x0112) if im.format in ("JPEG", "MPO", "WEBP") else None
            small = reduced(im)
            small.load()
    except Exception as exc:  # any decode failure is a finding, not a crash
        return HashEntry(digest, None, None, None, f"cannot be decoded: {type(exc).__name__}: {exc}")
    h = _to_int(fn(small))
    m = _to_int(fn(small.transpose(Image.Transpose.FLIP_LEFT_RIGHT))) if mirror else None
    upright = None
    if orientation in _UPRIGHT:
        upright = _to_int(fn(small.transpose(_UPRIGHT[orientation])))
    return HashEntry(digest, h, m, upright)


T = Image.Transpose
# EXIF orientation -> the transpose that shows the picture as the camera meant it
_UPRIGHT = {2: T.FLIP_LEFT_RIGHT, 3: T.ROTATE_180, 4: T.FLIP_TOP_BOTTOM, 5: T.TRANSPOSE,
            6: T.ROTATE_270, 7: T.TRANSVERSE, 8: T.ROTATE_90}


def pixel_digest(path: str) -> str | None:
    """Digest of the fully decoded RGB pixels and size: equal for the same picture in two
    lossless encodings. Only computed for candidate pairs."""
    try:
        with Image.open(path) as im:
            rgb = im.convert("RGB")
            h = hashlib.blake2b(digest_size=16)
            h.update(f"{rgb.size}".encode())
            h.update(rgb.tobytes())
            return h.hexdigest()
    except Exception:
        return None
