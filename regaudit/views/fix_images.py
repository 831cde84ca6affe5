"""``regaudit fix``: the new bytes of an image whose pixels a fix changes (EXIF orientation applied,
CMYK converted to sRGB, transparency flattened). The original is opened read-only; the image is
saved in its own format, with the metadata Pillow can carry over (EXIF without its orientation,
ICC profile, PNG text, resolution)."""

from __future__ import annotations

import io
import os
import struct

from ..rules.fixes import FixKind

# IJG's luminance table at quality 50 (JPEG Annex K), in natural order: the quality estimate's reference
_IJG_LUMA = (16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
             14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
             49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99)


def webp_kind(path: str) -> str:
    """'lossless' (VP8L), 'lossy' (VP8), 'animated' or 'unknown', from the RIFF chunks' names."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(12)
            if len(head) < 12 or head[:4] != b"RIFF" or head[8:] != b"WEBP":
                return "unknown"
            names = set()
            for _ in range(64):  # (a handful of chunks in a real file)
                hdr = fh.read(8)
                if len(hdr) < 8:
                    break
                name, size = hdr[:4], struct.unpack("<I", hdr[4:])[0]
                names.add(name)
                if name in (b"VP8 ", b"VP8L"):
                    break
                fh.seek(size + (size & 1), os.SEEK_CUR)
    except OSError:
        return "unknown"
    if b"ANIM" in names or b"ANMF" in names:
        return "animated"
    return "lossless" if b"VP8L" in names else "lossy" if b"VP8 " in names else "unknown"


def is_animated_png(path: str) -> bool:
    """Whether a PNG has an 'acTL' chunk before its image data (an APNG: saving it again would keep
    only its first frame)."""
    try:
        with open(path, "rb") as fh:
            if fh.read(8) != b"\x89PNG\r\n\x1a\n":
                return False
            for _ in range(256):
                hdr = fh.read(8)
                if len(hdr) < 8 or hdr[4:] in (b"IDAT", b"IEND"):
                    return False
                if hdr[4:] == b"acTL":
                    return True
                fh.seek(struct.unpack(">I", hdr[:4])[0] + 4, os.SEEK_CUR)
    except OSError:
        return False
    return False


def jpeg_quality(quantization: dict | None) -> int | None:
    """The IJG quality (1-100) whose luminance table is closest to the file's first table; None
    where the file has none."""
    if not quantization:
        return None
    table = list(quantization[min(quantization)])
    if len(table) != 64:
        return None
    # Pillow gives the table in zigzag order; compare sums (order-free) against IJG's scaled table
    best, err = None, None
    for q in range(1, 101):
        scale = 5000 // q if q < 50 else 200 - 2 * q
        ref = [min(max((v * scale + 50) // 100, 1), 255) for v in _IJG_LUMA]
        e = abs(sum(ref) - sum(table))
        if err is None or e < err:
            best, err = q, e
    return best


def rewrite(path: str, kinds: tuple[FixKind, ...], background: tuple[int, int, int]) -> tuple[bytes, str]:
    """The image at ``path`` with ``kinds`` applied, encoded in its own format; and a note on how
    it was saved (lossless, or the quality of a lossy re-encode)."""
    from PIL import Image, ImageOps

    with open(path, "rb") as fh:
        data = fh.read()
    with Image.open(io.BytesIO(data)) as src:
        fmt = src.format
        quant = getattr(src, "quantization", None) if fmt in ("JPEG", "MPO") else None
        sampling = _sampling(src) if quant else -1
        src.load()
        im = src
        info = dict(src.info)
        text = dict(getattr(src, "text", {}) or {})
        notes = []
        if FixKind.ROTATE_EXIF in kinds:
            im = ImageOps.exif_transpose(im)
            info = dict(im.info)
        if FixKind.TO_SRGB in kinds and im.mode == "CMYK":
            im, how = _to_srgb(im, info.get("icc_profile"))
            info.pop("icc_profile", None)
            notes.append(how)
        if FixKind.FLATTEN_ALPHA in kinds:
            im = _flatten(im, background)
            info.pop("transparency", None)
        out = io.BytesIO()
        notes.append(_save(im, out, fmt, info, text, quant, sampling, im.mode == src.mode))
    return out.getvalue(), "; ".join(notes)


def _sampling(src) -> int:
    from PIL import JpegImagePlugin

    try:
        return JpegImagePlugin.get_sampling(src)
    except Exception:  # noqa: BLE001 - an odd component layout: Pillow's default
        return -1


def _to_srgb(im, icc: bytes | None):
    """CMYK to sRGB through the embedded ICC profile (Pillow ImageCms, perceptual intent), or
    Pillow's plain conversion when the file has none or Pillow cannot read it."""
    if icc:
        try:
            from PIL import ImageCms

            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            return (ImageCms.profileToProfile(im, source, ImageCms.createProfile("sRGB"), outputMode="RGB"),
                    "CMYK converted to sRGB through the embedded ICC profile")
        except Exception:  # noqa: BLE001 - a profile littlecms rejects: the plain conversion, said so
            return im.convert("RGB"), "CMYK converted by Pillow's plain conversion (the embedded ICC profile " \
                                      "could not be used)"
    return im.convert("RGB"), "CMYK converted by Pillow's plain conversion (no embedded ICC profile)"


def _flatten(im, background: tuple[int, int, int]):
    from PIL import Image

    rgba = im.convert("RGBA")
    flat = Image.new("RGBA", rgba.size, background + (255,))
    flat.alpha_composite(rgba)
    return flat.convert("RGB")


def _save(im, out, fmt: str | None, info: dict, text: dict, quant, sampling: int, same_mode: bool) -> str:
    """Save ``im`` as ``fmt`` with the metadata that fits; the note says lossless or the quality."""
    kw: dict = {}
    if info.get("exif"):
        kw["exif"] = info["exif"]
    if info.get("icc_profile"):
        kw["icc_profile"] = info["icc_profile"]
    if fmt == "PNG":
        from PIL import PngImagePlugin

        if text:
            meta = PngImagePlugin.PngInfo()
            for k, v in text.items():
                meta.add_text(k, v)
            kw["pnginfo"] = meta
        if info.get("dpi"):
            kw["dpi"] = info["dpi"]
        if same_mode and "transparency" in info:
            kw["transparency"] = info["transparency"]
        im.save(out, "PNG", **kw)
        return "saved as PNG (lossless)"
    if fmt == "WEBP":
        if info.get("xmp"):
            kw["xmp"] = info["xmp"]
        im.save(out, "WEBP", lossless=True, exact=True, **kw)
        return "saved as lossless WebP"
    if fmt in ("JPEG", "MPO"):
        if info.get("dpi"):
            kw["dpi"] = info["dpi"]
        quality = jpeg_quality(quant)
        if quant and im.mode in ("RGB", "L") and len(quant) <= (1 if im.mode == "L" else 2) + 2:
            tables = [list(quant[k]) for k in sorted(quant)][: 1 if im.mode == "L" else 2]
            im.save(out, "JPEG", qtables=tables, subsampling=sampling, **kw)
            return f"re-encoded as JPEG (lossy) with the source's quantization tables (quality about {quality})"
        quality = quality or 95
        im.save(out, "JPEG", quality=quality, **kw)
        return f"re-encoded as JPEG (lossy) at quality {quality}"
    if fmt == "BMP":
        im.save(out, "BMP")
        return "saved as BMP (lossless)"
    raise ValueError(f"cannot save {fmt} images")
