"""Captions as the text encoder sees them: CLIP token counts, process_caption, RA031-RA038, tags.

Token counts and ids marked 'oracle' were produced by transformers 4.54.1's CLIPTokenizer with ftfy
6.3.1, as sd-scripts loads it (tests/differential/clip_tokens.py builds that reference)."""

from __future__ import annotations

import json

import pytest

from regaudit.sdscripts import caption_budgets
from regaudit.sdscripts import caption_process as cp
from regaudit.sdscripts import tokens as clip_tokens
from regaudit.sdscripts.caption_options import CaptionArgs, apply, caption_args
from regaudit.cli import main
from regaudit.errors import OptionError
from regaudit.model import SubsetConfig
from regaudit.render.json_out import captions_document
from regaudit.views.captions import TextOptions, audit
from regaudit.views.scan import load_specs, scan
from regaudit.sdscripts.tagfreq import caption_tags, ss_tag_frequency, tag_tables
from tests.conftest import make_image

TAGS60 = ", ".join(f"tag{i}" for i in range(60))  # oracle: 229 tokens
TAGS40W = ", ".join(f"tag{i} word" for i in range(40))  # oracle: 189 tokens


# --- token counts ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, ids", [
    ("A person riding a motorcycle", [320, 2533, 6765, 320, 10297]),  # oracle
    ("wow!!", [2781, 748]),  # oracle
    ("&amp; cats", [261, 3989]),  # oracle: ftfy unescapes HTML when the text has no '<'
    ("a <b> &amp; c", [320, 283, 321, 285, 261, 6259, 282, 322]),  # oracle: ... and not when it has one
    ("<|EndOfText|> x", [49407, 343]),  # oracle: the pre-tokenizer reads it as <|endoftext|>
    ("ＡＢＣ ﬁsh", [5334, 2759]),  # oracle: full width letters and ligatures folded by ftfy
    ("“curly” quotes", [257, 20795, 257, 5808]),  # oracle: quotes straightened by ftfy
    ("café naïve", [15304, 1097, 35689, 563]),  # oracle
    ("\ufeffsks dog on the sofa", [48136, 1929, 525, 518, 15723]),  # oracle: the BOM is dropped
])
def test_ids_match_transformers_clip_tokenizer(text, ids):
    assert clip_tokens.encode(text) == ids


@pytest.mark.parametrize("text, clip_l, bang", [
    ("1girl, solo, long_hair, looking at viewer", 12, 12),  # oracle
    ("東京タワー", 7, 7),  # oracle
    (TAGS60, 229, 229),  # oracle
    (TAGS40W, 189, 189),  # oracle
    ("wow!!", 2, 3),  # oracle: with '!' as padding token each '!' stands alone (SD 2.x, CLIP-G)
    ("hi! there!", 4, 4),  # oracle
    ("{red|blue} shirt", 6, 6),  # oracle: braces are plain text to the tokenizer
])
def test_counts_match_oracle(text, clip_l, bang):
    c = clip_tokens.TokenCounter()
    assert (c.count(text), c.count(text, bang_is_pad=True)) == (clip_l, bang)
    assert c.count(text) == clip_l  # cached


# --- process_caption ------------------------------------------------------------------------

def _sc(**kw) -> SubsetConfig:
    return SubsetConfig("d", False, 1, "sks dog", **kw)


def test_split_tags_keep_tokens_and_separator():
    sc = _sc(shuffle_caption=True, keep_tokens=2)
    assert cp.split_tags("a, b, , c, d", sc) == cp.Tags(("a", "b"), ("", "c", "d"), (), False)  # empties kept
    sc = _sc(shuffle_caption=True, keep_tokens=5, keep_tokens_separator="|||")
    t = cp.split_tags("sks, dog ||| red, , blue ||| best, ||| quality", sc)
    # keep_tokens is ignored when the separator is there; a third separator stays in the suffix text
    assert t == cp.Tags(("sks", "dog"), ("red", "blue"), ("best", "||| quality"), True)
    assert cp.join(t.all, _sc(secondary_separator=";;;")) == "sks, dog, red, blue, best, ||| quality"
    assert cp.join(("a;;;b", "c"), _sc(secondary_separator=";;;")) == "a,b, c"
    with pytest.raises(ValueError):
        cp.split_tags("a, b", _sc(shuffle_caption=True, caption_separator=""))


