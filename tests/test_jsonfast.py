"""The fast JSON writer gives exactly json.dumps(obj, indent=2, ensure_ascii=False)."""

from __future__ import annotations

import io
import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from regaudit.render import jsonfast
from regaudit.render.jsonfast import Lazy, Rows, dumps, write

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=8),
                    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from(["\udcff", "a\"b\\c\n\u202e"]))
keys = st.one_of(st.text(max_size=5), st.integers(), st.booleans(), st.none(), st.floats(allow_nan=False))
docs = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.tuples(inner, inner),
                                                     st.dictionaries(keys, inner, max_size=4)), max_leaves=25)


@settings(max_examples=150, deadline=None)
@given(docs)
def test_same_text_as_the_standard_library(doc):
    expected = json.dumps(doc, indent=2, ensure_ascii=False)
    assert dumps(doc) == expected
    out = io.StringIO()
    write(doc, out)
    assert out.getvalue() == expected


def test_lazy_lists_are_made_while_written():
    made = []

    def image(k):
        made.append(k)
        return {"path": f"/x/{k}.png", "width": k, "ratio": k / 3, "ok": k % 2 == 0, "error": None}

    doc = {"subsets": [{"images": Lazy(image, range(700))}, {"images": Lazy(image, [])}]}
    out = io.StringIO()
    chunks = []
    write(doc, out, fix=lambda s: chunks.append(s) or s)
    plain = {"subsets": [{"images": [image(k) for k in range(700)]}, {"images": []}]}
    assert out.getvalue() == json.dumps(plain, indent=2, ensure_ascii=False)
    assert len(chunks) > 1  # written in pieces, not as one string
    assert not math.isnan(json.loads(out.getvalue())["subsets"][0]["images"][3]["ratio"])


row_keys = st.lists(st.text(max_size=6), min_size=1, max_size=6, unique=True)


@settings(max_examples=150, deadline=None)
@given(row_keys, st.data())
def test_rows_give_the_text_of_a_list_of_dicts(keys, data):
    """Rows (one template per key set, used for every image of a scan) writes what json.dumps
    writes for the same objects, whatever the keys (braces, quotes) and scalar values."""
    items = data.draw(st.lists(st.tuples(*[st.one_of(scalars, docs)] * len(keys)), max_size=4))
    doc = {"a": [{"images": Rows(keys, lambda t: t, items)}], "b": Rows(keys, lambda t: t, items)}
    plain = {"a": [{"images": [dict(zip(keys, t)) for t in items]}], "b": [dict(zip(keys, t)) for t in items]}
    expected = json.dumps(plain, indent=2, ensure_ascii=False)
    assert dumps(doc) == expected
    out = io.StringIO()
    write(doc, out)
    assert out.getvalue() == expected


def test_rows_in_rounds_and_mixed_columns():
    """More rows than one round (the writer encodes column by column, a round of rows at a time):
    columns of plain scalars, of lists or None (sizes, buckets), of str subclasses and dicts, and a
    last round shorter than the others, still give json.dumps' text."""
    from enum import Enum

    class Kind(str, Enum):
        A = "a"

    keys = ("path", "size", "kind", "extra", "{odd\"key}", "ratio", "bucket")
    n = 2 * jsonfast._ROWS_AT_ONCE + 7
    items = [(f"/x/{k}\u202e.png", None if k % 5 == 0 else [k % 3, 7], Kind.A if k % 7 == 0 else "b",
              {"k": [k]} if k % 11 == 0 else k, "\udcff" if k == 3 else None, k / 7 if k % 13 else float("nan"),
              None if k % 4 == 0 else (1.0, 2) if k == 300 else (1, True) if k == 301 else () if k == 302 else (k % 2, 2))
             for k in range(n)]
    doc = {"images": Rows(keys, lambda t: t, items)}
    expected = json.dumps({"images": [dict(zip(keys, t)) for t in items]}, indent=2, ensure_ascii=False)
    assert dumps(doc) == expected
    out = io.StringIO()
    write(doc, out)
    assert out.getvalue() == expected


def test_a_row_with_the_wrong_number_of_values_is_refused():
    import pytest

    with pytest.raises(ValueError):
        dumps({"images": Rows(("a", "b"), lambda t: t, [(1, 2), (3,)])})


def test_many_rounds_shared_with_a_child_give_the_same_text():
    """From _ROUNDS_TO_SHARE rounds on, a forked child writes every other round: same text, and a
    bad row in one of its rounds still fails here."""
    import pytest

    n = jsonfast._ROUNDS_TO_SHARE * jsonfast._ROWS_AT_ONCE + 5
    items = [(f"/x/{k}\"\\.png", [k % 4, 3] if k % 3 else None, k % 2 == 0, k / 3) for k in range(n)]
    keys = ("path", "size", "ok", "ratio")
    expected = json.dumps({"rows": [dict(zip(keys, t)) for t in items]}, indent=2, ensure_ascii=False)
    out = io.StringIO()
    write({"rows": Rows(keys, lambda t: t, items)}, out)
    assert out.getvalue() == expected
    at = 7 * jsonfast._ROWS_AT_ONCE + 3  # in round 7, an odd one: the child's
    bad = items[:at] + [(1, 2)] + items[at + 1:]
    with pytest.raises(ValueError):
        dumps({"rows": Rows(keys, lambda t: t, bad)})


def test_equal_lists_of_other_types_keep_their_own_text():
    """[1, 1], [1, True], [1.0, 1.0] and [-0.0] are equal keys to a cache, not the same JSON."""
    keys = ("size",)
    items = [([1, 1],), ([1, True],), ([1.0, 1.0],), ([0.0],), ([-0.0],), ((1, 1),), ([1, 1],)]
    expected = json.dumps({"r": [dict(zip(keys, t)) for t in items]}, indent=2, ensure_ascii=False)
    assert dumps({"r": Rows(keys, lambda t: t, items)}) == expected
