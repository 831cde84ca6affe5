"""Encode images to hashes for duplicate search: a digest of the file bytes and perceptual hashes
(imagehash) of the pixels as stored, mirrored, and as the camera meant them (EXIF orientation).

Decoding is kept as small as the hash needs: JPEGs decode in draft mode (DCT scaling) and large
images are box-reduced before the final resampling that imagehash itself performs.
"""

from __future__ import annotations

import hashlib
import io
import os
from dataclasses import dataclass
from enum import Enum

from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from .safeio import open_regular

if TYPE_CHECKING:
    import imagehash

# imagehash and scipy are imported where an image is hashed, not here: a run whose hashes all
# come from the cache (and the scan that lists the images) never pays for them

WORK_SIZE = 64  # decode to at least this many pixels on the short side before hashing


class HashKind(str, Enum):
    PHASH = "phash"
    DHASH = "dhash"
    WHASH = "whash"
    AHASH = "ahash"


def _hash_fn(kind: HashKind):
    import imagehash

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
    # 256-bit phash (hash_size 16 on the same 32x32 DCT) of the same three variants: the stricter
    # second look that confirms a pair the 64-bit hash found
    fine: tuple[int | None, int | None, int | None] = (None, None, None)

    def to_row(self) -> tuple:
        fine = ",".join("" if v is None else format(v, "x") for v in self.fine)
        return (self.digest, _i64(self.hash), _i64(self.mirror), _i64(self.upright), self.error, fine)

    @classmethod
    def from_row(cls, row) -> "HashEntry":
        fine = tuple(int(v, 16) if v else None for v in (row[5] or ",,").split(","))
        return cls(row[0], _u64(row[1]), _u64(row[2]), _u64(row[3]), row[4], fine)  # type: ignore[arg-type]


def _i64(v: int | None) -> int | None:  # sqlite stores signed 64-bit integers
    return None if v is None else (v - (1 << 64) if v >= (1 << 63) else v)


def _u64(v: int | None) -> int | None:
    return None if v is None else v & ((1 << 64) - 1)


def _bits_to_int(bits: np.ndarray) -> int:
    return int.from_bytes(np.packbits(bits.flatten().astype(np.uint8)).tobytes(), "big")


def _to_int(h: imagehash.ImageHash) -> int:
    return _bits_to_int(h.hash)


_ODD_COLUMNS = np.where(np.arange(16) % 2, -1.0, 1.0)[None, :]


def _phash_all(gray: Image.Image) -> tuple[int, int, int, int]:
    """imagehash.phash of the image and of its mirror image, 64-bit (hash_size 8) and 256-bit
    (hash_size 16, highfreq_factor 2), all from one DCT (imagehash's algorithm: 32x32 LANCZOS,
    2-D DCT, low frequencies > their median). Mirroring a row flips the sign of its odd DCT-II
    coefficients, so the mirrored block is the block with odd columns negated."""
    import scipy.fftpack

    pixels = np.asarray(gray.resize((32, 32), Image.Resampling.LANCZOS))
    dct = scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=0), axis=1)
    out = []
    for size in (8, 16):
        low = dct[:size, :size]
        mirrored = low * _ODD_COLUMNS[:, :size]
        out += [_bits_to_int(low > np.median(low)), _bits_to_int(mirrored > np.median(mirrored))]
    return out[0], out[1], out[2], out[3]


def _phash_pair(gray: Image.Image) -> tuple[int, int]:
    h, m, _, _ = _phash_all(gray)
    return h, m


_BLOCK = 1 << 20  # a large file's bytes are hashed in blocks of this size, never read whole
_IN_MEMORY = 16 << 20  # files up to this size are read once and decoded from memory (faster)


def _digest_of(fh) -> str:
    h = hashlib.blake2b(digest_size=16)
    for block in iter(lambda: fh.read(_BLOCK), b""):
        h.update(block)
    return h.hexdigest()


