"""sdscripts.subsets: which configured subsets sd-scripts keeps, in DreamBoothDataset.__init__'s
order of checks, and why it skips the others, as facts (no findings)."""

from __future__ import annotations

import os

from regaudit.model import DatasetParams, IgnoreReason, SubsetConfig
from regaudit.sdscripts.config import DatasetSpec
from regaudit.sdscripts.subsets import SPLIT_ERROR, Skip, build_stops, decide_subsets, folders_to_list, list_folders
from tests.conftest import make_image


def _spec(*subsets: SubsetConfig, split: float = 0.0, seed: int | None = None) -> DatasetSpec:
    return DatasetSpec(0, DatasetParams(validation_split=split, validation_seed=seed), list(subsets))


def _sc(folder, repeats: int = 1, is_reg: bool = False, **kw) -> SubsetConfig:
    return SubsetConfig(str(folder), is_reg, repeats, None, **kw)


def _names(paths) -> list[str]:
    return [os.path.basename(p) for p in paths]


def test_each_subset_kept_or_skipped_in_order(tmp_path):
    a, empty, missing, b = tmp_path / "a", tmp_path / "empty", tmp_path / "missing", tmp_path / "b"
    for name in ("2.png", "1.png"):
        make_image(a / name)
    make_image(b / "x.jpg")
    empty.mkdir()
    spec = _spec(_sc(a, 0), _sc(a, 3), _sc(a, 1, True), _sc(empty), _sc(missing), _sc(b, 2, True))
    fates = decide_subsets(spec)
    assert [(os.path.basename(f.config.image_dir), f.skip) for f in fates] == [
        ("a", Skip.REPEATS_BELOW_ONE), ("a", None), ("a", Skip.DUPLICATE), ("empty", Skip.NO_IMAGES),
        ("missing", Skip.NO_IMAGES), ("b", None)]
    assert [f.kept for f in fates] == [False, True, False, False, False, True]
    assert [f.listing is None for f in fates] == [True, False, True, False, False, False]
    assert _names(fates[1].paths) == ["1.png", "2.png"]
    assert (fates[1].held_out, fates[1].split, fates[1].sizes, fates[1].cache_error) == ([], False, None, None)
    assert (fates[3].why_empty, fates[4].why_empty) == ("no image files found", "not a readable directory")
    assert [[(i.path, i.kind, i.reason, i.message) for i in f.ignored()] for f in fates] == [
        [(str(a), "dir", IgnoreReason.REPEATS_BELOW_ONE, "num_repeats 0 < 1: the subset is skipped")],
        [],
        [(str(a), "dir", IgnoreReason.DUPLICATE_SUBSET,
          "the same folder is already a subset of this dataset; this reg entry is ignored")],
        [(str(empty), "dir", IgnoreReason.NO_IMAGES,
          "no image files found: sd-scripts ignores the subset ('no images found')")],
        [(str(missing), "dir", IgnoreReason.NO_IMAGES,
          "not a readable directory: sd-scripts ignores the subset ('no images found')")],
        [],
    ]


def test_a_folder_without_images_is_no_duplicate(tmp_path):
    """Only a kept subset's image_dir makes a later one a duplicate; the raw string is compared."""
    a = tmp_path / "a"
    a.mkdir()
    spec = _spec(_sc(a), _sc(a), _sc(str(a) + "/"))
    assert [f.skip for f in decide_subsets(spec)] == [Skip.NO_IMAGES, Skip.NO_IMAGES, Skip.NO_IMAGES]
    make_image(a / "1.png")
    assert [f.skip for f in decide_subsets(spec)] == [None, Skip.DUPLICATE, None]


def test_validation_split_holds_images_of_train_subsets_out(tmp_path):
    train, reg, empty_train, empty_reg = (tmp_path / n for n in ("train", "reg", "empty_train", "empty_reg"))
    for k in range(4):
        make_image(train / f"{k}.png")
        make_image(reg / f"{k}.png")
    empty_train.mkdir()
    empty_reg.mkdir()
    spec = _spec(_sc(train), _sc(reg, is_reg=True), _sc(empty_train), _sc(empty_reg, is_reg=True),
                 _sc(tmp_path / "missing"), split=0.25, seed=1)
    fates = decide_subsets(spec)
    assert [f.skip for f in fates] == [None, None, Skip.EMPTY_SPLIT, Skip.NO_IMAGES, Skip.NO_IMAGES]
    assert [f.split for f in fates] == [True, False, False, False, False]
    # random.Random(1).shuffle of the 4 sorted paths gives 3, 0, 2, 1: the first ceil(4 * 0.75) = 3 trained
    assert (_names(fates[0].paths), _names(fates[0].held_out)) == (["3.png", "0.png", "2.png"], ["1.png"])
    assert (_names(fates[1].paths), fates[1].held_out) == (["0.png", "1.png", "2.png", "3.png"], [])
    assert [(i.path, i.reason) for i in fates[0].ignored()] == [(str(train / "1.png"), IgnoreReason.VALIDATION)]
    assert [(i.path, i.reason, i.message) for i in fates[2].ignored()] == [
        (str(empty_train), IgnoreReason.NO_IMAGES, "no image files found")]
    assert SPLIT_ERROR.startswith("ValueError: not enough values to unpack (expected 2, got 0)")


