"""A hostile policy file: a FIFO never blocks, deep nesting and absurd numbers are one line and
exit 2 naming the file and the key."""

from __future__ import annotations

import os

import pytest

from tests import platforms
from tests.hostile_fixtures import cli, one_line_error, run
from tests.hostile_fixtures import ds  # noqa: F401 (a fixture)


@platforms.fifos
def test_policy_fifo_never_blocks(ds):
    os.mkfifo(ds / "p.yaml")
    res = cli("check", "--train", "train", "--policy", "p.yaml", cwd=ds, timeout=60)
    assert res.returncode == 2 and b"regular file" in res.stderr
    os.mkfifo(ds / "regaudit.yaml")  # the default policy file
    res = cli("check", "--train", "train", cwd=ds, timeout=60)
    assert res.returncode == 2 and b"regaudit.yaml" in res.stderr


@pytest.mark.parametrize("text", ["training: " + "[" * 5000 + "]" * 5000,
                                  "rules: " + "{a: " * 200 + "1" + "}" * 200,
                                  "a: &a [*a]\n"])
def test_deeply_nested_policy_is_one_line(capsys, ds, text):
    (ds / "p.yaml").write_text(text)
    code, _, err = run(capsys, "check", "--train", "train", "--policy", "p.yaml")
    one_line_error(code, err, "p.yaml")


@pytest.mark.parametrize("policy, needle", [
    ("training: {resolution: 0}", "training.resolution: 0 is outside"),
    ("training: {resolution: -512}", "outside"),
    ("training: {resolution: 1000000000}", "outside"),
    ("training: {resolution: [512, 0]}", "outside"),
    ("training: {resolution: [512, [1]]}", "integers"),
    ("training: {resolution: '7,x'}", "should be N"),
    ("training: {train_batch_size: 0}", "training.train_batch_size: 0 is outside 1..4096"),
    ("training: {max_train_epochs: -1}", "outside"),
    ("training: {bucket_reso_steps: 0}", "outside"),
    ("training: {prior_loss_weight: .nan}", "not a finite number"),
    ("training: {prior_loss_weight: -1}", "outside"),
    ("rules: {near-duplicate: {max-distance: -5}}", "max-distance: -5 is outside 0..32"),
    ("rules: {near-duplicate: {max-distance: 99}}", "outside 0..32"),
    ("rules: {near-duplicate: {hash: md5}}", "not one of phash"),
    # values YAML's own constructors refuse (Python's 4,300-digit limit on int(), a 13th month)
    ("training: {resolution: " + "9" * 100000 + "}", "p.yaml: a value cannot be read as YAML reads it"),
    ("ignore: [2001-13-45]", "p.yaml: a value cannot be read as YAML reads it"),
])
def test_absurd_numbers_in_the_policy(capsys, ds, policy, needle):
    (ds / "p.yaml").write_text(policy + "\n")
    code, _, err = run(capsys, "check", "--train", "train", "--policy", "p.yaml")
    one_line_error(code, err, needle)