def test_prefix_suffix_and_dynamic():
    assert cp.with_prefix_suffix("1girl", _sc(caption_prefix="sks", caption_suffix="end")) == "sks 1girl end"
    assert not cp.is_dynamic(_sc(keep_tokens=3))
    assert cp.is_dynamic(_sc(token_warmup_step=0.1)) and cp.is_dynamic(_sc(caption_tag_dropout_rate=0.2))


def test_wildcards_as_process_caption_reads_them():
    assert cp.wildcard_groups("a {red|blue} {{x}} {b|c|d}") == [("red", "blue"), ("b", "c", "d")]
    assert cp.resolve_wildcards("a {red|blue} {{x}}", lambda k, ch: ch[-1]) == "a blue {x}"
    assert cp.wildcard_groups("{a|{b|c} }") == [("a", "{b", "c")]  # the pattern stops at the first '}'
    assert cp.wildcard_groups("{a|{b|c}}") == []  # '}}' is an escaped brace: nothing is replaced
    assert cp.literal_braces("{a|{b|c}}") and cp.literal_braces("x {} y") and cp.literal_braces("{a|b")
    assert not cp.literal_braces("{a|b} and {{literal}}")
    assert cp.lines("one\ntwo", True) == ["one", "two"] and cp.lines("one\ntwo", False) == ["one"]


def test_token_warmup_numbers():
    sc = _sc(token_warmup_step=0.25, token_warmup_min=1)
    assert cp.warmup_steps(sc, 1600) == 400
    # floor(step * (n - min) / end) + min flexible tags, in caption order
    assert [cp.warmup_tags(9, s, sc, 1600) for s in (0, 100, 399, 400)] == [1, 3, 8, 9]


# --- findings -----------------------------------------------------------------------------

def _tree(tmp_path, train: dict[str, str | None], reg: dict[str, str | None] | None = None,
          train_dir="train/10_sks dog", reg_dir="reg/1_dog"):
    for d, files in ((train_dir, train), (reg_dir, reg or {})):
        for name, caption in files.items():
            make_image(tmp_path / d / f"{name}.png", size=(32, 32))
            if caption is not None:
                (tmp_path / d / f"{name}.caption").write_text(caption, encoding="utf-8")
    return str(tmp_path / "train"), str(tmp_path / "reg") if reg else None


def _audit(tmp_path, train, reg=None, text=None, config=None, **opts):
    t, r = _tree(tmp_path, train, reg)
    specs = load_specs(None if config else t, None if config else r, config)
    specs = apply(specs, caption_args(**opts), config)
    result = scan(specs, jobs=1, text=text)
    return audit(result.datasets, text), result


def _one(findings, code):
    found = [f for f in findings if f.code == code]
    assert len(found) == 1, [f.message for f in findings]
    return found[0]


def test_truncated_static_names_what_is_lost(tmp_path):
    a, result = _audit(tmp_path, {"a": TAGS60, "b": "sks dog"})
    f = _one(result.findings, "RA031")
    assert f.severity.value == "warning" and f.name == "caption-truncated"
    # 229 tokens (oracle), 154 past 75; tag0..tag9 cost 3 (tag, digit, ','), tag10.. cost 4: 9*3+2 = 29 for
    # tag0..tag9, then 11 two-digit tags (44) make 73 and ', tag21' would end at 77
    assert "1 of 2 captions are longer than the 75 CLIP tokens" in f.message
    assert "a.png 229 tokens, 154 past, loses 'tag21', 'tag22' and 37 more" in f.message
    b = a.subsets[0].budgets[0]
    assert (b.tokens, b.seen, b.over, b.cut_tags[0], len(b.cut_tags)) == (229, (("clip_l", 229),), 154, "tag21", 39)
    assert result.subsets[0].images[0].caption_tokens == 229


