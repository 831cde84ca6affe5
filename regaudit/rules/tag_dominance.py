"""Tag dominance (RA039): facts in (each subset's captions, ``SubsetText``), findings out.

A tag that is in nearly every train caption of a subset is trained together with the subject on
nearly every step, so the trigger learns it as part of the subject ("white shirt" in 87% of the
captions: the LoRA draws the white shirt whenever the trigger is used). Tags are counted as
sd-scripts' ``ss_tag_frequency`` counts them (``sdscripts.tagfreq.tag_set``), once per caption,
in captions read from caption files. Not judged: the trigger and class-token words (they are meant
to be there), and a tag that is as common in the dataset's reg captions (it belongs to the class,
which the reg images keep). The reverse, for reg captions: a train subset's dominant tag in some
of the reg captions (but not in most of them) teaches the class the subject's look. The trigger
words themselves in reg captions are RA033.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator

from ..model import CaptionSource, Finding
from ..sdscripts.caption_budgets import SubsetText
from ..sdscripts.tagfreq import tag_set
from ..sdscripts.triggers import class_words, has_word
from .registry import rule

DOMINANT = 0.8  # a tag in at least this share of a subset's captions dominates it
MIN_CAPTIONS = 5  # fewer train captions than this: no share is judged
EXAMPLES = 3


def _name(path: str) -> str:
    return os.path.basename(path)


def _captions(st: SubsetText) -> list[tuple[str, str]]:
    """(image path, caption) for each image whose caption is read from a file."""
    return [(b.path, b.text) for b in st.budgets if b.source is CaptionSource.FILE and b.text]


def _shares(captions: list[tuple[str, str]]) -> Counter:
    """How many of the captions hold each tag. (The tag sets are not kept: a million booru
    captions of 30 tags each would hold gigabytes; the few passes that need them work them out again.)"""
    out: Counter = Counter()
    for _, text in captions:
        out.update(tag_set(text))
    return out


def _holding(captions: list[tuple[str, str]], tags: list[str], holds: bool = True) -> dict[str, list[str]]:
    """tag -> the images whose caption holds it (``holds``) or lacks it, for each of ``tags``."""
    out: dict[str, list[str]] = {t: [] for t in tags}
    for path, text in captions:
        held = tag_set(text)
        for t in tags:
            if (t in held) is holds:
                out[t].append(path)
    return out


def _own(tag: str, words: tuple[str, ...]) -> bool:
    """Whether the tag is the subject's name: it holds a trigger word, or only class-token words."""
    if any(has_word(tag, w) for w in words):
        return True
    parts = [p for p in tag.replace("_", " ").split() if p]
    return bool(parts) and all(p in words for p in parts)


def dominance_findings(subsets: Iterable[SubsetText]) -> Iterator[Finding]:
    """RA039 for each train subset with a dominant tag and each reg subset it leaks into."""
    by_dataset: dict[int, list[SubsetText]] = defaultdict(list)
    for st in subsets:
        by_dataset[st.dataset].append(st)
    for group in by_dataset.values():
        regs = [(st, _captions(st)) for st in group if st.subset.config.is_reg]
        reg_all = [x for _, c in regs for x in c]
        reg_share = _shares(reg_all)
        for st in group:
            if st.subset.config.is_reg:
                continue
            captions = _captions(st)
            if len(captions) < MIN_CAPTIONS:
                continue
            words = tuple(dict.fromkeys((*st.trigger_words, *class_words(st.subset.config.class_tokens))))
            n = len(captions)
            dominant = sorted(((t, k) for t, k in _shares(captions).items()
                               if k >= DOMINANT * n and not _own(t, words)
                               and not (reg_all and reg_share[t] >= DOMINANT * len(reg_all))),
                              key=lambda tk: (-tk[1], tk[0]))
            if dominant:
                yield _dominant(st, dominant, captions)
                for reg, rc in regs:
                    yield from _leak(st, dominant, n, reg, rc)


def _more(items: list, n: int = EXAMPLES) -> str:
    return f" and {len(items) - n} more" if len(items) > n else ""


def _dominant(st: SubsetText, dominant: list[tuple[str, int]], captions) -> Finding:
    n = len(captions)
    ct = st.subset.config.class_tokens or "the subject"
    without = _holding(captions, [t for t, _ in dominant], holds=False)

    def missing(tag: str) -> str:
        w = without[tag]
        return f"images without it: {', '.join(_name(p) for p in w[:EXAMPLES])}{_more(w)}" if w else "every image has it"

    if len(dominant) == 1:
        (tag, k), = dominant
        msg = (f"{tag!r} is in {k} of {n} train captions ({k / n:.0%}): it is trained with '{ct}' on nearly every "
               f"step, so the trigger learns it as part of the subject; {missing(tag)}")
    else:
        shown = "; ".join(f"{t!r} {k / n:.0%} ({missing(t)})" for t, k in dominant[:EXAMPLES])
        msg = (f"{len(dominant)} tags are each in at least {DOMINANT:.0%} of the {n} train captions, so each is trained "
               f"with '{ct}' on nearly every step and the trigger learns it as part of the subject: "
               f"{shown}{_more(dominant)}")
    lacking = {}
    for t, _ in dominant:
        for p in without[t]:
            lacking.setdefault(p, []).append(t)
    images = ((("path", p), ("without", tags)) for p, tags in lacking.items())
    return rule("RA039").finding(st.subset.abs_path, msg, images=images)


def _leak(st: SubsetText, dominant: list[tuple[str, int]], n: int, reg: SubsetText, rc) -> Iterator[Finding]:
    leaks = []
    holding = _holding(rc, [t for t, _ in dominant])
    for tag, k in dominant:
        having = holding[tag]
        if having and len(having) < DOMINANT * len(rc):
            leaks.append((tag, k, having))
    if not leaks:
        return
    ct = st.subset.config.class_tokens or "the train subset"
    parts = []
    for tag, k, having in leaks[:EXAMPLES]:
        ex = ", ".join(_name(p) for p in having[:EXAMPLES])
        parts.append(f"{tag!r}, in {k / n:.0%} of the train captions of '{ct}' (learned as part of that subject), is "
                     f"in {len(having)} of {len(rc)} reg captions ({len(having) / len(rc):.0%}; e.g. {ex}{_more(having)})")
    msg = "; ".join(parts) + _more(leaks) + ": those reg images teach the class the subject's look"
    hint = "Leave the subject's own tags out of the reg captions, or pick reg images without that trait."
    carrying: dict[str, list[str]] = {}
    for tag, _, having in leaks:
        for p in having:
            carrying.setdefault(p, []).append(tag)
    images = ((("path", p), ("with", tags)) for p, tags in carrying.items())
    yield rule("RA039").finding(reg.subset.abs_path, msg, hint, images=images)
