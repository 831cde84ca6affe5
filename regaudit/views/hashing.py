"""Encode images to hashes for duplicate search: a digest of the file bytes and perceptual hashes
(imagehash) of the pixels as stored, mirrored, and as the camera meant them (EXIF orientation).

Decoding is kept as small as the hash needs: JPEGs decode in draft mode (DCT scaling) and large
images are box-reduced before the final resampling that imagehash itself performs.
"""

from __future__ import annotations

import io
import os
import re
from enum import Enum
from typing import TYPE_CHECKING, NamedTuple

try:  # what hashlib.blake2b is, without hashlib's import of OpenSSL (milliseconds a warm run need not pay)
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - another Python implementation
    from hashlib import blake2b

from ..errors import check_exhausted
from ..model import compact
from ..safeio import open_regular
from ..sdscripts.headers import chunk_problem, for_pillow

if TYPE_CHECKING:
    import imagehash
    import numpy as np
    from PIL import Image

# numpy, Pillow, imagehash and scipy are imported where an image is hashed, not here: a run whose
# hashes all come from the cache (and the scan that lists the images) never pays for them

WORK_SIZE = 64  # decode to at least this many pixels on the short side before hashing


class HashKind(str, Enum):
    PHASH = "phash"
    DHASH = "dhash"
    WHASH = "whash"
    AHASH = "ahash"


def preload(kind: HashKind) -> None:
    """Import what hashing needs, now: before worker processes fork, so that they inherit it
    instead of each importing numpy, scipy and Pillow again."""
    import numpy  # noqa: F401
    import scipy.fftpack  # noqa: F401
    from PIL import Image  # noqa: F401

    if kind is not HashKind.PHASH:
        import imagehash  # noqa: F401


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


@compact
class HashEntry(NamedTuple):
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
        """The entry of a cache row (digest, hash, mirror, upright, error, fine)."""
        return cls.from_columns(*row)

    @classmethod
    def from_columns(cls, digest, h, m, u, error, fine) -> "HashEntry":
        """``from_row`` of the row's six columns, made with the fast positional constructor: a
        warm run makes one per image."""
        return cls.of(digest, None if h is None else h & _MASK64, None if m is None else m & _MASK64,  # type: ignore
                      None if u is None else u & _MASK64, error, _parse_fine(fine) if fine else _NO_FINE)


_MASK64 = (1 << 64) - 1
_NO_FINE: tuple[None, None, None] = (None, None, None)


def _parse_fine(text: str) -> tuple[int | None, ...]:
    parts = text.split(",")
    if len(parts) != 3:
        return tuple(int(v, 16) if v else None for v in parts)
    a, b, c = parts
    return (int(a, 16) if a else None, int(b, 16) if b else None, int(c, 16) if c else None)


def _i64(v: int | None) -> int | None:  # sqlite stores signed 64-bit integers
    return None if v is None else (v - (1 << 64) if v >= (1 << 63) else v)


def _bits_to_int(bits: np.ndarray) -> int:
    import numpy as np

    return int.from_bytes(np.packbits(bits.flatten().astype(np.uint8)).tobytes(), "big")


def _to_int(h: imagehash.ImageHash) -> int:
    return _bits_to_int(h.hash)


def _odd_columns() -> np.ndarray:
    import numpy as np

    global _ODD_COLUMNS
    if _ODD_COLUMNS is None:
        _ODD_COLUMNS = np.where(np.arange(16) % 2, -1.0, 1.0)[None, :]
    return _ODD_COLUMNS


_ODD_COLUMNS = None


def _phash_all(gray: Image.Image) -> tuple[int, int, int, int]:
    """imagehash.phash of the image and of its mirror image, 64-bit (hash_size 8) and 256-bit
    (hash_size 16, highfreq_factor 2), all from one DCT (imagehash's algorithm: 32x32 LANCZOS,
    2-D DCT, low frequencies > their median). Mirroring a row flips the sign of its odd DCT-II
    coefficients, so the mirrored block is the block with odd columns negated."""
    import numpy as np
    import scipy.fftpack
    from PIL import Image

    pixels = np.asarray(gray.resize((32, 32), Image.Resampling.LANCZOS))
    dct = scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=0), axis=1)
    odd = _odd_columns()
    out = []
    for size in (8, 16):
        low = dct[:size, :size]
        mirrored = low * odd[:, :size]
        out += [_bits_to_int(low > np.median(low)), _bits_to_int(mirrored > np.median(mirrored))]
    return out[0], out[1], out[2], out[3]


