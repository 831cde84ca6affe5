"""Spec §4-6: registration, the reg balancing loop, buckets, batches and steps. Every expected
number below was worked out by hand from the spec."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from regaudit.views.balance import BalanceOptions, plan, reg_repeats
from regaudit.sdscripts.buckets import BucketCrash, Bucketer, adjust_min_max, predefined_resolutions
from regaudit.sdscripts.config import TrainingArgs
from regaudit.views.scan import load_specs, scan
from tests.conftest import build_tree, write_toml


def run(train=None, reg=None, config=None, opts=BalanceOptions(), **args):
    args.setdefault("resolution", (512, 512))
    specs = load_specs(train, reg, config, TrainingArgs(**args))
    return plan(scan(specs, jobs=1, latents_suffix=opts.trainer.cache_suffix), opts)


def reg_counts(p, ds=0):
    return [(os.path.basename(r.record.path), r.num_repeats) for r in p.datasets[ds].images if r.is_reg]


# --- the loop, literally as the spec words it, to check the closed form against
def simulate(base, target):
    reps = [0] * len(base)
    if not base or sum(base) == 0:
        return reps
    n, first = 0, True
    while n < target:
        for i, k in enumerate(base):
            if first:
                reps[i] = k
                n += k
            else:
                reps[i] += 1
                n += 1
            if n >= target:
                break
        first = False
    return reps


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(1, 12), min_size=0, max_size=25), st.integers(0, 400))
def test_closed_form_equals_the_loop(base, target):
    got, info = reg_repeats(base, target)
    assert got == simulate(base, target)
    if base and target > 0:
        assert sum(got) >= target  # the loop only stops once n >= target
        used = [k for k in got if k]
        assert got[: len(used)] == used and all(k == 0 for k in got[len(used):])  # a prefix is used
        if info.extra or info.remainder:
            extras = [g - b for g, b in zip(got, base)]
            assert max(extras) - min(extras) <= 1 and sum(got) == target  # round-robin, no overshoot
        else:
            assert sum(got) - target < got[info.prefix - 1]  # overshoot is less than one folder-repeat


def test_overshoot_31_train_vs_3_dog(tmp_path):
    # 31 train samples against reg '3_dog': 11 images x 3 = 33 reg samples
    build_tree(tmp_path, {"train/31_x": 1, "reg/3_dog": 20}, size=(8, 8))
    p = run(str(tmp_path / "train"), str(tmp_path / "reg"))
    d = p.datasets[0]
    assert (d.num_train_images, d.num_reg_images, d.reg_samples_used) == (31, 60, 33)
    assert reg_counts(p) == [(f"img{i:04d}.png", 3) for i in range(11)]
    assert len(d.unused_reg) == 9 and d.reg.overshoot == 2
    assert {f.code for f in p.findings} >= {"RA066", "RA068"}


def test_first_five_of_hundred_reg_images_used_ten_times(tmp_path):
    build_tree(tmp_path, {"train/10_sks dog": 5, "reg/10_dog": 100}, size=(8, 8))
    p = run(str(tmp_path / "train"), str(tmp_path / "reg"))
    d = p.datasets[0]
    assert (d.num_train_images, d.num_reg_images, d.reg_samples_used) == (50, 1000, 50)
    assert reg_counts(p) == [(f"img{i:04d}.png", 10) for i in range(5)]
    assert len(d.unused_reg) == 95
    assert os.path.basename(d.unused_reg[0].path) == "img0005.png"


def test_thirty_train_samples_four_reg_images_8_8_7_7(tmp_path):
    build_tree(tmp_path, {"train/30_x": 1, "reg/1_dog": 4}, size=(8, 8))
    p = run(str(tmp_path / "train"), str(tmp_path / "reg"))
    assert [k for _, k in reg_counts(p)] == [8, 8, 7, 7]
    assert p.datasets[0].reg_samples_used == 30 and not p.datasets[0].unused_reg


def _order_config(tmp_path, first, second):
    build_tree(tmp_path, {"train/1_x": 250, "reg/1_dog": 200, "reg/1_cat": 300}, size=(8, 8))
    return write_toml(tmp_path / f"{first}.toml", f"""
[general]
resolution = 512
[[datasets]]
  [[datasets.subsets]]
  image_dir = '{tmp_path}/train/1_x'
  class_tokens = 'x'
  [[datasets.subsets]]
  image_dir = '{tmp_path}/reg/1_{first}'
  is_reg = true
  [[datasets.subsets]]
  image_dir = '{tmp_path}/reg/1_{second}'
  is_reg = true
