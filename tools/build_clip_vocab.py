"""Rebuild regaudit's CLIP BPE data (regaudit/sdscripts/data/clip_merges.txt.gz) from OpenAI's
``bpe_simple_vocab_16e6.txt.gz`` (MIT, the file every CLIP tokenizer reads: openai/CLIP,
open_clip, and the vocab.json/merges.txt of openai/clip-vit-large-patch14 on the hub).

    pip download --no-deps open-clip-torch==3.3.0 -d /tmp/clip-bpe
    python tools/build_clip_vocab.py /tmp/clip-bpe/open_clip_torch-3.3.0-py3-none-any.whl

The argument is that wheel (the file is read from ``open_clip/`` inside it) or the .gz file itself.
What is kept: the 48,894 merges CLIP uses (lines 1 to 48,894 after the version line, as
transformers' CLIPTokenizer and OpenAI's SimpleTokenizer cut them); the vocabulary follows from
them (tokens.py rebuilds it), so it is not stored. The output is a gzip stream with no name and no
time stamp, so the same input gives the same bytes; the script prints the SHA-256 of the merges
text, which tests/sdscripts/test_tokens.py pins.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import sys
import zipfile

SOURCE_SHA256 = "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a"  # the file OpenAI published
N_MERGES = 49152 - 256 - 2  # the vocabulary's size less the 256 bytes and the start and end tokens
OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "regaudit", "sdscripts", "data",
                   "clip_merges.txt.gz")


def read_source(path: str) -> bytes:
    if path.endswith(".whl") or zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if n.endswith("/bpe_simple_vocab_16e6.txt.gz")]
            if not names:
                raise SystemExit(f"{path}: no bpe_simple_vocab_16e6.txt.gz inside")
            return z.read(names[0])
    with open(path, "rb") as fh:
        return fh.read()


def merges_text(source_gz: bytes) -> str:
    lines = gzip.decompress(source_gz).decode("utf-8").split("\n")
    merges = lines[1:N_MERGES + 1]
    if len(merges) != N_MERGES or any(len(m.split()) != 2 for m in merges):
        raise SystemExit("not a CLIP BPE file: fewer merges than expected or a malformed line")
    return "\n".join(merges) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("source", help="open_clip_torch wheel, or bpe_simple_vocab_16e6.txt.gz")
    ap.add_argument("-o", "--out", default=OUT)
    a = ap.parse_args()
    raw = read_source(a.source)
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SOURCE_SHA256:
        print(f"warning: {a.source}: SHA-256 {digest}, not OpenAI's {SOURCE_SHA256}", file=sys.stderr)
    text = merges_text(raw)
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", compresslevel=9, fileobj=buf, mtime=0) as gz:
        gz.write(text.encode("utf-8"))
    with open(a.out, "wb") as fh:
        fh.write(buf.getvalue())
    print(f"{a.out}: {N_MERGES} merges, {len(buf.getvalue())} bytes, "
          f"merges SHA-256 {hashlib.sha256(text.encode('utf-8')).hexdigest()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
