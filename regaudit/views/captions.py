"""Captions as the text encoder sees them: token counts against the trainer's limit, what the limit
cuts (with shuffle_caption: how much on an average step), and whether captions carry the
folder's trigger words. Pure: takes the datasets of a scan, returns values; prints nothing.

Token counts are CLIP counts (clip_tokens.py): the caption as registered in ``tokens``; per CLIP
tokenizer, the longest caption a step can hand over (prefix/suffix added, the longest wildcard
variant, tags joined as process_caption joins them) in ``seen``.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from enum import Enum
from operator import attrgetter
from typing import NamedTuple

from ..sdscripts import caption_process as cp
from ..sdscripts.tokens import TokenCounter, TokenizerStatus, status
from ..sdscripts.trainers import DEFAULT, REGISTRY, EncoderSet
from ..errors import OptionError
from ..model import CaptionSource, Dataset, Finding, Subset, SubsetConfig, compact
from ..sdscripts.tokencuts import cut_ordered, cut_static, shuffle_share

_WORD = re.compile(r"[^\W\d_]+|\d")  # letter runs and single digits: the words CLIP's pre-tokenizer keeps


class Trigger(str, Enum):
    """Whether a train caption carries its folder's trigger words."""

    PRESENT = "present"  # every variant a step can draw has every word
    PARTIAL = "partial"  # some words, or only some wildcard variants
    MISSING = "missing"  # no variant has any of them


@dataclass(frozen=True)
class TextOptions:
    """The command-line options of the text encoders (sd-scripts has them on the command line only)."""

    trainer: str = DEFAULT
    v2: bool = False
    max_token_length: int | None = None
    max_train_steps: int = 1600

    def __post_init__(self) -> None:
        if self.trainer not in REGISTRY:
            raise OptionError(f"--trainer '{self.trainer}' has no DreamBooth text encoders regaudit knows; one of: "
                              f"{', '.join(REGISTRY)}")

    @property
    def encoders(self) -> EncoderSet:
        return REGISTRY[self.trainer].text_encoders(self.v2)


@compact
class Budget(NamedTuple):
    """One image's caption against the token limit (compact: a scan makes one per image)."""

    path: str  # the image, absolute
    source: CaptionSource
    text: str | None  # as registered; None where reading it stops sd-scripts
    tokens: int | None  # CLIP-L tokens of ``text`` (no start/end); None: not counted
    seen: tuple[tuple[str, int], ...] = ()  # (tokenizer, tokens of the longest caption a step gives)
    over: int = 0  # tokens past the limit (the most of any tokenizer)
    cut_tags: tuple[str, ...] = ()  # tags always cut (fixed order, or a fixed suffix)
    kept_tokens: int | None = None  # dynamic captions: tokens of the kept (unshuffled) part
    shuffle_cut: float | None = None  # shuffle_caption: share of shuffled tags cut on an average step
    n_flex: int = 0  # dynamic captions: how many tags are shuffled / dropped / warmed up
    trigger: Trigger | None = None  # train captions read from files; None: not checked
    trigger_in_flex: bool = False  # dynamic: the trigger words are not all in the kept part
    mentions: tuple[str, ...] = ()  # reg captions: class tokens of train subsets whose trigger they carry
    crash: str | None = None  # process_caption raises on this caption ("ValueError: empty separator")
    literal_braces: bool = False  # enable_wildcard: braces reach the text encoder
    kts_count: int = 0  # occurrences of keep_tokens_separator in the caption
    suffix_cut: bool = False  # dynamic: tags after a second keep_tokens_separator are cut on every step

    def at(self, path: str) -> Budget:
        """The same budget for another image with the same caption."""
        return Budget.of(path, *self[1:])  # type: ignore[attr-defined]

    @property
    def worst(self) -> int | None:
        return max((n for _, n in self.seen), default=None)


