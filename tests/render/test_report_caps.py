"""The report page of a config of many datasets: each section shows the first of its subsets,
datasets, fixes and findings and says how many more there are; its size and time stay bounded
(a 20,000-dataset config once took 339 s and 6 GB for a page of hundreds of MB)."""

from __future__ import annotations

import os
import re

from tests.hostile_fixtures import ds_captioned  # noqa: F401 (a fixture)
from tests.hostile_fixtures import run


def _config(root, n: int):
    """``n`` datasets over the same two folders: a train subset with no trigger in its captions (a
    warning each) and a reg subset."""
    train = (root / "train" / "10_dog").as_posix()
    reg = (root / "reg" / "1_dog").as_posix()
    cfg = root / f"many{n}.toml"
    cfg.write_text("[general]\ncaption_extension = '.caption'\n" + "".join(
        f"[[datasets]]\n[[datasets.subsets]]\nimage_dir = '{train}'\nclass_tokens = 'sks{k} dog'\n"
        f"[[datasets.subsets]]\nimage_dir = '{reg}'\nis_reg = true\n\n" for k in range(n)))
    return cfg


def _page(capsys, root, cfg, name):
    out = root / name
    code, _, err = run(capsys, "report", "--dataset_config", cfg, "--no-dupes", "-j", "1", "-o", out)
    assert code == 0, err
    return out.read_text()


def test_sections_show_the_first_and_say_how_many_more(capsys, ds_captioned, monkeypatch):
    from regaudit.render import html
    from regaudit.views import report

    for module in (html, report):
        monkeypatch.setattr(module, "SUBSETS", 3)
    monkeypatch.setattr(html, "DATASETS", 2)
    monkeypatch.setattr(html, "FINDINGS", 4)
    monkeypatch.setattr(html, "FIXES", 2)
    text = _page(capsys, ds_captioned, _config(ds_captioned, 6), "caps.html")
    # 12 subsets: three shown, in the subsets and the captions sections and in the filter
    assert text.count("<article class=subset ") == 3
    assert "and 9 more subsets, not shown here: <code>regaudit scan --json</code> with the same arguments" in text
    assert text.count("<article class=capset") == 3 and "<code>regaudit captions --json</code>" in text
    assert len(re.findall(r"<option value=\d", text)) == 3 and "<option disabled>(the first 3 of 12 subsets)</option>" in text
    # a filter lists only shown subsets (0-2), though the train folder is named by all six datasets
    named = [int(k) for ks in re.findall(r"data-subsets='([^']*)'", text) for k in ks.split()]
    assert named and max(named) == 2
    # the reg balance and buckets of the first two datasets of six
    assert len(re.findall(r"<h3>Dataset \d+</h3>", text[text.index("id=balance>"):text.index("id=buckets>")])) == 2
    assert "and 4 more datasets, not shown here: <code>regaudit balance --json</code>" in text
    # the warnings: six RA032 (one per train subset, its own trigger missing), four listed
    warned = re.search(r"<h3 class='sev-title warning'>warning \((\d+)\)</h3>", text)
    assert warned and int(warned.group(1)) >= 6
    listed = text[warned.end():].split("</div><div class=sevgroup", 1)[0]
    assert listed.count("class='finding warning'") == 4
    assert f"and {int(warned.group(1)) - 4} more warning findings, not shown here" in listed
    # every link to a finding goes to one the page lists, or to the findings section
    anchors = set(re.findall(r"id=f-(\d+)", text))
    assert anchors and all(k in anchors for k in re.findall(r"href='#f-(\d+)'", text))
    # the fixes: two listed, the others counted
    fixes = text[text.index("id=fixes>"):text.index("</section>", text.index("id=fixes>"))]
    assert fixes.count("<li class=fix") == 2 and "more fixes, not shown here" in fixes


def test_the_page_does_not_grow_with_the_datasets_past_what_it_shows(capsys, ds_captioned):
    small = _page(capsys, ds_captioned, _config(ds_captioned, 250), "small.html")
    large = _page(capsys, ds_captioned, _config(ds_captioned, 1000), "large.html")
    assert "and 300 more subsets" in small and "and 1800 more subsets" in large
    # 4x the datasets: the same sections, the same thumbnails; only the counts change
    assert len(large) < 1.1 * len(small), (len(small), len(large))


def test_a_musubi_page_shows_the_first_datasets_and_each_thumbnail_once(tmp_path, capsys, monkeypatch):
    """musubi-tuner: 5 datasets over one folder; 2 shown, the others counted; the folder's 3 images
    made into thumbnails once (13,080 datasets once asked for 26,160 thumbnails: 109 s)."""
    from regaudit.render import html_musubi
    from regaudit.views import report
    from tests.rules.cli_table import Img, build

    build(tmp_path, {"img/a.png": Img((512, 512)), "img/b.png": Img((640, 512)), "img/c.png": Img((512, 640)),
                     "ds.toml": "[general]\nresolution = [512, 512]\nbatch_size = 1\n" + "".join(
                         f'[[datasets]]\nimage_directory = "{{root}}/img"\ncache_directory = "{{root}}/c{k}"\n'
                         for k in range(5))})
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(html_musubi, "DATASETS", 2)
    asked = []
    real = report.make_thumbnails
    monkeypatch.setattr(report, "make_thumbnails", lambda items, *a, **k: asked.append(list(items)) or real(items, *a, **k))
    code, _, err = run(capsys, "report", "-o", tmp_path / "m.html", "accelerate", "launch", "qwen_image_train_network.py",
                       "--dataset_config", "ds.toml")
    assert code == 0, err
    text = (tmp_path / "m.html").read_text()
    assert text.count("<article class=subset id=musubi-dataset-") == 2
    assert "and 3 more datasets, not shown here: <code>regaudit scan --json</code>" in text
    assert len(asked) == 1 and sorted(os.path.basename(p) for p, _ in asked[0]) == ["a.png", "b.png", "c.png"]
