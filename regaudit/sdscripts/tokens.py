"""CLIP token counts exactly as sd-scripts' tokenizers count them.

sd-scripts loads ``transformers.CLIPTokenizer`` (the Python one) for every CLIP text encoder:
``openai/clip-vit-large-patch14`` (SD 1.x, SDXL's first encoder, SD3, FLUX), the SD 2.x tokenizer
and ``laion/CLIP-ViT-bigG-14-laion2B-39B-b160k`` (SDXL's second encoder, SD3). All three share
OpenAI's BPE vocabulary; the last two use ``!`` as their padding token, which makes it an added
token: every ``!`` in a caption is cut out and becomes a token of its own.

What ``CLIPTokenizer.tokenize`` does (transformers 4.54.1, the version sd-scripts pins), and how it
is reproduced here:

1. the added tokens (``<|startoftext|>``, ``<|endoftext|>``, and ``!`` where it pads) are split
   out of the raw text first, each one token;
2. each piece between them is cleaned (``CLIPTokenizer._tokenize``): ``ftfy.fix_text`` (sd-scripts'
   requirements pin ftfy, so transformers always takes that branch there, never its BasicTokenizer
   fallback; fix_text unescapes HTML entities when the text has no ``<``, undoes mojibake, folds
   full-width letters and ligatures, straightens quotes, drops control characters, NFC), whitespace
   runs become one space, the ends are stripped, then ``str.lower()``;
3. the pre-tokenizer regex splits words (``<|startoftext|>``, ``<|endoftext|>``, ``'s``-style
   contractions, case-insensitive, letter runs, single digits, runs of anything else) and each word's
   UTF-8 bytes are BPE-merged with ``</w>`` after its last character.

Steps 1 and 2 are Python here (ftfy is a dependency). Step 3 is Hugging Face ``tokenizers``: a BPE
model with the same pre-tokenizer regex and byte mapping, built from OpenAI's merges shipped in
``data/clip_merges.txt.gz`` (tools/build_clip_vocab.py; the vocabulary follows from the merges as
in CLIP's own ``SimpleTokenizer``). Nothing is downloaded. Where tokenizers' regex engine
(Oniguruma) and transformers' (the ``regex`` module) read a text differently, the words are found
by ``_scan`` instead, which gives transformers' words: text holding one of the regex's two special
words, and the few characters the two engines class differently (``_REGEX_ONLY``).

``status()`` says whether the tokenizer loaded (it fails only in a broken install); nothing here
raises when it did not.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

BOS_ID, EOS_ID, BANG_ID = 49406, 49407, 0
_SPECIALS = {"<|startoftext|>": BOS_ID, "<|endoftext|>": EOS_ID}
# printable ASCII without '&': ftfy.fix_text returns it unchanged (line breaks aside, which the
# whitespace clean-up folds anyway), so it can be skipped; it costs ~35 µs a caption otherwise
_NEEDS_FTFY = re.compile(r"[^\t\n\r\x20-\x25\x27-\x7e]")
_SPLIT_EOS = re.compile("(<\\|startoftext\\|>|<\\|endoftext\\|>)")
_SPLIT_BANG = re.compile("(<\\|startoftext\\|>|<\\|endoftext\\|>|!)")

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "clip_merges.txt.gz")
N_MERGES = 49152 - 256 - 2  # the merges CLIPTokenizer reads from merges.txt
# CLIPTokenizer.pat less its two special words (see _scan); transformers compiles it IGNORECASE
_PATTERN = r"(?i)'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+"

# Code points the regex module (2026.12.2: Unicode 17) reads as letters or numbers and Oniguruma
# (tokenizers 0.23.3: Unicode 15.1) as neither, found by comparing the two over every code point
# (tests/differential/clip_tokens.py --sweep); and U+0345, which the regex module with IGNORECASE
# matches by no alternative of the pattern (it folds to a letter but is none), so it is dropped.
_REGEX_ONLY_LETTERS = (
    "558 58B-58C 88F C5C CDC 208F 209D-209F A7CE-A7CF A7D2 A7D4 A7DD A7E2 A7F1 AB6C-AB6D 107BB-107BF "
    "10940-10959 10EC5-10EC7 10ED9-10EEE 11B0A 11DB0-11DDB 11DF1 16EA0-16EB8 16EBB-16ED3 16FF2-16FF3 "
    "187F8-187FF 18CD6-18CDA 18D09-18D20 18D80-18DF2 18E00-19191 191A0-191D2 1B123-1B128 1B168 1D6A6 "
    "1DF1F-1DF24 1DF2B-1DF81 1DF90-1DF96 1DFCD-1DFFF 1E6C0-1E6DE 1E6E0-1E6E2 1E6E4-1E6E5 1E6E7-1E6ED "
    "1E6F0-1E6F4 1E6FE-1E6FF 2B73A-2B73F 2B81E 2CEA2-2CEAD 323B0-33479 3D000-3FC3F")
_REGEX_ONLY_NUMBERS = "11DE0-11DE9 1246F 12475-1247F 12550-12686 16FF4-16FF6"
_DROPPED = "\u0345"


# why the other text encoders' tokens are not counted (said once, for all of them)
NOT_COUNTED_WHY = ("their tokenizers (T5's SentencePiece model, Gemma 2's) come from the model's own files, which "
                   "sd-scripts downloads and no package ships: regaudit counts offline, so it leaves them out")


@dataclass(frozen=True)
class TokenizerStatus:
    available: bool
    library: str | None  # "tokenizers 0.23.3, ftfy 6.3.1"
    reason: str | None  # why not, when not


def _version(dist: str, module: str) -> str:
    """An installed distribution's version, from its .dist-info folder name beside the module
    (no importlib.metadata: it costs more to import than the tokenizer to load)."""
    import importlib.util
    import os

    spec = importlib.util.find_spec(module)
    where = spec.submodule_search_locations if spec is not None else None
    origin = (list(where)[0] if where else spec.origin) if spec is not None else None
    if origin:
        site = os.path.dirname(os.path.abspath(origin))
        prefix = re.sub(r"[-_.]+", "_", dist).lower() + "-"  # {normalized name}-{version}.dist-info
        try:
            for name in os.listdir(site):
                if name.endswith(".dist-info") and name.lower().startswith(prefix):
                    return name[len(prefix):-len(".dist-info")]
        except OSError:
            pass
    try:
        from importlib.metadata import version

        return version(dist)
    except Exception:  # pragma: no cover - imported but not installed as a dist
        return "?"


_FTFY: list = []


def _fix_text(text: str) -> str:
    """ftfy.fix_text, imported the first time a caption needs it (most are plain ASCII)."""
    if not _FTFY:
        import ftfy

        _FTFY.append(ftfy.fix_text)
    return _FTFY[0](text)


def byte_symbols() -> list[str]:
    """The 256 byte symbols of CLIP's byte-level BPE in vocabulary order (bytes_to_unicode): the
    printable Latin-1 bytes stand for themselves, first; the others (68) take the code points from
    256 on, in byte order."""
    return [chr(b) for b in _SHOWN] + [chr(256 + i) for i in range(256 - len(_SHOWN))]


_SHOWN = (*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100))  # the bytes that stand for themselves


def vocabulary(merges: list[tuple[str, str]]) -> dict[str, int]:
    """CLIP's token ids from its merges, as vocab.json holds them: each byte symbol, each byte
    symbol ending a word (``</w>``), each merge's result in rank order, then the start and end
    tokens (49408 in all)."""
    base = byte_symbols()
    words = base + [c + "</w>" for c in base] + list(map(str.__add__, *zip(*merges)))
    words += ["<|startoftext|>", "<|endoftext|>"]
    return dict(zip(words, range(len(words))))


def load_merges(path: str = DATA) -> list[tuple[str, str]]:
    """The merges in rank order, as (left, right) pairs (no symbol holds a space or a line break)."""
    import gzip

    with gzip.open(path, "rb") as fh:
        parts = fh.read().decode("utf-8").split()
    merges = list(zip(parts[0::2], parts[1::2]))
    if len(parts) != 2 * N_MERGES:
        raise ValueError(f"{path}: {len(parts) / 2:g} merges, not {N_MERGES}")
    return merges


class _Backend(NamedTuple):
    encode: Callable[[str], list[int]]  # cleaned text -> ids (Oniguruma's words)
    split: Callable[[str], list]  # cleaned text -> [(word, (start, end))] (Oniguruma's words)
    bpe: Callable[[str], list[int]]  # one word -> ids
    versions: str


@lru_cache(maxsize=1)
def _backend() -> _Backend | str:
    """The tokenizer, or why not as text."""
    import importlib.util

    try:
        from tokenizers import Regex, Tokenizer, models, pre_tokenizers

        if importlib.util.find_spec("ftfy") is None:
            raise ImportError("No module named 'ftfy'")
        merges = load_merges()
    except (ImportError, OSError, ValueError) as exc:
        return str(exc)
    bpe = models.BPE(vocabulary(merges), merges, end_of_word_suffix="</w>")
    split = pre_tokenizers.Split(Regex(_PATTERN), behavior="removed", invert=True)  # keep the matches
    tok = Tokenizer(bpe)
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        split, pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])  # bytes -> byte symbols
    enc, tokenize = tok.encode, bpe.tokenize
    hidden = sorted(set(range(256)) - set(_SHOWN))
    by_byte = dict(zip((*_SHOWN, *hidden), byte_symbols()))  # byte -> its symbol

    def encode(text: str) -> list[int]:
        return enc(text, add_special_tokens=False).ids

    def word_ids(word: str) -> list[int]:
        return [t.id for t in tokenize("".join(by_byte[b] for b in word.encode("utf-8")))]

    versions = f"tokenizers {_version('tokenizers', 'tokenizers')}, ftfy {_version('ftfy', 'ftfy')}"
    return _Backend(encode, split.pre_tokenize_str, word_ids, versions)


def status() -> TokenizerStatus:
    b = _backend()
    if isinstance(b, str):
        return TokenizerStatus(False, None, f"CLIP token counts are off: the tokenizer did not load ({b}); "
                                            f"reinstall regaudit (it needs 'tokenizers' and 'ftfy')")
    return TokenizerStatus(True, b.versions, None)


def needs_cleanup(text: str) -> bool:
    """Whether ftfy or an added token may change how ``text`` tokenizes (anything but printable
    ASCII without '&' and '<|')."""
    return bool(_NEEDS_FTFY.search(text)) or "<|" in text


def _clean(piece: str, fix_text) -> str:
    # CLIPTokenizer._tokenize with ftfy: whitespace_clean(fix_text(text)).lower(); str.split() splits
    # on the same whitespace as the regex module's \s once ftfy has dropped the control characters
    if _NEEDS_FTFY.search(piece):
        piece = fix_text(piece)
    return " ".join(piece.split()).lower()


def _ranges(spec: str) -> list[tuple[int, int]]:
    return [(int(a, 16), int(b or a, 16)) for a, _, b in (r.partition("-") for r in spec.split())]


@lru_cache(maxsize=1)
def _regex_only() -> tuple[re.Pattern, dict[int, str]]:
    """A pattern finding the characters the two engines class differently, and the stand-ins that
    make Oniguruma class them as the regex module does: a letter, a digit, a space (dropped)."""
    table: dict[int, str] = {ord(_DROPPED): " "}
    parts = [re.escape(_DROPPED)]
    for spec, stand_in in ((_REGEX_ONLY_LETTERS, "a"), (_REGEX_ONLY_NUMBERS, "0")):
        for lo, hi in _ranges(spec):
            table.update(dict.fromkeys(range(lo, hi + 1), stand_in))
            parts.append(f"{re.escape(chr(lo))}-{re.escape(chr(hi))}")
    return re.compile("[" + "".join(parts) + "]"), table


def _scan(text: str, be: _Backend):
    """The words of transformers' pre-tokenizer scan (CLIPTokenizer.pat, leftmost alternative
    first): Oniguruma's words of the text with the characters it classes otherwise stood in for
    (same length, so the offsets hold); where a word starts with a special word, transformers'
    scan reads that special word instead and goes on after it. Yields a word or a special's id."""
    table = _regex_only()[1]
    while text:
        words = be.split(text.translate(table))
        for _, (start, end) in words:
            special = next((s for s in _SPECIALS if text.startswith(s, start)), None)
            if special is not None:
                yield _SPECIALS[special]
                text = text[start + len(special):]
                break
            yield text[start:end]
        else:
            return


