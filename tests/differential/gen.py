"""Random dataset trees that mix the sd-scripts behaviours regaudit must reproduce.

``make_case(seed, root)`` writes one tree under ``root`` and returns the sd-scripts command line
(relative paths; run it with ``root`` as the working directory) and the trainer script. Everything
comes from ``random.Random(seed)``: the same seed gives the same tree and options.
"""

from __future__ import annotations

import io
import json
import os
import random
import struct
from dataclasses import dataclass, field

from PIL import Image

import config_quirks

TRAINERS_DB = ("train_network", "sdxl_train_network", "sd3_train_network", "flux_train_network",
               "lumina_train_network", "train_db", "sdxl_train", "sd3_train", "flux_train", "lumina_train",
               "train_textual_inversion", "sdxl_train_textual_inversion")
TRAINERS_OTHER = ("fine_tune", "train_control_net", "sdxl_train_control_net")
SUFFIX_BY_PREFIX = (("sdxl", "_sdxl.npz"), ("sd3", "_sd3.npz"), ("flux", "_flux.npz"), ("lumina", "_lumina.npz"),
                    ("train_db", "_sdxl.npz"), ("fine_tune", "_sdxl.npz"))


@dataclass
class Case:
    seed: int
    trainer: str
    argv: list[str]
    notes: list[str] = field(default_factory=list)


def _suffix(trainer: str) -> str:
    for prefix, suffix in SUFFIX_BY_PREFIX:
        if trainer.startswith(prefix):
            return suffix
    return "_sd.npz"


def _webp_vp8x(w: int, h: int, rng: random.Random) -> bytes:
    im = Image.new("RGBA", (w, h), (rng.randrange(256), 80, 40, 255))
    im.putpixel((0, 0), (0, 0, 0, 10))  # real transparency: libwebp writes a VP8X header
    buf = io.BytesIO()
    im.save(buf, "WEBP", quality=60)
    return buf.getvalue()


def _image_bytes(kind: str, w: int, h: int, rng: random.Random) -> bytes:
    buf = io.BytesIO()
    colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
    if kind == "png":
        Image.new("RGB", (w, h), colour).save(buf, "PNG")
    elif kind == "png_rgba":
        Image.new("RGBA", (w, h), colour + (128,)).save(buf, "PNG")
    elif kind == "jpg":
        Image.new("RGB", (w, h), colour).save(buf, "JPEG", quality=70)
    elif kind == "jpg_exif":
        ex = Image.Exif()
        ex[0x0112] = 6
        Image.new("RGB", (w, h), colour).save(buf, "JPEG", quality=70, exif=ex.tobytes())
    elif kind == "webp":
        Image.new("RGB", (w, h), colour).save(buf, "WEBP", quality=60)
    elif kind == "webp_lossless":
        Image.new("RGBA", (w, h), colour + (100,)).save(buf, "WEBP", lossless=True)
    elif kind == "webp_vp8x":
        return _webp_vp8x(w, h, rng)
    elif kind == "bmp":
        Image.new("RGB", (w, h), colour).save(buf, "BMP")
    else:
        raise AssertionError(kind)
    return buf.getvalue()