def _phash_pair(gray: Image.Image) -> tuple[int, int]:
    h, m, _, _ = _phash_all(gray)
    return h, m


_BLOCK = 1 << 20  # a large file's bytes are hashed in blocks of this size, never read whole
_IN_MEMORY = 16 << 20  # files up to this size are read once and decoded from memory (faster)


def _digest_of(fh) -> str:
    h = blake2b(digest_size=16)
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
    from PIL import Image

    with Image.open(fh) as im:
        orientation = im.getexif().get(0x0112) if im.format in ("JPEG", "MPO", "WEBP") else None
        small = reduced(im)
        small.load()
    return small, (orientation if orientation in _ORIENTATIONS else None)


def encode(path: str, kind: HashKind, mirror: bool = True) -> HashEntry:
    """Hash one file; never raises (an unreadable file is an entry with an error)."""
    try:
        fh = open_regular(path)  # never blocks on a FIFO or device with an image name
    except OSError as exc:
        check_exhausted(exc, path)
        return HashEntry("", None, None, None, f"cannot be read: {exc.strerror or exc}")
    with fh:
        try:
            if os.fstat(fh.fileno()).st_size <= _IN_MEMORY:
                data = fh.read(_IN_MEMORY + 1)
                digest = blake2b(data, digest_size=16).hexdigest()
                source = io.BytesIO(data)
            else:  # streamed: a 2 GiB file costs 1 MiB of memory here, and is decoded from disk
                digest = _digest_of(fh)
                fh.seek(0)
                source = for_pillow(fh)  # (a JPEG header a gigabyte long: without what libjpeg would skip)
                problem = chunk_problem(fh.fileno())  # (Pillow would read a huge chunk whole)
                if problem is not None:
                    return HashEntry(digest, None, None, None, f"cannot be decoded: {problem}")
        except OSError as exc:
            return HashEntry("", None, None, None, f"cannot be read: {exc.strerror or exc}")
        try:
            small, orientation = _decode_small(source)
        except Exception as exc:  # any decode failure is a finding, not a crash
            check_exhausted(exc, path)
            # (Pillow names the in-memory file by its address: not a word worth keeping, and never the same)
            why = re.sub(r"\s*<[^<>]* object at 0x[0-9a-fA-F]+>", "", str(exc))
            return HashEntry(digest, None, None, None, f"cannot be decoded: {type(exc).__name__}: {why}")
    from PIL import Image

    h, m, fine, fine_m = _phash_all(small)
    if kind is not HashKind.PHASH:
        fn = _hash_fn(kind)
        h = _to_int(fn(small))
        m = _to_int(fn(small.transpose(Image.Transpose.FLIP_LEFT_RIGHT))) if mirror else None
    upright = fine_up = None
    if orientation is not None:
        turned = small.transpose(_upright(orientation))
        upright, _, fine_up, _ = _phash_all(turned)
        if kind is not HashKind.PHASH:
            upright = _to_int(_hash_fn(kind)(turned))
    return HashEntry(digest, h, m, upright, None, (fine, fine_m, fine_up))


_ORIENTATIONS = frozenset(range(2, 9))  # EXIF orientations that turn or flip the stored pixels


def _upright(orientation: int) -> Image.Transpose:
    """The transpose that shows the picture as the camera meant it, for EXIF ``orientation``."""
    from PIL import Image

    T = Image.Transpose
    return {2: T.FLIP_LEFT_RIGHT, 3: T.ROTATE_180, 4: T.FLIP_TOP_BOTTOM, 5: T.TRANSPOSE,
            6: T.ROTATE_270, 7: T.TRANSVERSE, 8: T.ROTATE_90}[orientation]


def pixel_digest(path: str) -> str | None:
    """Digest of the fully decoded RGB pixels and size: equal for the same picture in two
    lossless encodings. Only computed for candidate pairs."""
    try:
        from PIL import Image

        with open_regular(path) as fh:
            if chunk_problem(fh.fileno()) is not None:
                return None
        with open_regular(path) as fh, Image.open(for_pillow(fh)) as im:
            rgb = im.convert("RGB")
            h = blake2b(digest_size=16)
            h.update(f"{rgb.size}".encode())
            h.update(rgb.tobytes())
            return h.hexdigest()
    except Exception:
        return None
