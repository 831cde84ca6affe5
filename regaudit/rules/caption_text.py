"""Captions as the text encoder sees them (RA031-RA039; RA039 in ``tag_dominance``): facts in (each subset's caption budgets,
``sdscripts.caption_budgets.SubsetText``), findings out: one finding per subset and kind, with the
numbers and an example."""

from __future__ import annotations

import os
import shlex
from collections import Counter
from collections.abc import Iterable, Iterator

from ..model import CaptionSource, Finding
from ..sdscripts import caption_process as cp
from ..sdscripts.caption_budgets import SubsetText
from ..sdscripts.tagfreq import caption_tags
from ..sdscripts.triggers import Trigger
from .naming import named, rows
from .registry import rule
from .tag_dominance import dominance_findings

EXAMPLES = 3


def _name(path: str) -> str:
    return os.path.basename(path)


def _q(text: str, width: int = 60) -> str:
    text = text.replace("\n", " ⏎ ")
    return repr(text if len(text) <= width else text[: width - 1] + "…")


def text_findings(subsets: Iterable[SubsetText], limit: int | None, max_train_steps: int) -> Iterator[Finding]:
    """The findings on each subset's captions; ``limit``: the content tokens the text encoders keep
    (None: no CLIP tokenizer), ``max_train_steps``: what a token_warmup_step below 1 is a share of."""
    subsets = list(subsets)
    # a --caption_prefix on the command line reaches every subset: a fix only where it reaches no reg
    # subset and no train subset of another trigger
    triggers = {st.subset.config.class_tokens for st in subsets if not st.subset.config.is_reg}
    global_prefix = len(triggers) == 1 and not any(st.subset.config.is_reg for st in subsets)
    # a folder named by many datasets alike (the same options, trigger and captions) is judged once:
    # the findings on a subset are of its folder, options, trigger words and caption budgets only
    named_again = {path for path, n in Counter(st.subset.abs_path for st in subsets).items() if n > 1}
    judged: dict[tuple, list[Finding]] = {}
    for st in subsets:
        if st.subset.abs_path not in named_again:
            yield from _on_subset(st, limit, max_train_steps, global_prefix)
            continue
        key = (st.subset.abs_path, st.subset.config, st.trigger_words, st.budgets)
        if key not in judged:
            judged[key] = list(_on_subset(st, limit, max_train_steps, global_prefix))
        yield from judged[key]
    yield from dominance_findings(subsets)


def _on_subset(st: SubsetText, limit: int | None, max_train_steps: int, global_prefix: bool) -> Iterator[Finding]:
    yield from _truncated(st, limit)
    yield from _trigger(st, global_prefix)
    yield from _reg_mentions(st)
    yield from _duplicates(st)
    yield from _wildcards(st)
    yield from _separators(st)
    yield from _augmentation(st, max_train_steps)


