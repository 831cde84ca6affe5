"""CLIP token counts exactly as sd-scripts' tokenizers count them.

sd-scripts loads ``transformers.CLIPTokenizer`` (the Python one) for every CLIP text encoder:
``openai/clip-vit-large-patch14`` (SD 1.x, SDXL's first encoder, SD3, FLUX), the SD 2.x tokenizer
and ``laion/CLIP-ViT-bigG-14-laion2B-39B-b160k`` (SDXL's second encoder, SD3). All three share
OpenAI's BPE vocabulary; the last two use ``!`` as their padding token, which makes it an added
token: every ``!`` in a caption is cut out and becomes a token of its own.

What ``CLIPTokenizer.tokenize`` does, and how it is reproduced here:

1. the added tokens (``<|startoftext|>``, ``<|endoftext|>``, and ``!`` where it pads) are split
   out of the raw text first, each one token;
2. each piece between them is cleaned: ``ftfy.fix_text`` (sd-scripts requires ftfy, so it is
   always present there: it unescapes HTML entities when the text has no ``<``, undoes mojibake,
   folds full-width letters and ligatures, straightens quotes, drops control characters, NFC),
   whitespace runs become one space, the ends are stripped, then ``str.lower()``;
3. the pre-tokenizer regex splits words (``<|startoftext|>``, ``<|endoftext|>``, ``'s``-style
   contractions, letter runs, single digits, runs of anything else) and each word is BPE-merged.

Step 3 is ``instant-clip-tokenizer`` (a compiled implementation of OpenAI's CLIP tokenizer with the
vocabulary bundled), fed the cleaned text. Its word regex differs from transformers' in one place
only, the special words; pieces that contain them go through a literal port of the scan instead.

Optional: needs the ``tokens`` extra (``instant-clip-tokenizer`` and ``ftfy``). ``status()`` says
whether it is there; nothing here raises when it is not.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

BOS_ID, EOS_ID, BANG_ID = 49406, 49407, 0
_SPECIALS = {"<|startoftext|>": BOS_ID, "<|endoftext|>": EOS_ID}
_CONTRACTIONS = ("'s", "'t", "'re", "'ve", "'m", "'ll", "'d")  # in the regex's order
# printable ASCII without '&': ftfy.fix_text returns it unchanged (line breaks aside, which the
# whitespace clean-up folds anyway), so it can be skipped; it costs ~35 µs a caption otherwise
_NEEDS_FTFY = re.compile(r"[^\t\n\r\x20-\x25\x27-\x7e]")
_SPLIT_EOS = re.compile("(<\\|startoftext\\|>|<\\|endoftext\\|>)")
_SPLIT_BANG = re.compile("(<\\|startoftext\\|>|<\\|endoftext\\|>|!)")


@dataclass(frozen=True)
class TokenizerStatus:
    available: bool
    library: str | None  # "instant-clip-tokenizer 0.1.1, ftfy 6.3.1"
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


@lru_cache(maxsize=1)
def _backend():
    """(encode, fix_text, versions) or the ImportError text."""
    import importlib.util

    try:
        import instant_clip_tokenizer
        if importlib.util.find_spec("ftfy") is None:
            raise ImportError("No module named 'ftfy'")
    except ImportError as exc:
        return str(exc)
    tok = instant_clip_tokenizer.Tokenizer()
    versions = (f"instant-clip-tokenizer {_version('instant-clip-tokenizer', 'instant_clip_tokenizer')}, "
                f"ftfy {_version('ftfy', 'ftfy')}")
    return tok.encode, _fix_text, versions


def status() -> TokenizerStatus:
    b = _backend()
    if isinstance(b, str):
        return TokenizerStatus(False, None, f"CLIP token counts need the 'tokens' extra "
                                            f"(pip install 'regaudit[tokens]'): {b}")
    return TokenizerStatus(True, b[2], None)


def needs_cleanup(text: str) -> bool:
    """Whether ftfy or an added token may change how ``text`` tokenizes (anything but printable
    ASCII without '&' and '<|')."""
    return bool(_NEEDS_FTFY.search(text)) or "<|" in text


def _clean(piece: str, fix_text) -> str:
    # CLIPTokenizer._tokenize with ftfy: whitespace_clean(fix_text(text)).lower(); str.split() splits
    # on the same whitespace as re's \s
    if _NEEDS_FTFY.search(piece):
        piece = fix_text(piece)
    return " ".join(piece.split()).lower()


def _kind(ch: str) -> str:
    if ch.isspace():
        return " "
    cat = unicodedata.category(ch)[0]
    return cat if cat in ("L", "N") else "P"


def _words(text: str):
    """transformers' CLIP pre-tokenizer scan (CLIPTokenizer.pat, leftmost alternative first), for
    the rare text that holds a special word: yields (word, is_special)."""
    i, n = 0, len(text)
    while i < n:
        for special in _SPECIALS:
            if text.startswith(special, i):
                yield special, True
                i += len(special)
                break
        else:
            for c in _CONTRACTIONS:
                if text.startswith(c, i):
                    yield c, False
                    i += len(c)
                    break
            else:
                kind = _kind(text[i])
                if kind == " ":
                    i += 1
                    continue
                j = i + 1
                if kind != "N":  # a letter run, or a run of anything but space, letter and number
                    while j < n and _kind(text[j]) == kind:
                        j += 1
                yield text[i:j], False
                i = j


def _encode_clean(text: str, encode) -> list[int]:
    if "<" not in text or not any(s in text for s in (*_SPECIALS, "<start_of_text>", "<end_of_text>")):
        return list(encode(text))
    # instant-clip-tokenizer would read '<start_of_text>' as its own marker and transformers reads
    # '<|endoftext|>' as one token: scan words as transformers does, encode plain words joined by
    # spaces (a word boundary in both)
    out: list[int] = []
    plain: list[str] = []
    for word, special in _words(text):
        if special:
            if plain:
                out += encode(" ".join(plain))
                plain = []
            out.append(_SPECIALS[word])
        else:
            plain.append(word)
    if plain:
        out += encode(" ".join(plain))
    return out


def encode(text: str, bang_is_pad: bool = False) -> list[int] | None:
    """The token ids transformers' CLIPTokenizer gives ``text``, without start and end tokens;
    ``bang_is_pad`` for the tokenizers whose padding token is '!' (SD 2.x, CLIP-ViT-bigG). None
    when the tokenizer is not installed."""
    b = _backend()
    if isinstance(b, str):
        return None
    enc, fix_text, _ = b
    if "<|" not in text and not (bang_is_pad and "!" in text):  # no added token to split out
        cleaned = _clean(text, fix_text)
        return _encode_clean(cleaned, enc) if cleaned else []
    out: list[int] = []
    for piece in (_SPLIT_BANG if bang_is_pad else _SPLIT_EOS).split(text):
        if not piece:
            continue
        if piece in _SPECIALS:
            out.append(_SPECIALS[piece])
        elif piece == "!" and bang_is_pad:
            out.append(BANG_ID)
        else:
            cleaned = _clean(piece, fix_text)
            if cleaned:
                out += _encode_clean(cleaned, enc)
    return out


class TokenCounter:
    """Token counts with one cache per tokenizer kind: a dataset's captions repeat a lot (class
    tokens, shared tags), and the prefix searches ask for the same strings again."""

    def __init__(self) -> None:
        self._plain: dict[str, int] = {}
        self._bang: dict[str, int] = {}
        self.available = status().available

    def remember(self, counted) -> None:
        """Counts made elsewhere (a worker process): (text, count) pairs, plain (no '!' padding)."""
        self._plain.update(counted)

    def count(self, text: str, bang_is_pad: bool = False) -> int | None:
        if not self.available:
            return None
        if bang_is_pad and "!" in text:
            cache = self._bang
        else:
            cache = self._plain  # without '!' both kinds count the same
        n = cache.get(text)
        if n is None:
            ids = encode(text, bang_is_pad)
            assert ids is not None
            n = cache[text] = len(ids)
        return n
