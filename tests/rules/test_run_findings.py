"""rules/run.py: facts of a run in, findings out."""

from __future__ import annotations

from types import SimpleNamespace

from regaudit.model import Crash
from regaudit.rules import run as rules
from regaudit.sdscripts import trainers
from regaudit.sdscripts.plan import BalanceOptions, DatasetPlan, Reason, RunFacts, Stop
from regaudit.sdscripts.registration import RegBalance


def subset(path, is_reg, repeats=1, images=0):
    return SimpleNamespace(abs_path=path, config=SimpleNamespace(is_reg=is_reg), num_repeats=repeats,
                           images=tuple(range(images)))


def dataset(num_train, num_reg, reg_images, used, reg, unused=(), order_dependent=False, subsets=None, limits=None,
            params=None):
    subsets = subsets or (subset("/t/10_dog", False), subset("/r/1_dog", True))
    return DatasetPlan(0, params, num_train, num_reg, used, reg_images, (), tuple(unused), reg, order_dependent, (),
                       0, subsets, limits)


def test_every_reason_has_a_hint():
    assert set(rules.HINTS) == set(Reason)


def test_a_stop_is_explained_with_its_crash_and_its_fix():
    opts = BalanceOptions(trainer=trainers.get("flux_train_network"))
    stop = Stop(Crash("start", "RA062", "AssertionError", "/d", "bucket_reso_steps 48 ..."),
                Reason.BUCKET_STEPS_MULTIPLE, (32,))
    f = rules.stop_finding(stop, opts)
    assert (f.code, f.path, f.message) == ("RA062", "/d", "bucket_reso_steps 48 ...")
    assert f.hint == "Use --bucket_reso_steps 64 (or a multiple of it)."  # the lcm of the trainer's 64 and 32
    aug = Stop(Crash("start", "RA079", "AssertionError", "/s", "m"), Reason.CACHED_LATENTS_AUGMENT,
               ("color_aug", "random_crop"))
    assert rules.stop_finding(aug, opts).hint == "Turn off color_aug and random_crop, or do not cache latents."
    empty = Stop(Crash("start", "RA065", "ValueError", "/d", "m"), Reason.EMPTY_DATALOADER)
    assert rules.stop_finding(empty, opts).hint == rules.rule("RA065").hint


def test_reg_loop_findings():
    # 30 train samples, 4 reg images at 1 repeat: repeated 6-7 times beyond their folder's repeats
    p = dataset(30, 4, 4, 30, RegBalance(4, 6, 2, 0))
    assert [(f.code, f.path, f.message) for f in rules.reg_findings(p, "/")] == [
        ("RA073", "/r/1_dog", "only 4 reg images for 30 train samples: each is repeated 6-7 times beyond its "
                              "folder's repeats (30 reg samples)")]
    unused = [SimpleNamespace(abs_path=f"/r/1_dog/{i}.png") for i in range(3)]
    p = dataset(2, 5, 5, 2, RegBalance(2, 0, 0, 0), unused)
    (f,) = rules.reg_findings(p, "/")
    assert (f.code, f.path) == ("RA066", "/r/1_dog")
    assert f.message == "reg samples 5 > train samples 2: 3 of 5 reg images are never used (the first 2 in " \
                        "listing order are): 0.png, 1.png, 2.png"
    assert f.to_json()["images"] == [{"path": f"/r/1_dog/{i}.png"} for i in range(3)]
    # the hint given the current repeats: never "lower the repeats to 1" when they are 1
    p = dataset(2, 5, 5, 2, RegBalance(2, 0, 0, 0), unused,
                subsets=(subset("/t/1_sks", False, 1, 2), subset("/r/1_dog", True, 1, 5)))
    (f,) = rules.reg_findings(p, "/")
    assert f.hint == ("The reg repeats are already 1: add train images or repeats: from 5 train samples (now 2) every "
                      "reg image is used; or remove the 3 unused reg images: the run is the same without them.")
    # reg '2_dog' of 3 and 3 train samples: a.png x2, b.png x2 (4 >= 3) and c.png unused; at repeats 1 the loop
    # reaches all 3; with 5 train samples it reaches c.png (2 + 2 < 5): the oracle (train_network.py's dataset code)
    # registers a.png, b.png at 2 and leaves c.png out with 4 train samples, registers all three with 5
    p = dataset(3, 6, 3, 4, RegBalance(2, 0, 0, 1), unused[:1],
                subsets=(subset("/t/1_sks", False, 1, 3), subset("/r/2_dog", True, 2, 3)))
    (f, _) = rules.reg_findings(p, "/")
    assert f.hint == ("Set the reg folders' repeats to 1 (now 2): every reg image is then used; add train images or "
                      "repeats: from 5 train samples (now 3) every reg image is used; or remove the 1 unused reg "
                      "images: the run is the same without them.")
    # 2 reg folders of 4 images at repeats 3 for 5 train samples: at repeats 1, 3 of the 8 stay unused
    p = dataset(5, 24, 8, 6, RegBalance(2, 0, 0, 1), unused[:1] * 6,
                subsets=(subset("/t/1_sks", False, 1, 5), subset("/r/3_dog", True, 3, 4), subset("/r/3_cat", True, 3, 4)))
    assert rules.reg_findings(p, "/")[0].hint.startswith("Set the reg folders' repeats to 1 (now 3): 3 of them stay "
                                                         "unused; add train images or repeats: from 22 train samples")
    p = dataset(6, 0, 0, 0, None, subsets=(subset("/t/2_dog", False),))
    assert [(f.code, f.message) for f in rules.reg_findings(p, "/")] == [("RA069",
                                                                         "dataset 0 has no regularization images")]
    p = dataset(0, 8, 8, 0, None, subsets=(subset("/r/8_dog", True),))
    assert [f.code for f in rules.reg_findings(p, "/")] == ["RA070"]


def test_rounded_bucket_limits():
    params = SimpleNamespace(min_bucket_reso=250, max_bucket_reso=1000)
    p = dataset(1, 0, 0, 0, None, limits=(192, 1024, 64), params=params)
    (f,) = rules.bucket_limit_findings(p, "/")
    assert f.code == "RA072" and f.message.endswith("bucket_reso_steps 64; sd-scripts uses 192/1024")
    p = dataset(1, 0, 0, 0, None, limits=(256, 1024, 64), params=SimpleNamespace(min_bucket_reso=256,
                                                                                 max_bucket_reso=1024))
    assert rules.bucket_limit_findings(p, "/") == []


def test_reg_samples_halve_the_epochs_of_fixed_steps():
    facts = RunFacts((), BalanceOptions(), "/d", (), None, 30, 30, 1600, 54, reg_samples=30, train_samples=30,
                     train_only_batches=15, train_only_steps=15)
    (f,) = rules.findings(facts)
    assert (f.code, f.path) == ("RA075", "/d")
    assert f.message == "30 reg samples join 30 train samples: 30 batches per epoch instead of 15, so " \
                        "max_train_steps 1600 covers 53.33 epochs instead of 106.67"
    assert rules.findings(RunFacts((), BalanceOptions(max_train_epochs=2), "/d", (), None, 30, 30, 60, 2,
                                   reg_samples=30)) == []


def test_no_data_and_debug_dataset():
    assert [f.code for f in rules.findings(RunFacts((), BalanceOptions(), "/d", (), None, 0, no_data=True))] == ["RA065"]
    debug = RunFacts((), BalanceOptions(), "/d", (), None, 0, no_data=True, returned_early="debug_dataset")
    assert [f.code for f in rules.findings(debug)] == ["RA090"]
