"""The port of a run (sdscripts/run.py, build.py, steps.py, trainer_checks.py): facts with hand-worked
numbers, no findings."""

from __future__ import annotations

from regaudit.sdscripts import trainers
from regaudit.sdscripts.config import TrainingArgs
from regaudit.sdscripts.plan import BalanceOptions, Reason
from regaudit.sdscripts.run import simulate
from regaudit.sdscripts.trainer_checks import HANDLERS
from regaudit.sdscripts.steps import gui_estimate, optimizer_steps, reg_loss_share, steps
from regaudit.sdscripts.trainers import Check
from regaudit.views.scan import load_specs, scan
from tests.conftest import build_tree


def facts(tmp_path, train, reg=None, opts=BalanceOptions(), size=(64, 64), **args):
    args.setdefault("resolution", (64, 64))
    build_tree(tmp_path / "train", train, size)
    if reg:
        build_tree(tmp_path / "reg", reg, size)
    specs = load_specs(str(tmp_path / "train"), str(tmp_path / "reg") if reg else None, None, TrainingArgs(**args))
    return simulate(scan(specs, jobs=1), opts)


def test_every_check_has_a_handler():
    assert set(HANDLERS) == set(Check)


def test_steps_as_every_trainer_counts_them():
    assert steps(10, BalanceOptions(gradient_accumulation_steps=3)) == (4, 1600, 400)
    assert steps(10, BalanceOptions(gradient_accumulation_steps=3, max_train_epochs=3)) == (4, 12, 3)
    assert steps(7, BalanceOptions(num_processes=2)) == (4, 1600, 400)
    assert optimizer_steps(0, BalanceOptions()) == 0 and steps(0, BalanceOptions()) == (0, 1600, 0)


def test_reg_loss_share_follows_the_trainers_weight():
    assert reg_loss_share(30, 10, BalanceOptions(prior_loss_weight=0.5)) == 5 / 35
    assert reg_loss_share(30, 10, BalanceOptions(prior_loss_weight=0.5, trainer=trainers.get("sdxl_train"))) == 0.25
    assert reg_loss_share(0, 0, BalanceOptions()) == 0.0


def test_registration_buckets_batches_and_steps(tmp_path):
    # 3 train images x 10 repeats = 30 samples; 4 reg images x 1 repeat: the loop adds 6 more to
    # each (24 samples) then one more to the first 2 (26 ... no: 30 - 4 = 26 = 6 x 4 + 2)
    f = facts(tmp_path, {"10_dog": 3}, {"1_dog": 4}, train_batch_size=2)
    (p,) = f.datasets
    assert (p.num_train_images, p.num_reg_images, p.reg_image_count, p.reg_samples_used) == (30, 4, 4, 30)
    assert (p.reg.prefix, p.reg.extra, p.reg.remainder, p.reg.overshoot) == (4, 6, 2, 0)
    assert sorted(r.num_repeats for r in p.images if r.is_reg) == [7, 7, 8, 8]
    assert [(b.resolution, b.train, b.reg, b.batches, b.unique_images) for b in p.buckets] == [((64, 64), 30, 30, 30, 7)]
    assert (f.batches_per_epoch, f.steps_per_epoch, f.max_train_steps, f.epochs) == (30, 30, 1600, 54)
    assert (f.train_samples, f.reg_samples, f.train_only_batches, f.train_only_steps) == (30, 30, 15, 15)
    assert f.crash is None and f.stops == () and f.loads == () and f.reg_loss_share == 0.5
    assert f.gui_estimate == gui_estimate(f.datasets, f.options) == 30


def test_unused_reg_images_are_facts(tmp_path):
    f = facts(tmp_path, {"1_dog": 2}, {"1_dog": 5})
    (p,) = f.datasets
    assert len(p.unused_reg) == 3 and p.reg_samples_used == 2 and (p.reg.prefix, p.reg.overshoot) == (2, 0)


def test_a_stop_carries_its_crash_and_reason(tmp_path):
    f = facts(tmp_path, {"2_dog": 2}, resolution=None)
    assert [s.reason for s in f.stops] == [Reason.NO_RESOLUTION]
    assert (f.crash.stage, f.crash.code, f.crash.exception) == ("build", "RA060", "AssertionError")
    assert f.datasets[0].buckets is None and f.batches_per_epoch is None


def test_the_trainers_checks_run_in_its_order(tmp_path):
    opts = BalanceOptions(trainer=trainers.get("sdxl_train_network"))
    f = facts(tmp_path, {"2_dog": 2}, opts=opts, resolution=(512, 512), enable_bucket=True, bucket_reso_steps=48)
    assert [(s.reason, s.detail) for s in f.stops] == [(Reason.BUCKET_STEPS_MULTIPLE, (32,))]
    assert f.crash.stage == "start" and f.if_fixed["batches_per_epoch"] == 4


def test_debug_dataset_returns_before_the_steps(tmp_path):
    f = facts(tmp_path, {"2_dog": 2}, opts=BalanceOptions(debug_dataset=True))
    assert f.returned_early == "debug_dataset" and f.crash is None and f.steps_per_epoch is None
    assert f.batches_per_epoch is None and not f.no_data
