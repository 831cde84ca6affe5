"""Image files of every kind regaudit's probe must read as sd-scripts does, for the differential
checks (``imagesize_diff.py``: against the real imagesize 1.4.1; ``probe_diff.py``: the fast probe
against the Pillow-based one).

``write_corpus(root, seed, mutations)`` writes them and returns their paths: Pillow-made images in
every mode and container option (PNG, JPEG, WebP, GIF, BMP, TIFF, JPEG 2000, ICO, Netpbm, ...);
hand-made headers for each quirk of imagesize 1.4.1 (VP8X, VP8 scale bits, CgBI, stray JPEG bytes,
SVG lengths, TIFF types, BigTIFF, Netpbm comments and ends); and mutants of them (truncated at
many lengths, bytes flipped in and after the header). Every name ends in ``.png``: sd-scripts
reads content, not names. Deterministic for a seed.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from pathlib import Path

from PIL import Image, PngImagePlugin


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">L", len(data)) + kind + data + struct.pack(">L", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _exif(orientation: int | None, extra: dict | None = None) -> bytes:
    exif = Image.Exif()
    if orientation is not None:
        exif[0x0112] = orientation
    for k, v in (extra or {}).items():
        exif[k] = v
    return exif.tobytes()


def _pattern(mode: str, size: tuple[int, int], rnd: random.Random) -> Image.Image:
    base = Image.effect_noise((max(1, size[0] // 4), max(1, size[1] // 4)), 60).resize(size)
    rgb = Image.merge("RGB", [base, base.rotate(90, expand=False), base.transpose(Image.Transpose.FLIP_LEFT_RIGHT)])
    if mode == "RGB":
        return rgb
    if mode == "RGBA":
        im = rgb.convert("RGBA")
        im.putalpha(base.point(lambda v: 255 if v > 100 else rnd.choice((0, 128))))
        return im
    if mode == "I;16":
        return base.convert("I").point(lambda v: v * 200).convert("I;16")
    if mode == "P":
        return rgb.quantize(16)
    return rgb.convert(mode)


def _save(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    try:
        im.save(buf, fmt, **kw)
    except (OSError, ValueError, KeyError):  # this Pillow cannot write it: an empty file instead
        return b""
    return buf.getvalue()


def pillow_files(rnd: random.Random) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    icc = _srgb_icc()
    sizes = [(1, 1), (1, 37), (41, 1), (64, 48), (300, 200), (257, 129)]

    def size() -> tuple[int, int]:
        return rnd.choice(sizes[2:]) if rnd.random() < 0.8 else rnd.choice(sizes)

    for mode in ("1", "L", "LA", "P", "RGB", "RGBA", "I;16", "I"):
        sz = size()
        im = _pattern(mode if mode != "I" else "L", sz, rnd)
        if mode == "I":
            im = im.convert("I")
        out[f"png-{mode}"] = _save(im, "PNG")
        out[f"png-{mode}-opt"] = _save(im, "PNG", optimize=True)
    pal = _pattern("P", (50, 40), rnd)
    out["png-P-transp-index"] = _save(pal, "PNG", transparency=3)
    out["png-P-transp-bytes"] = _save(pal, "PNG", transparency=bytes([255, 0, 128] + [255] * 13))
    out["png-L-transp"] = _save(_pattern("L", (30, 20), rnd), "PNG", transparency=7)
    out["png-RGB-transp"] = _save(_pattern("RGB", (30, 20), rnd), "PNG", transparency=(1, 2, 3))
    out["png-1-transp"] = _save(_pattern("1", (30, 20), rnd), "PNG", transparency=1)
    out["png-I16-transp"] = _save(_pattern("I;16", (30, 20), rnd), "PNG", transparency=5)
    for o in range(1, 9):
        out[f"png-exif-{o}"] = _save(_pattern("RGB", size(), rnd), "PNG", exif=_exif(o))
    out["png-exif-none"] = _save(_pattern("RGB", (20, 20), rnd), "PNG", exif=_exif(None, {0x010F: "Maker"}))
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a photo of sks dog, " * 50)
    info.add_text("ztext", "compressed " * 100, zip=True)
    info.add_itxt("itext", "ünïcode " * 20, lang="de", tkey="schlüssel")
    info.add_itxt("itextz", "ünïcode " * 200, zip=True)
    out["png-text"] = _save(_pattern("RGB", (60, 40), rnd), "PNG", pnginfo=info)
    info2 = PngImagePlugin.PngInfo()
    info2.add_text("transparency", "no")
    out["png-text-transparency-key"] = _save(_pattern("RGB", (20, 20), rnd), "PNG", pnginfo=info2)
    info3 = PngImagePlugin.PngInfo()
    info3.add_text("exif", "junk")
    out["png-text-exif-key"] = _save(_pattern("RGB", (20, 20), rnd), "PNG", pnginfo=info3)
    if icc:
        out["png-icc"] = _save(_pattern("RGB", (40, 30), rnd), "PNG", icc_profile=icc)
        out["jpeg-icc"] = _save(_pattern("RGB", (40, 30), rnd), "JPEG", icc_profile=icc)
        out["webp-icc"] = _save(_pattern("RGB", (40, 30), rnd), "WEBP", icc_profile=icc)
        out["jpeg-icc-split"] = _save(_pattern("RGB", (40, 30), rnd), "JPEG", icc_profile=icc * 30)
    out["png-dpi"] = _save(_pattern("RGB", (40, 30), rnd), "PNG", dpi=(300, 300))
    frames = [_pattern("RGBA", (40, 30), rnd) for _ in range(3)]
    out["apng"] = _save(frames[0], "PNG", save_all=True, append_images=frames[1:])

    for mode in ("RGB", "L", "CMYK"):
        for kw in ({}, {"progressive": True}, {"optimize": True}, {"subsampling": 0}, {"quality": 30},
                   {"dpi": (72, 72)}, {"comment": b"hello"}):
            out[f"jpeg-{mode}-{'-'.join(f'{k}' for k in kw) or 'plain'}"] = _save(_pattern(mode, size(), rnd), "JPEG",
                                                                                   **kw)
    for o in range(1, 9):
        out[f"jpeg-exif-{o}"] = _save(_pattern("RGB", size(), rnd), "JPEG", exif=_exif(o))
    out["jpeg-exif-dpi"] = _save(_pattern("RGB", (30, 30), rnd), "JPEG",
                                 exif=_exif(6, {0x011A: 300.0, 0x011B: 300.0, 0x0128: 2}))
    out["jpeg-exif-cmyk"] = _save(_pattern("CMYK", (30, 30), rnd), "JPEG", exif=_exif(3))
    out["mpo"] = _save(_pattern("RGB", (40, 30), rnd), "MPO", save_all=True,
                       append_images=[_pattern("RGB", (40, 30), rnd)])

    for mode in ("RGB", "RGBA"):
        for kw in ({}, {"lossless": True}, {"quality": 20}, {"exact": True, "lossless": True}):
            out[f"webp-{mode}-{'-'.join(kw) or 'lossy'}"] = _save(_pattern(mode, size(), rnd), "WEBP", **kw)
    opaque = _pattern("RGB", (50, 30), rnd).convert("RGBA")
    out["webp-RGBA-opaque"] = _save(opaque, "WEBP")
    out["webp-RGBA-opaque-lossless"] = _save(opaque, "WEBP", lossless=True)
    for o in (1, 6, 8):
        out[f"webp-exif-{o}"] = _save(_pattern("RGB", size(), rnd), "WEBP", exif=_exif(o))
        out[f"webp-exif-lossless-{o}"] = _save(_pattern("RGBA", size(), rnd), "WEBP", exif=_exif(o), lossless=True)
    out["webp-1x200"] = _save(_pattern("RGBA", (1, 200), rnd), "WEBP")
    out["webp-300x1"] = _save(_pattern("RGBA", (300, 1), rnd), "WEBP")
    anim = [_pattern("RGB", (40, 30), rnd) for _ in range(3)]
    out["webp-anim"] = _save(anim[0], "WEBP", save_all=True, append_images=anim[1:])
    out["webp-anim-rgba"] = _save(frames[0], "WEBP", save_all=True, append_images=frames[1:])

    # larger files: headers, EXIF and text chunks that reach past the first 4 KiB read
    noise = Image.effect_noise((640, 480), 80).convert("RGB")
    comment = {0x9286: b"ASCII\x00\x00\x00" + bytes(rnd.randrange(32, 127) for _ in range(9000))}
    out["big-jpeg-exif"] = _save(noise, "JPEG", quality=95, exif=_exif(6, comment))
    if icc:
        out["big-jpeg-icc"] = _save(noise, "JPEG", quality=90, icc_profile=icc * 40, exif=_exif(8))
    big_info = PngImagePlugin.PngInfo()
    big_info.add_text("workflow", "{\"nodes\": []} " * 2000)
    out["big-png-text"] = _save(noise, "PNG", pnginfo=big_info)
    out["big-png-late-exif"] = _save(noise.convert("L"), "PNG")[:-12] + chunk(b"eXIf", _exif(3)[6:]) + chunk(
        b"IEND", b"")
    out["big-webp-exif"] = _save(noise, "WEBP", quality=95, exif=_exif(5, comment))
    out["big-tiff"] = _save(noise, "TIFF")
    out["gif"] = _save(_pattern("P", (70, 50), rnd), "GIF")
    out["gif-anim"] = _save(_pattern("P", (20, 10), rnd), "GIF", save_all=True,
                            append_images=[_pattern("P", (20, 10), rnd)])
    for mode in ("1", "L", "P", "RGB", "RGBA"):
        out[f"bmp-{mode}"] = _save(_pattern(mode, (33, 21), rnd), "BMP")
    for comp in ("raw", "tiff_lzw", "tiff_deflate", "jpeg", "packbits"):
        mode = "RGB"
        out[f"tiff-{comp}"] = _save(_pattern(mode, (45, 27), rnd), "TIFF", compression=comp)
    out["tiff-L"] = _save(_pattern("L", (300, 70000 // 300), rnd), "TIFF")
    out["tiff-I16"] = _save(_pattern("I;16", (31, 17), rnd), "TIFF")
    out["jp2"] = _save(_pattern("RGB", (37, 23), rnd), "JPEG2000")
    out["j2k"] = _save(_pattern("RGB", (37, 23), rnd), "JPEG2000", no_jp2=True)
    out["ico"] = _save(_pattern("RGBA", (32, 32), rnd), "ICO")
    out["ppm"] = _save(_pattern("RGB", (19, 11), rnd), "PPM")
    out["pgm"] = _save(_pattern("L", (19, 11), rnd), "PPM")
    out["pbm"] = _save(_pattern("1", (19, 11), rnd), "PPM")
    out["tga"] = _save(_pattern("RGB", (19, 11), rnd), "TGA")
    out["qoi"] = _save(_pattern("RGB", (19, 11), rnd), "QOI")
    out["pcx"] = _save(_pattern("RGB", (19, 11), rnd), "PCX")
    return out


def _srgb_icc() -> bytes | None:
    try:
        from PIL import ImageCms

        return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    except Exception:
        return None


def crafted() -> dict[str, bytes]:
    """Hand-made headers for each behaviour of imagesize 1.4.1 worth pinning."""
    out: dict[str, bytes] = {}
    sig = b"\x89PNG\r\n\x1a\n"
    ihdr = struct.pack(">LLBBBBB", 300, 200, 8, 2, 0, 0, 0)
    idat = chunk(b"IDAT", zlib.compress(b"\0" * (300 * 3 + 1) * 200))
    out["cgbi"] = sig + chunk(b"CgBI", b"\x50\x00\x20\x02") + chunk(b"IHDR", ihdr) + idat + chunk(b"IEND", b"")
    out["png-huge-header"] = sig + chunk(b"IHDR", struct.pack(">LLBBBBB", 30000, 20000, 8, 2, 0, 0, 0)) + chunk(
        b"IEND", b"")
    out["png-zero-width"] = sig + chunk(b"IHDR", struct.pack(">LLBBBBB", 0, 20, 8, 2, 0, 0, 0)) + idat
    out["png-bad-filter"] = sig + chunk(b"IHDR", struct.pack(">LLBBBBB", 300, 200, 8, 2, 0, 1, 0)) + idat + chunk(
        b"IEND", b"")
    out["png-bad-mode"] = sig + chunk(b"IHDR", struct.pack(">LLBBBBB", 300, 200, 3, 2, 0, 0, 0)) + idat + chunk(
        b"IEND", b"")
    bomb = zlib.compress(b"a" * (2 << 20))
    out["png-ztxt-bomb"] = sig + chunk(b"IHDR", ihdr) + chunk(b"zTXt", b"k\0\0" + bomb) + idat + chunk(b"IEND", b"")
    out["png-ztxt-method"] = sig + chunk(b"IHDR", ihdr) + chunk(b"zTXt", b"k\0\x05abc") + idat + chunk(b"IEND", b"")
    out["png-bad-crc"] = sig + chunk(b"IHDR", ihdr) + chunk(b"tEXt", b"a\0b")[:-1] + b"\0" + idat + chunk(b"IEND", b"")
    out["png-no-iend"] = sig + chunk(b"IHDR", ihdr) + idat
    out["png-trailing"] = sig + chunk(b"IHDR", ihdr) + idat + chunk(b"IEND", b"") + b"trailing junk"
    out["png-late-exif"] = sig + chunk(b"IHDR", ihdr) + idat + chunk(b"eXIf", _exif(6)[6:]) + chunk(b"IEND", b"")
    out["png-trns-short"] = sig + chunk(b"IHDR", ihdr) + chunk(b"tRNS", b"\0") + idat + chunk(b"IEND", b"")
    out["png-old-layout"] = sig + b"\0\0\1\0\0\0\0\x80" + b"\0" * 20

    # JPEG: stray bytes, FF fill, odd markers
    base = _save(Image.new("RGB", (300, 200), (9, 80, 200)), "JPEG")
    sof = base.index(b"\xff\xc0")
    out["jpeg-stray"] = base[:sof] + b"\x00\x00" + base[sof:]
    out["jpeg-stray-one"] = base[:sof] + b"\x12" + base[sof:]
    out["jpeg-fill"] = base[:sof] + b"\xff\xff\xff" + base[sof:]
    out["jpeg-garbage"] = b"\xff\xd8" + b"\x00garbage"
    out["jpeg-soi-only"] = b"\xff\xd8"
    out["jpeg-no-ff"] = b"\xff\xd8\x00\x00\x00\x00"
    out["jpeg-zero-length"] = b"\xff\xd8\xff\xe0\x00\x00" + base[2:]
    out["jpeg-one-length"] = b"\xff\xd8\xff\xe0\x00\x01" + base[2:]
    out["jpeg-dnl-height0"] = base[:sof + 5] + b"\x00\x00" + base[sof + 7:]
    out["jpeg-12bit"] = base[:sof + 4] + b"\x0c" + base[sof + 5:]
    out["jpeg-rst-before-sof"] = base[:sof] + b"\xff\xd0" + base[sof:]
    out["jpeg-c8"] = base[:sof] + b"\xff\xc8\x00\x04ab" + base[sof:]
    out["jpeg-truncated-half"] = base[: len(base) // 2]
    out["jpeg-no-eoi"] = base[:-2]
    out["jpeg-trailer"] = base + b"\0" * 100 + b"MP4 trailer" * 50
    big = _save(Image.effect_noise((256, 256), 60).convert("RGB"), "JPEG", quality=95)
    out["jpeg-truncated-big"] = big[: len(big) * 2 // 3]

    # WebP: VP8X sizes, VP8 scale bits
    lossy = _save(Image.new("RGB", (300, 200), (9, 80, 200)), "WEBP")
    w = bytearray(lossy)
    if w[12:16] == b"VP8 ":
        w[27] |= 0x40  # scale bits of the width
        out["webp-vp8-scale"] = bytes(w)
    out["webp-truncated"] = lossy[: len(lossy) - 7]
    out["webp-riff-short"] = lossy[:4] + struct.pack("<L", len(lossy) - 20) + lossy[8:]
    out["webp-unknown-chunk"] = b"RIFF" + struct.pack("<L", 22) + b"WEBPABCD" + b"\x0a\0\0\0" + b"\0" * 10
    out["webp-short"] = b"RIFF\x10\0\0\0WEBPVP8 \x00"
    out["webp-vp8l-short"] = b"RIFF\x10\0\0\0WEBPVP8L\x05\0\0\0\x2f\x01"
    out["webp-vp8x-short"] = b"RIFF\x10\0\0\0WEBPVP8X\x0a\0\0\0\0\0\0\0\x01"

    # SVG and XML
    svgs = {
        "svg-plain": '<svg width="512" height="768" xmlns="http://www.w3.org/2000/svg"></svg>',
        "svg-float": '<svg width="100.5" height="20.25"></svg>',
        "svg-units": '<svg width="2in" height="3cm"></svg>',
        "svg-mm-pt-pc": '<svg width="10mm" height="10pt"></svg>',
        "svg-pc-px": '<svg width="2pc" height="7px"></svg>',
        "svg-percent": '<svg width="100%" height="50%"></svg>',
        "svg-missing": '<svg viewBox="0 0 10 10"></svg>',
        "svg-em": '<svg width="3em" height="4em"></svg>',
        "svg-empty": '<svg width="" height="5"></svg>',
        "svg-unit-only": '<svg width="px" height="5"></svg>',
        "svg-stroke": '<svg stroke-width="3" width="40" height="30"></svg>',
        "svg-xml": '<?xml version="1.0"?>\n<svg\nwidth="64"\nheight="48"></svg>',
        "svg-zero": '<svg width="0" height="10"></svg>',
        "svg-arabic-digits": '<svg width="\u0663\u0662" height="7"></svg>',
        "svg-late": '<svg ' + " " * 1100 + 'width="5" height="5"></svg>',
        "svg-upper-unit": '<svg width="5PX" height="5"></svg>',
        "xml-not-svg": '<?xml version="1.0"?><html></html>',
        "svg-width-first": '<svgwidth="5" height="5"></svg>',
    }
    for k, v in svgs.items():
        out[k] = v.encode("utf-8")
    out["svg-bad-utf8"] = b'<svg width="5" height="5">\xff\xfe</svg>'
    out["svg-split-utf8"] = b'<svg width="5" height="5">' + b" " * (1023 - 26) + "é".encode()

    # TIFF
    def tiff(order: str, entries: list[tuple[int, int, int, int]], offset: int = 8, extra: bytes = b"") -> bytes:
        magic = b"MM\x00\x2a" if order == ">" else b"II\x2a\x00"
        body = struct.pack(order + "H", len(entries)) + b"".join(
            struct.pack(order + "HHLL", *e) for e in entries) + b"\0\0\0\0"
        return magic + struct.pack(order + "L", offset) + extra + body

    out["tiff-mm-short"] = tiff(">", [(256, 3, 1, 300 << 16), (257, 3, 1, 200 << 16)])
    out["tiff-mm-long"] = tiff(">", [(256, 4, 1, 300), (257, 4, 1, 200)])
    out["tiff-mm-byte"] = tiff(">", [(256, 1, 1, 300), (257, 4, 1, 200)])
    out["tiff-mm-h-rational"] = tiff(">", [(256, 4, 1, 300), (257, 5, 1, 200)])
    out["tiff-ii-short"] = tiff("<", [(256, 3, 1, 300), (257, 3, 1, 200)])
    out["tiff-ii-any-type"] = tiff("<", [(256, 7, 1, 300), (257, 11, 1, 200)])
    out["tiff-ii-missing"] = tiff("<", [(256, 3, 1, 300)])
    out["tiff-ii-no-ifd"] = b"II\x2a\x00" + struct.pack("<L", 4000)
    out["tiff-ii-short-table"] = tiff("<", [(256, 3, 1, 300), (257, 3, 1, 200)])[:20]
    out["tiff-mm-zero"] = tiff(">", [(256, 4, 1, 0), (257, 4, 1, 200)])
    out["bigtiff"] = b"II\x2b\x00\x08\x00\x00\x00" + struct.pack("<Q", 16) + struct.pack("<Q", 2) + struct.pack(
        "<HHQQ", 256, 4, 1, 123) + struct.pack("<HHQQ", 257, 4, 1, 45)
    out["bigtiff-bad-bytesize"] = b"II\x2b\x00\x09\x00\x00\x00" + b"\0" * 16
    out["bigtiff-short"] = b"II\x2b\x00\x08\x00\x00\x00\x10\x00"
    out["bigtiff-huge-offset"] = b"II\x2b\x00\x08\x00\x00\x00" + struct.pack("<Q", 2 ** 64 - 1) + b"\0" * 8
    out["bigtiff-far-offset"] = b"II\x2b\x00\x08\x00\x00\x00" + struct.pack("<Q", 2 ** 63 - 1) + b"\0" * 8
    out["bigtiff-huge-count"] = b"II\x2b\x00\x08\x00\x00\x00" + struct.pack("<Q", 16) + struct.pack(
        "<Q", 2 ** 62) + struct.pack("<HHQQ", 256, 4, 1, 123) + b"\0" * 25
    out["bigtiff-missing"] = b"II\x2b\x00\x08\x00\x00\x00" + struct.pack("<Q", 16) + struct.pack("<Q", 1) + struct.pack(
        "<HHQQ", 256, 4, 1, 123)

    # GIF signed sizes, JPEG 2000, Netpbm
    out["gif-negative"] = b"GIF89a" + struct.pack("<HH", 40000, 100) + b"\0" * 20
    out["gif-negative-height"] = b"GIF89a" + struct.pack("<HH", 100, 40000) + b"\0" * 20
    out["jp2-short"] = b"\x00\x00\x00\x0cjP  \r\n\x87\n" + b"\0" * 30
    pbm = {
        "pbm-ascii": b"P1\n# comment\n12 7\n" + b"0 " * 84,
        "pgm-comment-between": b"P2 12 # c\n 9 255\n",
        "ppm-eof-after-first": b"P3 12",
        "ppm-eof-after-second": b"P3 12 34",
        "ppm-bad-char": b"P6 12x9 255\n",
        "ppm-empty": b"P5",
        "ppm-only-p": b"P",
        "ppm-comment-eof": b"P4 # no newline",
        "ppm-tabs": b"P4\t\x0b\x0c7\r\n8\n",
        "ppm-leading-zeros": b"P5 0012 0009 255\n",
        "ppm-hash-in-number": b"P5 12#c\n9 255\n",
        "ppm-many-digits": b"P5 " + b"9" * 5000 + b" 3\n",
    }
    out.update(pbm)
    for n in range(0, 12):
        out[f"tiny-{n}"] = bytes(range(n))
    return out


def mutants(name: str, data: bytes, rnd: random.Random, count: int) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    lengths = sorted({rnd.randrange(0, max(1, min(len(data), 200))) for _ in range(count)}
                     | {rnd.randrange(0, max(1, len(data))) for _ in range(count // 2)})
    for n in lengths:
        out[f"{name}~cut{n}"] = data[:n]
    for k in range(count):
        b = bytearray(data)
        if not b:
            break
        where = rnd.randrange(0, min(len(b), 96)) if k % 3 else rnd.randrange(0, len(b))
        b[where] = rnd.randrange(256)
        out[f"{name}~flip{k}@{where}"] = bytes(b)
    return out


def write_corpus(root: Path, seed: int = 0, mutations: int = 6) -> list[Path]:
    rnd = random.Random(seed)
    files = {**pillow_files(rnd), **crafted()}
    for name, data in list(files.items()):
        files.update(mutants(name, data, rnd, mutations))
    root.mkdir(parents=True, exist_ok=True)
    paths = []
    files = {k: v for k, v in files.items() if v or k == "tiny-0"}
    for k, (name, data) in enumerate(sorted(files.items())):
        p = root / f"{k:05d}-{name.replace('/', '_')}.png"
        p.write_bytes(data)
        paths.append(p)
    return paths