def test_scan_json_names_every_caption_past_the_limit(tmp_path, capsys):
    # five captions past 75, one of them twice (the same text, two images): each image its own entry
    caps = {f"i{k}": ", ".join(f"tag{i}" for i in range(20 + 5 * k)) for k in range(5)}
    caps["j4"] = caps["i4"]
    caps["ok"] = "sks dog"
    t, _ = _tree(tmp_path, caps)
    assert main(["scan", t, "--json", "--no-progress"]) == 0
    doc = json.loads(capsys.readouterr().out)
    (f,) = [f for f in doc["findings"] if f["code"] == "RA031"]
    got = sorted((i["path"].rsplit("/", 1)[1], i["tokens"], i["over"], i["cut_tags"][0], len(i["cut_tags"]))
                 for i in f["images"])
    # oracle: 69, 89, 109, 129, 149 tokens (tag0..tag9 cost 2, tag10.. 3, one per ','); from tag21 on no tag fits
    assert got == [("i1.png", 89, 14, "tag21", 4), ("i2.png", 109, 34, "tag21", 9), ("i3.png", 129, 54, "tag21", 14),
                   ("i4.png", 149, 74, "tag21", 19), ("j4.png", 149, 74, "tag21", 19)]
    assert f["message"].startswith("5 of 7 captions are longer than the 75 CLIP tokens sd-scripts keeps: i4.png 149 "
                                   "tokens, 74 past, loses 'tag21', 'tag22' and 17 more, j4.png 149 tokens")
    assert f["message"].endswith(" and 2 more (each one in the JSON finding's 'images')")
    tokens = {i["path"].rsplit("/", 1)[1]: i["caption_tokens"] for s in doc["subsets"] for i in s["images"]}
    assert tokens["i0.png"] == 69 and tokens["ok.png"] == 2  # oracle


def test_max_token_length_and_trainer_limits(tmp_path):
    a, _ = _audit(tmp_path, {"a": TAGS40W}, text=TextOptions(max_token_length=225))
    assert a.limit == 225 and not [f for f in a.findings if f.code == "RA031"]
    a2 = audit(a.datasets, TextOptions(trainer="sdxl_train_network", max_token_length=150))
    assert a2.limit == 150 and a2.subsets[0].budgets[0].seen == (("clip_l", 189), ("clip_g", 189))
    a3 = audit(a.datasets, TextOptions(trainer="flux_train_network", max_token_length=225))
    assert a3.limit == 75 and a3.subsets[0].budgets[0].over == 114  # FLUX's CLIP ignores max_token_length
    assert "T5-XXL" in a3.encoders.not_counted[0]
    doc = captions_document(a3, tag_tables(a3.datasets), a3.findings)
    assert doc["not_counted"] == ["T5-XXL (--t5xxl_max_token_length, 512 for dev, 256 for schnell)"]
    assert "no package ships" in doc["not_counted_reason"]
    assert captions_document(a2, tag_tables(a2.datasets), a2.findings)["not_counted_reason"] is None
    assert audit(a.datasets, TextOptions(trainer="lumina_train_network")).limit is None
    with pytest.raises(OptionError):
        TextOptions(trainer="not_a_trainer")


def test_sdxl_second_tokenizer_counts_bangs_apart(tmp_path):
    a, _ = _audit(tmp_path, {"a": "wow!!"}, text=TextOptions(trainer="sdxl_train_network"))
    assert a.subsets[0].budgets[0].seen == (("clip_l", 2), ("clip_g", 3))  # oracle


def test_shuffle_share_and_kept_part(tmp_path):
    # 'sks' kept (1 token), 60 shuffled 'red' tags at 2 tokens each (tag and ','): 37 fit in 74, so
    # 23 of 60 never do, whatever the order
    a, result = _audit(tmp_path, {"a": "sks, " + ", ".join(["red"] * 60)}, shuffle_caption=True, keep_tokens=1)
    b = a.subsets[0].budgets[0]
    assert (b.tokens, b.kept_tokens, b.over, b.n_flex) == (121, 1, 46, 60)  # 121: oracle
    assert b.shuffle_cut == pytest.approx(23 / 60)
    f = _one(result.findings, "RA031")
    assert "on an average step 38% of these captions' shuffled tags do not fit" in f.message
    # the kept part itself past the limit: 80 one-token tags before the separator
    a, result = _audit(tmp_path / "k", {"a": ", ".join(["red"] * 80) + " ||| blue, green"},
                       shuffle_caption=True, keep_tokens_separator="|||")
    b = a.subsets[0].budgets[0]
    assert b.kept_tokens == 159 and b.shuffle_cut == 1.0
    # 'red' and ',' one token each: 38 kept tags fit in 75 (38 + 37 commas), 42 never do
    assert "the kept part alone passes the limit, so none of their shuffled tags ever reaches the text encoder (up " \
           "to 159 tokens, a.png: 38 of its 80 kept tags survive, 'red', 'red', 'red' and 39 more never)" \
           in _one(result.findings, "RA031").message
    assert (len(b.kept_tags), len(b.kept_cut)) == (38, 42)


