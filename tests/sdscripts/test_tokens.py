"""CLIP token counts: the shipped BPE data and literal counts.

Every count and id here marked 'oracle' came from transformers 4.54.1's CLIPTokenizer with ftfy
6.3.1 (sd-scripts' pins), built from OpenAI's bpe_simple_vocab_16e6.txt.gz by
tests/differential/clip_tokens.py's ORACLE script; that script compares thousands more."""

from __future__ import annotations

import gzip
import hashlib

import pytest

from regaudit.sdscripts import tokens as clip_tokens

TAGS30 = ", ".join(f"tag{i}" for i in range(30))


def test_the_shipped_merges_are_openai_clips():
    # tools/build_clip_vocab.py prints this digest of the merges text it writes
    with gzip.open(clip_tokens.DATA, "rb") as fh:
        text = fh.read()
    assert hashlib.sha256(text).hexdigest() == "d308b7377a8ceaa9707a21614fe8c831b9196e197b7aeb69833359362907af02"
    merges = clip_tokens.load_merges()
    assert len(merges) == 48894 and merges[:2] == [("i", "n"), ("t", "h")]
    vocab = clip_tokens.vocabulary(merges)
    # openai/clip-vit-large-patch14's vocab.json: 49408 entries, these ids
    assert len(vocab) == 49408
    assert (vocab["!"], vocab["a</w>"], vocab["in"], vocab["<|startoftext|>"], vocab["<|endoftext|>"]) == \
        (0, 320, 512, 49406, 49407)
    assert vocab["person</w>"] == 2533 and vocab["motorcycle</w>"] == 10297


def test_loads_with_no_network_and_says_what_counted():
    st = clip_tokens.status()
    assert st.available and st.reason is None
    assert st.library.startswith("tokenizers ") and ", ftfy " in st.library


@pytest.mark.parametrize("text, clip_l, bang", [
    ("(masterpiece:1.2), 1girl, solo, (white shirt:1.3), [blurry]", 23, 23),  # oracle: prompt weights are text
    ("score_9, score_8_up, score_7_up, rating_safe", 19, 19),  # oracle
    ("a photo of sks dog 🐶❤️ on the beach 🏖️", 12, 12),  # oracle: emoji
    ("wow!!! so cute!!", 5, 8),  # oracle: '!' is the padding token of SD 2.x / bigG: one token each
    ("Tom &amp; Jerry &lt;3", 5, 5),  # oracle: ftfy unescapes the entities
    ("東京タワー at night, ネオン", 15, 15),  # oracle
    ("  line one\nline two\t\ttabbed  ", 6, 6),  # oracle: whitespace folded
    ("it's a dog's life, isn't it?", 11, 11),  # oracle: contractions
    ("ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ", 3, 3),  # oracle: full width folded by ftfy
    ("a\u0345b", 2, 2),  # oracle: the regex module drops U+0345 (Oniguruma alone would keep it)
    ("!!<|EndOfText|>!!", 8, 5),  # oracle: a special word only where the scan starts a word
    ("<lora:detail:0.8> BREAK 1boy", 13, 13),  # oracle
    ("...!!!???", 3, 5),  # oracle
    (TAGS30, 109, 109),  # oracle
])
def test_counts_equal_transformers(text, clip_l, bang):
    assert len(clip_tokens.encode(text)) == clip_l
    assert len(clip_tokens.encode(text, bang_is_pad=True)) == bang
    assert clip_tokens.count(text) == clip_l and clip_tokens.count(text, bang_is_pad=True) == bang


def _random_ascii(rng, n: int) -> str:
    """Printable ASCII made of the pieces the pattern tells apart: contractions, letters of both
    cases, digits, punctuation runs, spaces, and the odd control character."""
    pieces = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'", "'S", "'LL", "''s", "dog", "Dog", "x", "1",
              "2024", ",", ", ", "(", ":1.2)", "...", "!", "!!", "?!", "&", "&amp;", "<", "<|", "|>", "_", "-",
              "  ", " ", "\t", "\n", "/", "\\", "~", "`", "score_9", "1girl", "it's", "don't"]
    return "".join(rng.choice(pieces) for _ in range(n))


def test_the_ascii_word_counts_equal_the_tokenizer():
    """count() splits printable ASCII with Python's re and merges each word once; it must give the
    token count the tokenizer gives the whole text (its own split), on every shape of caption."""
    import random

    rng = random.Random(21)
    texts = [_random_ascii(rng, rng.randint(1, 40)) for _ in range(3000)]
    texts += ["".join(chr(rng.randint(32, 126)) for _ in range(rng.randint(1, 80))) for _ in range(3000)]
    for text in texts:
        for bang in (False, True):
            assert clip_tokens.count(text, bang) == len(clip_tokens.encode(text, bang)), (text, bang)
    be = clip_tokens._backend()
    for text in texts[:500]:
        cleaned = clip_tokens._clean(text, clip_tokens._fix_text)
        if "<|" not in cleaned:
            assert clip_tokens._ASCII_WORDS.findall(cleaned) == [w for w, _ in be.split(cleaned)], cleaned


@pytest.mark.parametrize("text, ids", [
    ("wow!!! so cute!!", [2781, 995, 706, 2242, 748]),  # oracle
    ("it's a dog's life, isn't it?", [585, 568, 320, 1929, 568, 970, 267, 2923, 713, 585, 286]),  # oracle
    ("!!<|EndOfText|>!!", [1443, 27, 347, 40786, 4160, 91, 29, 748]),  # oracle
    ("  line one\nline two\t\ttabbed  ", [1148, 637, 1148, 1237, 2648, 2722]),  # oracle
])
def test_ids_equal_transformers(text, ids):
    assert clip_tokens.encode(text) == ids


def test_a_broken_install_counts_nothing_and_says_why(monkeypatch):
    monkeypatch.setattr(clip_tokens, "_backend", lambda: "No module named 'tokenizers'")
    st = clip_tokens.status()
    assert not st.available and "No module named 'tokenizers'" in st.reason and "reinstall regaudit" in st.reason
    assert clip_tokens.encode("a dog") is None and clip_tokens.TokenCounter().count("a dog") is None


def test_only_short_words_are_kept_with_their_counts():
    """The word cache is bounded by its count of words and by their length: a run of 1,000 letters
    (a caption can hold 64 KiB of them) is counted, not kept."""
    long_word = "q" * 1000
    assert clip_tokens.count(f"a {long_word} dog") == len(clip_tokens.encode(f"a {long_word} dog"))
    assert long_word not in clip_tokens._WORD_TOKENS and "dog" in clip_tokens._WORD_TOKENS