""")


def test_reg_prefix_depends_on_folder_order(tmp_path):
    # train 250 samples; reg 1_dog (200) + 1_cat (300): dog first -> 200 dog + 50 cat; cat first -> 250 cat
    p = run(config=_order_config(tmp_path, "dog", "cat"))
    used = [r for r in p.datasets[0].images if r.is_reg]
    assert sum(1 for r in used if "1_dog" in r.record.path) == 200
    assert sum(1 for r in used if "1_cat" in r.record.path) == 50
    assert p.datasets[0].order_dependent and "RA067" in {f.code for f in p.findings}
    p2 = run(config=_order_config(tmp_path, "cat", "dog"))
    used2 = [r for r in p2.datasets[0].images if r.is_reg]
    assert (sum(1 for r in used2 if "1_cat" in r.record.path), sum(1 for r in used2 if "1_dog" in r.record.path)) \
        == (250, 0)


def test_no_train_images_registers_no_reg_image(tmp_path):
    build_tree(tmp_path, {"reg/1_dog": 3}, size=(8, 8))
    (tmp_path / "train").mkdir()
    p = run(str(tmp_path / "train"), str(tmp_path / "reg"))
    assert p.datasets[0].images == () and p.datasets[0].num_reg_images == 3
    # "No data found" is a clean stop in sd-scripts, not a crash
    assert p.no_data and not p.would_crash and {"RA065", "RA070"} <= {f.code for f in p.findings}


def test_reg_only_dataset_block_contributes_nothing_and_lengths_add(tmp_path):
    build_tree(tmp_path, {"a/2_x": 3, "b/1_y": 4, "r/1_dog": 5}, size=(64, 64))
    cfg = write_toml(tmp_path / "c.toml", f"""
[general]
resolution = 64
batch_size = 2
[[datasets]]
  [[datasets.subsets]]
  image_dir = '{tmp_path}/a/2_x'
  num_repeats = 2
[[datasets]]
  batch_size = 1
  [[datasets.subsets]]
  image_dir = '{tmp_path}/b/1_y'
[[datasets]]
  [[datasets.subsets]]
  image_dir = '{tmp_path}/r/1_dog'
  is_reg = true
