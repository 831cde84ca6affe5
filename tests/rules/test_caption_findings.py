"""rules.captions and rules.caption_text: literal caption facts in, findings out (RA020-RA038).
Caption files as sd-scripts reads them (``Caption`` values on image records), then captions as the
text encoder sees them (``Budget`` values of a ``SubsetText``)."""

from __future__ import annotations

from regaudit.model import Caption, CaptionSource, Finding, ImageProbe, ImageRecord, Severity, Subset, SubsetConfig
from regaudit.rules.caption_text import text_findings
from regaudit.rules.captions import caption_findings
from regaudit.sdscripts.caption_budgets import Budget, SubsetText
from regaudit.sdscripts.triggers import Trigger

D = "/d/1_sks dog"
PROBE = ImageProbe(64, 64, "header", "PNG", "RGB", False, None, 100)
FILE = CaptionSource.FILE


def _file(name: str, text: str | None = "a dog", **kw) -> Caption:
    return Caption(FILE, f"{D}/{name}", text, **{"line_count": 1, **kw})


def _img(name: str, caption: Caption) -> ImageRecord:
    return ImageRecord(f"{D}/{name}", f"{D}/{name}", name[name.rfind("."):], PROBE, caption)


def _subset(*images: ImageRecord, **config) -> Subset:
    return Subset(SubsetConfig(D, False, 1, "sks dog", **config), D, images)


def _found(subset: Subset, siblings=()) -> list[tuple[str, str, str]]:
    return [(f.code, f.path, f.message) for f in caption_findings(subset, siblings)]


# --- caption files (rules.captions) ------------------------------------------------------------

def test_clean_captions_say_nothing():
    sub = _subset(_img("a.png", _file("a.caption")), _img("b.png", _file("b.caption", "x\ny", line_count=2)),
                  enable_wildcard=True)  # (several lines are wildcard lines then)
    assert _found(sub) == []


def test_caption_files_that_stop_or_mislead_sd_scripts():
    sub = _subset(
        _img("a.png", _file("a.caption", None, error="empty_file", line_count=0)),
        _img("b.png", _file("b.caption", None, error="not_utf8")),
        _img("c.png", _file("c.caption", None, error="unreadable")),
        _img("d.png", _file("d.caption", "a dog", has_bom=True)),
        _img("e.png", _file("e.caption", "")),
        _img("f.png", _file("f.caption", "a dog", line_count=3)),
        _img("g.png", _file("g.caption", "a cat", line_count=2)),
    )
    assert _found(sub) == [
        ("RA020", f"{D}/a.caption", "caption file is empty (0 lines); sd-scripts stops with 'caption file is empty'"),
        ("RA021", f"{D}/b.caption", "caption file is not valid UTF-8; sd-scripts crashes with a UnicodeDecodeError"),
        ("RA022", f"{D}/c.caption", "caption file cannot be opened; sd-scripts crashes"),
        ("RA023", f"{D}/d.caption", "caption starts with a UTF-8 BOM (U+FEFF), which becomes the first character "
                                    "of the prompt"),
        ("RA024", f"{D}/e.caption", "caption's first line is blank: the image trains with an empty caption"),
        ("RA025", D, f"2 caption files have several lines; only the first is used: f.caption, g.caption"),
    ]


def test_a_caption_file_read_twice_is_judged_once():
    bom = _file("a.caption", "a dog", has_bom=True, via_fallback=True)
    sub = _subset(_img("a.png", bom), _img("a_face.png", bom))
    assert [code for code, _, _ in _found(sub)] == ["RA028", "RA023", "RA028"]


def test_a_caption_read_through_the_fallback_name():
    inside = _file("a.caption", via_fallback=True)
    outside = Caption(FILE, "/elsewhere/b.caption", "a dog", line_count=1, via_fallback=True)
    sub = _subset(_img("a_face.png", inside), _img("b.png", outside))
    assert _found(sub) == [
        ("RA028", f"{D}/a_face.png", f"no 'a_face.caption': the caption is read from '{D}/a.caption'"),
        ("RA028", f"{D}/b.png", "no 'b.caption': the caption is read from '/elsewhere/b.caption', outside this "
                                "subset folder"),
    ]


def test_images_that_share_a_stem():
    shared = _file("a.caption")
    sub = _subset(_img("a.png", shared), _img("a.jpg", shared), _img("b.png", _file("b.caption")))
    assert _found(sub) == [("RA027", f"{D}/a.png", "a.png, a.jpg share the stem 'a' and so one caption 'a.caption'")]


