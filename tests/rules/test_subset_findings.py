"""rules.build.subset_findings: literal subset fates (sdscripts.subsets) in, findings out (RA002,
RA008, RA009, RA013, RA076, RA090), in the order sd-scripts meets them."""

from __future__ import annotations

from regaudit.model import DatasetParams, Severity, SubsetConfig
from regaudit.rules import build
from regaudit.sdscripts.config import DatasetSpec
from regaudit.sdscripts.latents import CacheNameError
from regaudit.sdscripts.layout import FolderListing
from regaudit.sdscripts.subsets import Skip, SubsetFate

SC = SubsetConfig("/d/s", False, 2, None)
SPEC = DatasetSpec(3, DatasetParams(validation_split=0.5, validation_seed=7), [SC])


def _found(fate: SubsetFate) -> list[tuple[str, Severity, str, str]]:
    return [(f.code, f.severity, f.path, f.message) for f in build.subset_findings(fate, SPEC)]


def test_skipped_before_listing():
    error = CacheNameError("/d/s/a_x_sd.npz", ValueError("not enough values to unpack (expected 2, got 1)"))
    assert _found(SubsetFate(SubsetConfig("/d/s", False, 0, None), Skip.REPEATS_BELOW_ONE, cache_error=error)) == [
        ("RA002", Severity.WARNING, "/d/s", "subset has num_repeats 0; sd-scripts skips it"),
        ("RA076", Severity.ERROR, "/d/s/a_x_sd.npz",
         "the validation dataset (validation_split) reads this skipped subset's latent cache names too, and this "
         "one fails (ValueError: not enough values to unpack (expected 2, got 1)): sd-scripts stops while building "
         "it")]
    assert _found(SubsetFate(SubsetConfig("/d/s", True, 1, None), Skip.DUPLICATE)) == [
        ("RA009", Severity.WARNING, "/d/s",
         "folder is configured twice in dataset 3; the later (reg) entry is ignored and the first one is used")]


def test_listed_and_skipped():
    assert [f[:2] for f in _found(SubsetFate(SC, Skip.EMPTY_SPLIT, FolderListing(path="/d/s")))] == [
        ("RA008", Severity.ERROR)]
    unreadable = FolderListing(readable=False)
    assert _found(SubsetFate(SC, Skip.NO_IMAGES, unreadable)) == [
        ("RA008", Severity.WARNING, "/d/s", "subset has not a readable directory; sd-scripts ignores it")]
    cannot = FolderListing(path="/d/s", error="Permission denied")
    assert [f[:3] for f in _found(SubsetFate(SC, Skip.NO_IMAGES, cannot))] == [
        ("RA013", Severity.ERROR, "/d/s"), ("RA008", Severity.WARNING, "/d/s")]


def test_the_validation_split_of_a_kept_subset():
    fate = SubsetFate(SC, None, FolderListing(images=["/d/s/a.png", "/d/s/b.png"], path="/d/s"), True,
                      ["/d/s/b.png"], ["/d/s/a.png"])
    assert _found(fate) == [
        ("RA090", Severity.WARNING, "/d/s",
         "validation_split 0.5: sd-scripts trains on 1 of this subset's 2 images and holds 1 back (validation_seed 7: "
         "the same ones as here)")]
    assert _found(SubsetFate(SC, None, FolderListing(images=["/d/s/a.png"], path="/d/s"), False,
                             ["/d/s/a.png"])) == []