def _truncated(st: SubsetText, limit: int | None) -> Iterator[Finding]:
    """RA031: every caption over the limit, each image in the finding's ``images`` with its count and
    what it loses; the message names the first few."""
    over = sorted((b for b in st.budgets if b.over > 0), key=lambda b: (-b.over, b.path))
    s = st.subset
    sc = s.config
    if not over or limit is None:
        return
    counted = [b for b in st.budgets if b.seen]
    shuffled = sc.shuffle_caption and cp.is_dynamic(sc)
    msg = f"{len(over)} of {len(counted)} captions are longer than the {limit} CLIP tokens sd-scripts keeps: "
    msg += ", ".join(map(_one, over[:EXAMPLES]))
    if len(over) > EXAMPLES:
        msg += f" and {len(over) - EXAMPLES} more (each one in the JSON finding's 'images')"
    if shuffled:
        shares = [b.shuffle_cut for b in over if b.shuffle_cut is not None]
        if shares:
            mean = sum(shares) / len(shares)
            msg += (f"; with shuffle_caption a different part is cut every step: on an average step "
                    f"{mean:.0%} of these captions' shuffled tags do not fit"
                    + (f" (up to {max(shares):.0%} in one caption)" if len(shares) > 1 else ""))
        fixed = [b for b in over if b.kept_tags or b.kept_cut]
        kept = [b for b in fixed if b.kept_cut]
        if kept:
            k = max(kept, key=lambda b: b.kept_tokens or 0)
            n = len(k.kept_tags) + len(k.kept_cut)
            msg += (f"; in {len(kept)} of them the kept part alone passes the limit, so none of their shuffled tags "
                    f"ever reaches the text encoder (up to {k.kept_tokens} tokens, {_name(k.path)}: {len(k.kept_tags)} "
                    f"of its {n} kept tags survive, {_tags(k.kept_cut)} never)")
        elif fixed:
            msg += (f"; the kept tags survive every step ({_tags(fixed[0].kept_tags)} in {_name(fixed[0].path)}), "
                    f"the shuffled ones take what is left")
        suffix = [b for b in over if b.suffix_cut]
        if suffix:
            msg += f"; {len(suffix)} captions lose tags of their fixed suffix (after the second keep_tokens_separator) " \
                   f"on every step (e.g. {_name(suffix[0].path)})"
    images = tuple(_detail(b) for b in over)
    yield rule("RA031").finding(s.abs_path, msg, images=images)


def _shown(budgets) -> str:
    """The images named, and the first one's caption: 'a.png: 'text'' or 'a.png, b.png; a.png: 'text''."""
    first = f"{_name(budgets[0].path)}: {_q(budgets[0].text or '')}"
    return first if len(budgets) == 1 else f"{named([b.path for b in budgets])}; {first}"


def _tags(tags: tuple[str, ...], n: int = EXAMPLES) -> str:
    shown = ", ".join(_q(t, 30) for t in tags[:n])
    return shown + (f" and {len(tags) - n} more" if len(tags) > n else "")


def _one(b) -> str:
    """One image over the limit for the message: its count and what it loses."""
    per = "" if len(b.seen) == 1 else " (" + ", ".join(f"{n} {v}" for n, v in b.seen) + ")"
    out = f"{_name(b.path)} {b.worst} tokens{per}, {b.over} past"
    if b.cut_tags:
        out += f", loses {_tags(b.cut_tags, 2)}"
    return out


def _detail(b) -> tuple[tuple[str, object], ...]:
    """One image over the limit for the JSON finding."""
    out: list[tuple[str, object]] = [("path", b.path), ("tokens", b.worst), ("seen", dict(b.seen)), ("over", b.over),
                                     ("cut_tags", list(b.cut_tags))]
    if b.shuffle_cut is not None:
        out.append(("shuffle_cut", round(b.shuffle_cut, 4)))
    if b.kept_tags or b.kept_cut:
        out += [("kept_tags", list(b.kept_tags)), ("kept_cut", list(b.kept_cut))]
    return tuple(out)


def _trigger(st: SubsetText, global_prefix: bool = True) -> Iterator[Finding]:
    s = st.subset
    if s.config.is_reg or not st.trigger_words:
        return
    checked = [b for b in st.budgets if b.trigger is not None]
    missing = [b for b in checked if b.trigger is Trigger.MISSING]
    partial = [b for b in checked if b.trigger is Trigger.PARTIAL]
    if not missing and not partial:
        return
    words = " ".join(st.trigger_words)
    parts = []
    if missing:
        parts.append(f"{len(missing)} of {len(checked)} captions read from caption files never contain '{words}' "
                     f"({named([b.path for b in missing])}); sd-scripts does not add the folder's class tokens "
                     f"'{s.config.class_tokens}' to them")
    if partial:
        parts.append(f"{len(partial)} {'more ' if missing else ''}captions contain '{words}' only in part or only "
                     f"in some wildcard variants ({named([b.path for b in partial])})")
    images = tuple((("path", b.path), ("trigger", "missing")) for b in missing) \
        + tuple((("path", b.path), ("trigger", "partial")) for b in partial)
    yield rule("RA032").finding(s.abs_path, "; ".join(parts), _trigger_hint(s.config, missing + partial, global_prefix),
                                images=images)


