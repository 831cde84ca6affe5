"""Any file name (bytes that are not UTF-8, control characters) is carried losslessly in JSON and
shown escaped everywhere else: every format, the report page, error messages."""

from __future__ import annotations

import json
import os
from xml.etree import ElementTree as ET

import pytest

from tests import platforms
from tests.hostile_fixtures import BAD, dupes_cached, hostile_names, one_line_error, run
from tests.hostile_fixtures import ds  # noqa: F401 (a fixture)


@platforms.byte_names
def test_names_that_are_not_utf8_or_hold_control_characters(capsys, ds):
    t = hostile_names(ds)
    cache = ds / "c.sqlite"
    code, out, err = dupes_cached(capsys, cache)
    assert code == 0 and "internal error" not in err
    doc = json.loads(out)
    assert json.loads(dupes_cached(capsys, cache)[1])["hashed"] == 0  # the odd names were cached and found again
    code, out, err = run(capsys, "scan", "--json", "train")
    paths = {os.fsencode(i["path"]) for s in json.loads(out)["subsets"] for i in s["images"]}
    assert os.path.join(os.fsencode(t), BAD) in paths  # lossless: the JSON gives back the bytes
    assert doc["images"] == 8  # the empty images are not hashed
    for argv in (["scan", "--images", "train"], ["dupes", "--train", "train", "--reg", "reg", "--no-cache"],
                 ["check", "--train", "train", "--dupes", "--no-cache"]):
        code, out, err = run(capsys, *argv)
        assert code in (0, 1) and "internal error" not in err
        assert "\x1b" not in out and "\x01" not in out and "\udcff" not in out
    code, out, _ = run(capsys, "scan", "--images", "train")
    assert "train/10_dog/\\xfe.png" in out and "train/10_dog/zero\\x01.png" in out  # in the findings


@platforms.byte_names
@pytest.mark.parametrize("fmt", ["human", "json", "junit", "github"])
def test_every_check_format_takes_any_name(capsys, ds, fmt):
    hostile_names(ds)
    out = ds / "out"
    code, _, err = run(capsys, "check", "--train", "train", "--dupes", "--no-cache", "--format", fmt, "-o", out)
    assert code == 1 and "internal error" not in err  # RA040 for the empty image
    text = out.read_bytes().decode("utf-8")  # valid UTF-8
    if fmt == "json":
        paths = [os.fsencode(f["path"]) for f in json.loads(text)["findings"]]
        assert any(p.endswith(b"zero\x01.png") for p in paths)
    elif fmt == "junit":
        root = ET.fromstring(text.split("\n", 1)[1])
        assert any("zero\\x01.png" in (c.get("name") or "") for c in root.iter("testcase"))
    else:
        assert "\x01" not in text and "\x1b" not in text and "zero\\x01.png" in text


@platforms.byte_names
def test_report_takes_any_name(capsys, ds):
    hostile_names(ds)
    code, _, err = run(capsys, "report", "--train", "train", "--reg", "reg", "--no-cache", "-o", "r.html")
    assert code == 0 and "internal error" not in err
    page = (ds / "r.html").read_text(encoding="utf-8")
    assert "\x1b" not in page and "\\xff.png" in page


def test_display_escapes():
    from regaudit.jsontext import json_text
    from regaudit.render.escape import display

    assert display("a\x1b[2J\x01\udcff\u202e\n.png") == "a\\x1b[2J\\x01\\xff\\u202e\\n.png"
    assert display("plain ü.png") == "plain ü.png"
    assert json.loads(json_text(json.dumps({"p": "\udcff"}, ensure_ascii=False)))["p"] == "\udcff"


def test_names_in_error_messages_are_escaped(capsys, ds):
    code, _, err = run(capsys, "check", "--train", "train", "--policy", "no\x1b[2Jsuch.yaml")
    one_line_error(code, err, "no\\x1b[2Jsuch.yaml")
    assert "\x1b" not in err