""")
    p = run(config=cfg, opts=BalanceOptions(max_train_epochs=3))
    assert [d.batches for d in p.datasets] == [3, 4, 0]  # ceil(6/2), 4/1, nothing
    assert p.batches_per_epoch == 7 and p.max_train_steps == 21
    assert "RA070" in {f.code for f in p.findings}


def test_predefined_buckets_at_512():
    assert predefined_resolutions((512, 512), 256, 1024, 64) == (
        (256, 832), (256, 896), (256, 960), (256, 1024), (320, 704), (320, 768), (384, 640), (448, 576),
        (512, 512), (576, 448), (640, 384), (704, 320), (768, 320), (832, 256), (896, 256), (960, 256),
        (1024, 256))


def test_bucket_selection_and_planned_size():
    b = Bucketer((512, 512), True, False, 256, 1024, 64)
    assert b.select(1000, 500) == ((704, 320), (704, 352))  # aspect 2.0: nearest is 704/320 = 2.2
    assert b.select(512, 512) == ((512, 512), (512, 512))
    assert b.select(640, 384) == ((640, 384), (640, 384))  # exactly a bucket's size
    single = Bucketer((512, 768), False, False, 256, 1024, 64)
    assert single.select(1000, 1000) == ((512, 768), (768, 768))  # cover W x H: s = H/h


def test_no_upscale_2000x1000_at_512_is_640x320():
    b = Bucketer((512, 512), True, True, 256, 1024, 64)
    # rw = sqrt(512*512*2) = 724.08 -> A: 704 x R(352) = 704x320 (ar 2.2); B: R(362.04) = 320 -> 640x320 (ar 2.0)
    assert b.select(2000, 1000) == ((640, 320), (640, 320))
    assert b.select(300, 200) == ((256, 192), (300, 200))  # small: not resized, sides rounded down


def test_no_upscale_crashes():
    b = Bucketer((512, 512), True, True, 256, 1024, 64)
    for size in ((300, 50), (9000, 40)):
        try:
            b.select(*size)
        except BucketCrash:
            continue
        raise AssertionError(f"{size} should crash")
    assert b.select(50, 300)[0] == (0, 256)  # a width of 0 does not crash


def test_min_max_rounding():
    assert adjust_min_max(300, 1000, 64) == (256, 1024)
    assert adjust_min_max(256, 1024, 64) == (256, 1024)


def test_steps_epochs_and_accumulation(tmp_path):
    build_tree(tmp_path, {"train/10_sks dog": 5, "reg/1_dog": 100}, size=(512, 512))
    t, r = str(tmp_path / "train"), str(tmp_path / "reg")
    p = run(t, r, enable_bucket=True, train_batch_size=2)
    assert p.datasets[0].buckets[0].resolution == (512, 512)
    assert (p.datasets[0].buckets[0].train, p.datasets[0].buckets[0].reg) == (50, 50)
    assert p.batches_per_epoch == 50 and p.max_train_steps == 1600 and p.epochs == 32
    assert p.gui_estimate == 50  # ceil(50 / 2 x 1 x 2)
    p = run(t, r, enable_bucket=True, train_batch_size=2,
            opts=BalanceOptions(max_train_epochs=10, gradient_accumulation_steps=3))
    assert p.max_train_steps == 170 and p.steps_per_epoch == 17  # 10 x ceil(50/3)
    assert abs(p.reg_loss_share - 0.5) < 1e-12
    p = run(t, r, enable_bucket=True, opts=BalanceOptions(prior_loss_weight=0.25))
    assert abs(p.reg_loss_share - 12.5 / 62.5) < 1e-12


def test_batches_never_mix_buckets(tmp_path):
    build_tree(tmp_path, {"train/3_a": 1}, size=(1000, 500))
    build_tree(tmp_path, {"train/1_b": 2}, size=(512, 512))
    p = run(str(tmp_path / "train"), enable_bucket=True, train_batch_size=2)
    assert [(b.resolution, b.train, b.batches) for b in p.datasets[0].buckets] == [
        ((512, 512), 2, 1), ((704, 320), 3, 2)]
    assert p.batches_per_epoch == 3


def test_crashes_are_findings_not_numbers(tmp_path):
    build_tree(tmp_path, {"train/1_x": 2}, size=(64, 64))
    t = str(tmp_path / "train")
    p = run(t, resolution=None)
    assert p.would_crash and "RA060" in {f.code for f in p.findings}
    p = run(t, enable_bucket=True, min_bucket_reso=640)
    assert p.would_crash and "RA061" in {f.code for f in p.findings}
    p = run(t, enable_bucket=True, bucket_reso_steps=32)
    assert p.would_crash and "RA062" in {f.code for f in p.findings}
    (tmp_path / "train" / "1_x" / "bad.png").write_bytes(b"")
    p = run(t, enable_bucket=True)
    assert p.would_crash and "RA063" in {f.code for f in p.findings}
    (tmp_path / "train" / "1_x" / "bad.png").unlink()
    (tmp_path / "train" / "1_x" / "img0000.caption").write_bytes(b"")
    p = run(t, enable_bucket=True)
    assert p.would_crash and "RA020" in {f.code for f in p.findings}


def test_unused_corrupt_reg_image_does_not_crash(tmp_path):
    # sizes are read only for registered images: an unused broken reg image is harmless
    build_tree(tmp_path, {"train/1_x": 1, "reg/1_dog": 2}, size=(64, 64))
    (tmp_path / "reg" / "1_dog" / "zzz.png").write_bytes(b"")
    p = run(str(tmp_path / "train"), str(tmp_path / "reg"), enable_bucket=True)
    assert not p.would_crash and p.batches_per_epoch == 2


def test_unbucketed_sizes_must_match(tmp_path):
    build_tree(tmp_path, {"train/1_x": 1}, size=(300, 300))
    p = run(str(tmp_path / "train"))
    assert "RA071" in {f.code for f in p.findings}
    assert "RA071" not in {f.code for f in run(str(tmp_path / "train"),
                                               opts=BalanceOptions(cache_latents=True)).findings}


def test_latent_cache_file_names_set_sizes_by_prefix(tmp_path):
    # spec §5: 'c.png' takes 'cd_0768x0320_sd.npz' (prefix match); SDXL trainers read '_sdxl.npz'
    d = tmp_path / "train" / "1_x"
    build_tree(tmp_path, {"train/1_x": 0})
    d.mkdir(parents=True, exist_ok=True)
    from tests.conftest import make_image

    make_image(d / "c.png", size=(512, 512))
    make_image(d / "e.png", size=(512, 512))
    (d / "cd_0768x0320_sd.npz").write_bytes(b"")
    (d / "e_0320x0768_sdxl.npz").write_bytes(b"")
    from regaudit.sdscripts import trainers

    p = run(str(tmp_path / "train"), enable_bucket=True)
    got = {os.path.basename(r.record.path): r.bucket for r in p.datasets[0].images}
    assert got == {"c.png": (768, 320), "e.png": (512, 512)}
    assert "RA051" in {f.code for f in p.findings}
    p = run(str(tmp_path / "train"), enable_bucket=True, bucket_reso_steps=64,
            opts=BalanceOptions(trainer=trainers.get("sdxl_train_network")))
    got = {os.path.basename(r.record.path): r.bucket for r in p.datasets[0].images}
    assert got == {"c.png": (512, 512), "e.png": (320, 768)}


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 6000), st.integers(1, 6000), st.sampled_from([(512, 512), (768, 512), (1024, 1024)]))
def test_bucket_invariants(w, h, res):
    b = Bucketer(res, True, False, 256, 1024 if max(res) <= 1024 else 2048, 64)
    bucket, resized = b.select(w, h)
    assert bucket in b.resos
    assert resized[0] >= bucket[0] - 1 and resized[1] >= bucket[1] - 1  # the resize covers the bucket
    nu = Bucketer(res, True, True, 256, 1024, 64)
    try:
        bucket, resized = nu.select(w, h)
    except BucketCrash:
        return
    assert bucket[0] % 64 == 0 and bucket[1] % 64 == 0
    assert bucket[0] <= resized[0] <= w and bucket[1] <= resized[1] <= h  # never upscaled
    assert resized[0] * resized[1] <= res[0] * res[1] * 1.02 or (resized == (w, h))
