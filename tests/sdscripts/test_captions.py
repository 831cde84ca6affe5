"""Spec §3: which caption sd-scripts reads and what it gets (pins)."""

from __future__ import annotations

from regaudit.sdscripts.captions import caption_candidates, normalize_extension, read_caption
from regaudit.model import CaptionSource


def test_face_crop_fallback_uses_whole_path_string():
    # pin: 'train/10_x/a_b_c_d.png' falls back to 'train/10<ext>' in the parent folder
    assert caption_candidates("train/10_x/a_b_c_d.png", ".txt") == ("train/10_x/a_b_c_d.txt", "train/10.txt")
    assert caption_candidates("train/10_x/a_b_c.png", ".txt") == ("train/10_x/a_b_c.txt", "train/10_x/a_b_c.txt")
    assert caption_candidates("d/p_1_2_3_4.jpg", ".caption") == ("d/p_1_2_3_4.caption", "d/p.caption")


def test_face_crop_fallback_reads_file_outside_the_subset(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "train" / "10_x").mkdir(parents=True)
    (tmp_path / "train" / "10.txt").write_text("from the parent folder\n")
    cap = read_caption("train/10_x/a_b_c_d.png", ".txt", "x")
    assert cap.source is CaptionSource.FILE and cap.via_fallback
    assert cap.path == "train/10.txt" and cap.text == "from the parent folder"


def test_own_caption_wins_over_fallback(tmp_path):
    (tmp_path / "a_b_c_d_e.txt").write_text("own")
    (tmp_path / "a.txt").write_text("fallback")
    cap = read_caption(str(tmp_path / "a_b_c_d_e.png"), ".txt", None)
    assert cap.text == "own" and not cap.via_fallback


def test_extension_normalisation():
    assert normalize_extension("txt") == ".txt"
    assert normalize_extension(".caption") == ".caption"
    assert normalize_extension("") == ""


def test_extensionless_caption_file(tmp_path):
    (tmp_path / "a").write_text("bare")
    assert read_caption(str(tmp_path / "a.png"), "", None).text == "bare"


def test_first_line_only_stripped_bom_kept(tmp_path):
    (tmp_path / "a.caption").write_bytes("\ufeff  a dog , sitting \r\nsecond line\n".encode("utf-8"))
    cap = read_caption(str(tmp_path / "a.png"), ".caption", "dog")
    # the BOM is not whitespace, so it stays and shields the spaces after it from strip()
    assert cap.text == "\ufeff  a dog , sitting" and cap.has_bom and cap.line_count == 2


def test_blank_first_line_gives_empty_caption_without_error(tmp_path):
    (tmp_path / "a.caption").write_text("\nthe real caption\n")
    cap = read_caption(str(tmp_path / "a.png"), ".caption", "dog")
    assert cap.source is CaptionSource.FILE and cap.text == "" and cap.error is None


def test_zero_byte_caption_crashes(tmp_path):
    (tmp_path / "a.caption").write_bytes(b"")
    cap = read_caption(str(tmp_path / "a.png"), ".caption", "dog")
    assert cap.text is None and cap.error == "empty_file"


def test_whitespace_only_caption_is_one_blank_line(tmp_path):
    (tmp_path / "a.caption").write_bytes(b"   ")
    cap = read_caption(str(tmp_path / "a.png"), ".caption", "dog")
    assert cap.text == "" and cap.error is None


def test_non_utf8_caption_crashes(tmp_path):
    (tmp_path / "a.caption").write_bytes("café".encode("cp1252"))
    assert read_caption(str(tmp_path / "a.png"), ".caption", "dog").error == "not_utf8"


def test_wildcard_joins_non_blank_lines(tmp_path):
    (tmp_path / "a.caption").write_text("one\n\n two \n")
    assert read_caption(str(tmp_path / "a.png"), ".caption", None, enable_wildcard=True).text == "one\ntwo"


def test_no_caption_uses_class_tokens_or_empty(tmp_path):
    p = str(tmp_path / "a.png")
    assert read_caption(p, ".caption", "sks dog").source is CaptionSource.CLASS_TOKENS
    assert read_caption(p, ".caption", "sks dog").text == "sks dog"
    assert (read_caption(p, ".caption", "").source, read_caption(p, ".caption", "").text) == (CaptionSource.EMPTY, "")
    assert read_caption(p, ".caption", None).source is CaptionSource.EMPTY


def test_directory_named_like_caption_is_skipped(tmp_path):
    (tmp_path / "a.caption").mkdir()
    assert read_caption(str(tmp_path / "a.png"), ".caption", "t").source is CaptionSource.CLASS_TOKENS