def test_latent_cache_sizes_and_the_names_sd_scripts_fails_on(tmp_path):
    good, bad = tmp_path / "good", tmp_path / "bad"
    for name in ("a.png", "b.png"):
        make_image(good / name)
        make_image(bad / name)
    (good / "a_0512x0768_sd.npz").write_bytes(b"")
    (bad / "b_big_sd.npz").write_bytes(b"")
    fates = decide_subsets(_spec(_sc(good), _sc(bad)))
    assert (fates[0].sizes, fates[0].cache_error) == ([(512, 768), None], None)
    assert fates[1].sizes is None
    assert (fates[1].cache_error.npz_path, str(fates[1].cache_error)) == (
        str(bad / "b_big_sd.npz"), "ValueError: not enough values to unpack (expected 2, got 1)")
    # no caching strategy, or cache_info on: no name is read
    assert [(f.sizes, f.cache_error) for f in decide_subsets(_spec(_sc(good), _sc(bad)), latents_suffix=None)] == \
        [(None, None), (None, None)]
    assert decide_subsets(_spec(_sc(bad, cache_info=True)))[0].cache_error is None
    # another suffix: these files are not its caches
    assert decide_subsets(_spec(_sc(good)), latents_suffix="_sdxl.npz")[0].sizes == [None, None]


def test_a_skipped_subset_s_cache_names_are_read_by_the_validation_dataset(tmp_path):
    bad = tmp_path / "bad"
    make_image(bad / "b.png")
    (bad / "b_big_sd.npz").write_bytes(b"")
    [fate] = decide_subsets(_spec(_sc(bad, 0), split=0.5))
    assert (fate.skip, str(fate.cache_error)) == (Skip.REPEATS_BELOW_ONE,
                                                  "ValueError: not enough values to unpack (expected 2, got 1)")
    [fate] = decide_subsets(_spec(_sc(bad, 0)))  # no validation split: nothing reads it
    assert (fate.skip, fate.cache_error) == (Skip.REPEATS_BELOW_ONE, None)


def test_the_folders_listed_and_a_listing_given(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    make_image(a / "1.png")
    make_image(b / "1.png")
    specs = [_spec(_sc(a, 0), _sc(b), _sc(b), _sc(a, caption_extension=".txt"))]
    assert folders_to_list(specs) == [(str(b), ".caption"), (str(a), ".txt")]
    listed = list_folders(specs)
    assert list(listed) == [(str(b), ".caption"), (str(a), ".txt")]
    fates = decide_subsets(specs[0], listed)
    assert fates[1].listing is listed[(str(b), ".caption")]
    assert [f.skip for f in fates] == [Skip.REPEATS_BELOW_ONE, None, Skip.DUPLICATE, None]


def test_every_image_held_out(tmp_path):
    train = tmp_path / "train"
    make_image(train / "1.png")
    [fate] = decide_subsets(_spec(_sc(train), split=1.0, seed=0))
    assert (fate.skip, fate.kept, fate.split, fate.paths, _names(fate.held_out)) == (
        Skip.ALL_HELD_OUT, False, True, [], ["1.png"])
    assert [(i.path, i.kind, i.reason) for i in fate.ignored()] == [
        (str(train / "1.png"), "file", IgnoreReason.VALIDATION), (str(train), "dir", IgnoreReason.NO_IMAGES)]


def test_where_building_stops(tmp_path):
    bad, empty = tmp_path / "bad", tmp_path / "empty"
    make_image(bad / "b.png")
    (bad / "b_big_sd.npz").write_bytes(b"")
    empty.mkdir()
    fates = decide_subsets(_spec(_sc(bad, 0), _sc(empty), _sc(bad), split=0.5, seed=0))
    assert [f.skip for f in fates] == [Skip.REPEATS_BELOW_ONE, Skip.EMPTY_SPLIT, None]
    assert build_stops(fates) == (
        ((str(bad), "ValueError: not enough values to unpack (expected 2, got 1)"),),
        ((str(empty), SPLIT_ERROR),))
    assert str(fates[2].cache_error) == "ValueError: not enough values to unpack (expected 2, got 1)"
