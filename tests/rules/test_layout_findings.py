"""rules.layout: literal layout facts in, findings out (RA001-RA007, RA013)."""

from __future__ import annotations

from regaudit.model import IgnoreReason, Severity, SubsetConfig
from regaudit.rules.layout import listing_findings, root_findings
from regaudit.sdscripts.layout import FolderListing, RootScan, SkippedFolder, UnreadEntry


def _codes(findings):
    return [(f.code, f.severity, f.path) for f in findings]


def test_root_skips():
    rs = RootScan("/d/train", False, skipped=[
        SkippedFolder("/d/train/.h", ".h", IgnoreReason.HIDDEN, 2),
        SkippedFolder("/d/train/.e", ".e", IgnoreReason.HIDDEN, 0),  # empty: nothing to say
        SkippedFolder("/d/train/10 dog", "10 dog", IgnoreReason.UNPARSED_NAME, 3, suggestion="10_dog"),
        SkippedFolder("/d/train/x", "x", IgnoreReason.UNPARSED_NAME, 0, suggestion="1_x"),
        SkippedFolder("/d/train/0_cat", "0_cat", IgnoreReason.REPEATS_BELOW_ONE, repeats=0),
    ], root_images=2)
    found = root_findings(rs)
    assert _codes(found) == [("RA005", Severity.INFO, "/d/train/.h"), ("RA001", Severity.ERROR, "/d/train/10 dog"),
                             ("RA002", Severity.WARNING, "/d/train/0_cat"), ("RA003", Severity.ERROR, "/d/train")]
    assert found[0].message == "hidden folder '.h' with 2 images is ignored"
    assert found[1].message == ("folder '10 dog' holds 3 images but its name does not start with '<repeats>_', so "
                                "sd-scripts ignores it")
    assert found[1].hint == "Rename it to '10_dog' (repeats first, then '_', then the class tokens)."
    assert found[2].message == "folder '0_cat' has repeats 0; sd-scripts skips it without a word"
    assert found[3].message.startswith("2 image file(s) lie directly in the train root")
    assert "'/d/train/10_<class tokens>'" in found[3].hint


def test_root_images_beside_subsets_are_a_warning():
    rs = RootScan("/d/reg", True, subsets=[SubsetConfig("/d/reg/1_a", True, 1, "a")], root_images=1)
    (f,) = root_findings(rs)
    assert (f.code, f.severity) == ("RA003", Severity.WARNING)
    assert "in the reg root" in f.message


def test_listing_findings():
    listing = FolderListing(path="/d/1_x", unread=[
        UnreadEntry("/d/1_x/n", "n", IgnoreReason.NESTED_DIR, images=4),
        UnreadEntry("/d/1_x/e", "e", IgnoreReason.NESTED_DIR, images=0),
        UnreadEntry("/d/1_x/c.Png", "c.Png", IgnoreReason.EXTENSION_CASE, ext=".Png"),
    ], unsupported=["b.tiff", "a.gif"], hidden_images=["/d/1_x/.z.png", "/d/1_x/.a.png"])
    found = listing_findings(listing)
    assert [(f.code, f.path) for f in found] == [("RA004", "/d/1_x/n"), ("RA006", "/d/1_x/c.Png"),
                                                 ("RA007", "/d/1_x"), ("RA005", "/d/1_x")]
    assert found[0].message == "4 images in nested folder 'n' are never read (subsets are not recursive)"
    assert found[1].message == "'c.Png' is never used: sd-scripts matches '.png' and '.PNG' but not '.Png' on Linux and macOS"
    assert found[1].hint == "Rename it to 'c.png'."
    assert found[2].message == "2 files with extensions .gif, .tiff are ignored (a.gif, b.tiff)"
    assert [dict(i)["path"] for i in found[2].images] == ["/d/1_x/a.gif", "/d/1_x/b.tiff"]
    assert found[3].message == "2 hidden image files or folders are ignored (.a.png, .z.png)"
    assert [dict(i)["path"] for i in found[3].images] == ["/d/1_x/.a.png", "/d/1_x/.z.png"]


def test_listing_that_fails():
    (f,) = listing_findings(FolderListing(readable=False, path="/d/1_x", error="Permission denied"))
    assert (f.code, f.path) == ("RA013", "/d/1_x")
    assert f.message == "subset folder cannot be listed (Permission denied); sd-scripts sees no image in it"


def test_a_clean_listing_says_nothing():
    assert listing_findings(FolderListing(images=["/d/1_x/a.png"], path="/d/1_x")) == []