def _encode_clean(text: str, be: _Backend) -> list[int]:
    if not (("<|" in text and any(s in text for s in _SPECIALS))
            or (not text.isascii() and _regex_only()[0].search(text))):
        return be.encode(text)
    out: list[int] = []
    for word in _scan(text, be):
        if isinstance(word, int):
            out.append(word)
        else:
            out += be.bpe(word)
    return out


def _pieces(text: str, bang_is_pad: bool):
    """``text`` as CLIPTokenizer.tokenize takes it apart: each added token's id, and each cleaned
    piece between them (empty pieces left out)."""
    if "<|" not in text and not (bang_is_pad and "!" in text):  # no added token to split out
        cleaned = _clean(text, _fix_text)
        if cleaned:
            yield cleaned
        return
    for piece in (_SPLIT_BANG if bang_is_pad else _SPLIT_EOS).split(text):
        if not piece:
            continue
        if piece in _SPECIALS:
            yield _SPECIALS[piece]
        elif piece == "!" and bang_is_pad:
            yield BANG_ID
        else:
            cleaned = _clean(piece, _fix_text)
            if cleaned:
                yield cleaned


def encode(text: str, bang_is_pad: bool = False) -> list[int] | None:
    """The token ids transformers' CLIPTokenizer gives ``text``, without start and end tokens;
    ``bang_is_pad`` for the tokenizers whose padding token is '!' (SD 2.x, CLIP-ViT-bigG). None
    when the tokenizer did not load."""
    be = _backend()
    if isinstance(be, str):
        return None
    out: list[int] = []
    for piece in _pieces(text, bang_is_pad):
        if isinstance(piece, int):
            out.append(piece)
        else:
            out += _encode_clean(piece, be)
    return out