def _mk(path, source, text, tokens, seen=(), over=0, cut_tags=(), kept_tokens=None, shuffle_cut=None, n_flex=0,
        trigger=None, trigger_in_flex=False, mentions=(), crash=None, literal_braces=False, kts_count=0,
        suffix_cut=False) -> Budget:
    """Budget(...), its values passed positionally to the fast constructor (one per image)."""
    return Budget.of(path, source, text, tokens, seen, over, cut_tags, kept_tokens, shuffle_cut,  # type: ignore
                     n_flex, trigger, trigger_in_flex, mentions, crash, literal_braces, kts_count, suffix_cut)


@dataclass(frozen=True)
class SubsetText:
    subset: Subset  # with caption_tokens set on its images
    dataset: int
    trigger_words: tuple[str, ...]  # what a train caption must contain to carry the trigger
    distinct_words: tuple[str, ...]  # trigger words no reg subset of the dataset shares
    budgets: tuple[Budget, ...]


@dataclass(frozen=True)
class TextAudit:
    options: TextOptions
    encoders: EncoderSet
    limit: int | None  # content tokens kept; None when the trainer has no CLIP tokenizer
    tokenizer: TokenizerStatus
    datasets: tuple[Dataset, ...]  # the input datasets with caption_tokens set
    subsets: tuple[SubsetText, ...]
    findings: tuple[Finding, ...]


def class_words(class_tokens: str | None) -> tuple[str, ...]:
    """The words of a folder's class tokens ('sks dog' -> ('sks', 'dog')), lower case."""
    if not class_tokens:
        return ()
    return tuple(dict.fromkeys(w for w in re.split(r"[\s,]+", class_tokens.lower()) if _WORD.search(w)))


def _keys(text: str) -> str:
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
    """Whether the caption (prefix and suffix added) carries every trigger word in every variant."""
    variants = cp.lines(base, wildcard)
    full = [_keys(v) for v in variants]
    fixed = [_keys(cp.without_groups(v)) for v in variants] if wildcard else full
    if all(all(has_word(k, w) for w in words) for k in fixed):
        return Trigger.PRESENT
    if any(has_word(k, w) for k in full for w in words):
        return Trigger.PARTIAL
    return Trigger.MISSING


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


def part_budgets(images: list, sc: SubsetConfig, options: TextOptions, trig: tuple[str, ...],
                 others: list[tuple[str, tuple[str, ...]]]) -> list[Budget]:
    """Scan's budgets (no cut tags) of ``images`` (anything with .caption and .abs_path) of one
    subset, as audit() works them out; the same caption gives the same Budget object (its path
    that of the first image with it: audit() moves it)."""
    enc = options.encoders
    return _budgets(images, sc, enc, enc.limit(options.max_token_length), shared_counter(), options, trig, others,
                    False)


def _budgets(images, sc: SubsetConfig, enc: EncoderSet, limit: int | None, counter: TokenCounter,
             options: TextOptions, trig: tuple[str, ...], others: list[tuple[str, tuple[str, ...]]],
             detail: bool) -> list[Budget]:
    """_budget of each image; a budget depends on the caption's source and text only (and the
    subset), and captions repeat (class tokens, shared captions): each distinct one is worked out
    once, and its images share the Budget object (the path of the first of them)."""
    seen: dict = {}
    out = []
    for img in images:
        cap = img.caption
        key = (cap.source, cap.text)
        b = seen.get(key)
        if b is None:
            b = seen[key] = _budget(img, sc, enc, limit, counter, options, trig, others, detail)
        out.append(b)
    return out


