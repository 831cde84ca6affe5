"""What a CLIP token limit cuts from a caption: the pieces that never reach the text encoder when
the order is fixed, and, with shuffle_caption, the share of shuffled tags cut on an average step.
Pure functions of the caption and a counting function ``worst(text) -> tokens``."""

from __future__ import annotations

import re

from . import caption_process as cp
from . import tokens as clip_tokens
from ..model import SubsetConfig

SHUFFLE_SAMPLES = 256  # random steps drawn per truncated caption for the shuffle figures

_MERGES_AT_COMMA = re.compile(r"[^A-Za-z0-9\s],|,[^A-Za-z0-9\s]")
_TAGS: dict[str, str] = {}  # one string per cut tag: a million booru captions cut the same few thousand tags
_TAGS_MAX = 1 << 16
_TAG_CHARS = 64


def shared(tag: str) -> str:
    """``tag``, as the one string kept for it (tags over _TAG_CHARS characters as they are)."""
    if len(tag) > _TAG_CHARS:
        return tag
    got = _TAGS.get(tag)
    if got is None:
        if len(_TAGS) >= _TAGS_MAX:
            _TAGS.clear()
        got = _TAGS[tag] = tag
    return got


def _fit_by_pieces(pieces: list[str], total: int, limit: int, worst) -> int | None:
    """How many leading ','-joined pieces fit whole, from each piece's own count plus one per ','.
    Exact when the text is plain ASCII (no ftfy change, no special token) and no ',' touches other
    punctuation: every ',' is then a word of its own and BPE never crosses a word. None otherwise
    (the caller then bisects with real counts)."""
    text = ",".join(pieces)
    if clip_tokens.needs_cleanup(text) or _MERGES_AT_COMMA.search(text):
        return None
    costs = [worst(p) for p in pieces]
    if sum(costs) + len(pieces) - 1 != total:
        return None
    used = -1
    for k, c in enumerate(costs):
        used += c + 1
        if used > limit:
            return k
    return len(pieces)


def cut_static(processed: str, limit: int, worst) -> tuple[str, ...]:
    """The ','-separated pieces of a caption that do not fit whole in the limit (the encoder
    sees the text as it is; the pieces are only for showing what is lost)."""
    pieces = processed.split(",")
    lo = _fit_by_pieces(pieces, worst(processed), limit, worst)
    if lo is None:  # the largest k with worst(prefix of k pieces) <= limit, by bisection
        ends = [m.start() for m in re.finditer(",", processed)] + [len(processed)]
        lo, hi = 0, len(ends)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if worst(processed[:ends[mid - 1]]) <= limit:
                lo = mid
            else:
                hi = mid - 1
    return tuple(shared(t.strip()) for t in pieces[lo:] if t.strip())


def fit_ordered(tags: tuple[str, ...], start: int, sc: SubsetConfig, limit: int, worst) -> int:
    """How many leading tags fit whole in the limit, the tags being in this order (at least
    ``start``: the caller knows those fit or does not ask about them)."""
    lo = _fit_by_pieces([cp.finish(t, sc) for t in tags], worst(cp.join(tags, sc)), limit, worst)
    if lo is None:
        lo, hi = start, len(tags)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if worst(cp.join(tags[:mid], sc)) <= limit:
                lo = mid
            else:
                hi = mid - 1
    return max(lo, start)


def cut_ordered(tags: tuple[str, ...], start: int, sc: SubsetConfig, limit: int, worst) -> tuple[str, ...]:
    """Tags from index ``start`` on that do not fit whole, the tags being in this order."""
    return tuple(shared(t) for t in tags[fit_ordered(tags, start, sc, limit, worst):] if t)


def shuffle_share(tags: cp.Tags, sc: SubsetConfig, limit: int, kept: int, worst) -> float:
    """Share of the shuffled tags that do not fit whole on an average step: SHUFFLE_SAMPLES
    random orders (and tag dropouts), seeded, each tag costing its tokens plus one for the ','
    that joins it."""
    import numpy as np

    n = len(tags.flex)
    if n == 0:
        return 0.0
    cost = np.array([worst(cp.finish(t, sc)) + 1 for t in tags.flex], dtype=np.int64)
    room = limit - kept if tags.fixed else limit + 1  # the first tag has no ',' before it
    rng = np.random.default_rng(0)
    order = rng.random((SHUFFLE_SAMPLES, n)).argsort(axis=1)
    w = cost[order]
    keep = np.ones_like(w, dtype=bool)
    if sc.caption_tag_dropout_rate > 0:
        keep = rng.random((SHUFFLE_SAMPLES, n)) >= sc.caption_tag_dropout_rate
        w = w * keep
    cut = (w.cumsum(axis=1) > room) & keep
    return float(cut.sum()) / (SHUFFLE_SAMPLES * n)
