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