# A cleaned piece of printable ASCII (lower case, single spaces) is split by CLIPTokenizer.pat as
# Python's re splits it with this pattern: the same alternatives, tried in the same order, the
# letter and number classes being [a-z] and [0-9] there. tests/sdscripts/test_tokens.py holds the
# two to the tokenizer's own split.
_PRINTABLE = re.compile(r"[\x20-\x7e]*")
_ASCII_WORDS = re.compile(r"'s|'t|'re|'ve|'m|'ll|'d|[a-z]+|[0-9]|[^ a-z0-9]+")
_WORDS_MAX = 1 << 18  # words whose token counts are kept, each of at most _WORD_CHARS: tens of MB at most
_WORD_CHARS = 64
_WORD_TOKENS: dict[str, int] = {}


def _count_clean(text: str, be: _Backend) -> int:
    """len(_encode_clean(text)): for printable ASCII, the words' token counts, each word BPE-merged
    once (captions share most of their words); anything else through the tokenizer."""
    if "<|" in text or not _PRINTABLE.fullmatch(text):
        return len(_encode_clean(text, be))
    known = _WORD_TOKENS
    words = _ASCII_WORDS.findall(text)
    try:
        return sum(map(known.__getitem__, words))  # (every word seen before: the common case)
    except KeyError:
        pass
    n = 0
    for word in words:
        k = known.get(word)
        if k is None:
            k = len(be.bpe(word))
            if len(word) <= _WORD_CHARS:  # (a 64 KiB run of letters is no word to keep)
                if len(known) >= _WORDS_MAX:
                    known.clear()
                known[word] = k
        n += k
    return n