def test_images_without_a_caption_file():
    tokens = Caption(CaptionSource.CLASS_TOKENS, None, "sks dog")
    sub = _subset(_img("a.png", tokens), _img("b.png", tokens), _img("c.png", _file("c.caption")))
    found = [f for f in caption_findings(sub, ["a.png", "a.txt", "b.png", "b.cap", "c.png", "c.caption"])]
    assert [(f.code, f.path, f.message) for f in found] == [
        ("RA026", D, "1 of 3 images have a '.txt' caption beside them (a.png), but the caption extension is "
                     "'.caption', so sd-scripts ignores those files and uses the class tokens"),
        ("RA026", D, "1 of 3 images have a '.cap' caption beside them (b.png), but the caption extension is "
                     "'.caption', so sd-scripts ignores those files and uses the class tokens"),
        ("RA029", D, "2 of 3 images have no '.caption' caption file and train on the class tokens 'sks dog': a.png, b.png"),
    ]
    assert [f.to_json()["images"] for f in found] == [
        [{"path": f"{D}/a.png", "caption": f"{D}/a.txt"}], [{"path": f"{D}/b.png", "caption": f"{D}/b.cap"}],
        [{"path": f"{D}/a.png"}, {"path": f"{D}/b.png"}]]
    assert found[0].hint == ("Rename a.txt to '.caption', the extension of the other 1 caption here "
                             "(--caption_extension .txt would leave it unread).")


def test_the_extension_hint_follows_the_majority():
    """12 of 15 captions are '.txt' but the run reads '.caption' (3 of them): pass --caption_extension .txt;
    the other way round, rename the 3 to '.txt' — never the advice that orphans the majority."""
    txt = [_img(f"t{i:02}.png", Caption(CaptionSource.CLASS_TOKENS, None, "sks dog")) for i in range(12)]
    cap = [_img(f"c{i}.png", _file(f"c{i}.caption")) for i in range(3)]
    names = [f"t{i:02}.txt" for i in range(12)] + [f"c{i}.caption" for i in range(3)]
    (f,) = [f for f in caption_findings(_subset(*txt, *cap), names) if f.code == "RA026"]
    assert f.message.startswith("12 of 15 images have a '.txt' caption beside them (t00.png, t01.png, t02.png and "
                                "9 more)")
    assert f.hint == ("Most captions here are '.txt' (12 of 15 images): pass --caption_extension .txt to sd-scripts "
                      "(and to regaudit) and rename the 3 caption files of '.caption' to '.txt'.")
    assert len(f.images) == 12
    few = [_img(f"t{i}.png", Caption(CaptionSource.CLASS_TOKENS, None, "sks dog")) for i in range(3)]
    many = [_img(f"c{i:02}.png", _file(f"c{i:02}.caption")) for i in range(12)]
    (f,) = [f for f in caption_findings(_subset(*few, *many), [f"t{i}.txt" for i in range(3)]) if f.code == "RA026"]
    assert f.hint == ("Rename t0.txt, t1.txt, t2.txt to '.caption', the extension of the other 12 captions here "
                      "(--caption_extension .txt would leave those unread).")


def test_images_with_no_caption_and_no_class_tokens():
    empty = Caption(CaptionSource.EMPTY, None, "")
    sub = Subset(SubsetConfig(D, False, 1, None), D, (_img("a.png", empty), _img("b.png", _file("b.caption"))))
    assert _found(sub) == [("RA030", D, "1 of 2 images have no caption file and no class tokens, so they train on "
                                        "an empty prompt: a.png")]


# --- captions as the text encoder sees them (rules.caption_text) -------------------------------

def _b(name: str, text: str | None = "a dog", **kw) -> Budget:
    return Budget(f"{D}/{name}", kw.pop("source", FILE), text, kw.pop("tokens", 3), **kw)


def _text(*budgets: Budget, trigger=(), is_reg=False, **config) -> SubsetText:
    sub = Subset(SubsetConfig(D, is_reg, 1, "sks dog", **config), D, ())
    return SubsetText(sub, 0, trigger, trigger, budgets)


def _said(st: SubsetText, limit: int | None = 75, steps: int = 1600) -> list[tuple[str, str]]:
    found = list(text_findings([st], limit, steps))
    assert {f.path for f in found} <= {D}
    return [(f.code, f.message) for f in found]