def _write(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(data)


SIZES = ((512, 512), (640, 480), (480, 640), (768, 512), (300, 200), (1024, 256), (200, 900), (512, 768),
         (1000, 1000), (96, 96), (700, 300))
EXTS = {"png": ".png", "png_rgba": ".png", "jpg": ".jpg", "jpg_exif": ".jpg", "webp": ".webp",
        "webp_lossless": ".webp", "webp_vp8x": ".webp", "bmp": ".bmp"}


class _Tree:
    def __init__(self, rng: random.Random, root: str, case: Case, suffix: str):
        self.rng, self.root, self.case, self.suffix = rng, root, case, suffix

    def p(self, rel: str) -> str:
        return os.path.join(self.root, rel)

    def image(self, folder: str, stem: str, quirks: float) -> None:
        rng = self.rng
        kind = rng.choice(("png", "png", "jpg", "jpg", "webp", "webp_lossless", "png_rgba", "bmp", "jpg_exif",
                           "webp_vp8x"))
        w, h = rng.choice(SIZES)
        ext = EXTS[kind]
        r = rng.random()
        if r < 0.08 * quirks:
            ext = ext.upper()
        elif r < 0.11 * quirks:
            ext = ext[:2].upper() + ext[2:]  # '.Png': never globbed on Linux
        data = _image_bytes(kind, w, h, rng)
        r = rng.random()
        if r < 0.02 * quirks:
            data = b""  # zero bytes
            self.case.notes.append("zero-byte image")
        elif r < 0.04 * quirks and kind.startswith("jpg"):
            data = data[: len(data) // 2]  # truncated: loads fail
            self.case.notes.append("truncated jpeg")
        elif r < 0.05 * quirks:
            data = f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}"></svg>'.encode()
            self.case.notes.append("svg as image")
        elif r < 0.06 * quirks:
            data = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00garbage-not-a-jpeg" + bytes(40)
            self.case.notes.append("garbage jpeg")
        elif r < 0.075 * quirks:
            w, h = rng.choice(((40, 600), (600, 40), (9000, 40), (40, 40), (20, 700)))
            data = _image_bytes("png", w, h, rng)
            self.case.notes.append(f"tiny side {w}x{h}")
        elif r < 0.085 * quirks:
            w, h = rng.choice(((1, 200), (300, 1), (2, 2), (513, 511)))
            data = _webp_vp8x(w, h, rng)  # imagesize reads VP8X one pixel short
            ext = ".webp"
            self.case.notes.append(f"vp8x {w}x{h}")
        elif r < 0.09 * quirks:
            target = os.path.join(self.root, folder, "gone.png")
            os.makedirs(os.path.dirname(target), exist_ok=True)
            if not os.path.lexists(os.path.join(self.root, folder, stem + ".png")):
                os.symlink(target, os.path.join(self.root, folder, stem + ".png"))
                self.case.notes.append("dangling symlink image")
            return
        _write(self.p(os.path.join(folder, stem + ext)), data)
        r = rng.random()
        if r < 0.18 * quirks:  # latent cache file name
            cw, ch = rng.choice(((768, 512), (512, 512), (640, 384), (1024, 1024)))
            name = rng.choice((f"{stem}_{cw:04d}x{ch:04d}{self.suffix}", f"{stem}_{cw:04d}x{ch:04d}_sd.npz",
                               f"{stem}_{cw:04d}x{ch:04d}_sdxl.npz", f"{stem}_{cw:04d}x{ch:04d}{self.suffix}"))
            if rng.random() < 0.08:
                name = f"{stem}{self.suffix}"  # no size in the name
                self.case.notes.append("unsized cache name")
            _write(self.p(os.path.join(folder, name)), b"")

    def caption(self, folder: str, stem: str, ext: str, quirks: float) -> None:
        rng = self.rng
        r = rng.random()
        if r < 0.45:
            return
        words = " ".join(rng.choice(("a photo", "sks dog", "1girl", "solo", "red hair", "smile")) for _ in range(3))
        data = (words + "\n").encode()
        r = rng.random()
        if r < 0.03 * quirks:
            data = b""
            self.case.notes.append("empty caption")
        elif r < 0.05 * quirks:
            data = b"caf\xe9 latin-1\n"
            self.case.notes.append("non-utf8 caption")
        elif r < 0.10 * quirks:
            data = b"\xef\xbb\xbf  " + data
        elif r < 0.14 * quirks:
            data = b"\n" + data
        elif r < 0.2:
            data = data + b"second line\n"
        _write(self.p(os.path.join(folder, stem + ext)), data)


FOLDER_NAMES = ("10_sks dog", "3_sks dog", "2_a_b", "1_dog", "010_x", " 4_cat", "5", "+2_y", "bad", "0_zero",
                "-1_neg", "20_person", "1_cat", "2_x[1]", "1_reg one", "3_style", "\u0663_arabic", "1_000_dog",
                "10 dog", ".ipynb_checkpoints")


def make_case(seed: int, root: str) -> Case:
    rng = random.Random(seed)
    trainer = rng.choice(TRAINERS_DB) if rng.random() < 0.93 else rng.choice(TRAINERS_OTHER)
    if rng.random() < 0.35:
        trainer = "train_network"
    case = Case(seed, trainer, [])
    quirks = rng.choice((0.0, 0.5, 1.0, 1.0, 2.0))
    cap_ext = rng.choice((".caption", ".txt", ".txt", None))
    tree = _Tree(rng, root, case, _suffix(trainer))

    def fill(folder: str, n: int) -> None:
        for k in range(n):
            stem = rng.choice((f"img{k}", f"img{k}", f"a_{k}", f"p{k}_1_2_3_4", f"IMG {k}", f"c{k}"))
            tree.image(folder, stem, quirks)
            tree.caption(folder, stem, cap_ext or ".caption", quirks)
        if rng.random() < 0.1 * quirks:
            _write(tree.p(os.path.join(folder, "nested", "deep.png")), _image_bytes("png", 64, 64, rng))
        if rng.random() < 0.05 * quirks:
            os.makedirs(tree.p(os.path.join(folder, "dir.png")), exist_ok=True)
            case.notes.append("directory with image name")
        if rng.random() < 0.05 * quirks:
            _write(tree.p(os.path.join(folder, "._hidden.jpg")), b"junk")

    use_toml = rng.random() < 0.3
    argv: list[str] = []
    train_folders = rng.sample(FOLDER_NAMES, rng.randint(0, 3) if quirks else rng.randint(1, 2))
    reg_folders = rng.sample(("1_dog", "1_cat", "2_dog", "1_person", "3_x", "bad_reg"),
                             rng.choice((0, 1, 1, 2)))
    for f in train_folders:
        fill(os.path.join("train", f), rng.randint(0, 6))
    for f in reg_folders:
        fill(os.path.join("reg", f), rng.randint(0, 12))
    if rng.random() < 0.1 * quirks:
        _write(tree.p("train/stray.png"), _image_bytes("png", 64, 64, rng))
    if rng.random() < 0.1 * quirks and train_folders:
        # the face-crop fallback of 'p0_1_2_3_4.png' reads '<parent>/<prefix>.<ext>' outside the subset
        prefix = train_folders[0].split("_")[0]
        _write(tree.p(f"train/{prefix}{cap_ext or '.caption'}"), b"parent caption\n")
    if rng.random() < 0.08 * quirks and train_folders:
        target = os.path.join(root, "train", train_folders[0])
        if os.path.isdir(target):
            os.symlink(target, tree.p("train/9_linked"))
            case.notes.append("symlinked subset")
    if not use_toml:
        train_arg = rng.choice(("train", "train", "./train", "train/", "missing_train")) if quirks else "train"
        argv += ["--train_data_dir", train_arg]
        if reg_folders or rng.random() < 0.2:
            argv += ["--reg_data_dir", rng.choice(("reg", "reg", "reg/", "missing_reg", "train"))]
    else:
        argv += ["--dataset_config", "ds.toml"]
        _write(tree.p("ds.toml"), _toml(rng, train_folders, reg_folders, quirks).encode())
    # options
    res = rng.choice(("512", "512", "768,512", "1024", "512", None if quirks else "512", "256"))
    if res is not None:
        argv += ["--resolution", res]
    if rng.random() < 0.7:
        argv += ["--enable_bucket"]
        if rng.random() < 0.3:
            argv += ["--bucket_no_upscale"]
        if rng.random() < 0.25:
            argv += ["--bucket_reso_steps", rng.choice(("32", "64", "16", "48", "8"))]
        if rng.random() < 0.2:
            argv += ["--min_bucket_reso", rng.choice(("256", "320", "200", "640"))]
        if rng.random() < 0.2:
            argv += ["--max_bucket_reso", rng.choice(("1024", "2048", "1000", "512"))]
    if rng.random() < 0.5:
        argv += ["--train_batch_size", rng.choice(("1", "2", "3", "4"))]
    if rng.random() < 0.2:
        argv += ["--gradient_accumulation_steps", rng.choice(("1", "2", "4"))]
    r = rng.random()
    if r < 0.4:
        argv += [rng.choice(("--max_train_epochs", "--max_train_epoch", "--max_train_epo")), rng.choice(("1", "3", "10"))]
    elif r < 0.6:
        argv += ["--max_train_steps", rng.choice(("100", "1000", "5000"))]
    if cap_ext is not None:
        argv += [rng.choice(("--caption_extension", "--caption_extension", "--caption_extention")), cap_ext]
    if rng.random() < 0.1:
        argv += ["--cache_latents"]
    if rng.random() < 0.05:
        argv += ["--cache_latents_to_disk"]
    if rng.random() < 0.08:
        argv += ["--random_crop"]
    if rng.random() < 0.05:
        argv += ["--color_aug"]
    if rng.random() < 0.1 and trainer not in ("train_db",):
        argv += ["--dataset_repeats", rng.choice(("2", "3"))]
    if rng.random() < 0.1:
        argv += ["--flip_aug"]
    if rng.random() < 0.06:
        argv += ["--shuffle_caption"]
    if rng.random() < 0.06 and trainer in ("sdxl_train_network", "sd3_train_network", "flux_train_network",
                                           "sdxl_train", "sd3_train", "flux_train", "lumina_train"):
        argv += [rng.choice(("--cache_text_encoder_outputs", "--cache_text_encoder_outputs_to_disk"))]
        if rng.random() < 0.5 and trainer.endswith("_network"):
            argv += ["--network_train_unet_only"]
    if rng.random() < 0.03:
        argv += ["--v2"]
    if rng.random() < 0.05:
        argv += ["--enable_wildcard"]
    if rng.random() < 0.04:
        argv += ["--debug_dataset"]
    if rng.random() < 0.05 * quirks:
        argv += [rng.choice(("--max_train", "--caption_ext", "--resolutoin", "--enable_buckets"))]
        case.notes.append("bad option")
    if rng.random() < 0.1:
        argv += ["--prior_loss_weight", "0.5"]
    if rng.random() < 0.1:
        # part of the options through --config_file, as the kohya_ss GUI saves them
        _write(tree.p("args.toml"), f"[training]\nmax_train_epochs = {rng.choice((1, 2))}\n"
                                    f"[extra]\nnot_an_option = 1\n".encode())
        argv += ["--config_file", rng.choice(("args", "args.toml"))]
    case.argv = argv
    config_quirks.apply(seed, root, case)  # (its own random draws: the classes above stay as they were)
    return case


def _toml(rng: random.Random, train_folders: list[str], reg_folders: list[str], quirks: float) -> str:
    lines = []
    if rng.random() < 0.4:
        lines += ["[general]"]
        if rng.random() < 0.5:
            lines += [f"num_repeats = {rng.choice((1, 2, 3))}"]
        if rng.random() < 0.3:
            lines += ["enable_bucket = true"]
        if rng.random() < 0.2:
            lines += ["class_tokens = \"general token\""]
        if rng.random() < 0.1:
            lines += ["caption_dropout_rate = 0.1"]  # textual inversion's schema has no dropout keys
        if rng.random() < 0.04 * quirks:
            lines += [rng.choice(("prior_loss_weight = 1.0", "num_repeats = 2.0", "shuffle_caption = 1"))]
        lines += [""]
    n_datasets = rng.choice((1, 1, 1, 2))
    folders = [("train/" + f, False) for f in train_folders] + [("reg/" + f, True) for f in reg_folders]
    rng.shuffle(folders)
    for d in range(n_datasets):
        lines += ["[[datasets]]"]
        if rng.random() < 0.4:
            lines += [f"resolution = {rng.choice(('512', '[768, 512]', '1024'))}"]
        if rng.random() < 0.3:
            lines += [f"batch_size = {rng.choice((1, 2, 4))}"]
        if rng.random() < 0.12:  # with a seed, which images are held out is reproducible
            lines += [f"validation_split = {rng.choice((0.2, 0.25, 0.5))}", f"validation_seed = {rng.randrange(100)}"]
        if rng.random() < 0.1 * quirks and d > 0:
            if rng.random() < 0.5:
                lines += ["class_tokens = \"x\""]  # an empty [[datasets]] rejects this
            lines += [""]
            continue
        if rng.random() < 0.03 * quirks:
            lines += ["is_reg = true"]  # a subset-only key at dataset level
        mine = folders[d::n_datasets]
        for path, is_reg in mine:
            spelling = path
            r = rng.random()
            if r < 0.15 * quirks:
                spelling = path + "/"
            elif r < 0.2 * quirks:
                spelling = "./" + path
            elif r < 0.25 * quirks:
                spelling = path.replace("/", "/./", 1)
            lines += ["  [[datasets.subsets]]", f"  image_dir = {spelling!r}".replace("'", '"')]
            if is_reg:
                lines += ["  is_reg = true"]
            if rng.random() < 0.5:
                lines += [f"  num_repeats = {rng.choice((1, 2, 5, 10, 0))}"]
            if rng.random() < 0.4:
                lines += [f"  class_tokens = \"{rng.choice(('sks dog', 'dog', ''))}\""]
            if rng.random() < 0.15:
                lines += [f"  caption_extension = \"{rng.choice(('.txt', '.caption', 'txt'))}\""]
            if rng.random() < 0.05:
                lines += ["  random_crop = true"]
            if rng.random() < 0.05 * quirks:  # the same folder twice, another spelling
                lines += ["  [[datasets.subsets]]", f"  image_dir = \"{path}/\"", "  num_repeats = 3"]
        lines += [""]
    return "\n".join(lines) + "\n"


# ---- fine-tuning cases: --in_json metadata (or metadata_file subsets), as FineTuningDataset reads it

FT_TRAINERS = ("fine_tune", "sdxl_train", "sd3_train", "flux_train", "train_network", "sdxl_train_network")


def make_finetune_case(seed: int, root: str) -> Case:
    """A flat image folder and its metadata JSON in the shapes sd-scripts' finetune/ scripts write
    (merge_captions_to_metadata.py: {key: {"caption"}}, merge_dd_tags_to_metadata.py: "tags",
    prepare_buckets_latents.py: "train_resolution"; keys full paths (--full_path), bare stems or file
    names), read through --in_json or a dataset TOML's metadata_file, with dataset_repeats, flip_aug,
    batch size, accumulation and epochs as the kohya_ss fine-tune tab sets them."""
    rng = random.Random(10_000 + seed)
    trainer = rng.choice(FT_TRAINERS)
    case = Case(seed, trainer, [], ["fine-tuning"])
    img = os.path.join(root, "img")
    os.makedirs(img)
    n = rng.randint(1, 9)
    meta: dict = {}
    # full paths mostly (the fine-tune tab's "Use full path" default); a bare stem is found only next to its
    # latents .npz, so it stops at the image's size
    key_style = rng.choice(("full",) * 6 + ("name", "name", "stem", "mixed"))
    # sizes sd-scripts takes without opening the file (drawn apart, so that the cases above stay as they
    # were): image_size in the metadata, or a latent cache file named for the key; a missing image or the
    # .npz stored as the image then fails only when it is first loaded
    extra = random.Random(20_000 + seed)
    sized = extra.random() < 0.35
    cache_suffix = {"fine_tune": "_sdxl.npz", "sdxl_train": "_sdxl.npz", "sdxl_train_network": "_sdxl.npz",
                    "train_network": "_sd.npz", "sd3_train": "_sd3.npz", "flux_train": "_flux.npz"}[trainer]
    if sized:
        case.notes.append("sizes without opening the files")
    for i in range(n):
        kind = rng.choice(("png", "jpg", "webp"))
        w, h = rng.choice(SIZES)
        name = f"im{i}{EXTS[kind]}"
        if rng.random() < 0.97:
            _write(os.path.join(img, name), _image_bytes(kind, w, h, rng))
        else:
            case.notes.append("metadata image missing")
        style = key_style if key_style != "mixed" else rng.choice(("full", "stem", "name"))
        key = {"full": os.path.join(img, name), "stem": f"im{i}", "name": name}[style]
        entry: dict = {}
        r = rng.random()
        if r < 0.6:
            entry["caption"] = rng.choice(("a photo of a cat", "sks dog, outdoors", "x" * 5))
        elif r < 0.8:
            entry["tags"] = "1girl, solo, smile"
        elif r < 0.9:
            entry["caption"], entry["tags"] = "a cat", "1girl, solo"
        if rng.random() < 0.2:
            entry["train_resolution"] = list(rng.choice(((512, 512), (576, 448), (448, 576))))
        if sized and extra.random() < 0.6:
            entry["image_size"] = [w, h]
            if extra.random() < 0.3 and os.path.exists(os.path.join(img, name)):
                os.remove(os.path.join(img, name))  # (deleted after its size was written down)
                case.notes.append("sized image missing")
        elif sized and extra.random() < 0.4:  # a cache file whose name starts with the key's stem
            _write(os.path.join(img, f"im{i}_{w:04d}x{h:04d}{cache_suffix}"), b"")
        meta[key] = entry
    if rng.random() < 0.15:  # an image in the folder the metadata does not name: not registered
        _write(os.path.join(img, "extra.png"), _image_bytes("png", 512, 512, rng))
    # JSON Lines ("image_path" and the entry, a line each), the other format FineTuningDataset reads;
    # now and then with a blank line, which json.loads stops on
    lines = extra.random() < 0.2
    meta_name = "meta.jsonl" if lines else "meta.json"
    meta_path = os.path.join(root, meta_name)
    if rng.random() < 0.95:
        if lines:
            text = "".join(json.dumps({"image_path": k, **v}) + "\n" for k, v in meta.items())
            if extra.random() < 0.15:
                text += "\n"
                case.notes.append("blank JSON line")
            _write(meta_path, text.encode())
            case.notes.append("JSON Lines metadata")
        else:
            _write(meta_path, json.dumps(meta, indent=2).encode())
    else:
        case.notes.append("no metadata file")
    argv = []
    repeats = rng.choice(("1", "2", "10"))
    if rng.random() < 0.25:  # a dataset TOML with a metadata_file subset
        toml = (f"[[datasets]]\nresolution = {rng.choice((512, 768))}\nbatch_size = {rng.choice((1, 2, 4))}\n"
                f"enable_bucket = {rng.choice(('true', 'false'))}\n\n  [[datasets.subsets]]\n"
                f"  image_dir = '{img}'\n  metadata_file = '{meta_path}'\n  num_repeats = {repeats}\n")
        _write(os.path.join(root, "ds.toml"), toml.encode())
        argv += ["--dataset_config", "ds.toml"]
        case.notes.append("metadata_file subset")
    else:
        argv += ["--in_json", meta_name, "--train_data_dir", "img", "--resolution", rng.choice(("512", "512,768"))]
        if rng.random() < 0.7:
            argv += ["--enable_bucket"]
            if rng.random() < 0.3:
                argv += ["--bucket_no_upscale"]
            if rng.random() < 0.2:
                argv += ["--bucket_reso_steps", rng.choice(("32", "64", "1"))]
        argv += ["--dataset_repeats", repeats]
        if rng.random() < 0.5:
            argv += ["--train_batch_size", rng.choice(("1", "2", "3", "4"))]
    if rng.random() < 0.3:
        argv += ["--flip_aug"]
    if rng.random() < 0.2:
        argv += ["--gradient_accumulation_steps", rng.choice(("2", "4"))]
    if rng.random() < 0.5:
        argv += ["--max_train_epochs", rng.choice(("1", "2", "5"))]
    if rng.random() < 0.85:
        argv += ["--cache_latents"]  # the fine-tuning trainers crash without it (oracle README)
    if rng.random() < 0.2:
        argv += ["--caption_extension", ".txt"]
    if rng.random() < 0.1:
        argv += ["--keep_tokens", "1", "--shuffle_caption"]
    case.argv = argv
    return case
