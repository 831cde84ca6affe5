"""The config classes of the random trees: a dataset config and a --config_file as people write them
and as sd-scripts' own readers (toml 0.10.2, json) take them.

``apply(seed, root, case)`` runs after gen.make_case has written the tree, with its own
``random.Random`` (so the trees of the other classes stay what they were), and rewrites ``ds.toml``
and the command line: ``resize_interpolation`` at the [general], [[datasets]] and subset levels
(known names, other cases, ""), an inline ``subsets = [{...}]`` followed by ``[[datasets.subsets]]``,
mixed-type arrays, a no-break space before a number, CR-only or CRLF line ends, a byte-order mark,
the same config as JSON (``[768, true]`` is valid there), ``--masked_loss`` (train_db checks every
dataset against the ControlNet schema), --config_file values of the wrong type for the step count
(``max_train_epochs = 2.5``, ``gradient_accumulation_steps = "2"``, ...), and a --config_file table of
caption options of the wrong type or past 0..1 (``keep_tokens = "x"``, ``caption_dropout_rate = 5``).

Not drawn: a float or bool ``gradient_accumulation_steps`` in --config_file. The real sd-scripts stops
on it when it creates its Accelerator (accelerate reads ``int(str(value))``: ValueError), which the
oracle replaces with a stub, so it would report a run; tests/sdscripts/test_config_file.py pins it.
"""

from __future__ import annotations

import json
import os
import random
import re

INTERPOLATIONS = ("lanczos", "bicubic", "area", "box", "nearest", "Lanczos", "LANCZOS", "bicubic2", "")
STEP_VALUES = ("max_train_epochs = 2.5", "max_train_epochs = 2.0", "max_train_epochs = 3",
               "max_train_steps = 100.5", "max_train_steps = 40", 'gradient_accumulation_steps = "2"',
               'max_train_epochs = "2"', "gradient_accumulation_steps = 0", "gradient_accumulation_steps = 2",
               'resize_interpolation = "Lanczos"', 'resize_interpolation = "bicubic"')


CAPTION_VALUES = ('keep_tokens = "x"', "keep_tokens = 1.5", "keep_tokens = 2", "caption_dropout_rate = 5",
                  'caption_dropout_rate = "x"', "caption_tag_dropout_rate = [1]", 'token_warmup_step = "x"',
                  'shuffle_caption = "yes"', "caption_dropout_every_n_epochs = 2.5", "token_warmup_min = true",
                  "caption_tag_dropout_rate = -1", 'caption_prefix = 5')


def apply(seed: int, root: str, case) -> None:
    rng = random.Random(seed * 7919 + 20)
    argv = case.argv
    if case.trainer == "train_db" and rng.random() < 0.3 or rng.random() < 0.04:
        argv.append("--masked_loss")
        case.notes.append("--masked_loss")
    if rng.random() < 0.3:
        _config_file(rng, root, case)
    crng = random.Random(seed * 7919 + 21)  # (a draw of its own: the cases above stay as they were)
    if crng.random() < 0.12:
        _caption_values(crng, root, case)
    if "--dataset_config" not in argv and rng.random() < 0.35:
        _folders_as_config(rng, root, case)
    path = os.path.join(root, "ds.toml")
    if "--dataset_config" not in argv or not os.path.exists(path):
        return
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    text = _edit(rng, text, case)
    data = text.encode("utf-8")
    if rng.random() < 0.25:
        doc = _as_data(text)
        if doc is not None:
            if rng.random() < 0.2 and doc.get("datasets"):
                doc["datasets"][0]["resolution"] = [768, True]  # valid JSON; the schema takes a bool as an int
                case.notes.append("json resolution [768, true]")
            data = json.dumps(doc, indent=1).encode("utf-8")
            os.remove(path)
            path = os.path.join(root, "ds.json")
            argv[argv.index("ds.toml")] = "ds.json"
            case.notes.append("json config")
    r = rng.random()
    if r < 0.15:
        data = data.replace(b"\n", b"\r")
        case.notes.append("CR-only lines")
    elif r < 0.3:
        data = data.replace(b"\n", b"\r\n")
        case.notes.append("CRLF lines")
    if rng.random() < 0.06:
        data = b"\xef\xbb\xbf" + data
        case.notes.append("BOM")
    with open(path, "wb") as fh:
        fh.write(data)