def test_a_caption_past_the_limit():
    st = _text(_b("a.png", "long", seen=(("CLIP-L", 100),), over=25, cut_tags=("t1", "t2", "t3", "t4")),
               _b("b.png", "short", seen=(("CLIP-L", 10),)), _b("c.png", None, tokens=None))
    assert _said(st) == [("RA031", "1 of 2 captions are longer than the 75 CLIP tokens sd-scripts keeps: a.png 100 "
                                   "tokens, 25 past, loses 't1', 't2' and 2 more")]
    assert _said(st, limit=None) == []  # no CLIP tokenizer: no limit to be past


def test_the_limit_per_tokenizer():
    st = _text(_b("a.png", "x", seen=(("CLIP-L", 80), ("CLIP-G", 82)), over=7),
               _b("b.png", "y", seen=(("CLIP-L", 78), ("CLIP-G", 78)), over=3))
    assert _said(st) == [("RA031", "2 of 2 captions are longer than the 75 CLIP tokens sd-scripts keeps: a.png 82 "
                                   "tokens (CLIP-L 80, CLIP-G 82), 7 past, b.png 78 tokens (CLIP-L 78, CLIP-G 78), 3 "
                                   "past")]


def test_shuffled_captions_past_the_limit():
    st = _text(_b("a.png", "x", seen=(("CLIP-L", 90),), over=15, shuffle_cut=0.25, kept_tokens=80, suffix_cut=True,
                  kept_tags=("k1", "k2"), kept_cut=("k3",)),
               _b("b.png", "y", seen=(("CLIP-L", 85),), over=10, shuffle_cut=0.5, kept_tokens=20, kept_tags=("k1",)),
               shuffle_caption=True)
    assert _said(st) == [("RA031", "2 of 2 captions are longer than the 75 CLIP tokens sd-scripts keeps: a.png 90 "
                                   "tokens, 15 past, b.png 85 tokens, 10 past; with shuffle_caption a "
                                   "different part is cut every step: on an average step 38% of these captions' "
                                   "shuffled tags do not fit (up to 50% in one caption); in 1 of them the kept part "
                                   "alone passes the limit, so none of their shuffled tags ever reaches the text "
                                   "encoder (up to 80 tokens, a.png: 2 of its 3 kept tags survive, 'k3' never); 1 "
                                   "captions lose tags of their fixed suffix (after the second keep_tokens_separator) "
                                   "on every step (e.g. a.png)")]
    (f,) = [f for f in text_findings([st], 75, 1600) if f.code == "RA031"]
    assert [dict(i) for i in f.images] == [
        {"path": f"{D}/a.png", "tokens": 90, "seen": {"CLIP-L": 90}, "over": 15, "cut_tags": [], "shuffle_cut": 0.25,
         "kept_tags": ["k1", "k2"], "kept_cut": ["k3"]},
        {"path": f"{D}/b.png", "tokens": 85, "seen": {"CLIP-L": 85}, "over": 10, "cut_tags": [], "shuffle_cut": 0.5,
         "kept_tags": ["k1"], "kept_cut": []}]


def test_every_caption_past_the_limit_is_named():
    st = _text(*[_b(f"{n}.png", n, seen=(("CLIP-L", 76 + i),), over=1 + i, cut_tags=(f"t{n}",))
                 for i, n in enumerate("abcde")], _b("f.png", "short", seen=(("CLIP-L", 10),)))
    assert _said(st) == [("RA031", "5 of 6 captions are longer than the 75 CLIP tokens sd-scripts keeps: e.png 80 "
                                   "tokens, 5 past, loses 'te', d.png 79 tokens, 4 past, loses 'td', c.png 78 tokens, 3 "
                                   "past, loses 'tc' and 2 more (each one in the JSON finding's 'images')")]
    (f,) = text_findings([st], 75, 1600)
    doc = f.to_json()
    assert [(i["path"].rsplit("/", 1)[1], i["tokens"], i["over"], i["cut_tags"]) for i in doc["images"]] == [
        ("e.png", 80, 5, ["te"]), ("d.png", 79, 4, ["td"]), ("c.png", 78, 3, ["tc"]), ("b.png", 77, 2, ["tb"]),
        ("a.png", 76, 1, ["ta"])]
    missing = next(iter(text_findings([_text(_b("x.png", "x", trigger=Trigger.MISSING), trigger=("sks",))], 75, 1600)))
    assert missing.to_json()["images"] == [{"path": f"{D}/x.png", "trigger": "missing"}]  # RA032 names its images too
    assert "images" not in Finding("RA069", "no-reg", Severity.INFO, D, "m", "h").to_json()  # none: no key