def _trigger_hint(sc, budgets, global_prefix: bool) -> str:
    """RA032's fix with this folder's own trigger, its class tokens: into the captions, or as a caption_prefix
    (on the command line only where it reaches no other subset)."""
    ct = (sc.class_tokens or "").strip()
    prefix = ct + (sc.caption_separator if sc.caption_separator and sc.caption_separator.strip() else ",")
    where = (f"pass --caption_prefix {shlex.quote(prefix)} to sd-scripts (and to regaudit)" if global_prefix else
             f"set caption_prefix = {_toml(prefix)} on this subset in the dataset config (--caption_prefix on the "
             f"command line would add it to the reg and other captions too)")
    return f"Add '{ct}' to the captions of {named([b.path for b in budgets])}, or {where}."


def _toml(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _reg_mentions(st: SubsetText) -> Iterator[Finding]:
    s = st.subset
    if not s.config.is_reg:
        return
    by_trigger: dict[str, list[str]] = {}
    for b in st.budgets:
        for ct in b.mentions:
            by_trigger.setdefault(ct, []).append(b.path)
    sc = s.config
    added = [x for x in (sc.caption_prefix, sc.caption_suffix) if x]
    for ct, paths in by_trigger.items():
        why = ""
        if added and any(b.mentions and ct in b.mentions for b in st.budgets):
            why = (f"; caption_prefix/caption_suffix ({', '.join(repr(x) for x in added)}) are added to reg "
                   f"captions too")
        yield rule("RA033").finding(
            s.abs_path, f"{len(paths)} of {len(st.budgets)} reg captions carry the trigger of the train subset '{ct}' "
                        f"({named(paths)}){why}", images=rows(paths))


def _duplicates(st: SubsetText) -> Iterator[Finding]:
    s = st.subset
    # (the same caption read twice is counted twice, but normalised once)
    first: dict[str, int] = {}  # caption as compared -> the place of its first image
    shared: dict[str, list[str]] = {}  # caption as compared -> its images, where there are two or more
    for i, b in enumerate(st.budgets):
        if b.source is CaptionSource.FILE and b.text and b.text.strip():
            text = " ".join(b.text.lower().split())
            key = b.text if text == b.text else text  # (the caption's own string kept, where it is the same)
            seen = first.get(key)
            if seen is None:
                first[key] = i
            else:
                shared.setdefault(text, [st.budgets[seen].path]).append(b.path)
    if shared:
        images = sum(map(len, shared.values()))
        top = sorted(shared.items(), key=lambda kv: (-len(kv[1]), first[kv[0]]))  # (ties: first seen first)
        ex = ", ".join(f"{_q(t, 40)} ×{len(ps)} ({named(ps)})" for t, ps in top[:EXAMPLES])
        yield rule("RA034").finding(s.abs_path, f"{images} images share {len(shared)} identical captions: {ex}",
                                    images=((("path", p), ("caption", t), ("shared_by", len(ps)))
                                                 for t, ps in top for p in ps))
    repeated = []
    for b in st.budgets:
        if b.text and "," in b.text:
            parts = list(map(str.strip, b.text.lower().split(",")))
            if len(set(parts)) < len(parts):  # a repeat, or only empty pieces: look closer
                tags = caption_tags(b.text)
                dup = [t for t, n in Counter(tags).items() if n > 1]
                if dup:
                    repeated.append((b, dup))
    if repeated:
        b, dup = repeated[0]
        more = f" and {len(repeated) - 1} more ({named([r.path for r, _ in repeated[1:]])})" if len(repeated) > 1 else ""
        yield rule("RA034").finding(
            s.abs_path, f"{len(repeated)} {'caption repeats' if len(repeated) == 1 else 'captions repeat'} a tag ({_name(b.path)}: "
                        f"{', '.join(_q(t, 30) for t in dup[:EXAMPLES])}{more})",
            images=((("path", r.path), ("repeated", list(d))) for r, d in repeated))


def _wildcards(st: SubsetText) -> Iterator[Finding]:
    s = st.subset
    sc = s.config
    texts = [b for b in st.budgets if b.text]
    if not sc.enable_wildcard:
        groups = [b for b in texts if "{" in (b.text or "") and any(len(g) > 1 for g in cp.wildcard_groups(b.text or ""))]
        if groups:
            yield rule("RA035").finding(
                s.abs_path, f"{len(groups)} captions contain '{{a|b}}' wildcard groups but enable_wildcard is off: "
                            f"the braces and '|' reach the text encoder as they are ({named([b.path for b in groups])})",
                images=rows(b.path for b in groups))
        return
    braces = [b for b in texts if b.literal_braces]
    if braces:
        yield rule("RA035").finding(
            s.abs_path, f"{len(braces)} captions keep literal braces after their wildcards are resolved (a nested "
                        f"group, '{{}}' or an unclosed brace; {_shown(braces)})", images=rows(b.path for b in braces))
    if sc.caption_prefix or sc.caption_suffix:
        multi = [b for b in texts if "\n" in (b.text or "")]
        if multi:
            what = " and ".join(x for x, v in (("caption_prefix", sc.caption_prefix),
                                                ("caption_suffix", sc.caption_suffix)) if v)
            yield rule("RA035").finding(
                s.abs_path, f"{len(multi)} captions have several lines: the {what} is added to the whole caption "
                            f"before a line is drawn, so only the first (prefix) or last (suffix) line gets it "
                            f"({named([b.path for b in multi])})", images=rows(b.path for b in multi))


def _separators(st: SubsetText) -> Iterator[Finding]:
    s = st.subset
    sc = s.config
    texts = [b for b in st.budgets if b.text]
    if not texts:
        return
    dynamic = cp.is_dynamic(sc)
    sep, kts = sc.caption_separator, sc.keep_tokens_separator
    if dynamic and sep == "":
        yield rule("RA037").finding(s.abs_path, f"caption_separator is '' and captions are cut into tags (shuffle_caption, "
                                                f"token warmup or tag dropout): process_caption raises 'ValueError: "
                                                f"empty separator' on the first of its {len(texts)} captions")
        return
    if not dynamic:
        if kts:
            lit = [b for b in texts if b.kts_count]
            if lit:
                yield rule("RA036").finding(
                    s.abs_path, f"{len(lit)} captions contain keep_tokens_separator {kts!r}, but shuffle_caption, "
                                f"token warmup and tag dropout are off, so it reaches the text encoder as text "
                                f"({named([b.path for b in lit])})", images=rows(b.path for b in lit))
        return
    one = [b for b in texts if b.source is CaptionSource.FILE and len((b.text or "").split()) > 1
           and sep not in cp.with_prefix_suffix(b.text or "", sc)]
    if one:
        yield rule("RA036").finding(
            s.abs_path, f"{len(one)} of {len(texts)} captions contain no caption_separator {sep!r}: each is one tag, "
                        f"so shuffle_caption, tag dropout and warmup leave it as it is ({_shown(one)})",
            images=rows(b.path for b in one))
    if sep != ",":
        yield rule("RA036").finding(
            s.abs_path, f"tags are cut on caption_separator {sep!r} and joined again with ', ': the text encoder "
                        f"sees ', ' between them, never {sep!r}")
    if kts:
        absent = [b for b in texts if not b.kts_count]
        if absent:
            yield rule("RA036").finding(
                s.abs_path, f"{len(absent)} of {len(texts)} captions have no keep_tokens_separator {kts!r}: "
                            f"keep_tokens ({sc.keep_tokens}) decides what stays in place for them instead "
                            f"({named([b.path for b in absent])})", images=rows(b.path for b in absent))
        extra = [b for b in texts if b.kts_count > 2]
        if extra:
            yield rule("RA036").finding(
                s.abs_path, f"{len(extra)} captions contain keep_tokens_separator {kts!r} more than twice: the third "
                            f"and later stay in the tags as text ({named([b.path for b in extra])})",
                images=rows(b.path for b in extra))
    for what, value in (("caption_prefix", sc.caption_prefix), ("caption_suffix", sc.caption_suffix)):
        if not value:
            continue
        ends = value.rstrip().endswith(sep) if what == "caption_prefix" else value.lstrip().startswith(sep)
        if not ends and not (kts and kts in value):
            tags = cp.split_tags(cp.with_prefix_suffix(texts[0].text or "", sc), sc).all
            where, tag = ("first", tags[0]) if what == "caption_prefix" else ("last", tags[-1])
            yield rule("RA036").finding(
                s.abs_path, f"{what} {value!r} has no caption_separator {sep!r} on its inner side, so it joins "
                            f"each caption's {where} tag into one (e.g. {_q(tag, 50)} in {_name(texts[0].path)})")


def _augmentation(st: SubsetText, max_train_steps: int) -> Iterator[Finding]:
    s = st.subset
    sc = s.config
    texts = [b for b in st.budgets if b.text is not None]
    if not texts:
        return
    parts = []
    if sc.caption_dropout_rate > 0:
        share = "every step trains" if sc.caption_dropout_rate >= 1 else \
            f"about {sc.caption_dropout_rate:.0%} of steps train"  # (sd-scripts: random() < rate, any number)
        parts.append(f"caption_dropout_rate {sc.caption_dropout_rate:g}: {share} these images with an empty caption")
    if sc.caption_dropout_every_n_epochs > 0:
        parts.append(f"caption_dropout_every_n_epochs {sc.caption_dropout_every_n_epochs}: every "
                     f"{_nth(sc.caption_dropout_every_n_epochs)}epoch trains all of them with an empty caption")
    dynamic = cp.is_dynamic(sc)
    flex = [b.n_flex for b in texts]
    if sc.caption_tag_dropout_rate > 0 and sc.caption_separator and max(flex) > 0:
        p = f"caption_tag_dropout_rate {sc.caption_tag_dropout_rate:g}: each shuffled tag ({min(flex)} to {max(flex)} " \
            f"a caption) is left out " + ("on every step" if sc.caption_tag_dropout_rate >= 1 else
                                          f"of {sc.caption_tag_dropout_rate:.0%} of steps")
        loose = [b for b in texts if b.trigger_in_flex]
        if loose and st.trigger_words:
            p += (f", the trigger '{' '.join(st.trigger_words)}' too in {len(loose)} captions where it is not in the "
                  f"kept part")
        parts.append(p)
    if sc.token_warmup_step > 0:
        end = cp.warmup_steps(sc, max_train_steps)
        if end:
            most = max(b.n_flex for b in texts)
            parts.append(f"token warmup until step {end}: step 0 uses the first {min(sc.token_warmup_min, most)} of "
                         f"up to {most} shuffled tags (in caption order), more each step")
        else:
            parts.append(f"token_warmup_step {sc.token_warmup_step:g} × max_train_steps "
                         f"{max_train_steps} rounds down to 0: no warmup after the first step")
    if not dynamic and (sc.keep_tokens > 0):
        parts.append(f"keep_tokens {sc.keep_tokens} does nothing: shuffle_caption, token warmup and tag dropout "
                     f"are off")
    if parts:
        yield rule("RA038").finding(s.abs_path, "; ".join(parts))


def _nth(n: int) -> str:
    return {1: "", 2: "2nd ", 3: "3rd "}.get(n, f"{n}th ")
