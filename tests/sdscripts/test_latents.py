"""The latent cache files sd-scripts reads beside the images (sdscripts.latents)."""

from __future__ import annotations

import os

from regaudit.sdscripts.latents import stale_caches


def test_a_float_size_names_no_cache_file_and_raises_nothing(tmp_path):
    """imagesize reads an SVG saved as .png with a float size; the cache name is formatted with
    ':04d' and cannot be made of it (differential seed 26: balance stopped with an internal error)."""
    image = tmp_path / "a.png"
    image.write_bytes(b"x")
    npz = tmp_path / "a_0064x0064_flux.npz"
    npz.write_bytes(b"y")
    os.utime(npz, (1_000_000, 1_000_000))  # the image is newer than its cache file
    assert stale_caches([(str(image), (64.5, 64.0))], "_flux.npz") == []
    [stale] = stale_caches([(str(image), (64, 64))], "_flux.npz")
    assert stale.npz == str(npz) and stale.newer_by > 0
