"""rules.build: literal build/start facts in, findings out (RA002, RA008-RA011, RA076-RA078, RA090,
RA091)."""

from __future__ import annotations

from regaudit.model import Crash, DatasetParams, Finding, Severity, Subset, SubsetConfig
from regaudit.rules import build
from regaudit.sdscripts.config import DatasetSpec
from regaudit.sdscripts.latents import CacheNameError
from regaudit.sdscripts.layout import RootScan


def _spec(*roots, caches=()):
    return DatasetSpec(0, DatasetParams(), [s for rs in roots for s in rs.subsets], roots=list(roots),
                       info_caches=list(caches))


def test_missing_roots():
    found = build.spec_findings(_spec(RootScan("/d/t", False, missing="does not exist"),
                                      RootScan("/d/r", True, missing="is not a folder")))
    assert [(f.code, f.severity, f.path) for f in found] == [("RA011", Severity.ERROR, "/d/t"),
                                                             ("RA011", Severity.WARNING, "/d/r")]
    assert found[0].message == "train folder does not exist: sd-scripts finds no subset and stops with 'No data found'"
    assert found[1].message == "reg folder is not a folder: sd-scripts trains without regularization images"
    assert found[1].hint == "Check the --reg_data_dir path, or drop the option if you train without reg images."


def test_roots_without_subsets_and_cache_info():
    found = build.spec_findings(_spec(RootScan("/d/t", False), RootScan("/d/r", True),
                                      caches=["/d/a/metadata_cache.json"]))
    assert [(f.code, f.severity, f.path) for f in found] == [
        ("RA011", Severity.ERROR, "/d/t"),
        ("RA011", Severity.WARNING, "/d/r"), ("RA090", Severity.WARNING, "/d/a/metadata_cache.json")]
    assert found[1].message == ("reg root has no '<repeats>_<class tokens>' subfolder: sd-scripts finds no reg subset "
                                "in it; it trains without regularization images")


def test_subset_skips():
    assert build.repeats_below_one("/d/s", 0).message == "subset has num_repeats 0; sd-scripts skips it"
    f = build.duplicate_subset("/d/s", 2, "reg")
    assert (f.code, f.message) == ("RA009", "folder is configured twice in dataset 2; the later (reg) entry is "
                                            "ignored and the first one is used")
    assert (build.empty_split("/d/s").code, build.empty_split("/d/s").severity) == ("RA008", Severity.ERROR)
    f = build.no_images("/d/s", "not a readable directory")
    assert (f.code, f.severity, f.message) == ("RA008", Severity.WARNING,
                                               "subset has not a readable directory; sd-scripts ignores it")


def test_held_out_with_and_without_seed():
    f = build.held_out("/d/s", 0.3, 5, 7, 2, 42)
    assert (f.code, f.message) == ("RA090", "validation_split 0.3: sd-scripts trains on 5 of this subset's 7 images "
                                            "and holds 2 back (validation_seed 42: the same ones as here)")
    assert "WHICH ones is random" in build.held_out("/d/s", 0.3, 5, 7, 2, None).message


def test_cache_name_failures():
    error = CacheNameError("/d/s/a_0512x0512_sd.npz", ValueError("bad size"))
    f = build.cache_name_failure(error)
    assert (f.code, f.path) == ("RA076", "/d/s/a_0512x0512_sd.npz")
    assert f.message.startswith("sd-scripts reads an image size from this latent cache file name and fails "
                                "(ValueError: bad size)")
    assert build.validation_cache_failure(error).message.startswith("the validation dataset (validation_split)")


def _subset(image_dir, is_reg, n):
    return Subset(SubsetConfig(image_dir, is_reg, 1, "x"), image_dir, (None,) * n)


def test_dataset_without_train_images():
    reg = _subset("/d/r/1_x", True, 3)
    (f,) = build.dataset_findings(_spec(), (reg,), [("/d/r/1_x", [reg])], False, "/cwd")
    assert (f.code, f.severity, f.path) == ("RA011", Severity.ERROR, "/d/r/1_x")
    assert f.message == ("dataset 0 has no train subset with images; its 3 reg images are never used (reg images "
                         "are only drawn to match train samples)")
    (f,) = build.dataset_findings(_spec(), (), [], True, "/cwd")
    assert (f.severity, f.path, f.message) == (Severity.WARNING, "/cwd", "dataset 0 has no train subset with images")
    # a root already said it has no subset: not said twice
    assert build.dataset_findings(_spec(RootScan("/d/t", False)), (), [], False, "/cwd") == []


def test_crash_and_in_json():
    crash = Crash("start", "RA077", "SystemExit", "/cwd", "train_network.py stops on its command line: x")
    f = build.crash_finding(crash)
    assert (f.code, f.path, f.message) == ("RA077", "/cwd", crash.message)
    assert build.in_json("/d/meta.json").path == "/d/meta.json"


def test_unused_reg_images_are_softened():
    broken = Finding("RA040", "x", Severity.ERROR, "/d/r/a.png", "cannot be read", "")
    used = Finding("RA040", "x", Severity.ERROR, "/d/r/b.png", "cannot be read", "")
    out = build.soften_unused_reg([broken, used], {"/d/r/a.png", "/d/r/b.png"}, {"/d/r/b.png"})
    assert out[1] == used
    assert out[0].severity is Severity.WARNING
    assert out[0].message.startswith("cannot be read — but the reg balancing loop does not use this image today")
