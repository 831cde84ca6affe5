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


# --- verdict and fixes first ----------------------------------------------------------------------

def _report(tmp_path, monkeypatch, *options: str) -> str:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "report.html"
    assert main(["report", *options, "--resolution", "128", "--enable_bucket", "--min_bucket_reso", "64",
                 "--max_bucket_reso", "256", "--max_train_epochs", "2", "--no-cache", "--no-progress",
                 "-o", str(out), "--force"]) == 0
    return out.read_text(encoding="utf-8")


def _top(page: str) -> str:
    """The page up to its first content section after the fixes: where the verdict and fixes must be."""
    verdict, fixes = page.index("id=verdict"), page.index("<section id=fixes>")
    subsets = page.index("<section id=subsets>")
    assert verdict < fixes < subsets
    return page[:subsets]


def _verdict_of(top: str) -> str:
    return re.sub(r"<[^>]+>", " ", top[top.index("id=verdict"):top.index("<nav")])


def test_verdict_first_for_a_build_crash(tmp_path, monkeypatch):
    t = tmp_path / "train" / "3_sks dog"
    t.mkdir(parents=True)
    for k in range(3):
        textured(k, (96, 128)).save(t / f"t{k}.jpg")
    (t / "t1.caption").write_text("")  # sd-scripts asserts on an empty caption file while it builds the dataset
    make_image(tmp_path / "train" / "stray.png")  # an image in the root: silently left out
    make_image(t / "shout.PNG")  # matched on Linux
    make_image(t / "odd.Png")  # never matched on Linux: left out
    top = _top(_report(tmp_path, monkeypatch, "--train", "train"))
    v = _verdict_of(top)
    assert "data-stage='build'" in top and "data-trains=0" in top
    assert "train_network.py stops while it builds the dataset" in v and "AssertionError" in v and "(RA020)" in v
    assert "t1.caption" in v
    assert re.search(r"id=v-left-out data-n=2>", top)
    assert "No batches or steps" in v and "id=v-steps" not in top  # sd-scripts never computes them
    fixes = re.findall(r"<li class=fix data-filter data-severity=(\w+)[^>]*>(.*?)</li>", top)
    assert fixes[0][0] == "error" and "Write a caption into the file" in fixes[0][1]
    assert "sd-scripts stops here" in fixes[0][1]
    ranks = [{"error": 0, "warning": 1, "info": 2}[sev] for sev, _ in fixes]
    assert ranks == sorted(ranks)  # most severe first
    hints = [re.sub(r"<[^>]+>", "", body).split(" RA0")[0] for _, body in fixes]
    assert len(hints) == len(set(hints))  # each hint once


