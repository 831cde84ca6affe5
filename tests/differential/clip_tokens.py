"""Differential check of regaudit's CLIP token ids against transformers' CLIPTokenizer, as sd-scripts
loads it (the Python tokenizer, with ftfy, which sd-scripts' requirements pin).

    python tests/differential/clip_tokens.py [--cases 4000] [--seed 0] [--sweep] [-v]

``--sweep`` adds every code point of the Basic Multilingual Plane (and the emoji blocks), each
alone, between letters, after a contraction's apostrophe and inside a punctuation run: the
character classes of the regex, ftfy and lower case, checked one by one. ``--classes`` compares
the pre-tokenizer's character classes (letter, number, other, space) of all 1.1 million code points
directly: transformers' regex module against tokenizers' Oniguruma with regaudit's stand-ins.

The reference runs in ``$ORACLE_VENV`` (default /tmp/oracle-venv: transformers 4.54.1 as sd-scripts
pins it). The hub is not reachable, so the tokenizer files are built offline from the BPE file that
open-clip-torch bundles, the same data as openai/clip-vit-large-patch14's vocab.json/merges.txt.
Set up once (``$CLIP_ORACLE_DIR``, default /tmp/regaudit-oracle)::

    mkdir -p /tmp/regaudit-oracle && cd /tmp/regaudit-oracle
    pip download --no-deps open-clip-torch ftfy==6.3.1 wcwidth -d .
    unzip -j -o open_clip_torch-*.whl 'open_clip/bpe_simple_vocab_16e6.txt.gz'
    unzip -o -q ftfy-*.whl -d site && unzip -o -q wcwidth-*.whl -d site

Two tokenizers are compared: CLIP-L (padding token <|endoftext|>) and the one SD 2.x and
CLIP-ViT-bigG use (padding token '!'). Where anything is missing it says so and exits 0. Prints
every disagreeing caption and the agreement figure; exit 1 on any disagreement.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, REPO)

ORACLE_VENV = os.environ.get("ORACLE_VENV", "/tmp/oracle-venv")
ORACLE_DIR = os.environ.get("CLIP_ORACLE_DIR", "/tmp/regaudit-oracle")

ORACLE = r'''
import gzip, json, sys, tempfile
from transformers import CLIPTokenizer
from transformers.models.clip.tokenization_clip import bytes_to_unicode
bpe, cases_file = sys.argv[1], sys.argv[2]
lines = gzip.open(bpe, "rt", encoding="utf-8").read().split("\n")
merges = lines[1:49152 - 256 - 2 + 1]
vocab = list(bytes_to_unicode().values())
vocab = vocab + [v + "</w>" for v in vocab] + ["".join(m.split()) for m in merges]
vocab += ["<|startoftext|>", "<|endoftext|>"]
d = tempfile.mkdtemp()
with open(d + "/vocab.json", "w", encoding="utf-8") as fh:
    json.dump({v: i for i, v in enumerate(vocab)}, fh)
with open(d + "/merges.txt", "w", encoding="utf-8") as fh:
    fh.write("#version: 0.2\n" + "\n".join(merges) + "\n")
try:
    import ftfy
    has_ftfy = ftfy.__version__
except ImportError:
    has_ftfy = None
clip_l = CLIPTokenizer(d + "/vocab.json", d + "/merges.txt")
bang = CLIPTokenizer(d + "/vocab.json", d + "/merges.txt", pad_token="!")
cases = json.load(open(cases_file, encoding="utf-8"))
out = {"ftfy": has_ftfy,
       "clip_l": [clip_l(c, add_special_tokens=False).input_ids for c in cases],
       "bang": [bang(c, add_special_tokens=False).input_ids for c in cases],
       "full": clip_l(cases[0], padding="max_length", truncation=True, max_length=77).input_ids}
json.dump(out, sys.stdout)
'''

CLASSES = r'''
import json, sys
import regex as re
I = re.IGNORECASE
pats = {"L": r"[\p{L}]", "N": r"[\p{N}]", "P": r"[^\s\p{L}\p{N}]", "S": r"\s"}
json.dump({k: [c for c in range(0x110000) if not 0xD800 <= c < 0xE000 and re.fullmatch(p, chr(c), I)]
           for k, p in pats.items()}, sys.stdout)
'''


def check_classes(py: str) -> int:
    """Code points whose class differs between transformers' regex and regaudit's reading."""
    from tokenizers import Regex, pre_tokenizers

    from regaudit.sdscripts import tokens as clip_tokens

    p = subprocess.run([py, "-c", CLASSES], capture_output=True)
    ref = {k: set(v) for k, v in json.loads(p.stdout).items()}
    table = clip_tokens._regex_only()[1]
    points = [c for c in range(0x110000) if not 0xD800 <= c < 0xE000]
    # a code point of no class (U+0345) is skipped by the scan, as a space is: its stand-in is one
    ref["S"] |= set(points) - ref["L"] - ref["N"] - ref["P"]
    text = "".join(chr(c) for c in points).translate(table)  # one stand-in per code point: same offsets
    bad = 0
    for k, pat in {"L": r"(?i)[\p{L}]", "N": r"(?i)[\p{N}]", "P": r"(?i)[^\s\p{L}\p{N}]", "S": r"(?i)\s"}.items():
        split = pre_tokenizers.Split(Regex(pat), behavior="removed", invert=True)
        got = {points[a] for _, (a, _b) in split.pre_tokenize_str(text)}
        diff = got ^ ref[k]
        bad += len(diff)
        print(f"class {k}: {len(ref[k])} code points, {len(diff)} differ {sorted(hex(c) for c in diff)[:20]}")
    return bad


TAGS = ["1girl", "solo", "long_hair", "looking at viewer", "smile", "blue eyes", "blonde hair", "dress",
        "holding", "standing", "flower", "outdoors", "sky", "cloud", "(masterpiece:1.2)", "[worst quality]",
        "hatsune miku", "red-and-white", "score_9", "rating:safe", "1024x768", "2boys", "no humans",
        "sks dog", "ohwx woman", "it's", "dog's toy", "DON'T", "(((best quality)))", "artist:name",
        "black_thighhighs", "o_o", ":d", "^_^", ">_<", "wow!!", "hi!", "!!!", "?!", "..."]
UNICODE = ["café", "naïve", "Ångström", "東京タワー", "猫", "한국어", "русский текст", "العربية", "עברית",
           "emoji 🐶🐱", "👍🏽", "ﬁne ﬂower", "ＦＵＬＬＷＩＤＴＨ ｔｅｘｔ", "“curly” ‘quotes’", "e\u0301", "ß",
           "İstanbul", "ΣΊΣΥΦΟΣ", "x\u200by", "a\u00a0b", "tab\there", "\u3000wide space", "cafÃ©", "â€œmojiâ€\x9d",
           "\ufeffbom", "a\x00b", "c\x07d", "\x1b[31mred\x1b[0m", "line\u2028sep", "½ ² ⅷ", "٣", "१२३"]
HTML = ["&amp;", "&lt;3", "&gt;_&lt;", "&quot;quoted&quot;", "&#39;s", "&#x41;", "&nbsp;", "&copy; 2024",
        "a <b> &amp; c", "&amp;amp;", "&notanentity;", "AT&T", "&"]
SPECIAL = ["<|endoftext|>", "<|startoftext|>", "<|EndOfText|>", "x,<|endoftext|>", "<|endoftext|><|endoftext|>",
           "<start_of_text>", "<end_of_text>", "a<|endoftext|>b", "'<|endoftext|>", "it's<|endoftext|>",
           "&lt;|endoftext|&gt;", "<<|endoftext|>", "<|endoftext|>>", "＜|endoftext|＞", "!!<|EndOfText|>!!",
           "x<|ENDOFTEXT|>y", "'<|EndOfText|>s", "1<|STARTOFTEXT|>2", "\u0345<|EndOfText|>\u0345", "a\u058b<|EndOfText|>"]
WILD = ["{red|blue|green} shirt", "{{literal}}", "{a|}", "{a|{b|c}}", "a {dog|cat} on a {bed|sofa}", "{ }"]
SEPS = [", ", ",", " ", "; ", " | ", " ||| ", "\n", " ,", ",,", " :: ", "\t"]
BOORU = ["(tag:1.2)", "(white shirt:1.3)", "[[blurry]]", "((smile))", "(masterpiece, best quality:1.4)",
         "\\(cosplay\\)", "character_(series)", "1girl\\, solo", "score_9, score_8_up, score_7_up",
         "<lora:name:0.8>", "BREAK", "looking_at_viewer", "!!??!!", "...!!!...", "---", "~~~", "^^^", "!?",
         "'s'", "''", "’s", "x'S", "'ſ", "'ſt", "ſ", "o'clock", "rock'n'roll", "y'all'd've", "1.5", "16:9",
         "#hashtag", "@user", "50%", "$100", "a/b", "c:\\path", "http://example.com/x?y=1&z=2",
         "a\x1cb", "a\x0bb", "a\x0cb", "a\x85b", "\u2003em", "\u180e", "\u200d", "❤️", "👨‍👩‍👧", "🇯🇵",
         "ｔａｇ：１．２", "（ｔａｇ）", "™", "㎏", "ǅ", "ﬀ", "Ⅻ", "①", "ℌ", "𝐁𝐨𝐥𝐝", "a\u0345b", "!\u0345?",
         "x'\u058b", "\U00010940\U00010941", "\U00011de0"]
SENTENCES = ["A photo of a person riding a motorcycle on a sunny day.",
             "The quick brown fox jumps over the lazy dog!", "a close-up portrait of sks dog, sitting on grass",
             "Two people (a man and a woman) are talking; it's raining.", "What's that? I'll tell you: it's a cat."]


def make_cases(n: int, seed: int) -> list[str]:
    rnd = random.Random(seed)
    pools = [TAGS, UNICODE, HTML, SPECIAL, WILD, SENTENCES, BOORU]
    cases = ["A person riding a motorcycle", "", " ", "!", "wow!!", "UPPER lower MiXeD"]
    cases += [x for pool in pools for x in pool]
    cases.append(", ".join(TAGS * 6))  # very long: ~600 tokens
    cases.append(" ".join(SENTENCES * 8))
    while len(cases) < n:
        k = rnd.choice((1, 2, 3, 5, 8, 13, 30, 80))
        parts = [rnd.choice(rnd.choice(pools)) for _ in range(k)]
        sep = rnd.choice(SEPS)
        text = sep.join(parts)
        if rnd.random() < 0.2:
            text = text.upper() if rnd.random() < 0.5 else text.title()
        if rnd.random() < 0.1:
            text = "  " + text + " \n"
        cases.append(text)
    return cases[:n]


def sweep_cases() -> list[str]:
    """Every code point (no surrogates) in four settings, 64 code points a caption."""
    points = [c for c in range(1, 0x30000) if not 0xD800 <= c < 0xE000
              and (c < 0x10000 or 0x1F000 <= c < 0x1FB00 or 0x20000 <= c < 0x20100)]
    out = []
    for k in range(0, len(points), 64):
        chunk = [chr(c) for c in points[k:k + 64]]
        out.append(" ".join(chunk))
        out.append(" ".join(f"a{c}b" for c in chunk))
        out.append(" ".join(f"x'{c}" for c in chunk))
        out.append(" ".join(f"!{c}?" for c in chunk))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", type=int, default=4000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--classes", action="store_true")
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    bpe = os.path.join(ORACLE_DIR, "bpe_simple_vocab_16e6.txt.gz")
    py = os.path.join(ORACLE_VENV, "bin", "python")
    for what, path in (("oracle python", py), ("CLIP BPE reference (see the docstring)", bpe)):
        if not os.path.exists(path):
            print(f"skipped: {what} not found at {path}")
            return 0
    from regaudit.sdscripts import tokens as clip_tokens

    st = clip_tokens.status()
    if not st.available:
        print(f"skipped: {st.reason}")
        return 0
    if a.classes:
        return 1 if check_classes(py) else 0
    cases = make_cases(a.cases, a.seed) + (sweep_cases() if a.sweep else [])
    with tempfile.TemporaryDirectory() as tmp:
        cases_file = os.path.join(tmp, "cases.json")
        with open(cases_file, "w", encoding="utf-8") as fh:
            json.dump(cases, fh)
        site = os.path.join(ORACLE_DIR, "site")
        env = {**os.environ, "PYTHONPATH": site, "TRANSFORMERS_VERBOSITY": "error"}
        p = subprocess.run([py, "-c", ORACLE, bpe, cases_file], capture_output=True, env=env)
    if p.returncode != 0:
        print(p.stderr.decode(errors="replace")[-3000:])
        return 2
    ref = json.loads(p.stdout)
    if ref["ftfy"] is None:
        print(f"skipped: the oracle has no ftfy (sd-scripts requires ftfy==6.3.1); unpack it into {site}")
        return 0
    bad = 0
    for kind, bang in (("clip_l", False), ("bang", True)):
        for text, want in zip(cases, ref[kind]):
            got = clip_tokens.encode(text, bang)
            if got != want or clip_tokens.count(text, bang) != len(want):  # the ids, and the count the views use
                bad += 1
                print(f"DIFF {kind} {text!r}: regaudit {len(got or [])} {got[:20] if got else got} "
                      f"oracle {len(want)} {want[:20]}")
            elif a.v:
                print(f"ok {kind} {len(want):4d} {text[:70]!r}")
    # the padded, truncated form sd-scripts builds: <BOS> + the first 75 ids + <EOS> + padding
    first = clip_tokens.encode(cases[0])
    assert first is not None
    padded = [clip_tokens.BOS_ID] + first[:75] + [clip_tokens.EOS_ID]
    padded += [clip_tokens.EOS_ID] * (77 - len(padded))
    if padded != ref["full"]:
        bad += 1
        print("DIFF padded form of the first case")
    total = 2 * len(cases)
    print(f"{total - bad}/{total} agree ({ref['ftfy'] and 'ftfy ' + ref['ftfy']}; {st.library}; "
          f"{len(cases)} captions x 2 tokenizers)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
