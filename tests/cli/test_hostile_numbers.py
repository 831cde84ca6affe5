"""Numbers on the command line that are no number or absurd (infinite, NaN, huge, negative):
one line and exit 2 naming the option, before they reach int() or range()."""

from __future__ import annotations

import pytest

from tests.hostile_fixtures import one_line_error, run
from tests.hostile_fixtures import ds, ds_captioned  # noqa: F401 (fixtures)


@pytest.mark.parametrize("argv, needle", [
    (["dupes", "train", "--max-distance", "-5"], "--max-distance"),
    (["report", "--train", "train", "--thumb-size", "7"], "--thumb-size"),
])
def test_absurd_numbers_on_the_command_line(capsys, ds, argv, needle):
    code, _, err = run(capsys, *argv)
    one_line_error(code, err, needle)


def test_smoke_refuses_an_untrainable_size_and_bad_numbers(capsys, ds):
    pytest.importorskip("torch")
    code, _, err = run(capsys, "smoke", "--train", "train", "--reg", "reg", "--resolution", "7,9", "--device", "cpu")
    one_line_error(code, err, "multiple of 8")
    for argv, needle in ((["--seed", str(10**30)], "--seed"), (["--huber-c", "0"], "--huber-c"),
                         (["--batch-size", "100000"], "--batch-size")):
        code, _, err = run(capsys, "smoke", "--train", "train", "--reg", "reg", "--resolution", "64",
                           "--device", "cpu", *argv)
        one_line_error(code, err, needle)


@pytest.mark.parametrize("value", ["inf", "1e309", "nan", "-inf"])
def test_token_warmup_step_that_is_no_number(capsys, ds_captioned, value):
    code, _, err = run(capsys, "captions", "train", "--token_warmup_step", value, "--max_train_steps", "100")
    one_line_error(code, err, "token_warmup_step")


def test_token_warmup_step_in_a_dataset_config_that_is_no_number(capsys, ds_captioned):
    cfg = ds_captioned / "ds.toml"
    subset = (ds_captioned / "train" / "10_dog").as_posix()
    cfg.write_text(f"[[datasets]]\n[[datasets.subsets]]\nimage_dir = '{subset}'\ntoken_warmup_step = inf\n")
    for command in ("captions", "scan"):
        code, _, err = run(capsys, command, "--dataset_config", cfg, "--max_train_steps", "100")
        one_line_error(code, err, "token_warmup_step = inf")


def test_a_huge_token_warmup_step_is_a_number(capsys, ds_captioned):
    code, _, err = run(capsys, "captions", "train", "--token_warmup_step", "1e23", "--max_train_steps", "100",
                       "--shuffle_caption")
    assert code == 0, err


@pytest.mark.parametrize("value", ["-1", "nan", "inf", "1e309", "1e23", "0", "1"])
def test_reg_share_is_validated(capsys, ds_captioned, value):
    code, _, err = run(capsys, "balance", "--train_data_dir", "train", "--reg_data_dir", "reg", "--suggest",
                       "--reg-share", value)
    one_line_error(code, err, "--reg-share")


def test_a_valid_reg_share_gives_its_suggestion(capsys, ds_captioned):
    code, out, err = run(capsys, "balance", "--train_data_dir", "train", "--reg_data_dir", "reg", "--suggest",
                         "--reg-share", "0.25", "--json")
    assert code == 0, err
    import json

    assert any(s["goal"] == "reg-share" for s in json.loads(out)["suggestions"])


@pytest.mark.parametrize("value", ["0.9999999999999999", "0.999999999"])
def test_a_reg_share_no_weight_reaches_says_so(capsys, ds_captioned, value):
    # it suggested --prior_loss_weight 9.01e+15, which regaudit itself (and any real run) refuses
    import json

    code, out, err = run(capsys, "balance", "--train_data_dir", "train", "--reg_data_dir", "reg", "--suggest",
                         "--reg-share", value, "--json")
    assert code == 0, err
    share = [s for s in json.loads(out)["suggestions"] if s["goal"] == "reg-share"]
    assert share and share[0]["change"] == "none: no --prior_loss_weight reaches it"
    assert f"a reg share of {value} needs a weight of" in share[0]["result"]


def test_a_reg_share_without_suggest_is_noted(capsys, ds_captioned):
    code, _, err = run(capsys, "balance", "--train_data_dir", "train", "--reg_data_dir", "reg", "--reg-share", "0.5")
    assert code == 0 and "--reg-share is a target for --suggest" in err
