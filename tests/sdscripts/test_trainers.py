"""The trainers registry: one entry per trainer script, carrying its checks and its text encoders."""

from __future__ import annotations

from regaudit.sdscripts import trainers
from regaudit.sdscripts.trainers import Check, EncoderSet, Step


def test_every_trainer_carries_its_encoders_and_checks_as_steps():
    for name, t in trainers.REGISTRY.items():
        assert t.name == name
        assert isinstance(t.encoders, EncoderSet)
        for step in t.before_build + t.after_build:
            assert isinstance(step, Step) and isinstance(step.check, Check)
            assert (step.multiple > 0) == (step.check is Check.BUCKET_STEPS)
    assert trainers.get(trainers.DEFAULT).name == "train_network"


def test_text_encoders_follow_the_trainer_and_v2():
    assert trainers.get("train_network").text_encoders().family == "SD 1.x"
    assert trainers.get("train_network").text_encoders(v2=True).family == "SD 2.x"
    assert trainers.get("fine_tune").text_encoders(v2=True).family == "SD 2.x"
    assert trainers.get("sdxl_train_network").text_encoders(v2=True).family == "SDXL"
    assert trainers.get("sdxl_train_control_net").text_encoders().family == "SDXL"
    assert trainers.get("sd3_train").text_encoders().limit(225) == 75  # --max_token_length is ignored
    assert trainers.get("train_db").text_encoders().limit(150) == 150
    assert trainers.get("lumina_train").text_encoders().limit(None) is None


def test_bucket_step_multiples_in_the_trainers_order():
    assert trainers.get("flux_train_network").bucket_steps_multiples == (64, 32)
    assert trainers.get("flux_train_network").required_multiple == 64
    assert trainers.get("lumina_train_network").bucket_steps_multiples == (64, 16)
    assert trainers.get("train_control_net").required_multiple is None


def test_checks_before_the_build_only_stop():
    # (--debug_dataset's return and "No data found" come after the build, never before it)
    for t in trainers.REGISTRY.values():
        assert not {s.check for s in t.before_build} & {Check.DEBUG_DATASET, Check.NO_DATA}, t.name