def file_digest(path: str) -> str:
    """blake2b of the file's bytes, streamed; only regular files are opened (OSError otherwise)."""
    with open_regular(path) as fh:
        return _digest_of(fh)


def reduced(im: Image.Image, work: int = WORK_SIZE) -> Image.Image:
    """Grayscale pixels at a small size, decoding as little as that needs: a JPEG decodes its
    luma only, at 1/2, 1/4 or 1/8 scale (still >= ``work`` px); large images are box-reduced."""
    if im.format in ("JPEG", "MPO"):
        im.draft("L", (work, work))
    if im.mode != "L":
        if "A" in im.mode or "transparency" in im.info:
            im = im.convert("RGBA").convert("RGB")  # as sd-scripts sees it: alpha dropped
        im = im.convert("L")
    factor = min(im.size) // (2 * work)
    if factor >= 2:
        im = im.reduce(factor)
    return im


def _decode_small(fh) -> tuple[Image.Image, int | None]:
    with Image.open(fh) as im:
        orientation = im.getexif().get(0x0112) if im.format in ("JPEG", "MPO", "WEBP") else None
        small = reduced(im)
        small.load()
    return small, (orientation if orientation in _UPRIGHT else None)


def encode(path: str, kind: HashKind, mirror: bool = True) -> HashEntry:
    """Hash one file; never raises (an unreadable file is an entry with an error)."""
    try:
        fh = open_regular(path)  # never blocks on a FIFO or device with an image name
    except OSError as exc:
        return HashEntry("", None, None, None, f"cannot be read: {exc.strerror or exc}")
    with fh:
        try:
            if os.fstat(fh.fileno()).st_size <= _IN_MEMORY:
                data = fh.read(_IN_MEMORY + 1)
                digest = hashlib.blake2b(data, digest_size=16).hexdigest()
                source = io.BytesIO(data)
            else:  # streamed: a 2 GiB file costs 1 MiB of memory here, and is decoded from disk
                digest = _digest_of(fh)
                fh.seek(0)
                source = fh
        except OSError as exc:
            return HashEntry("", None, None, None, f"cannot be read: {exc.strerror or exc}")
        try:
            small, orientation = _decode_small(source)
        except Exception as exc:  # any decode failure is a finding, not a crash
            return HashEntry(digest, None, None, None, f"cannot be decoded: {type(exc).__name__}: {exc}")
    h, m, fine, fine_m = _phash_all(small)
    if kind is not HashKind.PHASH:
        fn = _hash_fn(kind)
        h = _to_int(fn(small))
        m = _to_int(fn(small.transpose(Image.Transpose.FLIP_LEFT_RIGHT))) if mirror else None
    upright = fine_up = None
    if orientation is not None:
        turned = small.transpose(_UPRIGHT[orientation])
        upright, _, fine_up, _ = _phash_all(turned)
        if kind is not HashKind.PHASH:
            upright = _to_int(_hash_fn(kind)(turned))
    return HashEntry(digest, h, m, upright, None, (fine, fine_m, fine_up))


T = Image.Transpose
# EXIF orientation -> the transpose that shows the picture as the camera meant it
_UPRIGHT = {2: T.FLIP_LEFT_RIGHT, 3: T.ROTATE_180, 4: T.FLIP_TOP_BOTTOM, 5: T.TRANSPOSE,
            6: T.ROTATE_270, 7: T.TRANSVERSE, 8: T.ROTATE_90}


def pixel_digest(path: str) -> str | None:
    """Digest of the fully decoded RGB pixels and size: equal for the same picture in two
    lossless encodings. Only computed for candidate pairs."""
    try:
        with open_regular(path) as fh, Image.open(fh) as im:
            rgb = im.convert("RGB")
            h = hashlib.blake2b(digest_size=16)
            h.update(f"{rgb.size}".encode())
            h.update(rgb.tobytes())
            return h.hexdigest()
    except Exception:
        return None
