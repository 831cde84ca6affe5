"""Spec §1-2: which folders and files sd-scripts reads (pins)."""

from __future__ import annotations

import os

import pytest

from regaudit.sdscripts.layout import is_globbed, list_subset, parse_folder_name, scan_root, suggest_folder_name
from regaudit.model import IgnoreReason
from regaudit.rules.layout import listing_findings, root_findings
from tests.conftest import make_image
from tests import platforms


@pytest.mark.parametrize("name, expected", [
    ("10_sks dog", (10, "sks dog")),
    ("010_dog", (10, "dog")),
    ("+5_dog", (5, "dog")),
    (" 7_dog", (7, "dog")),
    ("\u0663_dog", (3, "dog")),  # Arabic-Indic digit three
    ("1_000_dog", (1, "000_dog")),
    ("10", (10, "")),
    ("5_a_b", (5, "a_b")),
    ("0_dog", (0, "dog")),
    ("-2_dog", (-2, "dog")),
])
def test_folder_names_parse_like_int(name, expected):
    assert parse_folder_name(name) == expected


@pytest.mark.parametrize("name", ["10 dog", "dog_10", "1e3_dog", ".ipynb_checkpoints", "dog", "0x10_dog", ""])
def test_folder_names_without_repeats_are_ignored(name):
    assert parse_folder_name(name) is None


@pytest.mark.parametrize("name, suggestion", [
    ("10 dog", "10_dog"), ("dog_10", "10_dog"), ("10-sks dog", "10_sks dog"), ("dog", "1_dog"),
])
def test_suggested_names(name, suggestion):
    assert suggest_folder_name(name) == suggestion


def test_root_subsets_tokens_and_skips(tmp_path):
    root = tmp_path / "train"
    for name in ["10_sks dog", "10", "5_a_b", "0_dog", "-2_cat", "10 dog", ".ipynb_checkpoints"]:
        make_image(root / name / "a.png")
    make_image(root / "stray.jpg")
    (root / "notes.txt").write_text("x")
    rs = scan_root(str(root), False, ".caption")
    got = sorted((os.path.basename(s.image_dir), s.num_repeats, s.class_tokens) for s in rs.subsets)
    assert got == [("10", 10, ""), ("10_sks dog", 10, "sks dog"), ("5_a_b", 5, "a_b")]
    assert all(s.image_dir == str(root / os.path.basename(s.image_dir)) for s in rs.subsets)
    reasons = {os.path.basename(i.path): i.reason for i in rs.ignored}
    assert reasons["0_dog"] is IgnoreReason.REPEATS_BELOW_ONE
    assert reasons["-2_cat"] is IgnoreReason.REPEATS_BELOW_ONE
    assert reasons["10 dog"] is IgnoreReason.UNPARSED_NAME
    assert reasons[".ipynb_checkpoints"] is IgnoreReason.HIDDEN
    assert reasons["stray.jpg"] is IgnoreReason.FILE_IN_ROOT
    codes = sorted(f.code for f in root_findings(rs))
    assert codes == ["RA001", "RA002", "RA002", "RA003", "RA005"]
    ra001 = next(f for f in root_findings(rs) if f.code == "RA001")
    assert "'10_dog'" in ra001.hint


@platforms.symlinks
def test_symlinked_subset_counts_and_dangling_link_does_not(tmp_path):
    real = tmp_path / "elsewhere"
    make_image(real / "a.png")
    root = tmp_path / "train"
    root.mkdir()
    os.symlink(real, root / "3_linked")
    os.symlink(tmp_path / "missing", root / "4_dangling")
    os.symlink(root / "5_loop", root / "5_loop")
    rs = scan_root(str(root), False, ".caption")
    assert [(os.path.basename(s.image_dir), s.num_repeats) for s in rs.subsets] == [("3_linked", 3)]


