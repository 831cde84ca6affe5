"""``regaudit captions``: captions as the text encoder sees them, against the chosen trainer's text
encoders: token counts against its limit, what the limit cuts (with shuffle_caption: how much on
an average step), whether captions carry the folder's trigger words, and the findings on them
(RA031-RA039). Composes the port (``sdscripts.caption_budgets``, ``sdscripts.triggers``) and
``rules.caption_text``. Pure: takes the datasets of a scan, returns values; prints nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from operator import attrgetter

from ..errors import OptionError
from ..model import Dataset, Finding, SubsetConfig
from ..rules.caption_text import text_findings
from ..sdscripts import defaults
from ..sdscripts.caption_budgets import Budget, Others, SubsetText, budgets, shared_counter
from ..sdscripts.trainers import DEFAULT, REGISTRY, EncoderSet
from ..sdscripts.tokens import TokenCounter, TokenizerStatus, status
from ..sdscripts.triggers import Trigger, subset_contexts

__all__ = ["TextAudit", "TextOptions", "Trigger", "audit", "part_budgets"]  # (Trigger: render/ reads it here)


@dataclass(frozen=True)
class TextOptions:
    """The command-line options of the text encoders (sd-scripts has them on the command line only)."""

    trainer: str = DEFAULT
    v2: bool = False
    max_token_length: int | None = None
    max_train_steps: int = defaults.MAX_TRAIN_STEPS

    def __post_init__(self) -> None:
        if self.trainer not in REGISTRY:
            raise OptionError(f"--trainer '{self.trainer}' has no DreamBooth text encoders regaudit knows; one of: "
                              f"{', '.join(REGISTRY)}")

    @property
    def encoders(self) -> EncoderSet:
        return REGISTRY[self.trainer].text_encoders(self.v2)


@dataclass(frozen=True)
class TextAudit:
    """The captions of a scan's datasets against one trainer's text encoders, and the findings."""

    options: TextOptions
    encoders: EncoderSet
    limit: int | None  # content tokens kept; None when the trainer has no CLIP tokenizer
    tokenizer: TokenizerStatus
    datasets: tuple[Dataset, ...]  # the input datasets with caption_tokens set
    subsets: tuple[SubsetText, ...]
    findings: tuple[Finding, ...]


def part_budgets(images: list, sc: SubsetConfig, options: TextOptions, trig: tuple[str, ...],
                 others: Others) -> list[Budget]:
    """Scan's budgets of ``images`` (anything with .caption and .abs_path) of one
    subset, as audit() works them out; the same caption gives the same Budget object (its path
    that of the first image with it: audit() moves it)."""
    enc = options.encoders
    return budgets(images, sc, enc, enc.limit(options.max_token_length), shared_counter(), trig, others, True)


def audit(datasets: tuple[Dataset, ...] | list[Dataset], options: TextOptions | None = None,
          counter: TokenCounter | None = None, detail: bool = True, known: dict | None = None) -> TextAudit:
    """The captions of ``datasets`` against ``options``' text encoders; what the limit cuts is worked
    out for every caption past it (RA031 names each). ``detail`` is no longer used (it once limited
    that to each subset's longest caption). ``known``: id(subset) -> its budgets already worked out
    by part_budgets (scan does it where it reads the captions) with these options."""
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
            given = known.get(id(s)) if known is not None else None
            if given is None:
                given = budgets(s.images, s.config, enc, limit, counter, trig, others, True)
            # each budget on its image's path (a shared budget has the first image's)
            placed = [b if b.path == path else b.at(path) for b, path in zip(given, map(_ABS_PATH, s.images))]
            tokens = list(map(_TOKENS, placed))
            if list(map(_CAPTION_TOKENS, s.images)) != tokens:  # (scan's records have them: no copy then)
                s = dataclasses.replace(s, images=tuple(img if img.caption_tokens == n else img._replace(caption_tokens=n)
                                                        for img, n in zip(s.images, tokens)))
            texts.append(SubsetText(s, d.index, trig, distinct, tuple(placed)))
            subsets.append(s)
        out_sets.append(d if all(a is b for a, b in zip(subsets, d.subsets)) else
                        dataclasses.replace(d, subsets=tuple(subsets)))
    findings = tuple(text_findings(texts, limit, options.max_train_steps))
    return TextAudit(options, enc, limit, status(), tuple(out_sets), tuple(texts), findings)


_ABS_PATH = attrgetter("abs_path")
_TOKENS = attrgetter("tokens")
_CAPTION_TOKENS = attrgetter("caption_tokens")