def _folders_as_config(rng: random.Random, root: str, case) -> None:
    """The tree's train/reg subfolders as the subsets of a dataset config (one or two datasets),
    with --train_data_dir / --reg_data_dir dropped or left for sd-scripts to ignore."""
    argv = case.argv
    subsets = []
    for option, is_reg in (("--train_data_dir", False), ("--reg_data_dir", True)):
        if option not in argv:
            continue
        base = argv[argv.index(option) + 1]
        folder = os.path.join(root, base)
        if os.path.isdir(folder):
            subsets += [(os.path.join(base, name), is_reg) for name in sorted(os.listdir(folder))
                        if os.path.isdir(os.path.join(folder, name))]
        if rng.random() < 0.5:
            k = argv.index(option)
            del argv[k:k + 2]
    rng.shuffle(subsets)
    n = rng.choice((1, 1, 2))
    lines = []
    for d in range(n):
        lines.append("[[datasets]]")
        if rng.random() < 0.3:
            lines.append(f"batch_size = {rng.choice((1, 2, 3))}")
        for path, is_reg in subsets[d::n]:
            lines += ["  [[datasets.subsets]]", f"  image_dir = {json.dumps(path)}",
                      f"  num_repeats = {rng.choice((1, 2, 3, 4))}"]
            if is_reg:
                lines.append("  is_reg = true")
            if rng.random() < 0.3:
                lines.append('  class_tokens = "sks dog"')
        lines.append("")
    with open(os.path.join(root, "ds.toml"), "w", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    argv += ["--dataset_config", "ds.toml"]
    case.notes.append("folders as a dataset config")


def _config_file(rng: random.Random, root: str, case) -> None:
    """--config_file values the step count (or the dataset build) takes unconverted."""
    lines: list[str] = []
    for line in (rng.choice(STEP_VALUES) for _ in range(rng.choice((1, 1, 2)))):
        if all(line.split(" =")[0] != other.split(" =")[0] for other in lines):  # a key once per table
            lines.append(line)
    path = os.path.join(root, "args.toml")
    if "--config_file" in case.argv and os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            old = fh.read()
        # one table is flattened into the namespace; a key twice in one table is a TomlDecodeError
        text = "[values]\n" + "\n".join(lines) + "\n" + old
    else:
        text = "\n".join(lines) + "\n"
        case.argv += ["--config_file", "args.toml"]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
    case.notes.append("config_file " + "; ".join(lines))


def _caption_values(rng: random.Random, root: str, case) -> None:
    """A --config_file table of caption options as a hand-edited file may hold them: of the wrong type
    (the schema check stops the build) or past 0..1 (a rate sd-scripts compares random() with)."""
    line = rng.choice(CAPTION_VALUES)
    path = os.path.join(root, "args.toml")
    old = ""
    if "--config_file" in case.argv and os.path.exists(path):
        with open(path, encoding="utf-8") as fh:
            old = fh.read()
    else:
        case.argv += ["--config_file", "args.toml"]
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(old + ("\n" if old and not old.endswith("\n") else "") + "[captions]\n" + line + "\n")
    case.notes.append("config_file caption " + line)


def _edit(rng: random.Random, text: str, case) -> str:
    lines = text.split("\n")
    if rng.random() < 0.3:  # resize_interpolation at one level
        name = rng.choice(INTERPOLATIONS)
        heads = [k for k, line in enumerate(lines) if line.strip() in ("[general]", "[[datasets]]")
                 or line.strip().startswith("image_dir")]
        if heads:
            k = rng.choice(heads)
            indent = "  " if lines[k].startswith("  ") else ""
            lines.insert(k + 1, f'{indent}resize_interpolation = "{name}"')
            case.notes.append(f"resize_interpolation {name!r} after {lines[k].strip()}")
    if rng.random() < 0.25:
        lines = _inline_first_subset(lines, case)
    if rng.random() < 0.08:  # a mixed-type array
        value = rng.choice(("[768, 512.0]", "[768, true]", "[512, 512.0]"))
        k = next((k for k, line in enumerate(lines) if line.strip() == "[[datasets]]"), None)
        if k is not None:
            end = next((j for j in range(k + 1, len(lines)) if lines[j].strip().startswith("[")), len(lines))
            own = next((j for j in range(k + 1, end) if lines[j].startswith("resolution =")), None)
            if own is not None:
                lines[own] = f"resolution = {value}"
            else:
                lines.insert(k + 1, f"resolution = {value}")
            case.notes.append(f"resolution = {value}")
    text = "\n".join(lines)
    if rng.random() < 0.15:  # a no-break space before numbers and booleans
        text = re.sub(r"= (?=[0-9tf])", "=\u00a0", text)
        case.notes.append("NBSP")
    return text


def _inline_first_subset(lines: list[str], case) -> list[str]:
    """The first [[datasets]] block's first subset written as ``subsets = [{...}]`` among the block's
    keys; the block's other [[datasets.subsets]] follow it, and toml 0.10.2 appends them."""
    start = next((k for k, line in enumerate(lines) if line.strip() == "[[datasets]]"), None)
    if start is None:
        return lines
    head = next((k for k in range(start + 1, len(lines)) if lines[k].strip().startswith("[")), None)
    if head is None or lines[head].strip() != "[[datasets.subsets]]":
        return lines
    end = next((k for k in range(head + 1, len(lines)) if lines[k].strip().startswith("[") or not lines[k].strip()),
               len(lines))
    pairs = [line.strip() for line in lines[head + 1:end] if "=" in line]
    inline = "subsets = [{" + ", ".join(pairs) + "}]"
    case.notes.append("inline subsets + [[datasets.subsets]]")
    return lines[:head] + [inline] + lines[end:]


def _as_data(text: str) -> dict | None:
    """The TOML text as toml 0.10.2 reads it (None where it cannot), to be written as JSON."""
    try:
        import toml
    except ImportError:  # pragma: no cover
        return None
    try:
        data = json.loads(json.dumps(toml.loads(text)))
    except Exception:  # noqa: BLE001
        return None
    return data if isinstance(data, dict) and all(isinstance(d, dict) for d in data.get("datasets", [])) else None
