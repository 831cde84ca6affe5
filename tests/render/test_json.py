"""JSON is written by orjson, byte for byte as ``json.dumps(doc, indent=2, ensure_ascii=False)``
(regaudit/jsontext.py): the parts orjson writes otherwise or refuses (lone surrogates, ints beyond 64
bits, NaN, ±Infinity, 1e-9 <= |x| < 1e-4, Enum members, non-str keys) are written by json."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from enum import Enum, IntEnum

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from regaudit import jsontext
from regaudit.jsontext import json_text
from regaudit.jsontext import Rows, dumps, write


def expected(doc) -> str:
    """Today's text: json.dumps, lone surrogates as \\udcXX escapes (jsontext.json_text)."""
    return json_text(json.dumps(doc, indent=2, ensure_ascii=False))


def written(doc) -> str:
    out = io.StringIO()
    write(doc, out)
    return out.getvalue()


class Role(str, Enum):
    TRAIN = "train"


class Level(IntEnum):
    HIGH = 3


ODD = ["\udcff", "caf\udce9.png", "a\"b\\c\n\t\x00\x1f\x7f\u202e\u2028", "日本語の名前.png", "🐕 dog.jpg"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=2**63 - 4, max_value=2**66),
                    st.text(max_size=8), st.floats(), st.sampled_from(ODD),
                    st.sampled_from([1e-05, 3.2e-07, 1e-9, 9.99e-10, 1e-4, 1e16, 1e22, -0.0, float("nan"),
                                     float("inf"), -float("inf"), 5e-324, Role.TRAIN, Level.HIGH]))
keys = st.one_of(st.text(max_size=5), st.sampled_from(ODD), st.integers(), st.integers(min_value=2**64),
                 st.booleans(), st.none(), st.floats(allow_nan=False))
docs = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner, inner),
                                                     st.dictionaries(keys, inner, max_size=4)), max_leaves=25)


@settings(max_examples=300, deadline=None)
@given(docs)
def test_same_text_as_the_standard_library(doc):
    assert dumps(doc) == expected(doc)


def test_representative_documents():
    """Non-ASCII and undecodable file names (as os.fsdecode gives them), int keys, nested empties,
    str-Enum values, tuples, floats of every kind, a huge int."""
    doc = {
        "schema_version": 1,
        "subsets": [{"path": "/d/10_ß", "captions": {}, "images": [], "tags": [[], {}, [{}], ()]},
                    {"path": "/d/1_\udcff\udcfe", "dataset": 0, "role": Role.TRAIN, "level": Level.HIGH}],
        "histogram": {1: 3, 10: 2, -1: 0},
        "bucket": (512, 768),
        "floats": [0.0, -0.0, 0.1, 1 / 3, 2.5, 1e-05, 1.5e-09, 0.0001, 1e16, 1.5e300, float("nan"), float("inf")],
        "num_repeats": 10**30,
        "findings": [{"path": "/d/caf\udce9.png", "message": "‘quoted’ — ünïcödé \u202e", "hint": "a\nb\tc"}],
    }
    assert dumps(doc) == written(doc) == expected(doc)
    text = dumps(doc)
    text.encode("utf-8")  # every lone surrogate escaped
    assert "\\udcff\\udcfe" in text and "\\udce9" in text and '"1e-05"' not in text and "1e-05" in text
    assert json.loads(text)["subsets"][1]["path"] == "/d/1_\udcff\udcfe"


def test_a_dataclass_is_refused_as_json_refuses_it():
    @dataclass
    class D:
        a: int

    with pytest.raises(TypeError):
        dumps({"x": D(1)})


def test_rows_are_written_a_chunk_at_a_time():
    made = []

    def row(k):
        made.append(k)
        return (f"/x/{k}\u202e.png", None if k % 5 == 0 else (k % 3, 7), k % 2 == 0,
                "\udcff" if k == 1500 else k, k / 7 if k % 13 else float("nan"))

    keys = ("path", "size", "ok", "odd", "ratio")
    for n in (0, 1, jsontext._CHUNK, jsontext._CHUNK + 1, 2 * jsontext._CHUNK + 7):
        made.clear()
        doc = {"a": [{"images": Rows(keys, row, range(n)), "after": 1}], "b": Rows(keys, row, range(n)),
               "c": ["\udcff", 1e-05]}
        plain = {"a": [{"images": [dict(zip(keys, row(k))) for k in range(n)], "after": 1}],
                 "b": [dict(zip(keys, row(k))) for k in range(n)], "c": ["\udcff", 1e-05]}
        assert dumps(doc) == expected(plain)


def test_a_row_with_the_wrong_number_of_values_is_refused():
    with pytest.raises(ValueError):
        dumps({"images": Rows(("a", "b"), lambda t: t, [(1, 2), (3,)])})


def test_rows_of_objects_made_whole_may_hold_rows_of_their_own():
    """``Rows(None, fn, items)``: each item's value is ``fn(item)`` itself (a scan's subsets, a plan's
    datasets), written a chunk at a time, with the Rows inside each (its images) written in place."""
    keys = ("path", "odd")

    def image(k):
        return (f"/x/{k}\u202e.png", "\udcff" if k == 3 else k / 7)

    def subset(j):
        return {"index": j, "images": Rows(keys, image, range(j % 5)), "name": "\udcfe" if j == 2 else f"s{j}",
                "nested": [{"images": Rows(keys, image, range(2))}]}

    def plain_subset(j):
        return {"index": j, "images": [dict(zip(keys, image(k))) for k in range(j % 5)],
                "name": "\udcfe" if j == 2 else f"s{j}", "nested": [{"images": [dict(zip(keys, image(k))) for k in range(2)]}]}

    for n in (0, 1, jsontext._CHUNK, jsontext._CHUNK + 1, 2 * jsontext._CHUNK + 7):
        doc = {"subsets": Rows(None, subset, range(n)), "after": [1, 2]}
        plain = {"subsets": [plain_subset(j) for j in range(n)], "after": [1, 2]}
        assert dumps(doc) == expected(plain)


@pytest.mark.parametrize("depth", [300, 900])
def test_nesting_deeper_than_orjson_writes_is_jsons_text(depth):
    """orjson writes 255 levels at most; a user's metadata may hold more (json reads ~990): the text
    is then json's own, lone surrogates escaped."""
    doc = {"a": {"caption": "\udc80 x", "extra": json.loads("[" * depth + "]" * depth)}}
    assert dumps(doc) == json_text(json.dumps(doc, indent=2, ensure_ascii=False))
