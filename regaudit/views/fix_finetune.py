"""``regaudit fix`` for fine-tuning datasets (``--in_json META --train_data_dir DIR``, or
``metadata_file`` subsets of a dataset config): the image folder copied as it is, the images
sd-scripts would crash on left out, and a rewritten copy of each metadata file.

The fix set is smaller than for DreamBooth folders: FineTuningDataset finds its images by the
metadata keys, not by listing the folder (sdscripts.finetune), so no file is renamed (an extension
sd-scripts cannot glob does not matter here, and captions live in the metadata, not in caption
files), and no pixels are changed (the metadata's ``image_size`` and the latent caches named after
it would go stale). What it does:

- every file and folder under the image folder copied, symlinked folders followed once;
- an image registered by a key that the audit finds sd-scripts would crash on (zero bytes, cut
  short, unopenable) left out of the copy, and its key removed from the metadata copy;
- each metadata file written as a new file (never over the user's): a key that is a full path into
  a copied folder is rewritten to the same file in the copy; a relative key (a file name, a stem) is
  kept as it is, since ``image_dir`` now names the copy; a full path elsewhere is kept as it is.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from .. import jsontext
from ..errors import RegauditError
from ..jsontext import json_text
from ..placement import first_folder_above
from ..rules.fixes import FixKind
from ..sdscripts.finetune import read_metadata
from .fix_walk import Action, Entry, unlisted

FIX_SET = ("fine-tuning metadata: the image folder is copied as it is (no renames, no pixel fixes: the "
           "metadata names each file and its size), images sd-scripts would crash on are left out with their "
           "keys (a key RA098 names, a file sd-scripts never opened while building, is kept: put a loadable file "
           "there or remove the key), and the metadata is "
           "rewritten to point at the copy")


@dataclass(frozen=True)
class Metadata:
    """A metadata file the copy gets a rewritten version of."""

    source: str  # absolute path of the user's file
    name: str  # its path relative to DIR
    image_dir: str | None  # absolute, as the subset names it


@dataclass(frozen=True)
class Rewritten:
    """What the rewrite of one metadata file did (for the manifest)."""

    source: str
    dest: str
    keys: int  # keys in the copy
    rewritten: int  # full-path keys pointed at the copy
    dropped: tuple[str, ...]  # keys removed: their image was left out


def walk_folder(folder: str, name: str, crashing: dict[str, str]) -> list[Entry]:
    """Every folder and file under ``folder`` with its place in the copy (the same relative path);
    a file sd-scripts would crash on is left out."""
    out = [Entry(folder, name, True)]
    stack = [(folder, name)]
    seen = {os.path.realpath(folder)}
    while stack:
        src, dest = stack.pop()
        try:
            with os.scandir(src) as it:
                listed = sorted((e.name, e.is_dir(), e.is_file()) for e in it)
        except OSError as exc:
            raise unlisted(src, exc) from None
        for child, is_dir, is_file in listed:
            path = os.path.join(src, child)
            if is_dir:
                real = os.path.realpath(path)
                if real not in seen:
                    seen.add(real)
                    out.append(Entry(path, os.path.join(dest, child), True))
                    stack.append((path, os.path.join(dest, child)))
            elif is_file and path in crashing:
                out.append(Entry(path, "", False, (Action(
                    crashing[path], FixKind.LEAVE_OUT.value, path, None, True,
                    "left out: sd-scripts would crash on it; its metadata key removed"),)))
            elif is_file:
                out.append(Entry(path, os.path.join(dest, child), False))
    return out


def _utf8_json(obj) -> str:
    """json.dumps(obj, ensure_ascii=False), a lone surrogate (a "\\udc80" escape in the original: no
    UTF-8 for it) written as its escape again."""
    return json_text(json.dumps(obj, ensure_ascii=False))


def _dump(doc: dict, fh) -> None:
    """``doc`` as json.dumps(doc, indent=2, ensure_ascii=False) writes it (jsontext: orjson's text where
    it is the same, a chunk at a time; json's pure-Python indenting took 10 s for a million keys),
    lone surrogates escaped."""
    jsontext.write(doc, fh)
    fh.write("\n")


def rewrite(meta: Metadata, folders: dict[str, str], left_out: set[str], dest_path: str) -> Rewritten:
    """Write the rewritten copy of ``meta`` at ``dest_path`` (a new file: one there, a copy of the
    user's, is unlinked first, never written through). ``folders``: each copied folder -> where its
    copy lies; ``left_out``: the absolute paths of the images left out."""
    try:
        doc = read_metadata(meta.source)
        raw_lines = None
        if meta.source.endswith(".jsonl"):
            with open(meta.source, encoding="utf-8") as fh:
                raw_lines = [json.loads(line) for line in fh.read().splitlines()]
    except (OSError, ValueError, KeyError, RecursionError) as exc:
        raise RegauditError(f"{meta.source}: the fine-tuning metadata cannot be read ({exc}); nothing was "
                            f"written") from None
    if not isinstance(doc, dict):
        raise RegauditError(f"{meta.source}: the fine-tuning metadata is not one JSON object; nothing was written")
    new_key: dict[str, str | None] = {}
    rewritten = 0
    order = {f: k for k, f in enumerate(folders)}
    for key in doc:
        path = os.path.abspath(key if os.path.isabs(key) else os.path.join(meta.image_dir or "", key))
        if path in left_out:
            new_key[key] = None
            continue
        root = first_folder_above(path, order) if os.path.isabs(key) else None
        if root is None:
            new_key[key] = key
        else:
            new_key[key] = folders[root] + path[len(root):]
            rewritten += 1
    text = None
    if raw_lines is not None:  # JSON Lines: each line's image_path, the rest of the line as it was
        lines = []
        for md in raw_lines:
            new = new_key.get(md.get("image_path"), md.get("image_path"))
            if new is not None:
                lines.append(_utf8_json({**md, "image_path": new}))
        text = "\n".join(lines) + ("\n" if lines else "")
    if os.path.lexists(dest_path):  # (a copy of the user's file, perhaps a hard link to it)
        os.unlink(dest_path)
    os.makedirs(os.path.dirname(dest_path), exist_ok=True)
    with open(dest_path, "x", encoding="utf-8") as fh:
        if text is not None:
            fh.write(text)
        else:  # (indent 2, as merge_captions_to_metadata.py writes it)
            _dump({new_key[k]: v for k, v in doc.items() if new_key[k] is not None}, fh)
    dropped = tuple(k for k, v in new_key.items() if v is None)
    return Rewritten(meta.source, meta.name, len(new_key) - len(dropped), rewritten, dropped)
