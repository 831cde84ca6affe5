"""Every output format of ``regaudit check`` has its renderer (the dispatch is exhaustive)."""

from __future__ import annotations

from regaudit.render.formats import RENDERERS, OutputFormat


def test_every_format_has_a_renderer():
    assert set(RENDERERS) == set(OutputFormat)
    assert [f.value for f in OutputFormat] == ["human", "json", "github", "junit"]  # the --format choices, in order