def audit(datasets: tuple[Dataset, ...] | list[Dataset], options: TextOptions | None = None,
          counter: TokenCounter | None = None, detail: bool = True, known: dict | None = None) -> TextAudit:
    """The captions of ``datasets`` against ``options``' text encoders. Without ``detail`` the tags a
    limit cuts are worked out only for each subset's worst caption (what the findings show).
    ``known``: id(subset) -> its budgets already worked out by part_budgets (scan does it where it
    reads the captions) with these options and without ``detail``."""
    from ..rules.prompts import prompt_findings

    options = options or TextOptions()
    enc = options.encoders
    limit = enc.limit(options.max_token_length)
    counter = counter or shared_counter()
    texts = []
    out_sets = []
    contexts = subset_contexts([[s.config for s in d.subsets] for d in datasets])
    for d, row in zip(datasets, contexts):
        subsets = []
        for s, (trig, distinct, others) in zip(d.subsets, row):
            given = known.get(id(s)) if known is not None and not detail else None
            if given is None:
                given = _budgets(s.images, s.config, enc, limit, counter, options, trig, others, detail)
            # each budget on its image's path (a shared budget has the first image's)
            budgets = [b if b.path == path else b.at(path) for b, path in zip(given, map(_ABS_PATH, s.images))]
            tokens = list(map(_TOKENS, budgets))
            if list(map(_CAPTION_TOKENS, s.images)) != tokens:  # (scan's records have them: no copy then)
                s = dataclasses.replace(s, images=tuple(img if img.caption_tokens == n else img._replace(caption_tokens=n)
                                                        for img, n in zip(s.images, tokens)))
            if not detail and any(map(_OVER, budgets)):
                k = max(range(len(budgets)), key=lambda i: budgets[i].over)
                budgets[k] = _budget(s.images[k], s.config, enc, limit, counter, options, trig, others, True)
            texts.append(SubsetText(s, d.index, trig, distinct, tuple(budgets)))
            subsets.append(s)
        out_sets.append(d if all(a is b for a, b in zip(subsets, d.subsets)) else
                        dataclasses.replace(d, subsets=tuple(subsets)))
    st = status()
    partial = TextAudit(options, enc, limit, st, tuple(out_sets), tuple(texts), ())
    return dataclasses.replace(partial, findings=tuple(prompt_findings(partial)))


_ABS_PATH = attrgetter("abs_path")
_TOKENS = attrgetter("tokens")
_OVER = attrgetter("over")
_CAPTION_TOKENS = attrgetter("caption_tokens")
_SHARED: list[TokenCounter] = []


def shared_counter() -> TokenCounter:
    """One counter (and cache) per process: scan and the captions view count the same texts."""
    if not _SHARED:
        _SHARED.append(TokenCounter())
    return _SHARED[0]


