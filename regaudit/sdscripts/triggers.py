"""Whether captions carry their folder's trigger words, as words the text encoder sees.

sd-scripts has no trigger words: a DreamBooth folder's class tokens ('10_sks dog' -> 'sks dog')
are the caption of an image without a caption file (DreamBoothDataset.__init__). A caption file
replaces them whole, so a train caption carries the trigger only if its text holds the words. The
words are matched as CLIP's pre-tokenizer cuts text (the tokenizer sd-scripts loads in
train_util.load_tokenizer), on what process_caption hands over (``caption_process``).
"""

from __future__ import annotations

import re
from enum import Enum

from ..model import SubsetConfig
from . import caption_process as cp

_WORD = re.compile(r"[^\W\d_]+|\d")  # letter runs and single digits: the words CLIP's pre-tokenizer keeps


class Trigger(str, Enum):
    """Whether a train caption carries its folder's trigger words."""

    PRESENT = "present"  # every variant a step can draw has every word
    PARTIAL = "partial"  # some words, or only some wildcard variants
    MISSING = "missing"  # no variant has any of them


def class_words(class_tokens: str | None) -> tuple[str, ...]:
    """The words of a folder's class tokens ('sks dog' -> ('sks', 'dog')), lower case."""
    if not class_tokens:
        return ()
    return tuple(dict.fromkeys(w for w in re.split(r"[\s,]+", class_tokens.lower()) if _WORD.search(w)))


def keys_of(text: str) -> str:
    """A caption prepared for has_word."""
    return text.lower()


def has_word(keys: str, word: str) -> bool:
    """Whether ``word`` (lower case) is a word of the caption (``keys``) as CLIP's tokenizer cuts
    it: a word that starts or ends with a letter may not run on into more letters there ('sks' is
    a word of 'sks_dog' and 'sks2', not of 'sksdog'); digits are words of their own anyway."""
    head, tail = word[:1].isalpha(), word[-1:].isalpha()
    i = keys.find(word)
    while i >= 0:
        j = i + len(word)
        if not (head and i > 0 and keys[i - 1].isalpha()) and not (tail and j < len(keys) and keys[j].isalpha()):
            return True
        i = keys.find(word, i + 1)
    return False


def trigger_words(train: SubsetConfig, regs: list[SubsetConfig]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(trigger words, distinct words): the train class tokens' words, less those of the reg class
    tokens (a reg folder that holds every train word is not counted: it is suspect itself)."""
    words = class_words(train.class_tokens)
    shared: set[str] = set()
    for r in regs:
        rw = set(class_words(r.class_tokens))
        if not set(words) <= rw:
            shared |= rw
    distinct = tuple(w for w in words if w not in shared)
    return (distinct or words), distinct


def trigger_state(base: str, words: tuple[str, ...], wildcard: bool) -> Trigger:
    """Whether the caption (prefix and suffix added) carries every trigger word in every variant
    (the lines and wildcard choices process_caption can draw)."""
    variants = cp.lines(base, wildcard)
    full = [keys_of(v) for v in variants]
    fixed = [keys_of(cp.without_groups(v)) for v in variants] if wildcard else full
    if all(all(has_word(k, w) for w in words) for k in fixed):
        return Trigger.PRESENT
    if any(has_word(k, w) for k in full for w in words):
        return Trigger.PARTIAL
    return Trigger.MISSING


def trigger_in_flex(base: str, sc: SubsetConfig, trig: tuple[str, ...]) -> bool:
    """Whether the trigger words are not all in the part process_caption keeps in place (the
    fixed tags and fixed suffix), so shuffling, warmup and tag dropout move or drop them."""
    try:
        tags = cp.split_tags(cp.lines(base, sc.enable_wildcard)[0], sc)
    except ValueError:
        return False
    keys = keys_of(" , ".join(tags.fixed + tags.suffix))
    return not all(has_word(keys, w) for w in trig)


def subset_contexts(subsets_of: list[list[SubsetConfig]]) -> list[list[tuple[tuple[str, ...], tuple[str, ...],
                                                                                list[tuple[str, tuple[str, ...]]]]]]:
    """(trigger words, distinct words, others) of each subset, per dataset (its subsets in order):
    what a caption budget needs to know of its subset's neighbours. Configs only: it can be worked
    out before any caption is read."""
    out = []
    for cfgs in subsets_of:
        reg_cfgs = [c for c in cfgs if c.is_reg]
        train_triggers = [(c, *trigger_words(c, reg_cfgs)) for c in cfgs if not c.is_reg]
        row = []
        for c in cfgs:
            trig, distinct = trigger_words(c, reg_cfgs) if not c.is_reg else ((), ())
            others = [(t.class_tokens or "", dw) for t, _, dw in train_triggers if dw] if c.is_reg else []
            row.append((trig, distinct, others))
        out.append(row)
    return out