def test_verdict_first_for_a_load_crash_keeps_the_figures(tmp_path, monkeypatch):
    t = tmp_path / "train" / "4_cat"
    t.mkdir(parents=True)
    for k in range(5):
        textured(k, (96, 128)).save(t / f"i{k}.jpg", quality=85)
    data = (t / "i0.jpg").read_bytes()
    (t / "i0.jpg").write_bytes(data[: len(data) // 2])  # truncated: the header reads, the pixels do not
    top = _top(_report(tmp_path, monkeypatch, "--train", "train"))
    v = _verdict_of(top)
    assert "data-stage='load'" in top and "starts, then fails when it first loads an image" in v
    assert re.search(r"id=v-load-failures data-n=1>", top)
    # sd-scripts computes its steps before it loads an image: 5 images x 4 repeats, batch 1, 2 epochs
    assert re.search(r"id=v-train>20<", top) and re.search(r"id=v-batches>20<", top)
    assert re.search(r"id=v-steps>40<", top) and re.search(r"id=v-epochs>2<", top)
    assert "RA043" in top[top.index("<section id=fixes>"):]


def test_verdict_says_a_load_crash_comes_while_caching_latents_and_counts_unused_reg(tmp_path, monkeypatch):
    # the CLI's verdict says "while caching latents, before step 1" with --cache_latents; the page did not
    t = tmp_path / "train" / "1_cat"
    g = tmp_path / "reg" / "1_animal"
    t.mkdir(parents=True), g.mkdir(parents=True)
    for k in range(2):
        textured(k, (96, 128)).save(t / f"i{k}.jpg", quality=85)
    for k in range(5):
        textured(10 + k, (96, 128)).save(g / f"r{k}.jpg", quality=85)
    data = (t / "i0.jpg").read_bytes()
    (t / "i0.jpg").write_bytes(data[: len(data) // 2])
    page = _report(tmp_path, monkeypatch, "--train_data_dir", "train", "--reg_data_dir", "reg", "--cache_latents")
    top = _top(page)
    v = _verdict_of(top)
    assert "stops while caching latents, before step 1" in v and "starts, then fails" not in v
    assert "(while it caches latents, before step 1)" in v
    assert "data-stage='load'" in top and "<span class=stage>cache</span>" in top
    # 2 train samples take the first 2 of the 5 reg images: 3 are never used
    assert re.search(r"id=v-unused-reg data-n=3><b>3 reg images</b> are never used", top)
    assert "then stops while it caches latents, before step 1: see the verdict above" in page


def test_verdict_first_for_no_data(tmp_path, monkeypatch):
    (tmp_path / "train" / "5_empty").mkdir(parents=True)
    make_image(tmp_path / "train" / "5 cat" / "a.png")  # no '_': ignored
    top = _top(_report(tmp_path, monkeypatch, "--train", "train"))
    v = _verdict_of(top)
    assert "data-no-data=1" in top and "No data found" in v and "nothing is trained" in v
    assert "id=v-steps" not in top
    assert "Rename it to &#x27;5_cat&#x27;" in top[top.index("<section id=fixes>"):]


def test_verdict_first_for_a_clean_dataset(tmp_path, monkeypatch):
    t, r = tmp_path / "train" / "5_sks dog", tmp_path / "reg" / "1_dog"
    t.mkdir(parents=True)
    r.mkdir(parents=True)
    for k in range(4):
        textured(k, (96, 128)).save(t / f"t{k}.jpg", quality=90)
    for k in range(20):
        textured(100 + k, (96, 96)).save(r / f"r{k:02d}.jpg", quality=90)
    top = _top(_report(tmp_path, monkeypatch, "--train", "train", "--reg", "reg", "--no-dupes"))
    v = _verdict_of(top)
    assert "data-trains=1" in top and "train_network.py starts and trains" in v
    assert "class='verdict'" in top
    assert re.search(r"id=v-load-failures data-n=0>", top) and re.search(r"id=v-left-out data-n=0>", top)
    # 20 train samples, 20 of the reg samples used; batch size 1: 40 batches per epoch, 80 steps in 2 epochs
    assert re.search(r"id=v-train>20<", top) and re.search(r"id=v-reg>20<", top)
    assert re.search(r"id=v-batches>40<", top) and re.search(r"id=v-steps>80<", top)


def test_fixes_once_each_most_severe_first():
    from regaudit.model import Crash, Finding, Severity
    from regaudit.views.report import fixes

    def f(code, sev, path, hint):
        return Finding(code, code.lower(), sev, path, "m", hint)

    found = (f("RA001", Severity.ERROR, "/a", "rename"), f("RA020", Severity.ERROR, "/b", "write a caption"),
             f("RA029", Severity.INFO, "/c", "add captions"), f("RA029", Severity.INFO, "/d", "add captions"),
             f("RA044", Severity.WARNING, "/e", "rotate"), f("RA050", Severity.INFO, "/f", "rename"),
             f("RA051", Severity.INFO, "/g", " "))
    out = fixes(found, Crash("build", "RA020", "AssertionError", "/b", "empty"))
    assert [x.hint for x in out] == ["write a caption", "rename", "rotate", "add captions"]
    assert out[1].severity is Severity.ERROR and out[1].codes == ("RA001", "RA050")
    assert len(out[3].findings) == 2


# --- light and dark, 390 px, filters --------------------------------------------------------------

def _palettes(page: str) -> list[dict[str, str]]:
    css = page[page.index("<style>"):page.index("</style>")]
    blocks = re.findall(r":root\{([^}]*)\}", css)
    return [dict(re.findall(r"--([\w-]+):(#[0-9a-fA-F]{3,6})", b)) for b in blocks]


def _contrast(a: str, b: str) -> float:
    def lum(h):
        h = h.lstrip("#")
        h = "".join(c * 2 for c in h) if len(h) == 3 else h
        c = [int(h[i:i + 2], 16) / 255 for i in (0, 2, 4)]
        c = [x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4 for x in c]
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_light_and_dark_palettes_are_readable(page):
    text = page.read_text()
    assert "@media (prefers-color-scheme:dark)" in text and "color-scheme" in text
    light, dark = _palettes(text)
    assert set(light) == set(dark)
    css = text[text.index("<style>"):text.index("</style>")]
    assert not re.search(r"#[0-9a-fA-F]{3,6}", re.sub(r":root\{[^}]*\}", "", css))  # colours only as variables
    assert "fill='#" not in text and "style='color:#" not in text
    for pal in (light, dark):
        for fg in ("fg", "muted", "err", "warn", "info", "train", "reg", "ok"):
            for bg in ("bg", "card", "bad-bg", "ok-bg", "th"):
                assert _contrast(pal[fg], pal[bg]) >= 4.5, (fg, bg, pal[fg], pal[bg])
        assert _contrast(pal["head-fg"], pal["head"]) >= 4.5


PROBE = """<script>
window.addEventListener('load',function(){
  document.querySelectorAll('details').forEach(function(d){d.open=true});
  var W=window.innerWidth,wide=[];
  document.querySelectorAll('body *').forEach(function(el){
    var r=el.getBoundingClientRect(),p=el.parentElement;
    if(!(r.width>0&&r.right>W+0.5)) return;
    for(;p;p=p.parentElement) if(getComputedStyle(p).overflowX!=='visible') return;  // scrolls in its own box
    wide.push(el.tagName+'.'+el.className+' '+Math.round(r.right));
  });
  var res={width:W,scrollWidth:document.documentElement.scrollWidth,wide:wide.slice(0,10)};
  var sel=document.getElementById('f-subset'),pick=window.PICK;
  if(pick!==undefined){
    for(var k=0;k<sel.options.length;k++) if(sel.options[k].text.indexOf(pick)===0) sel.selectedIndex=k;
    sel.dispatchEvent(new Event('change'));
    var vis=function(q){return Array.prototype.filter.call(document.querySelectorAll(q),function(e){return e.offsetParent!==null})};
    res.subsets=vis('article.subset b.name').map(function(e){return e.textContent});
    res.captions=vis('article.capset b.name').map(function(e){return e.textContent});
    res.findings=vis('.finding .path').map(function(e){return e.textContent});
    res.sections=vis('main section').map(function(e){return e.id});
    res.sevgroups=vis('.sevgroup h3').map(function(e){return e.textContent});
    document.getElementById('f-errors').click();
    res.sectionsErrors=vis('main section').map(function(e){return e.id});
    res.sevgroupsErrors=vis('.sevgroup h3').map(function(e){return e.textContent});
  }
  parent.postMessage(JSON.stringify(res),'*');
});
</script>"""


def _in_frame(page, tmp_path, width: int, pick: str | None = None) -> dict:
    """Load the page in a ``width`` px wide iframe (headless windows are at least 500 px wide) with
    a probe that measures overflow and, given ``pick``, filters on the subset whose label starts
    with it; the probe's findings come back through the frame's parent."""
    import json

    probed = tmp_path / "probed.html"
    head = "" if pick is None else f"<script>window.PICK={json.dumps(pick)}</script>"
    probed.write_text(head + page.read_text(encoding="utf-8") + PROBE, encoding="utf-8")
    wrap = tmp_path / "wrap.html"
    wrap.write_text(f"<!DOCTYPE html><body style=margin:0><iframe src='{probed.name}' "
                    f"style='width:{width}px;height:2400px;border:0'></iframe><script>window.addEventListener("
                    "'message',function(e){var o=document.createElement('pre');o.id='probe';o.textContent=e.data;"
                    "document.body.appendChild(o)})</script></body>")
    dom = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1000,2400",
                          "--virtual-time-budget=5000", "--dump-dom", wrap.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    m = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert m, dom[-2000:]
    import html as html_mod

    return json.loads(html_mod.unescape(m.group(1)))


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (.ci/run installs it)")
@pytest.mark.parametrize("width", [390, 1280])
def test_no_horizontal_overflow(page, tmp_path, width):
    res = _in_frame(page, tmp_path, width)
    assert res["width"] == width
    assert res["scrollWidth"] <= width and not res["wide"], res


HOSTILE = b'2_a|b"<x>&\'\xff\x1b\t' + b"long" * 20


@pytest.fixture
def hostile_page(tmp_path, monkeypatch):
    import os

    train = tmp_path / "train"
    weird = os.fsencode(train) + b"/" + HOSTILE
    os.makedirs(weird)
    for k in range(3):
        textured(200 + k, (96, 96)).save(os.fsdecode(weird + b"/p%d.jpg" % k))
    (tmp_path / "train" / "2_a").mkdir()
    (tmp_path / "train" / "2_b").mkdir()
    for k in range(2):
        textured(300 + k, (96, 96)).save(train / "2_a" / f"a{k}.jpg")
        textured(310 + k, (96, 96)).save(train / "2_b" / f"b{k}.jpg")
    (train / "2_b" / "b0.caption").write_bytes(b"\xff\xfe not utf-8")  # an error in another subset
    make_image(tmp_path / "reg" / "1_a|b" / "r.png", size=(96, 96))
    monkeypatch.chdir(tmp_path)
    _report(tmp_path, monkeypatch, "--train", "train", "--reg", "reg", "--no-dupes")
    return tmp_path / "report.html"


def test_filters_use_indices_not_names(hostile_page):
    text = hostile_page.read_text(encoding="utf-8")
    assert "\x1b" not in text and "\\xff\\x1b\\t" in text
    assert "data-subset=" not in text and "data-role=" not in text
    for attrs in re.findall(r"data-subsets='([^']*)'", text):
        assert re.fullmatch(r"[0-9 ]*", attrs)
    options = re.findall(r"<option value=(\d+)>(.*?)</option>", text)
    assert [k for k, _ in options] == ["0", "1", "2", "3"]
    assert any(label.startswith("train/2_a|b&quot;&lt;x&gt;&amp;&#x27;\\xff\\x1b\\t") for _, label in options)


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (.ci/run installs it)")
def test_subset_filter_on_any_folder_name(hostile_page, tmp_path):
    shown = "train/" + HOSTILE.decode("utf-8", "surrogateescape").replace("\udcff", "\\xff").replace(
        "\x1b", "\\x1b").replace("\t", "\\t")
    res = _in_frame(hostile_page, tmp_path, 390, pick=shown)
    assert res["scrollWidth"] <= 390 and not res["wide"], res
    assert res["subsets"] == [shown] and res["captions"] == [shown]  # its own cards, and only those
    assert all(p.startswith(shown) for p in res["findings"]) and res["findings"]
    assert "subsets" in res["sections"] and "findings" in res["sections"]
    # only errors: the subset has no error, so the findings and fixes sections go, headings and all
    assert "findings" not in res["sectionsErrors"] and "fixes" not in res["sectionsErrors"]
    assert res["sevgroupsErrors"] == [] and "subsets" in res["sectionsErrors"]


# --- images named, labelled and linked; as-trained previews; folded lists; epochs with their fraction

def _pixels(uri: str):
    import base64
    import io

    head, data = uri.split(",", 1)
    return head, Image.open(io.BytesIO(base64.b64decode(data)))


def test_thumbnails_show_what_sd_scripts_trains_and_what_a_viewer_shows(tmp_path):
    import numpy as np

    from regaudit.views.report import thumbnail

    # an alpha cutout: the top half opaque red, the bottom half transparent with yellow under it
    a = np.zeros((64, 64, 4), np.uint8)
    a[..., 0] = 255
    a[32:, :, 1] = 255
    a[:32, :, 3] = 255
    Image.fromarray(a, "RGBA").save(tmp_path / "cut.png")
    head, trained = _pixels(thumbnail(str(tmp_path / "cut.png"), 32))
    assert head == "data:image/webp;base64" and trained.mode == "RGB"
    # train_util.load_image: convert("RGB") keeps the colour under the transparency, yellow
    r, g, b = trained.getpixel((16, 28))
    assert r > 240 and g > 240 and b < 20
    _, viewed = _pixels(thumbnail(str(tmp_path / "cut.png"), 32, viewed=True))
    assert viewed.mode == "RGBA" and viewed.getpixel((16, 28))[3] == 0 and viewed.getpixel((16, 4))[3] == 255

    # CMYK with black: train_util.load_image is Image.open(...).convert("RGB") for any mode but RGB
    # (read in sd-scripts' library/train_util.py); Pillow gives (94, 125, 155) for this ink, here and
    # with Pillow 11.0.0 in the oracle's sd-scripts environment
    Image.new("CMYK", (40, 30), (100, 50, 0, 100)).save(tmp_path / "print.jpg", quality=95)
    with Image.open(tmp_path / "print.jpg") as im:
        assert im.convert("RGB").getpixel((5, 5)) == (94, 125, 155)
    head, trained = _pixels(thumbnail(str(tmp_path / "print.jpg"), 32))
    assert head == "data:image/webp;base64"
    assert all(abs(x - y) <= 6 for x, y in zip(trained.getpixel((8, 8)), (94, 125, 155)))
    # as a viewer shows it: a small CMYK JPEG, so the browser converts it as it converts the file
    head, viewed = _pixels(thumbnail(str(tmp_path / "print.jpg"), 32, viewed=True))
    assert head == "data:image/jpeg;base64" and viewed.mode == "CMYK" and viewed.size == (32, 24)

    # EXIF orientation 6: trained as stored (64x48), viewed upright (48x64 scaled to 24x32)
    make_image(tmp_path / "phone.jpg", size=(64, 48), exif_orientation=6)
    assert _pixels(thumbnail(str(tmp_path / "phone.jpg"), 32))[1].size == (32, 24)
    assert _pixels(thumbnail(str(tmp_path / "phone.jpg"), 32, viewed=True))[1].size == (24, 32)


def test_epochs_trained_with_their_fraction():
    from regaudit.views.report import epochs_trained

    # train_network.py: num_train_epochs = ceil(1600 / 189) = 9; the loop breaks at global_step 1600,
    # 88 steps into the 9th epoch (8 x 189 = 1512)
    trained, last = epochs_trained(1600, 189)
    assert round(trained, 2) == 8.47 and last == 88
    assert epochs_trained(80, 40) == (2.0, None)
    assert epochs_trained(None, 40) == (None, None) and epochs_trained(100, 0) == (None, None)


@pytest.fixture
def photos(tmp_path, monkeypatch):
    """A kohya_ss-style dataset of real-photo mistakes: an alpha cutout, a CMYK scan, a phone shot
    with EXIF rotation, a truncated download, captions with hostile text, 20 reg images for 12
    train samples."""
    import numpy as np

    t, r = tmp_path / "img" / "3_ohwx woman", tmp_path / "reg" / "1_woman"
    t.mkdir(parents=True)
    r.mkdir(parents=True)
    for k in range(3):
        textured(k, (96, 128)).save(t / f"IMG_40{k:02d}.jpg", quality=90)
    (t / "IMG_4000.txt").write_text("ohwx woman, <script>alert(1)</script> smiling", encoding="utf-8")
    a = np.zeros((96, 96, 4), np.uint8)
    a[..., 1] = 200
    a[24:72, 24:72] = (220, 160, 120, 255)
    Image.fromarray(a, "RGBA").save(t / "cutout.png")
    Image.new("CMYK", (96, 128), (30, 60, 10, 90)).save(t / "print_scan.jpg", quality=90)
    make_image(t / "phone.jpg", size=(128, 96), exif_orientation=6)
    data = (t / "IMG_4001.jpg").read_bytes()
    (t / "broken.jpg").write_bytes(data[: len(data) // 2])
    make_image(t / "odd.Png", size=(96, 96))  # never matched by sd-scripts' glob on Linux
    for k in range(20):
        textured(100 + k, (96, 96)).save(r / f"woman_{k:02d}.jpg", quality=90)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "report.html"
    # 7 images x 3 repeats = 21 train samples, 20 reg images x 1: every one used; batch 2
    assert main(["report", "--train", "img", "--reg", "reg", "--resolution", "128", "--enable_bucket",
                 "--min_bucket_reso", "64", "--max_bucket_reso", "256", "--caption_extension", ".txt",
                 "--train_batch_size", "2", "--max_train_steps", "50", "--no-cache", "--no-progress",
                 "--no-dupes", "--target-os", "linux", "-o", str(out)]) == 0
    return out.read_text(encoding="utf-8")


def _section(page: str, name: str) -> str:
    start = page.index(f"<section id={name}>")
    return page[start:page.index("</section>", start)]


def test_fixes_name_their_files_and_link_to_the_image_cards(photos):
    fixes = _section(photos, "fixes")
    cards = _section(photos, "images")
    anchors = dict((name, a) for a, name in re.findall(r"<article class='imgcard \w+' id=(img-\d+)[^>]*>.*?"
                                                         r"<div class=path>([^<]*)</div>", cards))
    assert set(anchors) == {f"img/3_ohwx woman/{n}" for n in ("broken.jpg", "cutout.png", "print_scan.jpg",
                                                                "phone.jpg", "odd.Png")}
    # the truncated download's fix (the one where sd-scripts stops) names it and links to its card
    first = re.search(r"<li class=fix[^>]*>(.*?)</li>", fixes).group(1)
    assert "RA043" in first and "sd-scripts stops here" in first
    assert f"about <a href='#{anchors['img/3_ohwx woman/broken.jpg']}' class=file>img/3_ohwx woman/broken.jpg</a>" \
        in first
    for code, name in (("RA045", "cutout.png"), ("RA046", "print_scan.jpg"), ("RA044", "phone.jpg")):
        (item,) = [li for li in re.findall(r"<li class=fix[^>]*>(.*?)</li>", fixes) if f">{code}<" in li]
        assert f"href='#{anchors['img/3_ohwx woman/' + name]}'" in item
    # each card lists its findings, each linked to the finding
    for a in anchors.values():
        card = cards[cards.index(f"id={a}"):]
        card = card[:card.index("</article>")]
        for k in re.findall(r"href='#f-(\d+)'", card):
            assert f"<div id=f-{k} " in photos


def test_cards_show_alpha_cmyk_and_exif_as_trained_and_as_they_look(photos):
    cards = _section(photos, "images")

    def card(name):
        start = cards.index(f"<div class=path>img/3_ohwx woman/{name}</div>")
        return cards[cards.rindex("<article", 0, start):start]

    assert "as trained: the colour under the transparency" in card("cutout.png")
    assert "as it looks (transparency kept)" in card("cutout.png")
    assert "as trained: Pillow&#x27;s CMYK → RGB" in card("print_scan.jpg")
    assert "as your browser shows the file" in card("print_scan.jpg") and "data:image/jpeg;base64," in card("print_scan.jpg")
    assert "as stored (trained)" in card("phone.jpg") and "as the camera meant it" in card("phone.jpg")
    assert "cannot be decoded" in card("broken.jpg") and "data:image" not in card("broken.jpg")
    assert "never read by sd-scripts" in card("odd.Png") and "as trained" not in card("odd.Png")
    full = cards[cards.index("<div class=path>img/3_ohwx woman/cutout.png</div>"):]
    # 96x96 into the 128 px buckets of bucket_reso_steps 64: 128x128; 3 repeats
    assert "96×96 → 128×128 · <span class=train>train ×3</span>" in full[:full.index("</article>")]


def test_thumbnails_are_labelled_and_captions_escaped(photos):
    subsets = _section(photos, "subsets")
    strip = subsets[subsets.index("<div class=strip>"):]
    first = strip[strip.index("<figure class=thumb>"):strip.index("</figure>")]
    spans = re.findall(r"<span>(.*?)</span>(?=<span>|</figcaption>)", first)
    assert "IMG_4000.jpg" in spans[0]
    assert spans[1] == "96×128 → 128×128 · <span class=train>train ×3</span>"
    assert spans[2] == "ohwx woman, &lt;script&gt;alert(1)&lt;/script&gt; smiling"
    assert "<script>alert" not in photos  # a caption never reaches the page as markup
    # the cutout's thumbnail names its findings, each linked
    cut = strip[strip.index("cutout.png"):]
    cut = cut[:cut.index("</figure>")]
    assert re.search(r"<a href='#f-\d+' class='sev warning'>RA045</a>", cut)


def test_epochs_shown_with_their_fraction(photos):
    # the oracle (real sd-scripts) on this tree: 21 batches per epoch, 21 update steps per epoch,
    # max_train_steps 50, num_train_epochs 3; the loop breaks at step 50, 8 steps into the 3rd epoch
    top = _top(photos)
    assert re.search(r"id=v-batches>21<", top)
    assert re.search(r"id=v-steps>50<", top) and re.search(r"id=v-epochs>2\.38<", top)
    assert "sd-scripts starts 3 epochs; the last stops after 8 of its 21 steps" in top
    assert "<td id=epochs>2.38</td>" in _section(photos, "balance")


def test_long_image_lists_are_folded_with_their_count(tmp_path, monkeypatch):
    t, r = tmp_path / "train" / "1_dog", tmp_path / "reg" / "1_dog"
    t.mkdir(parents=True)
    r.mkdir(parents=True)
    for k in range(3):
        textured(k, (96, 96)).save(t / f"t{k}.jpg", quality=90)
    for k in range(40):
        textured(100 + k, (96, 96)).save(r / f"r{k:02d}.jpg", quality=90)
    balance = _section(_report(tmp_path, monkeypatch, "--train", "train", "--reg", "reg", "--no-dupes"), "balance")
    # 3 train samples use 3 of the 40 reg images: 37 never used, folded under their count
    assert "<p class=crash>37 reg images are never used.</p>" in balance
    assert "<details class=fold><summary>the 37 reg images never used</summary><div class=grid id=unused-0>" in balance
    assert balance.count("<figure class=thumb>") == 37


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (.ci/run installs it)")
@pytest.mark.parametrize("width", [390, 1280])
def test_photos_page_fits(photos, tmp_path, width):
    page = tmp_path / "photos.html"
    page.write_text(photos, encoding="utf-8")
    res = _in_frame(page, tmp_path, width)
    assert res["width"] == width and res["scrollWidth"] <= width and not res["wide"], res


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (.ci/run installs it)")
def test_a_link_to_a_folded_card_opens_it(tmp_path, monkeypatch):
    t = tmp_path / "train" / "2_cat"
    for k in range(14):  # 14 RGBA images: 14 cards, the last 2 folded
        make_image(t / f"a{k:02d}.png", size=(64, 64), mode="RGBA", color=(10 * k, 80, 160, 0))
    page = tmp_path / "report.html"
    text = _report(tmp_path, monkeypatch, "--train", "train", "--no-dupes")
    cards = _section(text, "images")
    assert cards.count("<article class='imgcard") == 14
    assert "<details class=fold><summary>2 more images</summary>" in cards
    assert cards.index("id=img-13") > cards.index("<summary>2 more images</summary>")
    dom = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=3000",
                          "--dump-dom", page.as_uri() + "#img-13"], capture_output=True, text=True, timeout=120).stdout
    assert '<details class="fold" open=""><summary>2 more images</summary>' in dom


def test_an_option_in_a_hint_is_never_broken_after_its_dashes():
    # Chromium at 390 px broke '(--caption_extension' after '--' in RA026's hint
    from regaudit.render.html import _prose

    assert _prose("Rename a.caption (--caption_extension .caption would <leave> them)") == (
        "Rename a.caption (<span class=nw>--caption_extension</span> .caption would &lt;leave&gt; them)")
    assert _prose("a -- b, x--y") == "a -- b, x--y"  # a dash, and dashes inside a word, are left alone


def test_cards_are_the_rounds_over_every_fix_however_long_the_fixes():
    """card_paths stops reading a fix at its CARDS-th distinct image: the cards must be those of the
    full rounds (the k-th image of each fix in turn, repeats taking their turn), on random fixes with
    repeated and shared images, infos and non-images, short and longer than CARDS."""
    import random

    from regaudit.model import Finding, Severity
    from regaudit.views import report
    from regaudit.sdscripts.layout import looks_like_image

    def rounds(findings):  # the rounds read in full, as card_paths read them before
        per_fix = [[p for f in fx.findings if f.severity is not Severity.INFO
                    for p in report.finding_paths(f) if looks_like_image(p)] for fx in report.fixes(findings)]
        per_fix = [ps for ps in per_fix if ps]
        out: dict[str, None] = {}
        for k in range(max((len(ps) for ps in per_fix), default=0)):
            for ps in per_fix:
                if k < len(ps):
                    out[ps[k]] = None
                    if len(out) >= report.CARDS:
                        return list(out)
        return list(out)

    rng = random.Random(21)
    severities = (Severity.ERROR, Severity.WARNING, Severity.INFO)
    for _ in range(60):
        pool = [f"/d/{k}.{rng.choice(['png', 'jpg', 'txt'])}" for k in range(rng.choice((5, 50, 400)))]
        findings = []
        for _ in range(rng.randint(0, 300)):
            images = tuple((("path", rng.choice(pool)),) for _ in range(rng.randint(0, 3)))
            findings.append(Finding("RA044", "exif-rotated", rng.choice(severities), rng.choice(pool), "m",
                                    rng.choice(("Rotate.", "Flatten.", "Convert.", "")), images))
        findings = tuple(findings)
        assert report.card_paths(findings) == rounds(findings)


def test_cards_take_one_image_of_each_fix_in_turn():
    # 14 EXIF-rotated photos filled the 12 open cards; the alpha cutout and the CMYK scan were folded away
    from regaudit.model import Finding, Severity
    from regaudit.views.report import card_paths

    rotated = [Finding("RA044", "exif-rotated", Severity.WARNING, f"/d/IMG_{k:04d}.jpg", "EXIF 6", "Rotate.")
               for k in range(14)]
    alpha = Finding("RA045", "transparency-dropped", Severity.WARNING, "/d/cutout.png", "RGBA", "Flatten.")
    cmyk = Finding("RA046", "cmyk-converted", Severity.WARNING, "/d/scan.jpg", "CMYK", "Convert.")
    paths = card_paths((*rotated, alpha, cmyk))
    assert len(paths) == 16 and set(paths) == {f.path for f in (*rotated, alpha, cmyk)}
    assert {"/d/cutout.png", "/d/scan.jpg", "/d/IMG_0000.jpg"} == set(paths[:3])
    assert paths[3:] == [f"/d/IMG_{k:04d}.jpg" for k in range(1, 14)]
