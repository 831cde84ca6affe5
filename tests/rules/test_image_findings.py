"""rules.images: literal image probes in, findings out (RA040-RA052, RA012)."""

from __future__ import annotations

import pytest

from regaudit.model import Caption, CaptionSource, ImageProbe, ImageRecord, Subset, SubsetConfig
from regaudit.rules.images import image_findings, record_findings

CLEAN = ImageProbe(640, 480, "header", "JPEG", "RGB", False, None, 100)
NO_CAPTION = Caption(CaptionSource.EMPTY, None, "")


def _rec(name: str = "a.jpg", cache=(), **probe) -> ImageRecord:
    ext = name[name.rfind("."):]
    return ImageRecord(name, f"/d/1_x/{name}", ext, CLEAN._replace(**probe), NO_CAPTION, cache)


def _found(rec: ImageRecord) -> list[tuple[str, str]]:
    return [(f.code, f.message) for f in record_findings([rec])]


def test_a_clean_image_says_nothing():
    assert _found(_rec()) == []
    assert _found(_rec("b.PNG", format="PNG", mode="L")) == []
    assert _found(_rec(exif_orientation=1, decoded=True)) == []


@pytest.mark.parametrize("probe, code, message", [
    ({"error": "is 0 bytes", "error_kind": "zero_bytes", "size_via": "none", "width": 0, "height": 0},
     "RA040", "image file is 0 bytes; sd-scripts reads its size as 0x0 and crashes with a division by zero"),
    ({"error": "is a directory", "error_kind": "not_a_file"},
     "RA012", "'a.jpg' is a directory; sd-scripts globs it as an image and crashes reading it"),
    ({"error": "cannot be read (Permission denied)", "error_kind": "unreadable"},
     "RA041", "image cannot be read (Permission denied); sd-scripts crashes when it reads the size"),
    ({"error": "struct.error: unpack requires a buffer of 4 bytes", "error_kind": "header_crash", "size_via": "crash"},
     "RA042", "sd-scripts' size reader (imagesize) raises struct.error: unpack requires a buffer of 4 bytes on this "
              "file's header: the dataset build stops"),
    ({"error": "size is unknown", "error_kind": "no_size", "size_via": "none"},
     "RA041", "image size is unknown; sd-scripts uses 0x0 and crashes with a division by zero when bucketing"),
    ({"error": "size reads as 0x0", "error_kind": "no_size"},
     "RA041", "image size reads as 0x0 by sd-scripts' size reader (imagesize); sd-scripts divides by zero when it "
              "computes the image's bucket"),
    ({"decode_error": "OSError: broken data stream", "decoded": True},
     "RA043", "image data cannot be decoded (OSError: broken data stream)"),
    ({"load_error": "OSError: image file is truncated", "load_error_kind": "truncated"},
     "RA043", "image file is cut short: its end marker is missing and decoding fails (OSError: image file is "
              "truncated); the dataset builds, then sd-scripts fails when it loads this image"),
    ({"load_error": "OSError: broken", "load_error_kind": "corrupt"},
     "RA043", "image data cannot be decoded (OSError: broken); the dataset builds, then sd-scripts fails when it "
              "loads this image"),
    ({"load_error": "UnidentifiedImageError", "load_error_kind": "unopenable"},
     "RA052", "sd-scripts reads a 640x480 size from the header, but Pillow cannot open the file "
              "(UnidentifiedImageError): the dataset builds and counts it, then sd-scripts fails when it loads "
              "this image"),
    ({"exif_orientation": 6},
     "RA044", "EXIF orientation 6 (rotated 90° clockwise): viewers show it 480x640, sd-scripts trains the stored "
              "640x480 pixels as they are"),
    ({"exif_orientation": 3},
     "RA044", "EXIF orientation 3 (rotated 180°): viewers show it 640x480, sd-scripts trains the stored 640x480 "
              "pixels as they are"),
    ({"mode": "CMYK"}, "RA046", "CMYK image is converted to RGB without colour management"),
    ({"mode": "P"}, "RA047", "palette image is expanded to RGB"),
    ({"mode": "I;16"}, "RA048", "I;16 image: converting it to RGB clips values above 255"),
    ({"format": "PNG"}, "RA049", "'.jpg' file holds PNG data"),
    ({"load_error": "DecompressionBombError: 200000000 pixels", "load_error_kind": "too_large"},
     "RA050", "Pillow refuses to open images over 178,956,970 pixels (DecompressionBombError: 200000000 pixels); "
              "sd-scripts fails when it loads this image"),
])
def test_each_probe_fact_gives_its_finding(probe, code, message):
    assert _found(_rec(**probe)) == [(code, message)]


def test_transparency_wins_over_the_palette_note():
    # a palette image with transparency: RA045 says it; RA047 (palette expanded) stays quiet
    assert _found(_rec("a.png", format="PNG", mode="P", has_transparency=True)) == [
        ("RA045", "P image with transparency; sd-scripts converts it to RGB and the transparent areas lose "
                  "their alpha")]


def test_a_latent_cache_of_another_size():
    rec = _rec(cache=(("_sd.npz", (640, 480)), ("_sdxl.npz", (512, 384))))
    assert _found(rec) == [("RA051", "a '*_sdxl.npz' latent cache file beside it says 512x384, the image is "
                                     "640x480: trainers using that cache bucket it as 512x384")]


def test_findings_in_check_order_on_the_image_s_absolute_path():
    rec = _rec(exif_orientation=8, mode="CMYK", format="PNG", decode_error="OSError: x", decoded=True)
    found = list(record_findings([rec]))
    assert [f.code for f in found] == ["RA043", "RA044", "RA046", "RA049"]
    assert {f.path for f in found} == {"/d/1_x/a.jpg"}


def test_image_findings_is_record_findings_of_the_subset_s_images():
    recs = (_rec("a.jpg", mode="P"), _rec("b.jpg"), _rec("c.jpg", mode="CMYK"))
    sub = Subset(SubsetConfig("/d/1_x", False, 1, "x"), "/d/1_x", recs)
    assert list(image_findings(sub)) == list(record_findings(recs))
    assert [(f.code, f.path) for f in image_findings(sub)] == [("RA047", "/d/1_x/a.jpg"), ("RA046", "/d/1_x/c.jpg")]
