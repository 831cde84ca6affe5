"""Image file checks (RA040-RA053, and RA012 for an image path that is not a file): facts in (each
image's probe, from ``sdscripts.images``, and the latent cache sizes beside it), findings out."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from ..limits import FINDING_IMAGES
from ..model import Finding, ImageProbe, ImageRecord, Subset
from ..sdscripts.images import EXT_FORMATS, HIGH_BIT_MODES, HUGE_PIXELS, expected_formats
from .naming import named, rows
from .registry import rule

_ORIENTATION = {
    2: "mirrored horizontally", 3: "rotated 180°", 4: "mirrored vertically",
    5: "mirrored and rotated 90° counter-clockwise", 6: "rotated 90° clockwise",
    7: "mirrored and rotated 90° clockwise", 8: "rotated 90° counter-clockwise",
}


# a probe's last fields, from ``error`` on, when nothing went wrong (decoded by --deep or not)
_ENDS_AT = ImageProbe._fields.index("error")
assert ImageProbe._fields[_ENDS_AT:] == ("error", "error_kind", "decode_error", "decoded", "load_error", "load_error_kind")
_CLEAN_ENDS = frozenset({(None, None, None, False, None, None), (None, None, None, True, None, None)})
_FORMAT_OK = frozenset((fmt, e) for ext, fmts in EXT_FORMATS.items() for fmt in fmts for e in (ext, ext.upper()))


def image_findings(subset: Subset) -> Iterator[Finding]:
    return record_findings(subset.images)


def record_findings(images: Iterable[ImageRecord]) -> Iterator[Finding]:
    """image_findings of some of a subset's images (a part, in a worker process)."""
    clean, ends_at, format_ok = _CLEAN_ENDS, _ENDS_AT, _FORMAT_OK
    for img in images:
        p = img.probe
        if p[ends_at:] in clean and (p.mode == "RGB" or p.mode == "L") and not p.has_transparency \
                and p.exif_orientation in (None, 1) and (p.format, img.ext) in format_ok and not img.cache_sizes:
            continue  # nothing to say about this image (the common case, checked first)
        where = img.abs_path
        kind = p.error_kind
        if kind == "zero_bytes":
            yield rule("RA040").finding(where, "image file is 0 bytes; sd-scripts reads its size as 0x0 "
                                               "and crashes with a division by zero")
        elif kind == "not_a_file":
            yield rule("RA012").finding(where, f"'{os.path.basename(img.path)}' {p.error}; sd-scripts "
                                               f"globs it as an image and crashes reading it")
        elif kind == "unreadable":
            yield rule("RA041").finding(where, f"image {p.error}; sd-scripts crashes when it reads the size",
                                        "Fix the file's permissions (chmod u+r), or remove it.")
        elif kind == "header_crash":
            yield rule("RA042").finding(where, f"sd-scripts' size reader (imagesize) raises {p.error} on this "
                                               f"file's header: the dataset build stops")
        elif kind == "no_size" and p.size_via == "none":
            yield rule("RA041").finding(where, f"image {p.error}; sd-scripts uses 0x0 and crashes "
                                               f"with a division by zero when bucketing")
        elif kind == "no_size":
            yield rule("RA041").finding(where, f"image {p.error} by sd-scripts' size reader (imagesize); sd-scripts "
                                               f"divides by zero when it computes the image's bucket")
        if p.decode_error:
            yield rule("RA043").finding(where, f"image data cannot be decoded ({p.decode_error})")
        elif p.load_error_kind in ("truncated", "corrupt"):
            what = ("image file is cut short: its end marker is missing and decoding fails" if p.load_error_kind ==
                    "truncated" else "image data cannot be decoded")
            yield rule("RA043").finding(where, f"{what} ({p.load_error}); the dataset builds, then sd-scripts "
                                               f"fails when it loads this image")
        if p.load_error_kind == "unopenable":
            yield rule("RA052").finding(where, f"sd-scripts reads a {p.width}x{p.height} size from the header, but "
                                               f"Pillow cannot open the file ({p.load_error}): the dataset builds "
                                               f"and counts it, then sd-scripts fails when it loads this image")
        if p.exif_orientation not in (None, 1):
            w, h = p.width, p.height
            turned = p.exif_orientation in (5, 6, 7, 8)
            shown = f"{h}x{w}" if turned else f"{w}x{h}"
            yield rule("RA044").finding(
                where, f"EXIF orientation {p.exif_orientation} ({_ORIENTATION[p.exif_orientation]}): "
                       f"viewers show it {shown}, sd-scripts trains the stored {w}x{h} pixels as they are")
        if p.has_transparency:
            yield rule("RA045").finding(where, f"{p.mode} image with transparency; sd-scripts converts it "
                                               f"to RGB and the transparent areas lose their alpha")
        if p.mode == "CMYK":
            yield rule("RA046").finding(where, "CMYK image is converted to RGB without colour management")
        elif p.mode == "P" and not p.has_transparency:
            yield rule("RA047").finding(where, "palette image is expanded to RGB")
        elif p.mode in HIGH_BIT_MODES:
            yield rule("RA048").finding(where, f"{p.mode} image: converting it to RGB clips values above 255")
        expected = expected_formats(img.ext)
        if p.format and expected and p.format not in expected:
            yield rule("RA049").finding(where, f"'{img.ext}' file holds {p.format} data")
        for suffix, (cw, ch) in img.cache_sizes:
            if (cw, ch) != (p.width, p.height):
                yield rule("RA051").finding(
                    where, f"a '*{suffix}' latent cache file beside it says {cw}x{ch}, the image is "
                           f"{p.width}x{p.height}: trainers using that cache bucket it as {cw}x{ch}")
        if p.load_error_kind == "too_large":
            yield rule("RA050").finding(where, f"Pillow refuses to open images over {HUGE_PIXELS:,} pixels "
                                               f"({p.load_error}); sd-scripts fails when it loads this image")