def test_fixed_suffix_is_cut_first(tmp_path):
    a, result = _audit(tmp_path, {"a": "sks ||| " + ", ".join(["red"] * 40) + " ||| masterpiece, best quality"},
                       shuffle_caption=True, keep_tokens_separator="|||")
    b = a.subsets[0].budgets[0]
    assert b.suffix_cut and b.cut_tags == ("masterpiece", "best quality")
    assert "1 captions lose tags of their fixed suffix" in _one(result.findings, "RA031").message


def test_trigger_word_missing_and_partial(tmp_path):
    a, result = _audit(tmp_path, {"a": "a photo of a dog", "b": "sks_dog on grass", "c": "sksdog",
                                  "d": None, "e": "a {sks|red} dog"},
                       {"r": "a dog"}, enable_wildcard=True)
    f = _one(result.findings, "RA032")
    # the reg folder '1_dog' makes 'sks' the trigger; 'sks_dog' holds the word 'sks', 'sksdog' does not;
    # the class-token caption of 'd' is not checked; 'e' has it in one wildcard variant only
    assert f.severity.value == "warning" and f.name == "trigger-word-missing"
    assert f.message.startswith("2 of 4 captions read from caption files never contain 'sks' (a.png, c.png)")
    assert "1 more captions contain 'sks' only in part or only in some wildcard variants (e.png)" in f.message
    assert [b.trigger for b in a.subsets[0].budgets] == ["missing", "present", "missing", None, "partial"]
    assert a.subsets[0].trigger_words == ("sks",)


def test_caption_prefix_supplies_the_trigger_and_reaches_reg(tmp_path):
    _, result = _audit(tmp_path, {"a": "a photo of a dog"}, {"r": "a dog", "s": None}, caption_prefix="sks,")
    assert not [f for f in result.findings if f.code == "RA032"]
    f = _one(result.findings, "RA033")
    assert f.message.startswith("2 of 2 reg captions carry the trigger of the train subset 'sks dog'")
    assert "caption_prefix/caption_suffix ('sks,') are added to reg captions too" in f.message


def test_reg_caption_with_trigger(tmp_path):
    a, result = _audit(tmp_path, {"a": "sks dog"}, {"r": "a photo of sks dog", "s": "a dog", "t": None})
    f = _one(result.findings, "RA033")
    assert f.severity.value == "warning" and "1 of 3 reg captions" in f.message and "(r.png)" in f.message
    assert [b.mentions for b in a.subsets[1].budgets] == [("sks dog",), (), ()]


def test_duplicate_captions_and_tags(tmp_path):
    _, result = _audit(tmp_path, {"a": "sks dog, smile", "b": "SKS dog,  smile", "c": "sks dog, smile, Smile",
                                  "d": "sks dog"})
    msgs = sorted(f.message for f in result.findings if f.code == "RA034")
    assert msgs == ["1 caption repeats a tag (c.png: 'smile')",
                    "2 images share 1 identical captions: 'sks dog, smile' ×2 (a.png, b.png)"]


def test_wildcard_syntax(tmp_path):
    _, result = _audit(tmp_path / "off", {"a": "sks dog in a {red|blue} shirt", "b": "sks {{x}}"})
    assert "1 captions contain '{a|b}' wildcard groups but enable_wildcard is off" in \
        _one(result.findings, "RA035").message
    _, result = _audit(tmp_path / "on", {"a": "sks {a|{b|c}}", "b": "sks dog\nsks cat"},
                       enable_wildcard=True, caption_prefix="masterpiece,")
    msgs = sorted(f.message for f in result.findings if f.code == "RA035")
    assert msgs[0].startswith("1 captions have several lines: the caption_prefix is added to the whole caption")
    assert msgs[1].startswith("1 captions keep literal braces after their wildcards are resolved")


