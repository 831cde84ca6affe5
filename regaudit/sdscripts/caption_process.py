"""What sd-scripts does to a registered caption at every step, before the text encoder sees it
(train_util.BaseDataset.process_caption), as pure functions of the caption and the subset options.

Per step, in this order: ``caption_prefix + " " + caption + " " + caption_suffix``; caption dropout
(the whole caption becomes ""); wildcards (with ``enable_wildcard``: one random line, then each
``{a|b|c}`` replaced by one random choice, ``{{``/``}}`` being literal braces; without it: the first
line); then, only with ``shuffle_caption``, ``token_warmup_step`` or ``caption_tag_dropout_rate``, the
caption is cut on ``caption_separator`` into tags: a fixed part (the first ``keep_tokens`` tags, or
everything before ``keep_tokens_separator``, plus everything after its second occurrence as a fixed
suffix) and a flexible part that is warmed up, shuffled and tag-dropped, and the tags are joined
again with ", " whatever the separator was; last, ``secondary_separator`` becomes
``caption_separator``.

The random choices are not made here: callers ask for the parts and decide.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..model import SubsetConfig

_GROUP = re.compile(r"\{([^}]+)\}")  # process_caption's wildcard pattern


@dataclass(frozen=True)
class Tags:
    """A caption cut into tags as the dynamic branch of process_caption cuts it."""

    fixed: tuple[str, ...]
    flex: tuple[str, ...]
    suffix: tuple[str, ...]
    by_separator: bool  # keep_tokens_separator decided the fixed part (keep_tokens is then ignored)

    @property
    def all(self) -> tuple[str, ...]:
        return self.fixed + self.flex + self.suffix


def is_dynamic(sc: SubsetConfig) -> bool:
    """Whether process_caption cuts the caption into tags and joins them again with ', '."""
    return bool(sc.shuffle_caption or sc.token_warmup_step > 0 or sc.caption_tag_dropout_rate > 0)


def with_prefix_suffix(caption: str, sc: SubsetConfig) -> str:
    if sc.caption_prefix:
        caption = sc.caption_prefix + " " + caption
    if sc.caption_suffix:
        caption = caption + " " + sc.caption_suffix
    return caption


def lines(caption: str, wildcard: bool) -> list[str]:
    """The lines a step can draw: all of them with wildcards (random.choice), else the first."""
    return caption.split("\n") if wildcard else [caption.split("\n")[0]]


def _escapes(line: str) -> tuple[str, str]:
    r1, r2 = "⦅", "⦆"
    while r1 in line or r2 in line:
        r1 += "⦅"
        r2 += "⦆"
    return r1, r2


def wildcard_groups(line: str) -> list[tuple[str, ...]]:
    """The choices of each '{a|b}' group of a line, in order, as process_caption reads them."""
    r1, r2 = _escapes(line)
    escaped = line.replace("{{", r1).replace("}}", r2)
    return [tuple(m.group(1).replace(r1, "{").replace(r2, "}").split("|")) for m in _GROUP.finditer(escaped)]


def resolve_wildcards(line: str, pick) -> str:
    """The line with each group replaced by ``pick(index, choices)``, braces unescaped, exactly as
    process_caption replaces them (``pick`` plays random.choice)."""
    r1, r2 = _escapes(line)
    escaped = line.replace("{{", r1).replace("}}", r2)
    k = -1

    def sub(m: re.Match) -> str:
        nonlocal k
        k += 1
        return pick(k, m.group(1).split("|"))

    return _GROUP.sub(sub, escaped).replace(r1, "{").replace(r2, "}")


def without_groups(line: str) -> str:
    """The line with every wildcard group removed: what every variant of it contains."""
    return resolve_wildcards(line, lambda k, choices: " , ")


def literal_braces(line: str) -> bool:
    """Whether braces reach the text encoder after wildcards are resolved (an unclosed '{', a '{}'
    or a nested group, which the pattern reads up to the first '}')."""
    r1, r2 = _escapes(line)
    escaped = line.replace("{{", r1).replace("}}", r2)
    rest = _GROUP.sub("", escaped)
    return "{" in rest or "}" in rest or any("{" in m.group(1) for m in _GROUP.finditer(escaped))


def split_tags(caption: str, sc: SubsetConfig) -> Tags:
    """process_caption's dynamic branch up to the shuffle: fixed, flexible and fixed-suffix tags.
    Raises ValueError for an empty caption_separator, as str.split does in sd-scripts."""
    sep, kts = sc.caption_separator, sc.keep_tokens_separator
    if kts and kts in caption:
        fixed_part, flex_part = caption.split(kts, 1)
        suffix: list[str] = []
        if kts in flex_part:
            flex_part, suffix_part = flex_part.split(kts, 1)
            suffix = [t.strip() for t in suffix_part.split(sep) if t.strip()]
        fixed = [t.strip() for t in fixed_part.split(sep) if t.strip()]
        flex = [t.strip() for t in flex_part.split(sep) if t.strip()]
        return Tags(tuple(fixed), tuple(flex), tuple(suffix), True)
    tokens = [t.strip() for t in caption.strip().split(sep)]  # empty tags are kept on this branch
    if sc.keep_tokens > 0:
        return Tags(tuple(tokens[:sc.keep_tokens]), tuple(tokens[sc.keep_tokens:]), (), False)
    return Tags((), tuple(tokens), (), False)


def join(tags: tuple[str, ...] | list[str], sc: SubsetConfig) -> str:
    """The tags as the text encoder gets them: joined with ', ', then the secondary separator replaced."""
    return finish(", ".join(tags), sc)


def finish(caption: str, sc: SubsetConfig) -> str:
    if sc.secondary_separator:
        caption = caption.replace(sc.secondary_separator, sc.caption_separator)
    return caption


def warmup_steps(sc: SubsetConfig, max_train_steps: int) -> int:
    """The step at which token warmup ends (a token_warmup_step below 1 is a share of max_train_steps)."""
    step = sc.token_warmup_step
    if step < 1:
        step = math.floor(step * max_train_steps)
    return int(step)


def warmup_tags(n_flex: int, step: int, sc: SubsetConfig, max_train_steps: int) -> int:
    """How many of the flexible tags (in caption order) a step keeps during token warmup."""
    end = warmup_steps(sc, max_train_steps)
    if not end or step >= end:
        return n_flex
    return min(n_flex, max(0, math.floor(step * ((n_flex - sc.token_warmup_min) / end)) + sc.token_warmup_min))
