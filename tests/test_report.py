"""regaudit report: a self-contained page, checked in a real browser (headless Chromium)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from PIL import Image

from regaudit.cli import main
from tests.conftest import make_image, textured

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars"]


@pytest.fixture
def page(tmp_path, monkeypatch):
    t, r = tmp_path / "train" / "5_sks dog", tmp_path / "reg" / "1_dog"
    t.mkdir(parents=True)
    r.mkdir(parents=True)
    for k in range(4):
        textured(k, (96, 128)).save(t / f"t{k}.jpg", quality=90)
    for k in range(30):
        textured(100 + k, (96, 96)).save(r / f"r{k:02d}.jpg", quality=90)
    Image.open(t / "t0.jpg").save(r / "zz_leak.png")
    make_image(t / "phone.jpg", size=(128, 96), exif_orientation=6)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "report.html"
    code = main(["report", "--train", "train", "--reg", "reg", "--resolution", "128", "--enable_bucket",
                 "--min_bucket_reso", "64", "--max_bucket_reso", "256", "--bucket_reso_steps", "64",
                 "--max_train_epochs", "3", "--no-cache", "-o", str(out)])
    assert code == 0
    return out


def test_page_is_self_contained(page):
    text = page.read_text()
    assert "<script src" not in text and "<link" not in text
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", text)  # no network
    assert text.count("data:image/webp;base64,") >= 20
    for section in ("subsets", "balance", "buckets", "dupes", "findings"):
        assert f"id={section}>" in text
    assert "regaudit report --train train --reg reg --resolution 128" in text


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (.ci/run installs it)")
def test_page_in_headless_chromium(page, tmp_path):
    profile = tmp_path / "profile"
    dom = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    assert "<svg" in dom and 'id="verdict"' in dom
    # 25 train samples (5 images x 5) against 31 reg images: 25 used, 6 never (among them the leak)
    assert re.search(r'id="train-samples-0">25<', dom) and re.search(r'id="reg-used-0">25<', dom)
    assert dom.count('class="subset"') == 2
    assert "leakage" in dom and "as the camera meant it" in dom
    assert re.search(r'<nav class="filters" id="filters">', dom)  # JavaScript ran: the filters are shown
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", "--window-size=1200,1600",
                    f"--screenshot={shot}", page.as_uri()], capture_output=True, timeout=120)
    with Image.open(shot) as im:
        colours = im.convert("RGB").resize((120, 160)).getcolors(maxcolors=1 << 16)
    assert colours is not None and len(colours) > 50  # not a blank page
