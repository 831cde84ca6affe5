"""A finding about many images names them in human output: the first few in its message, every one
with --images (each with its own figures), a pointer to --images otherwise."""

from __future__ import annotations

from rich.console import Console

from regaudit.model import Finding, Severity
from regaudit.render.human import findings_block
from regaudit.cli import main
from tests.conftest import make_image


def _text(findings, with_images: bool) -> str:
    console = Console(width=120, record=True, color_system=None)
    for part in findings_block(findings, with_images):
        console.print(part)
    return console.export_text()


FIVE = tuple((("path", f"/d/{n}.png"), ("size", "8x8")) for n in "abcde")


def test_images_listed_with_their_figures_only_with_images():
    f = Finding("RA071", "size", Severity.ERROR, "/d", "5 images (a.png, b.png, c.png and 2 more)", "h", FIVE)
    without = _text([f], False)
    assert "(5 images: --images lists them)" in without and "/d/e.png" not in without
    lines = [ln.strip() for ln in _text([f], True).splitlines() if ln.strip().startswith("·")]
    assert lines == [f"· /d/{n}.png  size 8x8" for n in "abcde"]
    few = Finding("RA071", "size", Severity.ERROR, "/d", "2 images (a.png, b.png)", "h", FIVE[:2])
    assert "--images" not in _text([few], False)  # the message names them all


def test_scan_images_names_every_uncaptioned_image(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    for n in "abcde":
        make_image(tmp_path / "train" / "1_sks dog" / f"{n}.png", size=(8, 8))
    assert main(["scan", "-j", "1", "train"]) == 0
    out = capsys.readouterr().out
    assert "5 of 5 images have no caption file and train on the class tokens 'sks dog': a.png, b.png, c.png and 2" in \
        " ".join(out.split())
    assert "(5 images: --images lists them)" in out
    assert "regaudit scan: 1 subset, 5 images, 5 train samples" in " ".join(out.split())  # (not '1 subsets')
    assert main(["scan", "-j", "1", "--images", "train"]) == 0
    out = capsys.readouterr().out
    assert all(f"· train/1_sks dog/{n}.png" in out for n in "abcde")


def test_one_file_findings_with_the_same_words_are_said_once_with_their_files():
    # eleven EXIF-rotated phone photos were eleven identical four-line blocks
    msg, hint = "EXIF orientation 6 (rotated 90° clockwise)", "Apply the rotation."
    rotated = [Finding("RA044", "exif-rotated", Severity.WARNING, f"/d/IMG_40{k}.jpg", msg, hint) for k in range(15, 20)]
    other = Finding("RA044", "exif-rotated", Severity.WARNING, "/e/x.jpg", msg, hint)  # another folder: its own
    text = _text([*rotated, other], False)
    assert text.count(msg) == 2 and text.count("hint: Apply the rotation.") == 2
    assert "RA044 /d (5 images)" in text
    assert "IMG_4015.jpg, IMG_4016.jpg, IMG_4017.jpg and 2 more" in text
    assert "(5 images: --images lists them)" in text and "RA044 /e/x.jpg" in text
    assert "WARNINGS (6)" in text  # the count is still of findings
    every = _text(rotated, True)
    assert "IMG_4015.jpg, IMG_4016.jpg, IMG_4017.jpg, IMG_4018.jpg, IMG_4019.jpg" in every
    assert "--images lists them" not in every
    # a different message is never folded in
    odd = Finding("RA044", "exif-rotated", Severity.WARNING, "/d/IMG_4099.jpg", "EXIF orientation 8", hint)
    assert "RA044 /d/IMG_4099.jpg" in _text([*rotated, odd], False)