def unloadable_keys(metadata_file: str, images: Iterable[ImageRecord]) -> list[Finding]:
    """RA098: the fine-tuning keys of one metadata file that sd-scripts registers without opening them
    and fails on when it first loads them (``sdscripts.finetune.first_load``), in one finding."""
    bad = [img for img in images if img.probe.load_error_kind == "no_image"]
    if not bad:
        return []
    first = bad[0].probe.load_error
    via = {img.probe.size_via for img in bad}
    how = "the metadata's image_size" if via == {"metadata"} else \
        "a latent cache file's name (the .npz is stored as the image)" if via == {"cache"} else \
        "the metadata's image_size or a latent cache file's name"
    one = len(bad) == 1
    kinds = len({img.probe.load_error for img in bad})
    msg = (f"{len(bad)} key{'' if one else 's'} of this metadata take{'s its' if one else ' their'} size from {how}, "
           f"so sd-scripts registers and counts {'it' if one else 'them'} without opening the file, then fails when "
           f"it first loads {'the key' if one else 'the keys'} {named([img.path for img in bad])} (latent caching, "
           f"or the first batch that draws {'it' if one else 'one'}): {first}"
           + (f" ({kinds - 1} other error{'s' if kinds > 2 else ''} among them: each key's error is in its row, "
              f"for the first {FINDING_IMAGES:,})"
              if kinds > 1 else ""))
    return [rule("RA098").finding(metadata_file, msg, images=rows(
        (img.abs_path for img in bad),
        {img.abs_path: (("key", img.path), ("error", img.probe.load_error)) for img in bad[:FINDING_IMAGES]}))]


def _ago(seconds: float) -> str:
    for unit, size in (("days", 86400), ("hours", 3600), ("minutes", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} seconds"


def stale_cache_findings(stale, skip_cache_check: bool) -> Iterator[Finding]:
    """RA053, one finding per folder: images modified after the latents cache file sd-scripts reads
    for them (``sdscripts.latents.stale_caches``), each with its cache file and how much newer it is."""
    by_folder: dict[str, list] = {}
    for s in stale:
        by_folder.setdefault(os.path.dirname(s.image), []).append(s)
    how = ("uses those files without looking inside (--skip_cache_check)" if skip_cache_check else
           "keeps a cache file whose latents' shape fits the bucket, as it does while the image size is unchanged")
    for folder, items in by_folder.items():
        shown = ", ".join(f"{named([s.image], 1)} ({_ago(s.newer_by)} newer than {os.path.basename(s.npz)})"
                          for s in items[:3])
        more = f" and {len(items) - 3} more" if len(items) > 3 else ""
        yield rule("RA053").finding(
            folder, f"{len(items)} image{'s were' if len(items) > 1 else ' was'} modified after the latents cache "
                    f"file sd-scripts reads with --cache_latents_to_disk: {shown}{more}; sd-scripts {how}, so the "
                    f"picture as it was before the edit trains",
            f"Delete {named([s.npz for s in items])}: sd-scripts encodes the images again and writes new ones.",
            images=((("path", s.image), ("cache", s.npz), ("newer_by_s", round(s.newer_by, 1))) for s in items))
