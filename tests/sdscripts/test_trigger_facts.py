"""sdscripts.triggers: which words of the class tokens a caption carries, as CLIP's tokenizer cuts
words (facts only: whether that is a problem is rules.caption_text's)."""

from __future__ import annotations

import pytest

from regaudit.model import SubsetConfig
from regaudit.sdscripts.triggers import (
    Trigger,
    class_words,
    has_word,
    subset_contexts,
    trigger_in_flex,
    trigger_state,
    trigger_words,
)


def _sc(class_tokens, is_reg=False, **kw) -> SubsetConfig:
    return SubsetConfig("/d", is_reg, 1, class_tokens, **kw)


def test_class_words():
    assert class_words("sks dog") == ("sks", "dog")
    assert class_words("SKS, Dog dog") == ("sks", "dog")  # lower case, once each
    assert class_words("sks - _ 2") == ("sks", "2")  # pieces without a letter or digit are not words
    assert class_words(None) == class_words("") == ()


@pytest.mark.parametrize("caption, word, found", [
    ("a photo of sks dog", "sks", True),
    ("sks_dog", "sks", True),  # '_' is not a letter
    ("sks2", "sks", True),  # nor is a digit
    ("sksdog", "sks", False),  # letters run on
    ("asks", "sks", False),
    ("asks, sks", "sks", True),  # a later place counts
    ("v2", "2", True),  # digits are words of their own
])
def test_has_word(caption, word, found):
    assert has_word(caption, word) is found


def test_trigger_words_leave_out_the_reg_words():
    train = _sc("sks dog")
    assert trigger_words(train, []) == (("sks", "dog"), ("sks", "dog"))
    assert trigger_words(train, [_sc("dog", True)]) == (("sks",), ("sks",))
    # a reg folder with every train word is suspect itself: not counted
    assert trigger_words(train, [_sc("sks dog", True)]) == (("sks", "dog"), ("sks", "dog"))
    # every word shared (each by another reg folder): the trigger is all of them, none distinct
    assert trigger_words(train, [_sc("sks", True), _sc("dog", True)]) == (("sks", "dog"), ())


def test_trigger_state_over_the_variants():
    words = ("sks", "dog")
    assert trigger_state("a sks dog", words, False) is Trigger.PRESENT
    assert trigger_state("a sks cat", words, False) is Trigger.PARTIAL
    assert trigger_state("a cat\nsks dog", words, False) is Trigger.MISSING  # only the first line without wildcards
    assert trigger_state("a cat\nsks dog", words, True) is Trigger.PARTIAL  # a line drawn at random
    assert trigger_state("a {sks|cat} dog", words, True) is Trigger.PARTIAL  # only some choices
    assert trigger_state("a {x|y} sks dog", words, True) is Trigger.PRESENT


def test_trigger_in_the_shuffled_part():
    sc = _sc("sks", shuffle_caption=True, keep_tokens=1)
    assert trigger_in_flex("sks, dog, grass", sc, ("sks",)) is False  # kept in place
    assert trigger_in_flex("dog, sks, grass", sc, ("sks",)) is True
    assert trigger_in_flex("dog, sks", _sc("sks", shuffle_caption=True, caption_separator=""), ("sks",)) is False


def test_subset_contexts():
    train, reg, other = _sc("sks dog"), _sc("dog", True), _sc("zzz cat")
    (row,) = subset_contexts([[train, reg, other]])
    assert row == [(("sks",), ("sks",), []),
                   ((), (), [("sks dog", ("sks",)), ("zzz cat", ("zzz", "cat"))]),
                   (("zzz", "cat"), ("zzz", "cat"), [])]
