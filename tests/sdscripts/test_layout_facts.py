"""sdscripts.layout and sdscripts.datasets: what sd-scripts skips, as facts (no findings)."""

from __future__ import annotations

import os

from regaudit.model import IgnoreReason
from regaudit.sdscripts.config import TrainingArgs
from regaudit.sdscripts.datasets import specs_from_roots, validation_split
from regaudit.sdscripts.layout import SkippedFolder, UnreadEntry, list_subset, scan_root
from tests.conftest import make_image


def test_missing_and_non_folder_roots(tmp_path):
    assert scan_root(str(tmp_path / "nope"), False, ".caption").missing == "does not exist"
    (tmp_path / "file").write_text("x")
    rs = scan_root(str(tmp_path / "file"), True, ".caption")
    assert (rs.missing, rs.role, rs.subsets, rs.skipped) == ("is not a folder", "reg", [], [])


def test_root_skips_as_facts(tmp_path):
    root = tmp_path / "train"
    make_image(root / "10 dog" / "a.png")
    make_image(root / "10 dog" / "b.png")
    make_image(root / ".hidden" / "a.png")
    (root / "0_cat").mkdir()
    make_image(root / "3_ok" / "a.png")
    make_image(root / "stray.jpg")
    (root / "notes.txt").write_text("x")
    rs = scan_root(str(root), False, ".caption")
    assert [os.path.basename(s.image_dir) for s in rs.subsets] == ["3_ok"]
    assert sorted(rs.skipped, key=lambda f: f.name) == [
        SkippedFolder(str(root / ".hidden"), ".hidden", IgnoreReason.HIDDEN, 1),
        SkippedFolder(str(root / "0_cat"), "0_cat", IgnoreReason.REPEATS_BELOW_ONE, repeats=0),
        SkippedFolder(str(root / "10 dog"), "10 dog", IgnoreReason.UNPARSED_NAME, 2, suggestion="10_dog"),
    ]
    assert (rs.root_images, rs.crash, rs.missing) == (1, None, None)


def test_listing_facts(tmp_path):
    d = tmp_path / "1_x"
    make_image(d / "a.png")
    make_image(d / "nested" / "n.png")
    for name in ["c.Png", "h.gif", "i.tiff", ".l.png"]:
        (d / name).write_bytes(b"x")
    listing = list_subset(str(d))
    assert listing.path == str(d)
    assert listing.error is None
    assert [os.path.basename(p) for p in listing.images] == ["a.png"]
    assert sorted(listing.unread, key=lambda e: e.name) == [
        UnreadEntry(str(d / "c.Png"), "c.Png", IgnoreReason.EXTENSION_CASE, ext=".Png"),
        UnreadEntry(str(d / "nested"), "nested", IgnoreReason.NESTED_DIR, images=1),
    ]
    assert sorted(listing.unsupported) == ["h.gif", "i.tiff"]
    assert listing.hidden_images == [str(d / ".l.png")]


def test_listing_of_no_folder(tmp_path):
    listing = list_subset(str(tmp_path / "missing"))
    assert (listing.readable, listing.path, listing.error, listing.images) == (False, "", None, [])


def test_specs_from_roots_keep_each_root(tmp_path):
    make_image(tmp_path / "t" / "2_a" / "a.png")
    spec = specs_from_roots(str(tmp_path / "t"), str(tmp_path / "r"), TrainingArgs())
    assert [(rs.root, rs.is_reg, rs.missing) for rs in spec.roots] == [
        (str(tmp_path / "t"), False, None), (str(tmp_path / "r"), True, "does not exist")]
    assert [(s.num_repeats, s.class_tokens) for s in spec.subsets] == [(2, "a")]
    assert spec.info_caches == []


def test_validation_split_keeps_ceil_of_the_rest():
    # oracle (sd-scripts 48d368f, see tests/sdscripts/test_config.py): seed 42 shuffles 7 paths this way
    paths = [f"i{i}" for i in range(7)]
    kept, held = validation_split(paths, 0.3, 42)
    assert (sorted(kept), sorted(held)) == (["i1", "i2", "i3", "i4", "i6"], ["i0", "i5"])
    assert validation_split(paths, 0.5, None) == (paths[:4], paths[4:])


def test_a_root_longer_than_the_system_takes_stops_sd_scripts(tmp_path):
    """Path.is_dir raises ENAMETOOLONG (pathlib ignores only ENOENT, ENOTDIR, EBADF, ELOOP), and
    generate_dreambooth_subsets_config_by_subdirs with it. Oracle (sd-scripts 48d368f, Python 3.11),
    a train root 4,442 bytes long: OSError "[Errno 36] File name too long: '<root>'" raised at
    library/config_util.py:623, stage build."""
    import errno

    from regaudit.sdscripts.layout import scan_root

    from tests.hostile_fixtures import nest

    os.close(nest(tmp_path, 24, "d" * 200))
    root = str(tmp_path) + ("/" + "d" * 200) * 24
    rs = scan_root(root, False, ".caption")
    assert rs.crash is not None and rs.subsets == [] and rs.missing is None
    exc, path = rs.crash
    assert exc.errno == errno.ENAMETOOLONG and path == root and str(exc) == f"[Errno 36] File name too long: '{root}'"
