"""What a trainer's text encoders are, for counting caption tokens (strategy_*.py in sd-scripts).
Each family module (sd.py, sdxl.py, ...) defines its family's ``EncoderSet``; each trainer carries
the set it tokenizes captions for."""

from __future__ import annotations

from dataclasses import dataclass

CLIP_CONTEXT = 75  # CLIP's 77 positions less <BOS> and <EOS>


@dataclass(frozen=True)
class ClipTokenizer:
    name: str  # "clip_l", "clip_g"
    source: str  # the tokenizer sd-scripts loads
    bang_is_pad: bool  # its padding token is '!', which then always stands alone as a token


@dataclass(frozen=True)
class EncoderSet:
    """One model family's text encoders: the CLIP tokenizers regaudit counts, the limit they cut
    captions at, and the encoders it does not count."""

    family: str  # "SD 1.x", "SDXL", ...
    clip: tuple[ClipTokenizer, ...]
    takes_max_token_length: bool  # --max_token_length 150/225 extends the CLIP limit
    not_counted: tuple[str, ...] = ()  # e.g. "T5-XXL (--t5xxl_max_token_length, default 256)"
    with_v2: EncoderSet | None = None  # what --v2 loads instead (SD 2.x's tokenizer), if anything

    def limit(self, max_token_length: int | None) -> int | None:
        """Content tokens each caption keeps (without <BOS>/<EOS>); None when no CLIP tokenizer."""
        if not self.clip:
            return None
        if self.takes_max_token_length and max_token_length is not None:
            return max_token_length
        return CLIP_CONTEXT


CLIP_L = ClipTokenizer("clip_l", "openai/clip-vit-large-patch14", False)
