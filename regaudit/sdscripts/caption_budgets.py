"""Each caption against the text encoders' token limit: what process_caption hands over at a step
(train_util.BaseDataset.process_caption, in ``caption_process``), how many CLIP tokens that is per
tokenizer, and what the truncation to the limit cuts (get_input_ids keeps ``limit`` tokens; with
shuffle_caption, how much on an average step: ``tokencuts``). Also the trigger facts of the
caption (``triggers``). Pure: values in, a ``Budget`` per image out.

Token counts are CLIP counts (``tokens``): the caption as registered in ``Budget.tokens``; per CLIP
tokenizer, the longest caption a step can hand over (prefix/suffix added, the longest wildcard
variant, tags joined as process_caption joins them) in ``Budget.seen``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from ..model import CaptionSource, Subset, SubsetConfig, compact
from . import caption_process as cp
from .tokencuts import cut_ordered, cut_static, fit_ordered, shared, shuffle_share
from .tokens import TokenCounter
from .triggers import Trigger, has_word, keys_of, trigger_in_flex, trigger_state

if TYPE_CHECKING:
    from .trainers import EncoderSet

Others = list[tuple[str, tuple[str, ...]]]  # (class tokens, distinct trigger words) of a dataset's train subsets


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
    kept_tags: tuple[str, ...] = ()  # dynamic, over the limit: the kept (unshuffled) tags that fit whole
    kept_cut: tuple[str, ...] = ()  # dynamic, over the limit: the kept tags that never fit (the kept part is too long)

    def at(self, path: str) -> Budget:
        """The same budget for another image with the same caption."""
        return Budget.of(path, *self[1:])  # type: ignore[attr-defined]

    @property
    def worst(self) -> int | None:
        return max((n for _, n in self.seen), default=None)


def _mk(path, source, text, tokens, seen=(), over=0, cut_tags=(), kept_tokens=None, shuffle_cut=None, n_flex=0,
        trigger=None, trigger_in_flex=False, mentions=(), crash=None, literal_braces=False, kts_count=0,
        suffix_cut=False, kept_tags=(), kept_cut=()) -> Budget:
    """Budget(...), its values passed positionally to the fast constructor (one per image)."""
    return Budget.of(path, source, text, tokens, seen, over, cut_tags, kept_tokens, shuffle_cut,  # type: ignore
                     n_flex, trigger, trigger_in_flex, mentions, crash, literal_braces, kts_count, suffix_cut,
                     kept_tags, kept_cut)


@dataclass(frozen=True)
class SubsetText:
    """A subset's captions as the text encoder sees them: what the caption findings judge."""

    subset: Subset  # with caption_tokens set on its images
    dataset: int
    trigger_words: tuple[str, ...]  # what a train caption must contain to carry the trigger
    distinct_words: tuple[str, ...]  # trigger words no reg subset of the dataset shares
    budgets: tuple[Budget, ...]


_SHARED: list[TokenCounter] = []


def shared_counter() -> TokenCounter:
    """One counter (and cache) per process: scan and the captions view count the same texts."""
    if not _SHARED:
        _SHARED.append(TokenCounter())
    return _SHARED[0]


def budgets(images, sc: SubsetConfig, enc: EncoderSet, limit: int | None, counter: TokenCounter,
            trig: tuple[str, ...], others: Others, detail: bool) -> list[Budget]:
    """budget of each image; a budget depends on the caption's source and text only (and the
    subset), and captions repeat (class tokens, shared captions): each distinct one is worked out
    once, and its images share the Budget object (the path of the first of them)."""
    seen: dict = {}
    out = []
    for img in images:
        cap = img.caption
        key = (cap.source, cap.text)
        b = seen.get(key)
        if b is None:
            b = seen[key] = budget(img, sc, enc, limit, counter, trig, others, detail)
        out.append(b)
    return out


def budget(img, sc: SubsetConfig, enc: EncoderSet, limit: int | None, counter: TokenCounter,
           trig: tuple[str, ...], others: Others, detail: bool = True) -> Budget:
    """One image's caption (``img``: anything with .caption and .abs_path) as process_caption hands
    it over, counted per tokenizer of ``enc`` against ``limit`` content tokens (get_input_ids'
    truncation); ``detail``: work out the tags the limit cuts too."""
    cap = img.caption
    text = cap.text
    if text is None:
        return _mk(img.abs_path, cap.source, None, None)
    tokens = _tokens(img, counter)
    if _FAST and limit is not None and not sc.enable_wildcard and not cp.is_dynamic(sc):
        fast = _static_budget(img.abs_path, cap.source, text, tokens, sc, enc, limit, counter, trig, others, detail)
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
        keys = [keys_of(v) for v in variants]
        mentions = tuple(ct for ct, dw in others if any(all(has_word(k, w) for w in dw) for k in keys))
    kts = sc.keep_tokens_separator
    extra = {"trigger": trigger, "mentions": mentions, "kts_count": base.count(kts) if kts else 0,
             "literal_braces": wildcard and "{" in base and any(cp.literal_braces(v) for v in variants)}
    dynamic = cp.is_dynamic(sc)
    if dynamic and trig and trigger is Trigger.PRESENT:
        extra["trigger_in_flex"] = trigger_in_flex(base, sc, trig)
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
    kept_tags: tuple[str, ...] = ()
    kept_cut: tuple[str, ...] = ()
    if over:
        if sc.shuffle_caption:
            start = len(tags.fixed) + len(tags.flex)
            cut = cut_ordered(tags.all, start, sc, limit, worst) if tags.suffix and detail else ()
            share = shuffle_share(tags, sc, limit, kept, worst)
        elif detail:
            cut = cut_ordered(tags.all, 0, sc, limit, worst)
        if detail and tags.fixed:
            # the kept part comes first on every step: what of it fits is what always reaches the encoder
            fit = fit_ordered(tags.fixed, 0, sc, limit, worst) if kept > limit else len(tags.fixed)
            kept_tags = tuple(shared(t) for t in tags.fixed[:fit] if t)
            kept_cut = tuple(shared(t) for t in tags.fixed[fit:] if t)
    return _mk(img.abs_path, cap.source, text, tokens, seen, over, cut, kept, share,
               suffix_cut=bool(over and tags.suffix), kept_tags=kept_tags, kept_cut=kept_cut, **extra)


def _tokens(img, counter: TokenCounter) -> int | None:
    """The caption's own token count: the scan's, kept on its record (``caption_tokens``, and told to
    the counter: the text the encoder sees is mostly the caption itself), else counted."""
    n = getattr(img, "caption_tokens", None)
    if n is None:
        return counter.count(img.caption.text)
    counter.know(img.caption.text, n)
    return n


_FAST = True  # tests turn the short way off to check it against the general one


def _static_budget(path: str, source: CaptionSource, text: str, tokens: int | None, sc: SubsetConfig, enc: EncoderSet,
                   limit: int, counter: TokenCounter, trig: tuple[str, ...], others: Others,
                   detail: bool) -> Budget | None:
    """budget for the common caption: no wildcards, not cut into tags (so one line reaches the text
    encoder, as it is). None where the general way is needed (no tokenizer, the cut tags asked for)."""
    base = cp.with_prefix_suffix(text, sc)
    line = base.split("\n")[0]
    trigger = trigger_state(base, trig, False) if trig and not sc.is_reg and source is CaptionSource.FILE else None
    mentions: tuple[str, ...] = ()
    if others:
        key = keys_of(line)
        mentions = tuple(ct for ct, dw in others if all(has_word(key, w) for w in dw))
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