def count(text: str, bang_is_pad: bool = False) -> int | None:
    """len(encode(text, bang_is_pad)), without building the ids; None when the tokenizer did not load."""
    be = _backend()
    if isinstance(be, str):
        return None
    return sum(1 if isinstance(p, int) else _count_clean(p, be) for p in _pieces(text, bang_is_pad))


_COUNTED_MAX = 1 << 16  # texts a TokenCounter keeps the count of, per kind: a few MB of tags and captions


class TokenCounter:
    """Token counts with one cache per tokenizer kind: a dataset's captions repeat a lot (class
    tokens, shared tags), and the prefix searches ask for the same strings again. Bounded: a
    million distinct captions (their counts kept on their records) would keep hundreds of MB of
    text alive here; past _COUNTED_MAX texts a cache starts again."""

    def __init__(self) -> None:
        self._plain: dict[str, int] = {}
        self._bang: dict[str, int] = {}
        self.available = status().available

    def remember(self, counted) -> None:
        """Counts made elsewhere (a worker process): (text, count) pairs, plain (no '!' padding)."""
        if len(self._plain) + len(counted) > _COUNTED_MAX:
            self._plain.clear()
        if len(counted) <= _COUNTED_MAX:
            self._plain.update(counted)

    def know(self, text: str, n: int) -> None:
        """A plain count made already (the scan's, kept on a record): asked again for the same text
        (a caption as it reaches the encoder is mostly the caption itself), it is not counted again."""
        if len(self._plain) >= _COUNTED_MAX:
            self._plain.clear()
        self._plain[text] = n

    def count(self, text: str, bang_is_pad: bool = False) -> int | None:
        if not self.available:
            return None
        if bang_is_pad and "!" in text:
            cache = self._bang
        else:
            cache = self._plain  # without '!' both kinds count the same
        n = cache.get(text)
        if n is None:
            n = count(text, bang_is_pad)
            assert n is not None
            if len(cache) >= _COUNTED_MAX:
                cache.clear()
            cache[text] = n
        return n
