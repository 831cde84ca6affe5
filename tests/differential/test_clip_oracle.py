"""The CLIP token differential (clip_tokens.py) on a few hundred captions, where the oracle is set
up (see clip_tokens.py's docstring); skipped cleanly elsewhere."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import clip_tokens  # noqa: E402


def test_token_ids_equal_transformers_clip_tokenizer():
    py = os.path.join(clip_tokens.ORACLE_VENV, "bin", "python")
    bpe = os.path.join(clip_tokens.ORACLE_DIR, "bpe_simple_vocab_16e6.txt.gz")
    if not (os.path.exists(py) and os.path.exists(bpe) and os.path.isdir(os.path.join(clip_tokens.ORACLE_DIR, "site"))):
        pytest.skip("the transformers oracle is not set up here (tests/differential/clip_tokens.py)")
    p = subprocess.run([sys.executable, os.path.join(HERE, "clip_tokens.py"), "--cases", "300"],
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-2000:]
    assert "600/600 agree" in p.stdout, p.stdout[-3000:]