def test_train_captions_without_the_trigger():
    st = _text(_b("a.png", "a dog", trigger=Trigger.MISSING), _b("b.png", "a cat", trigger=Trigger.MISSING),
               _b("c.png", "sksdog, s k s", trigger=Trigger.PARTIAL), _b("d.png", "sks dog", trigger=Trigger.PRESENT),
               _b("e.png", "not checked"), trigger=("sks",))
    assert _said(st) == [("RA032", "2 of 4 captions read from caption files never contain 'sks' (a.png, "
                                   "b.png); sd-scripts does not add the folder's class tokens 'sks dog' to them; 1 "
                                   "more captions contain 'sks' only in part or only in some wildcard variants "
                                   "(c.png)")]
    (f,) = text_findings([st], 75, 1600)
    assert f.hint == ("Add 'sks dog' to the captions of a.png, b.png, c.png, or pass --caption_prefix 'sks dog,' to "
                      "sd-scripts (and to regaudit).")


def test_the_trigger_hint_is_the_folder_s_own():
    """The fix names the dataset's own trigger (never a fixed 'sks dog'); with a reg subset a command-line
    --caption_prefix would reach the reg captions too, so the hint is the subset's caption_prefix."""
    woman = Subset(SubsetConfig("/d/10_ohwx woman", False, 10, "ohwx woman"), "/d/10_ohwx woman", ())
    st = SubsetText(woman, 0, ("ohwx", "woman"), ("ohwx", "woman"), (_b("a.png", "a photo", trigger=Trigger.MISSING),))
    reg = SubsetText(Subset(SubsetConfig("/r/1_woman", True, 1, "woman"), "/r/1_woman", ()), 0, (), (), ())
    (f,) = [f for f in text_findings([st], 75, 1600) if f.code == "RA032"]
    assert f.hint == ("Add 'ohwx woman' to the captions of a.png, or pass --caption_prefix 'ohwx woman,' to "
                      "sd-scripts (and to regaudit).")
    (f,) = [f for f in text_findings([st, reg], 75, 1600) if f.code == "RA032"]
    assert f.hint == ("Add 'ohwx woman' to the captions of a.png, or set caption_prefix = \"ohwx woman,\" on this "
                      "subset in the dataset config (--caption_prefix on the command line would add it to the reg and "
                      "other captions too).")


def test_reg_captions_that_carry_a_train_trigger():
    st = _text(_b("a.png", mentions=("sks dog",)), _b("b.png", "a cat"), is_reg=True, caption_prefix="photo")
    assert _said(st) == [("RA033", "1 of 2 reg captions carry the trigger of the train subset 'sks dog' ("
                                   "a.png); caption_prefix/caption_suffix ('photo') are added to reg captions too")]


def test_shared_captions_and_repeated_tags():
    st = _text(_b("a.png", "A dog"), _b("b.png", "a  dog"), _b("c.png", "dog, cat, Dog"),
               _b("d.png", "sks dog", source=CaptionSource.CLASS_TOKENS), _b("e.png", "sks dog",
                                                                            source=CaptionSource.CLASS_TOKENS))
    assert _said(st) == [("RA034", "2 images share 1 identical captions: 'a dog' ×2 (a.png, b.png)"),
                         ("RA034", "1 caption repeats a tag (c.png: 'dog')")]


def test_shared_captions_as_common_first_then_as_first_seen():
    """Two captions shared as often: the one seen first is named first, whichever is seen again first;
    the same image read twice counts twice."""
    st = _text(_b("a.png", "a cat"), _b("b.png", "a dog"), _b("c.png", "A dog"), _b("d.png", "a cat"),
               _b("e.png", "two"), _b("e.png", "two"), _b("f.png", "three"), _b("g.png", "three"), _b("h.png", "Three"))
    assert _said(st) == [("RA034", "9 images share 4 identical captions: 'three' ×3 (f.png, g.png, h.png), "
                                   "'a cat' ×2 (a.png, d.png), 'a dog' ×2 (b.png, c.png)")]


def test_wildcard_groups_without_enable_wildcard():
    st = _text(_b("a.png", "a {red|blue} dog"), _b("b.png", "a {dog}"))
    assert _said(st) == [("RA035", "1 captions contain '{a|b}' wildcard groups but enable_wildcard is off: the "
                                   "braces and '|' reach the text encoder as they are (a.png)")]


def test_literal_braces_and_lines_with_a_prefix_under_wildcards():
    st = _text(_b("a.png", "a {dog", literal_braces=True), _b("b.png", "one\ntwo"), enable_wildcard=True,
               caption_suffix="best")
    assert _said(st) == [
        ("RA035", "1 captions keep literal braces after their wildcards are resolved (a nested group, '{}' or an "
                  "unclosed brace; a.png: 'a {dog')"),
        ("RA035", "1 captions have several lines: the caption_suffix is added to the whole caption before a line "
                  "is drawn, so only the first (prefix) or last (suffix) line gets it (b.png)"),
    ]