def test_separator_syntax(tmp_path):
    _, result = _audit(tmp_path / "a", {"a": "sks dog; red; blue", "b": "sks dog, smile"}, shuffle_caption=True,
                       caption_separator=";", caption_prefix="sks")
    msgs = sorted(f.message for f in result.findings if f.code == "RA036")
    assert msgs == [
        "1 of 2 captions contain no caption_separator ';': each is one tag, so shuffle_caption, tag dropout and "
        "warmup leave it as it is (b.png: 'sks dog, smile')",
        "caption_prefix 'sks' has no caption_separator ';' on its inner side, so it joins each caption's first tag "
        "into one (e.g. 'sks sks dog' in a.png)",
        "tags are cut on caption_separator ';' and joined again with ', ': the text encoder sees ', ' between them, "
        "never ';'"]
    _, result = _audit(tmp_path / "b", {"a": "sks ||| red, blue", "b": "sks dog, red"}, keep_tokens_separator="|||")
    assert _one(result.findings, "RA036").message.startswith(
        "1 captions contain keep_tokens_separator '|||', but shuffle_caption, token warmup and tag dropout are off")


def test_empty_separator_crashes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "d.toml").write_text("[[datasets]]\n[[datasets.subsets]]\nimage_dir = 'train/10_sks dog'\n"
                                     "class_tokens = 'sks dog'\nshuffle_caption = true\ncaption_separator = ''\n")
    _, result = _audit(tmp_path, {"a": "sks, dog"}, config=str(tmp_path / "d.toml"))
    f = _one(result.findings, "RA037")
    assert f.severity.value == "error" and "raises 'ValueError: empty separator'" in f.message


def test_augmentation_numbers(tmp_path):
    _, result = _audit(tmp_path, {"a": "sks dog, red, blue, green", "b": "red, sks dog, blue"}, caption_dropout_rate=0.1,
                       caption_dropout_every_n_epochs=3, caption_tag_dropout_rate=0.2, keep_tokens=1,
                       token_warmup_step=0.25)
    f = _one(result.findings, "RA038")
    assert f.severity.value == "info"
    assert f.message == (
        "caption_dropout_rate 0.1: about 10% of steps train these images with an empty caption; "
        "caption_dropout_every_n_epochs 3: every 3rd epoch trains all of them with an empty caption; "
        "caption_tag_dropout_rate 0.2: each shuffled tag (2 to 3 a caption) is left out of 20% of steps, the "
        "trigger 'sks dog' too in 1 captions where it is not in the kept part; "
        "token warmup until step 400: step 0 uses the first 1 of up to 3 shuffled tags (in caption order), more each step")
    _, result = _audit(tmp_path / "k", {"a": "sks, red"}, keep_tokens=1)
    assert _one(result.findings, "RA038").message == \
        "keep_tokens 1 does nothing: shuffle_caption, token warmup and tag dropout are off"


# --- options --------------------------------------------------------------------------------

def test_caption_options_follow_sd_scripts_precedence(tmp_path):
    for d in ("a", "b", "c"):
        make_image(tmp_path / d / "x.png")
    cfg = tmp_path / "d.toml"
    cfg.write_text("[general]\nkeep_tokens = 3\ncaption_prefix = 'gen'\n"
                   "[[datasets]]\nkeep_tokens = 2\n"
                   "[[datasets.subsets]]\nimage_dir = 'a'\nkeep_tokens = 1\n"
                   "[[datasets.subsets]]\nimage_dir = 'b'\n"
                   "[[datasets]]\n[[datasets.subsets]]\nimage_dir = 'c'\n", encoding="utf-8")
    import os
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        specs = apply(load_specs(None, None, str(cfg)), CaptionArgs(keep_tokens=9, shuffle_caption=True,
                                                                    caption_suffix="cli"), str(cfg))
    finally:
        os.chdir(cwd)
    got = [(s.keep_tokens, s.caption_prefix, s.caption_suffix, s.shuffle_caption) for sp in specs for s in sp.subsets]
    assert got == [(1, "gen", "cli", True), (2, "gen", "cli", True), (3, "gen", "cli", True)]
    # a rate past 0..1 is what sd-scripts compares random() with: simulated, not refused; inf is refused
    assert caption_args(caption_dropout_rate=1.5).caption_dropout_rate == 1.5
    with pytest.raises(OptionError):
        caption_args(caption_dropout_rate=float("inf"))


# --- tags -----------------------------------------------------------------------------------

def test_ss_tag_frequency_as_sd_scripts_records_it(tmp_path):
    t, r = _tree(tmp_path, {"a": "Sks dog, smile,  smile , ", "b": None}, {"r": "a dog, smile"})
    result = scan(load_specs(t, r), jobs=1)
    assert caption_tags(" A, ,b ,a") == ["a", "b", "a"]
    assert ss_tag_frequency(result.datasets) == {"10_sks dog": {"sks dog": 2, "smile": 2}, "1_dog": {"a dog": 1, "smile": 1}}
    tables = tag_tables(result.datasets)
    assert tables.train == (("sks dog", 2), ("smile", 2)) and tables.only_in_reg == (("a dog", 1),)