def _budget(img, sc: SubsetConfig, enc: EncoderSet, limit: int | None, counter: TokenCounter,
            options: TextOptions, trig: tuple[str, ...], others: list[tuple[str, tuple[str, ...]]],
            detail: bool = True) -> Budget:
    cap = img.caption
    text = cap.text
    if text is None:
        return _mk(img.abs_path, cap.source, None, None)
    if _FAST and limit is not None and not sc.enable_wildcard and not cp.is_dynamic(sc):
        fast = _static_budget(img.abs_path, cap.source, text, sc, enc, limit, counter, trig, others, detail)
        if fast is not None:
            return fast
    base = cp.with_prefix_suffix(text, sc)
    wildcard = sc.enable_wildcard
    variants = cp.lines(base, wildcard)
    trigger = None
    if trig and not sc.is_reg and cap.source is CaptionSource.FILE:
        trigger = trigger_state(base, trig, wildcard)
    mentions: tuple[str, ...] = ()
    if others:
        keys = [_keys(v) for v in variants]
        mentions = tuple(ct for ct, dw in others if any(all(has_word(k, w) for w in dw) for k in keys))
    kts = sc.keep_tokens_separator
    extra = {"trigger": trigger, "mentions": mentions, "kts_count": base.count(kts) if kts else 0,
             "literal_braces": wildcard and "{" in base and any(cp.literal_braces(v) for v in variants)}
    tokens = counter.count(text)
    dynamic = cp.is_dynamic(sc)
    if dynamic and trig and trigger is Trigger.PRESENT:
        extra["trigger_in_flex"] = _trigger_in_flex(base, sc, trig)
    if dynamic and sc.caption_separator == "":
        return _mk(img.abs_path, cap.source, text, tokens, crash="ValueError: empty separator", **extra)
    if dynamic:
        extra["n_flex"] = max(len(cp.split_tags(v, sc).flex) for v in variants)
    if limit is None or tokens is None:
        return _mk(img.abs_path, cap.source, text, tokens, **extra)
    bangs = [t.bang_is_pad for t in enc.clip]

    def worst(s: str) -> int:
        if len(bangs) == 1 or "!" not in s:
            return counter.count(s, bangs[0]) or 0
        return max(counter.count(s, b) or 0 for b in bangs)

    def longest_choice(k: int, choices: list[str]) -> str:
        return max(choices, key=lambda c: (worst(c), len(c)))

    best: tuple[int, str] | None = None
    for line in variants:
        if wildcard and "{" in line:
            line = cp.resolve_wildcards(line, longest_choice)
        n = worst(cp.join(cp.split_tags(line, sc).all, sc) if dynamic else cp.finish(line, sc))
        if best is None or n > best[0]:
            best = (n, line)
    assert best is not None
    n, line = best
    over = max(0, n - limit)
    if not dynamic:
        processed = cp.finish(line, sc)
        seen = tuple((t.name, counter.count(processed, t.bang_is_pad) or 0) for t in enc.clip)
        cut = cut_static(processed, limit, worst) if over and detail else ()
        return _mk(img.abs_path, cap.source, text, tokens, seen, over, cut, **extra)
    tags = cp.split_tags(line, sc)
    joined = cp.join(tags.all, sc)
    seen = tuple((t.name, counter.count(joined, t.bang_is_pad) or 0) for t in enc.clip)
    kept = worst(cp.join(tags.fixed, sc)) if tags.fixed else 0
    cut: tuple[str, ...] = ()
    share = None
    if over:
        if sc.shuffle_caption:
            start = len(tags.fixed) + len(tags.flex)
            cut = cut_ordered(tags.all, start, sc, limit, worst) if tags.suffix and detail else ()
            share = shuffle_share(tags, sc, limit, kept, worst)
        elif detail:
            cut = cut_ordered(tags.all, 0, sc, limit, worst)
    return _mk(img.abs_path, cap.source, text, tokens, seen, over, cut, kept, share,
                  suffix_cut=bool(over and tags.suffix), **extra)


_FAST = True  # tests turn the short way off to check it against the general one


def _static_budget(path: str, source: CaptionSource, text: str, sc: SubsetConfig, enc: EncoderSet, limit: int,
                   counter: TokenCounter, trig: tuple[str, ...], others: list[tuple[str, tuple[str, ...]]],
                   detail: bool) -> Budget | None:
    """_budget for the common caption: no wildcards, not cut into tags (so one line reaches the text
    encoder, as it is). None where the general way is needed (no tokenizer, the cut tags asked for)."""
    base = cp.with_prefix_suffix(text, sc)
    line = base.split("\n")[0]
    trigger = trigger_state(base, trig, False) if trig and not sc.is_reg and source is CaptionSource.FILE else None
    mentions: tuple[str, ...] = ()
    if others:
        key = _keys(line)
        mentions = tuple(ct for ct, dw in others if all(has_word(key, w) for w in dw))
    tokens = counter.count(text)
    if tokens is None or not enc.clip:
        return None
    processed = cp.finish(line, sc)
    seen = tuple((t.name, counter.count(processed, t.bang_is_pad) or 0) for t in enc.clip)
    over = max(0, max(n for _, n in seen) - limit)
    if over and detail:
        return None  # the tags the limit cuts: the general way works them out
    kts = sc.keep_tokens_separator
    return _mk(path, source, text, tokens, seen, over, (), None, None, 0, trigger, False, mentions, None, False,
               base.count(kts) if kts else 0, False)


def _trigger_in_flex(base: str, sc: SubsetConfig, trig: tuple[str, ...]) -> bool:
    try:
        tags = cp.split_tags(cp.lines(base, sc.enable_wildcard)[0], sc)
    except ValueError:
        return False
    keys = _keys(" , ".join(tags.fixed + tags.suffix))
    return not all(has_word(keys, w) for w in trig)
