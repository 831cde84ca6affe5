"""Random musubi-tuner image datasets for the differential check (musubi_run.py).

``make_case(seed, root)`` writes one tree under ``root`` — images (captions missing, empty, multi-line;
same stems with two extensions; mixed-case extensions, dotfiles, nested folders, orphan captions),
cache files (fresh, stale, orphaned, without their text-encoder cache, a stray name) and a dataset
TOML, sometimes with a schema error or a shared cache directory — and returns the architecture and
the trainer options. Everything comes from ``random.Random(seed)``.
"""

from __future__ import annotations

import json
import os
import random
import struct
from dataclasses import dataclass, field

from PIL import Image

ARCHS = ("qi", "zi", "fk", "wan", "fp", "f2d", "ho1", "hv", "k5", "kr2", "qil")
STEPS = {"ho1": 32}
SIZES = ((512, 512), (512, 768), (768, 512), (1024, 1024), (300, 200), (200, 300), (1200, 800), (64, 64), (40, 500),
         (8, 8), (640, 960), (1000, 1000))
NAMES = ("a", "b", "cat", "dog_1", "img_02", "x_y_z", "photo", "p", "Q", "sks_dog_3")


@dataclass
class Case:
    seed: int
    arch: str
    config: str
    options: list[str] = field(default_factory=list)


def _safetensors(path: str, keys: list[str]) -> None:
    header = {k: {"dtype": "BF16", "shape": [0], "data_offsets": [0, 0]} for k in keys}
    header["__metadata__"] = {"format_version": "1.0.1"}
    blob = json.dumps(header).encode()
    blob += b" " * (-len(blob) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(blob)) + blob)


def _image(path: str, size: tuple[int, int], rng: random.Random) -> None:
    fmt = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP"}.get(
        os.path.splitext(path)[1].lower(), "PNG")
    Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3))).save(path, fmt)


def _dataset(rng: random.Random, root: str, name: str, arch: str, step: int) -> dict:
    img = os.path.join(root, name)
    os.makedirs(img)
    cap_ext = rng.choice([".txt"] * 6 + [".caption", None])
    stems = rng.sample(NAMES, rng.randint(1, 6))
    made = []
    for stem in stems:
        for ext in rng.sample([".png", ".jpg", ".webp", ".PNG", ".Jpg", ".bmp"], rng.choice([1, 1, 1, 2])):
            size = rng.choice(SIZES)
            _image(os.path.join(img, stem + ext), size, rng)
            made.append((stem, ext, size))
        if cap_ext and rng.random() < 0.8:
            text = rng.choice(["sks dog", "", "  two\nlines  ", "a photo, of sks"])
            with open(os.path.join(img, stem + cap_ext), "w", encoding="utf-8") as f:
                f.write(text)
    if rng.random() < 0.3:
        _image(os.path.join(img, ".hidden.png"), (64, 64), rng)
    if rng.random() < 0.3:
        os.makedirs(os.path.join(img, "nested"))
        _image(os.path.join(img, "nested", "n.png"), (64, 64), rng)
    if cap_ext and rng.random() < 0.3:
        with open(os.path.join(img, "gone" + cap_ext), "w", encoding="utf-8") as f:
            f.write("orphan")
    ds: dict = {"image_directory": img}
    cache = img
    if rng.random() < 0.6:
        cache = os.path.join(root, name + "_cache")
        os.makedirs(cache)
        ds["cache_directory"] = cache
    # caches on disk: fresh, stale (made at another bucket), orphaned, without their te cache, stray
    if rng.random() < 0.7:
        for stem, ext, size in made:
            if rng.random() < 0.7:
                f = 8 if rng.random() < 0.6 else 4
                _safetensors(os.path.join(cache, f"{stem}_{size[0]:04d}x{size[1]:04d}_{arch}.safetensors"),
                             [f"latents_1x{max(1, size[1] // f // step * step // 2)}x"
                              f"{max(1, size[0] // f // step * step // 2)}_bfloat16"])
                if rng.random() < 0.8:
                    _safetensors(os.path.join(cache, f"{stem}_{arch}_te.safetensors"), ["varlen_vl_embed_bfloat16"])
        if rng.random() < 0.4:
            _safetensors(os.path.join(cache, f"old_0800x0800_{arch}.safetensors"), ["latents_1x100x100_bfloat16"])
            _safetensors(os.path.join(cache, f"old_{arch}_te.safetensors"), ["x_bfloat16"])
        if rng.random() < 0.1:
            _safetensors(os.path.join(cache, f"notes_{arch}.safetensors"), ["x"])
    return {"ds": ds, "caption_extension": cap_ext}


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    return str(v)


def make_case(seed: int, root: str) -> Case:
    rng = random.Random(seed)
    arch = rng.choice(ARCHS)
    step = STEPS.get(arch, 16)
    general: dict = {"resolution": rng.choice([512, [512, 512], [768, 512], 1024, [960, 544], 256])}
    if rng.random() < 0.7:
        general["enable_bucket"] = True
    if rng.random() < 0.4:
        general["bucket_no_upscale"] = True
    general["batch_size"] = rng.randint(1, 4)
    datasets = []
    for i in range(rng.choice([1, 1, 2])):
        d = _dataset(rng, root, f"img{i}", arch, step)
        ds = d["ds"]
        ds["num_repeats"] = rng.randint(1, 4)
        if d["caption_extension"]:
            ds["caption_extension"] = d["caption_extension"]
        datasets.append(ds)
    if len(datasets) == 2 and rng.random() < 0.2:
        datasets[1]["cache_directory"] = datasets[0].get("cache_directory", datasets[0]["image_directory"])
    if rng.random() < 0.08:
        datasets[0][rng.choice(["keep_tokens", "num_repeat"])] = 1
    if rng.random() < 0.05:
        general["batch_size"] = "2"
    lines = ["[general]"] + [f"{k} = {_toml_value(v)}" for k, v in general.items()]
    for ds in datasets:
        lines += ["", "[[datasets]]"] + [f"{k} = {_toml_value(v)}" for k, v in ds.items()]
    path = os.path.join(root, "dataset.toml")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    options = ["--max_train_epochs", str(rng.randint(1, 20))] if rng.random() < 0.7 else \
        ["--max_train_steps", str(rng.randint(10, 3000))]
    if rng.random() < 0.3:
        options += ["--gradient_accumulation_steps", str(rng.randint(2, 4))]
    return Case(seed, arch, path, options)