# --- command line ---------------------------------------------------------------------------

def test_scan_json_caption_tokens(capsys, tmp_path):
    _tree(tmp_path, {"a": "sks dog", "b": None, "c": "\n"}, {"r": "a photo of sks dog, pose 0"})
    (tmp_path / "reg" / "1_dog" / "bad.caption").write_bytes(b"\xff")
    make_image(tmp_path / "reg" / "1_dog" / "bad.png")
    assert main(["scan", "--train", str(tmp_path / "train"), "--reg", str(tmp_path / "reg"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    tokens = {i["path"].rsplit("/", 1)[1]: i["caption_tokens"] for s in doc["subsets"] for i in s["images"]}
    # oracle: 'sks dog' 2 (also the class-token caption of b), '' 0, 'a photo of sks dog, pose 0' 8
    assert tokens == {"a.png": 2, "b.png": 2, "c.png": 0, "r.png": 8, "bad.png": None}
    assert doc["caption_tokenizer"].startswith("tokenizers ")


def test_captions_command(capsys, tmp_path):
    _tree(tmp_path, {"a": TAGS60, "b": "a photo of a dog"}, {"r": "a dog, smile"})
    argv = ["captions", "--train", str(tmp_path / "train"), "--reg", str(tmp_path / "reg"), "--no-progress"]
    assert main(argv + ["--json", "--shuffle_caption", "--keep_tokens", "1"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["schema_version"] == 1 and doc["command"] == "captions" and doc["limit"] == 75
    assert doc["tokenizers"][0]["name"] == "clip_l" and doc["family"] == "SD 1.x"
    train = doc["subsets"][0]
    assert train["options"]["shuffle_caption"] and train["options"]["keep_tokens"] == 1
    assert train["trigger_words"] == ["sks"] and train["trigger_missing"] == 2 and train["over_limit"] == 1
    assert train["images"][0]["tokens"] == 229 and 0 < train["images"][0]["shuffle_cut"] < 1
    assert doc["tags"]["only_in_reg"] == [{"tag": "a dog", "count": 1}, {"tag": "smile", "count": 1}]
    assert doc["tag_frequency"]["1_dog"] == {"a dog": 1, "smile": 1}
    assert {"RA031", "RA032"} <= {f["code"] for f in doc["findings"]}
    assert main(argv) == 0
    out = capsys.readouterr().out
    for needle in ("Captions per subset", "Captions over the limit (1)", "Tags (as ss_tag_frequency counts them)",
                   "RA032"):
        assert needle in out
    assert main(argv + ["--max_token_length", "100"]) == 2
    assert "must be 150 or 225" in capsys.readouterr().err


def test_captions_command_without_tokenizer(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(clip_tokens, "_backend", lambda: "No module named 'tokenizers'")
    monkeypatch.setattr(caption_budgets, "_SHARED", [])
    _tree(tmp_path, {"a": TAGS60, "b": "a photo of a dog"})
    assert main(["captions", str(tmp_path / "train"), "--json", "--no-progress"]) == 0
    out, err = capsys.readouterr()
    doc = json.loads(out)
    assert not doc["tokenizer"]["available"] and "reinstall regaudit" in err
    assert doc["subsets"][0]["images"][0]["tokens"] is None and doc["summary"]["over_limit"] == 0
    # trigger checks need no tokenizer: without a reg folder both words are the trigger
    assert (doc["summary"]["trigger_missing"], doc["summary"]["trigger_partial"]) == (1, 1)


def test_report_shows_tags_and_captions(capsys, tmp_path, monkeypatch):
    _tree(tmp_path, {"a": TAGS60, "b": "sks dog"}, {"r": "a dog, smile"})
    monkeypatch.chdir(tmp_path)
    assert main(["report", "--train", "train", "--reg", "reg", "--resolution", "32", "--no-dupes", "--no-progress",
                 "-o", str(tmp_path / "out.html")]) == 0
    page = (tmp_path / "out.html").read_text()
    assert "<section id=captions>" in page and "keeps 75 CLIP tokens" in page
    assert "229 tokens, <span class=over>154 past the limit</span>" in page
    assert "never seen: tag21, tag22" in page
    assert 'title="train/10_sks dog/b.png — sks dog  [2 tokens]"' in page  # the thumbnail's hover text
    assert "<li>a dog <span class=tok>1</span></li>" in page  # only in reg


def test_cut_tags_by_bisection_where_ftfy_may_change_pieces(tmp_path):
    # non-ASCII text takes the bisection with real counts. Oracle: 'café' is 1 token, the caption 231;
    # 'café, ' adds 2, so tag0..tag9 take 31 and tag10..tag20 (4 each) end exactly at 75
    a, _ = _audit(tmp_path, {"a": "café, " + TAGS60})
    b = a.subsets[0].budgets[0]
    assert (b.tokens, b.over, b.cut_tags[0], len(b.cut_tags)) == (231, 156, "tag21", 39)


@pytest.mark.parametrize("opts", [
    {},
    {"caption_prefix": "masterpiece, sks", "caption_suffix": "best quality"},
    {"secondary_separator": ";;;", "keep_tokens_separator": "|||"},
    {"caption_separator": ";", "caption_prefix": "a!b"},
])
def test_the_short_way_of_a_static_caption_gives_the_general_way_s_budget(tmp_path, monkeypatch, opts):
    """Captions that are neither wildcards nor cut into tags take a short way through the budget;
    every field must be what the general way gives, for every trainer's tokenizers and both detail
    levels (scan asks for the short one)."""
    train = {"a": TAGS60, "b": "sks dog!! on a sofa", "c": "first line\nsecond line", "d": "",
             "e": "tag;;;one, |||kept|||, sks", "f": None, "g": TAGS40W + " sks"}
    reg = {"r1": "a dog, sks", "r2": None, "r3": "photo of a dog"}
    t, r = _tree(tmp_path, train, reg)
    specs = apply(load_specs(t, r, None), caption_args(**opts), None)
    result = scan(specs, jobs=1)
    for text in (None, TextOptions(trainer="sdxl_train_network"), TextOptions(v2=True, max_token_length=150),
                 TextOptions(trainer="flux_train_network")):
        for detail in (True, False):
            monkeypatch.setattr(caption_budgets, "_FAST", True)
            fast = audit(result.datasets, text, detail=detail)
            monkeypatch.setattr(caption_budgets, "_FAST", False)
            slow = audit(result.datasets, text, detail=detail)
            assert [st.budgets for st in fast.subsets] == [st.budgets for st in slow.subsets]
            assert fast.findings == slow.findings


@pytest.mark.parametrize("jobs", [1, 2])
def test_budgets_made_where_captions_are_read_give_the_audit_s_findings(tmp_path, monkeypatch, jobs):
    """scan works the caption budgets out in the worker that read each caption; the findings must
    be those of the audit done afterwards from the datasets alone (two datasets, shared captions,
    reg captions that carry a train trigger, a caption past the limit)."""
    from regaudit.views import scan as scan_mod

    monkeypatch.setattr(scan_mod, "_PARALLEL_MIN", 1)  # small trees through the worker processes too
    train = {f"t{i}": ("sks dog on a sofa" if i % 3 else TAGS60) for i in range(9)}
    train["none"] = None
    reg = {f"r{i}": ("a photo of sks dog" if i % 2 else None) for i in range(6)}
    t, r = _tree(tmp_path, train, reg)
    cfg = tmp_path / "d.toml"
    cfg.write_text(f'[[datasets]]\n[[datasets.subsets]]\nimage_dir = "{t}/10_sks dog"\nclass_tokens = "sks dog"\n'
                   f'[[datasets.subsets]]\nimage_dir = "{r}/1_dog"\nclass_tokens = "dog"\nis_reg = true\n'
                   f'[[datasets]]\n[[datasets.subsets]]\nimage_dir = "{r}/1_dog"\nclass_tokens = "dog"\n'
                   f'caption_extension = ".caption"\n', encoding="utf-8")
    for text in (None, TextOptions(trainer="sdxl_train_network")):
        result = scan(load_specs(None, None, str(cfg)), jobs=jobs, text=text)
        again = audit(result.datasets, text, detail=False)
        codes = {f.code for f in again.findings}
        assert {"RA031", "RA033"} <= codes
        # (a folder in two datasets: scan says each finding once)
        assert [f for f in result.findings if f.code in codes] == list(dict.fromkeys(again.findings))
