"""The report page's filters find a path's subset by lookup, not a scan of every subset."""

from __future__ import annotations


def test_report_filters_find_the_innermost_subset_by_lookup():
    from types import SimpleNamespace

    from regaudit.render.html import _Filters

    def subset(path, role):
        return SimpleNamespace(abs_path=path, role=SimpleNamespace(value=role))

    data = SimpleNamespace(scan=SimpleNamespace(datasets=[
        SimpleNamespace(index=0, subsets=[subset("/d/train/10_a", "train"), subset("/d/train/10_a/inner", "reg")]),
        SimpleNamespace(index=1, subsets=[subset("/d/train/10_a", "train")])]))
    f = _Filters(data)
    assert f.of_path("/d/train/10_a/x.png") == ([0, 2], ["train"])
    assert f.of_path("/d/train/10_a/inner/y.png") == ([1], ["reg"])
    assert f.of_path("/elsewhere/z.png") == ([], [])
    assert f.of_dataset(1) == [2] and f.of_dataset(0) == [0, 1]