def test_an_empty_separator_with_shuffled_captions():
    st = _text(_b("a.png", "a, b", crash="ValueError: empty separator"), shuffle_caption=True, caption_separator="")
    assert _said(st) == [("RA037", "caption_separator is '' and captions are cut into tags (shuffle_caption, token "
                                   "warmup or tag dropout): process_caption raises 'ValueError: empty separator' on "
                                   "the first of its 1 captions")]


def test_a_keep_tokens_separator_that_nothing_reads():
    st = _text(_b("a.png", "a ||| b", kts_count=1), _b("b.png", "c"), keep_tokens_separator="|||", keep_tokens=2)
    assert _said(st) == [
        ("RA036", "1 captions contain keep_tokens_separator '|||', but shuffle_caption, token warmup and tag "
                  "dropout are off, so it reaches the text encoder as text (a.png)"),
        ("RA038", "keep_tokens 2 does nothing: shuffle_caption, token warmup and tag dropout are off"),
    ]


def test_separators_of_shuffled_captions():
    st = _text(_b("a.png", "a dog; on grass", kts_count=0, n_flex=2), _b("b.png", "one tag only", n_flex=1),
               shuffle_caption=True, caption_separator=";")
    assert _said(st) == [
        ("RA036", "1 of 2 captions contain no caption_separator ';': each is one tag, so shuffle_caption, tag "
                  "dropout and warmup leave it as it is (b.png: 'one tag only')"),
        ("RA036", "tags are cut on caption_separator ';' and joined again with ', ': the text encoder sees ', ' "
                  "between them, never ';'"),
    ]


def test_caption_augmentation_and_token_warmup():
    st = _text(_b("a.png", "a, b, c", n_flex=3, trigger_in_flex=True), _b("b.png", "d", n_flex=1),
               trigger=("sks",), shuffle_caption=True, caption_dropout_rate=0.1, caption_dropout_every_n_epochs=3,
               caption_tag_dropout_rate=0.25, token_warmup_step=0.5)
    (code, message), = [x for x in _said(st, steps=1000) if x[0] == "RA038"]
    assert message == (
        "caption_dropout_rate 0.1: about 10% of steps train these images with an empty caption; "
        "caption_dropout_every_n_epochs 3: every 3rd epoch trains all of them with an empty caption; "
        "caption_tag_dropout_rate 0.25: each shuffled tag (1 to 3 a caption) is left out of 25% of steps, the "
        "trigger 'sks' too in 1 captions where it is not in the kept part; "
        "token warmup until step 500: step 0 uses the first 1 of up to 3 shuffled tags (in caption order), more "
        "each step")
    (code, message), = [x for x in _said(st, steps=1) if x[0] == "RA038"]  # max_train_steps reaches the rule
    assert message.endswith("token_warmup_step 0.5 × max_train_steps 1 rounds down to 0: no warmup after the "
                            "first step")


def test_findings_come_subset_by_subset():
    a = _text(_b("a.png", "A dog"), _b("b.png", "a dog"))
    b = _text(_b("c.png", "a cat", trigger=Trigger.MISSING), trigger=("sks",))
    assert [f.code for f in text_findings([a, b, a], 75, 1600)] == ["RA034", "RA032", "RA034"]


def test_tag_dominance_names_the_images_without_the_tag():
    st = _text(*[_b(f"{n}.png", f"sks dog, {'white shirt, ' if n != 'f' else ''}smile, {n}") for n in "abcdef"],
               _b("g.png", "sks dog, white shirt", source=CaptionSource.CLASS_TOKENS), trigger=("sks",))
    # 5 of 6 file captions: 83%; 'smile' in all 6; 'sks dog' is the subject's own name; g.png reads no file
    assert _said(st) == [
        ("RA039", "2 tags are each in at least 80% of the 6 train captions, so each is trained with 'sks dog' on "
                  "nearly every step and the trigger learns it as part of the subject: 'smile' 100% (every image has "
                  "it); 'white shirt' 83% (images without it: f.png)")]
    (f,) = [f for f in text_findings([st], 75, 1600) if f.code == "RA039"]
    assert f.to_json()["images"] == [{"path": f"{D}/f.png", "without": ["white shirt"]}]
    assert _said(_text(*st.budgets[:4], trigger=("sks",))) == []  # 4 captions: too few to judge