def test_glob_is_case_sensitive_and_skips_dot_files(tmp_path):
    d = tmp_path / "1_x"
    for name in ["a.png", "b.PNG", "c.Png", "d.jpeg", "e.JPG", "f.webp", "g.bmp", "h.gif", "i.tiff", "j.heic",
                 "._k.jpg", ".l.png", "m.jpg.txt"]:
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_bytes(b"x")
    listing = list_subset(str(d))
    assert [os.path.basename(p) for p in listing.images] == ["a.png", "b.PNG", "d.jpeg", "e.JPG", "f.webp", "g.bmp"]
    reasons = {os.path.basename(i.path): i.reason for i in listing.ignored}
    assert reasons["c.Png"] is IgnoreReason.EXTENSION_CASE
    assert reasons["h.gif"] is reasons["i.tiff"] is reasons["j.heic"] is IgnoreReason.UNSUPPORTED_FORMAT
    assert reasons["._k.jpg"] is reasons[".l.png"] is IgnoreReason.HIDDEN
    assert "m.jpg.txt" not in reasons
    codes = sorted(f.code for f in listing_findings(listing))
    assert codes == ["RA005", "RA006", "RA007"]


def test_images_sorted_by_path_string_not_natural_order(tmp_path):
    d = tmp_path / "1_x"
    for name in ["img10.png", "img2.png", "Img3.png", "img1.jpg", "img1.png"]:
        make_image(d / name)
    listing = list_subset(str(d))
    assert [os.path.basename(p) for p in listing.images] == ["Img3.png", "img1.jpg", "img1.png", "img10.png",
                                                              "img2.png"]


def test_nested_images_are_reported(tmp_path):
    d = tmp_path / "1_x"
    make_image(d / "top.png")
    make_image(d / "more" / "deep" / "n.png")
    make_image(d / "more" / "n2.jpg")
    listing = list_subset(str(d))
    assert [os.path.basename(p) for p in listing.images] == ["top.png"]
    nested = [f for f in listing_findings(listing) if f.code == "RA004"]
    assert len(nested) == 1 and "2 images" in nested[0].message


@platforms.symlinks
def test_directory_named_like_an_image_is_globbed(tmp_path):
    d = tmp_path / "1_x"
    (d / "folder.png").mkdir(parents=True)
    os.symlink(tmp_path / "nowhere.png", d / "broken.jpg")
    assert [os.path.basename(p) for p in list_subset(str(d)).images] == ["broken.jpg", "folder.png"]


def test_is_globbed():
    # Linux's and macOS' glob (the default of this test is the host's: named here)
    assert is_globbed("a.JPEG", False) and is_globbed("a.webp", False) and not is_globbed("a.Webp", False)
    assert not is_globbed(".a.png", False)
    # Windows' glob is case-insensitive; dot-files stay out there too
    assert is_globbed("a.Webp", True) and is_globbed("a.jPg", True) and not is_globbed(".a.png", True)
    assert not is_globbed("a.gif", True) and not is_globbed("a.Webp.txt", True)


def test_absolute_paths_of_a_listing_are_os_path_abspath(tmp_path, monkeypatch):
    """scan works out each folder's absolute part once; the result must be abspath's, whatever
    the spelling (relative, '..', doubled slashes, POSIX's kept '//' prefix)."""
    import random

    from regaudit.sdscripts.layout import Absolute

    monkeypatch.chdir(tmp_path)
    absolute = Absolute()
    rnd = random.Random(1)
    pieces = ["/", "a", ".", "b.png", "//", "..", "c d"]
    cases = ["y.png", "/y.png", "//x.png", "///x.png", "./a/../b/c.png", "a//b.png"]
    cases += ["".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 8))) for _ in range(20000)]
    for p in cases:
        assert absolute(p) == os.path.abspath(p), p
    # a whole listing at once: one folder's names (the common case), or anything else
    heads = ["", "a/", "/x/", "./a/", "a//", "//", "/", "a/../b/", "c d/"]
    names = ["y.png", "..", ".", "", "z.jpg", "q/r.png"]
    for _ in range(3000):
        head = rnd.choice(heads)
        group = [head + rnd.choice(names[:1] + names[4:5]) for _ in range(rnd.randint(1, 4))]
        if rnd.random() < 0.3:
            group.append(rnd.choice(heads) + rnd.choice(names))
        assert Absolute().all_of(group) == [os.path.abspath(p) for p in group], group
    assert Absolute().all_of([]) == []


def test_a_path_plainly_its_own_abspath_is():
    import random

    from regaudit.render.json_out import is_own_abspath

    rnd = random.Random(3)
    pieces = ["/", "a", ".", "..", "b.txt", "//", ".x", "c d", "\\"]
    seen = 0
    for _ in range(20000):
        p = "".join(rnd.choice(pieces) for _ in range(rnd.randint(1, 7)))
        if is_own_abspath(p):
            seen += 1
            assert os.path.abspath(p) == p, p
    assert seen > 500
