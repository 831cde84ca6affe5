"""A training command as people paste it: from a bash terminal, from ``cmd`` or PowerShell, or from
the kohya_ss GUI's log (``Executing command: C:\\kohya_ss\\venv\\Scripts\\accelerate.EXE launch …
C:/kohya_ss/sd-scripts/sdxl_train_network.py --config_file C:/out/config_lora-….toml``).

``split_pasted`` turns such text into tokens: line continuations (bash ``\\``, cmd ``^``,
PowerShell backtick) are joined, and where the text holds Windows paths backslashes are path
separators, not escapes. ``foreign`` tells whether a path names a place that cannot exist on this
machine (a drive letter or a network share on Linux or macOS), which regaudit then names instead of
reading. Pure: no file is read.
"""

from __future__ import annotations

import os
import re
import shlex

_CONTINUATION = re.compile(r"[ \t]*(?:\\|\^|`)[ \t]*\r?\n")  # bash, cmd, PowerShell
_WINDOWS_PATH = re.compile(r"(?:^|[\s\"'=])(?:[A-Za-z]:[\\/]|\\\\[^\\\s]|\.{1,2}\\)|[A-Za-z0-9_)\]]\\[A-Za-z0-9_ .(-]")
_DRIVE_OR_SHARE = re.compile(r"^(?:[A-Za-z]:[\\/]|[A-Za-z]:$|\\\\)")
CONTINUATION_TOKENS = frozenset({"^", "`", "\\"})  # left over when a shell passed them on as arguments


def split_pasted(text: str) -> list[str]:
    """The tokens of a command pasted as one piece of text."""
    text = _CONTINUATION.sub(" ", text).replace("\r", " ").replace("\n", " ")
    tokens = _split_windows(text) if _WINDOWS_PATH.search(text) else shlex.split(text)
    if tokens and tokens[0] == "&":  # PowerShell's call operator: & "C:\...\accelerate.exe" launch ...
        tokens = tokens[1:]
    return [t for t in tokens if t not in CONTINUATION_TOKENS]


def _split_windows(text: str) -> list[str]:
    """Whitespace separates, double or single quotes group (cmd / PowerShell), a backslash is a
    character of the path."""
    tokens: list[str] = []
    cur: list[str] = []
    quote: str | None = None
    started = False
    for ch in text:
        if quote is not None:
            if ch == quote:
                quote = None
            else:
                cur.append(ch)
        elif ch in "\"'":
            quote, started = ch, True
        elif ch.isspace():
            if started:
                tokens.append("".join(cur))
                cur, started = [], False
        else:
            cur.append(ch)
            started = True
    if started:
        tokens.append("".join(cur))
    return tokens


def splice_pasted(tokens: list[str]) -> list[str]:
    """Tokens among which one is a whole pasted command, with options added after it
    (``regaudit balance "accelerate launch … sdxl_train_network.py --config_file c.toml" --train_batch_size 4``):
    that command split and put first, the other tokens after it as the shell split them (options
    given before it are the script's too, as regaudit's own are taken wherever they stand)."""
    command: list[str] = []
    rest: list[str] = []
    for token in clean_tokens(tokens):
        if not command and any(c in token for c in " \n") and ".py" in token:
            parts = split_pasted(token)
            if parts and not parts[0].startswith("-") and any(p.lower().endswith(".py") for p in parts):
                command = parts
                continue
        rest.append(token)
    return command + rest


def clean_tokens(tokens: list[str]) -> list[str]:
    """Tokens a shell already split: the continuation marks it passed on as arguments dropped."""
    return [t for t in tokens if t not in CONTINUATION_TOKENS]


def rejoin_unquoted(tokens: list[str], option: str, suffix: str) -> list[str]:
    """The GUI logs its command with ``" ".join``, so a path with spaces is not quoted: the tokens
    after ``option`` up to the one ending in ``suffix`` are that one path."""
    out = list(tokens)
    for k, token in enumerate(out):
        if token != option or k + 1 >= len(out) or out[k + 1].lower().endswith(suffix):
            continue
        for j in range(k + 2, len(out)):
            if out[j].startswith("-"):
                break
            if out[j].lower().endswith(suffix):
                out[k + 1:j + 1] = [" ".join(out[k + 1:j + 1])]
                break
    return out


def foreign(path: str) -> bool:
    """Whether ``path`` names a place that cannot exist on this machine: a drive letter or a network
    share on Linux or macOS, or a relative path written with backslashes that is not here."""
    if os.name == "nt" or not path:
        return False
    if _DRIVE_OR_SHARE.match(path):
        return True
    return "\\" in path and not os.path.exists(path)
