"""Images family (RA040-RA053): what sd-scripts' size reader and Pillow make of each image file,
through `regaudit scan`."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import Image

from .cli_table import F, Img, No, row, run_case

SCAN = ["scan", "--json", "-j", "1", "train"]
DISK_CACHE = ["balance", "--json", "-j", "1", "--train", "train", "--resolution", "8", "--cache_latents_to_disk"]
T0 = 1_700_000_000  # a fixed modification time (2023-11-14)
D = "train/1_dog/"


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">L", len(data)) + kind + data + struct.pack(">L", zlib.crc32(kind + data))


def png_header_only(w: int, h: int) -> bytes:
    """A PNG that claims w x h pixels and holds none."""
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">LLBBBBB", w, h, 8, 2, 0, 0, 0)) + _chunk(b"IEND", b"")


def png_cut_in_half() -> bytes:
    im = Image.linear_gradient("L").resize((64, 64)).convert("RGB")
    buf = io.BytesIO()
    im.save(buf, "PNG")
    data = buf.getvalue()
    return data[: len(data) // 2]


SVG = '<svg width="512" height="768" xmlns="http://www.w3.org/2000/svg"></svg>'
LOADS = "the dataset builds, then sd-scripts fails when it loads this image"

ROWS = [
    row("RA040 zero bytes", {D + "a.png": Img(), D + "z.png": b""}, SCAN,
        F("RA040", "error", D + "z.png",
          "image file is 0 bytes; sd-scripts reads its size as 0x0 and crashes with a division by zero")),
    row("RA040 in a reg image the balancing loop leaves out",
        # 1 train sample: the first pass registers only a.png, the first reg image in sorted order
        {"train/1_sks/t.png": Img(), "reg/1_dog/a.png": Img(), "reg/1_dog/z.png": b""},
        ["scan", "--json", "-j", "1", "--train", "train", "--reg", "reg"],
        F("RA040", "warning", "reg/1_dog/z.png",
          "image file is 0 bytes; sd-scripts reads its size as 0x0 and crashes with a division by zero — but the "
          "reg balancing loop does not use this image today, so sd-scripts never reads it; it would fail if the "
          "train/reg counts change")),
    row("RA041 no size", {D + "a.png": Img(), D + "g.png": b"<html>not an image</html>"}, SCAN,
        F("RA041", "error", D + "g.png",
          "image size cannot be read: not an image Pillow can open (UnidentifiedImageError); sd-scripts uses 0x0 "
          "and crashes with a division by zero when bucketing")),
    row("RA041 unreadable", {D + "a.png": Img(), D + "b.png": Img()}, SCAN,
        F("RA041", "error", D + "b.png", "image cannot be opened: Permission denied; sd-scripts crashes when it "
                                         "reads the size"),
        locked=(D + "b.png",)),
    row("RA042 header crash", {D + "a.png": Img(), D + "bad.jpg": b"\xff\xd8\x00garbage"}, SCAN,
        F("RA042", "error", D + "bad.jpg", "sd-scripts' size reader (imagesize) raises ValueError: Invalid JPEG file "
                                           "on this file's header: the dataset build stops")),
    row("RA043 truncated", {D + "a.png": Img(), D + "t.png": png_cut_in_half()}, SCAN,
        F("RA043", "error", D + "t.png", "image file is cut short: its end marker is missing and decoding fails "
                                         f"(OSError: image file is truncated); {LOADS}")),
    row("RA044 EXIF rotation", {D + "e.jpg": Img(size=(16, 8), exif_orientation=6)}, SCAN,
        F("RA044", "warning", D + "e.jpg", "EXIF orientation 6 (rotated 90° clockwise): viewers show it 8x16, "
                                           "sd-scripts trains the stored 16x8 pixels as they are")),
    row("RA045 transparency", {D + "a.png": Img(mode="RGBA", color=(1, 2, 3, 100))}, SCAN,
        F("RA045", "warning", D + "a.png", "RGBA image with transparency; sd-scripts converts it to RGB and the "
                                           "transparent areas lose their alpha")),
    row("RA046 CMYK", {D + "a.jpg": Img(mode="CMYK")}, SCAN,
        F("RA046", "warning", D + "a.jpg", "CMYK image is converted to RGB without colour management")),
    row("RA047 palette", {D + "a.png": Img(mode="P")}, SCAN,
        F("RA047", "info", D + "a.png", "palette image is expanded to RGB")),
    row("RA048 16-bit grayscale", {D + "a.png": Img(mode="I;16")}, SCAN,
        F("RA048", "warning", D + "a.png", "I;16 image: converting it to RGB clips values above 255")),
    row("RA049 PNG data in a .jpg", {D + "a.jpg": Img(fmt="PNG")}, SCAN,
        F("RA049", "info", D + "a.jpg", "'.jpg' file holds PNG data")),
    row("RA050 over Pillow's pixel limit",
        # 30000 x 20000 = 600,000,000 pixels > 2 x 89,478,485 = 178,956,970
        {D + "a.png": Img(), D + "huge.png": png_header_only(30000, 20000)}, SCAN,
        F("RA050", "error", D + "huge.png",
          "Pillow refuses to open images over 178,956,970 pixels (DecompressionBombError: Image size (600000000 "
          "pixels) exceeds limit of 178956970 pixels{*}); sd-scripts fails when it loads this image")),
    row("RA051 latent cache of another size",
        {D + "c.png": Img(size=(8, 8)), D + "c_0016x0008_sd.npz": b"", D + "d.png": Img(size=(8, 8)),
         D + "d_0008x0008_sd.npz": b""}, SCAN,
        F("RA051", "warning", D + "c.png", "a '*_sd.npz' latent cache file beside it says 16x8, the image is 8x8: "
                                           "trainers using that cache bucket it as 16x8")),
    row("RA053 images edited after their latents cache",
        # a.png 2 h and b.png 90 s newer than the '_<WWWW>x<HHHH>_sd.npz' train_network.py reads for their 8x8;
        # c.png older than its cache: kept as it is
        {D + "a.png": Img(), D + "a_0008x0008_sd.npz": b"", D + "b.png": Img(), D + "b_0008x0008_sd.npz": b"",
         D + "c.png": Img(), D + "c_0008x0008_sd.npz": b""}, DISK_CACHE,
        F("RA053", "warning", "train/1_dog",
          "2 images were modified after the latents cache file sd-scripts reads with --cache_latents_to_disk: a.png "
          "(2.0 hours newer than a_0008x0008_sd.npz), b.png (1.5 minutes newer than b_0008x0008_sd.npz); sd-scripts keeps a "
          "cache file whose latents' shape fits the bucket, as it does while the image size is unchanged, so the "
          "picture as it was before the edit trains",
          images=({"path": D + "a.png", "cache": "{root}/" + D + "a_0008x0008_sd.npz", "newer_by_s": 7200.0},
                  {"path": D + "b.png", "cache": "{root}/" + D + "b_0008x0008_sd.npz", "newer_by_s": 90.0})),
        mtimes={D + "a.png": T0 + 7200, D + "a_0008x0008_sd.npz": T0, D + "b.png": T0 + 90,
                D + "b_0008x0008_sd.npz": T0, D + "c.png": T0 - 5, D + "c_0008x0008_sd.npz": T0}),
    row("RA053 SD's old '<stem>.npz' first, --skip_cache_check",
        {D + "a.png": Img(), D + "a.npz": b"", D + "a_0008x0008_sd.npz": b""}, DISK_CACHE + ["--skip_cache_check"],
        F("RA053", "warning", "train/1_dog",
          "1 image was modified after the latents cache file sd-scripts reads with --cache_latents_to_disk: a.png "
          "(1.0 days newer than a.npz); sd-scripts uses those files without looking inside (--skip_cache_check), so "
          "the picture as it was before the edit trains"),
        mtimes={D + "a.png": T0 + 86400, D + "a.npz": T0, D + "a_0008x0008_sd.npz": T0 + 86400 * 2}),
    row("RA053 FLUX reads no old '.npz', only '_flux.npz'",
        {D + "a.png": Img(), D + "a.npz": b"", D + "b.png": Img(), D + "b_0008x0008_flux.npz": b""},
        ["balance", "--json", "-j", "1", "--train", "train", "--resolution", "8", "--cache_latents_to_disk",
         "--trainer", "flux_train_network"],
        F("RA053", "warning", "train/1_dog",
          "1 image was modified after the latents cache file sd-scripts reads with --cache_latents_to_disk: b.png "
          "(1.0 minutes newer than b_0008x0008_flux.npz){*}"),
        mtimes={D + "a.png": T0 + 60, D + "a.npz": T0, D + "b.png": T0 + 60, D + "b_0008x0008_flux.npz": T0}),
    row("RA053 not without --cache_latents_to_disk",
        {D + "a.png": Img(), D + "a_0008x0008_sd.npz": b""}, DISK_CACHE[:-1],
        No("RA053"), mtimes={D + "a.png": T0 + 60, D + "a_0008x0008_sd.npz": T0}),
    row("RA052 SVG named .png", {D + "a.png": Img(), D + "v.png": SVG}, SCAN,
        F("RA052", "error", D + "v.png",
          "sd-scripts reads a 512.0x768.0 size from the header, but Pillow cannot open the file "
          "(UnidentifiedImageError: cannot identify image file): the dataset builds and counts it, then sd-scripts "
          "fails when it loads this image")),
]


@pytest.mark.parametrize("case", ROWS)
def test_image_findings(case, root, capsys, monkeypatch):
    run_case(case, root, capsys, monkeypatch)
