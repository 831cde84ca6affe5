"""Build the hostile campaign's trees under $HOSTILE_DIR/fx (idempotent: a tree is rebuilt only if missing)."""
import json
import os
import random
import struct
import subprocess

from PIL import Image

FX = os.path.join(os.environ.get("HOSTILE_DIR", "/tmp/regaudit-hostile"), "fx")


def img(path, size=(64, 64), fmt=None, seed=0):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    rnd = random.Random(seed)
    im = Image.new("RGB", size)
    px = bytes(rnd.getrandbits(8) for _ in range(size[0] * size[1] * 3)) if size[0] * size[1] <= 4096 * 4 else \
        os.urandom(size[0] * size[1] * 3)
    im.frombytes(px)
    im.save(path, fmt)


def text(path, s, mode="w"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode) as f:
        f.write(s)


def sd_tree(root):
    """A small sd-scripts DreamBooth tree with a few findings: train/10_sks dog, reg/1_dog, ds.toml."""
    if os.path.exists(root + "/.done"):
        return root
    t = f"{root}/train/10_sks dog"
    for i, n in enumerate(["a.png", "b.jpg", "c.png", "d.jpg"]):
        img(f"{t}/{n}", (64 + 8 * i, 64), seed=i)
    text(f"{t}/a.caption", "sks dog, white shirt, smiling")
    text(f"{t}/b.caption", "sks dog, white shirt")
    text(f"{t}/c.caption", "sks dog, outdoors")
    text(f"{t}/d.txt", "sks dog")  # RA026 rename-caption
    with open(f"{t}/a.png", "rb") as f:
        open(f"{t}/e.png", "wb").write(f.read())  # byte duplicate
    r = f"{root}/reg/1_dog"
    for i in range(6):
        img(f"{r}/r{i}.png", (64, 64), seed=100 + i)
    ds_toml(root)
    open(root + "/.done", "w").close()
    return root


def ds_toml(root, name="ds.toml", extra_general="", extra_subset=""):
    text(f"{root}/{name}",
         f'[general]\nresolution = 512\nenable_bucket = true\nbatch_size = 2\n{extra_general}\n'
         f'[[datasets]]\n[[datasets.subsets]]\nimage_dir = "{root}/train/10_sks dog"\nnum_repeats = 10\n'
         f'class_tokens = "sks dog"\ncaption_extension = ".caption"\n{extra_subset}\n'
         f'[[datasets.subsets]]\nimage_dir = "{root}/reg/1_dog"\nis_reg = true\nclass_tokens = "dog"\n')


def safetensors_header(meta):
    blob = json.dumps({"__metadata__": meta}).encode()
    return struct.pack("<Q", len(blob)) + blob


MUSUBI_TOML = ('[general]\nresolution = [1024, 1024]\ncaption_extension = ".txt"\nbatch_size = 2\nenable_bucket = true\n\n'
               '[[datasets]]\nimage_directory = "{root}/img"\ncache_directory = "{root}/cache"\nnum_repeats = 3\n{extra}')


def musubi_tree(root, extra="", general=None):
    if os.path.exists(root + "/.done"):
        return root
    img(f"{root}/img/a.jpg", (96, 128), seed=1)
    img(f"{root}/img/a.png", (128, 128), seed=2)
    img(f"{root}/img/b_1.jpg", (150, 100), seed=3)
    text(f"{root}/img/a.txt", "a photo of sks dog\nsecond line kept\n")
    text(f"{root}/img/b_1.txt", "sks dog")
    os.makedirs(f"{root}/cache", exist_ok=True)
    t = MUSUBI_TOML.format(root=root, extra=extra)
    if general:
        t = t.replace("[general]\n", "[general]\n" + general)
    text(f"{root}/ds.toml", t)
    open(root + "/.done", "w").close()
    return root


def big_tree(root, n=1500, size=(384, 384)):
    """For signals: many real images, so report/fix take seconds."""
    if os.path.exists(root + "/.done"):
        return root
    t = f"{root}/train/10_big"
    os.makedirs(t, exist_ok=True)
    base = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
    for i in range(n):
        im = base.rotate(i % 360)
        im.save(f"{t}/i{i:05d}.jpg", quality=95)
        with open(f"{t}/i{i:05d}.caption", "w") as f:
            f.write(f"big {i}, tag{i % 7}")
    open(root + "/.done", "w").close()
    return root


def deep_tree(root, depth=1100):
    """sd tree with ~depth nested folders inside the subset, an image at the bottom."""
    if os.path.exists(root + "/.done"):
        return root
    sd_tree(root)
    cwd = os.getcwd()
    os.chdir(f"{root}/train/10_sks dog")
    for _ in range(depth):
        os.mkdir("n")
        os.chdir("n")
    img(os.path.join(os.getcwd(), "deep.png"), seed=9) if len(os.getcwd()) < 4000 else _img_here("deep.png")
    open("deep.caption", "w").write("sks dog deep")
    os.chdir(cwd)
    open(root + "/.done", "w").close()
    return root


def _img_here(name):
    im = Image.new("RGB", (32, 32), (10, 200, 30))
    im.save(name, "PNG")


def long_root(base, segs=22, seglen=200):
    """A folder whose absolute path is > 4096 bytes; returns it (built by relative mkdir)."""
    cwd = os.getcwd()
    os.makedirs(base, exist_ok=True)
    os.chdir(base)
    parts = []
    for i in range(segs):
        n = (chr(ord("a") + i % 26) * seglen)
        if not os.path.isdir(n):
            os.mkdir(n)
        os.chdir(n)
        parts.append(n)
    os.chdir(cwd)
    return os.path.join(base, *parts)


def long_sd_tree(base):
    """An sd tree whose train/reg roots sit > 4096 bytes deep. Built with relative ops."""
    deep = long_root(base)
    if os.path.exists(base + "/.done"):
        return deep
    cwd = os.getcwd()
    os.chdir(base)
    for p in deep[len(base) + 1:].split("/"):
        os.chdir(p)
    os.makedirs("train/10_sks dog", exist_ok=True)
    os.makedirs("reg/1_dog", exist_ok=True)
    for i, n in enumerate(["a.png", "b.png", "c.jpg"]):
        _img_rand(f"train/10_sks dog/{n}", i)
        open(f"train/10_sks dog/{n.rsplit('.', 1)[0]}.caption", "w").write("sks dog, long path")
    with open("train/10_sks dog/a.png", "rb") as f:
        open("train/10_sks dog/dup.png", "wb").write(f.read())
    for i in range(3):
        _img_rand(f"reg/1_dog/r{i}.png", 50 + i)
    # musubi part
    os.makedirs("mimg", exist_ok=True)
    os.makedirs("mcache", exist_ok=True)
    _img_rand("mimg/a.png", 7)
    open("mimg/a.txt", "w").write("sks dog")
    os.chdir(cwd)
    open(base + "/.done", "w").close()
    return deep


def _img_rand(rel, seed):
    rnd = random.Random(seed)
    im = Image.frombytes("RGB", (48, 48), bytes(rnd.getrandbits(8) for _ in range(48 * 48 * 3)))
    im.save(rel)


ODD = ["nl\nx", "tab\tx", "esc\x1b[2Jx", "bidi\u202etxt.gnp", "pipe|x", "back`tick`x", "<script>alert(1)</script>",
       "-lead", "amp&quot;x"]


def odd_tree(root):
    """Folder and file names and captions with hostile characters, and an invalid-UTF-8 name."""
    if os.path.exists(root + "/.done"):
        return root
    broot = os.fsencode(root)
    for i, n in enumerate(ODD):
        sub = f"{root}/train/10_sks {n.replace('/', '')}"
        img(f"{sub}/{n}.png", seed=200 + i)
        text(f"{sub}/{n}.caption", f"sks {n}, <b onclick=alert(1)>x</b>, `code` | pipe")
        img(f"{sub}/ok{i}.png", seed=300 + i)
    bad = broot + b"/train/10_bad\xff\xfe"
    os.makedirs(bad, exist_ok=True)
    img(os.fsdecode(bad + b"/\xff\xfename.png"), seed=400)
    with open(bad + b"/\xff\xfename.caption", "wb") as f:
        f.write(b"sks \xff\xfe invalid utf8 caption")  # RA021-ish
    # a crash-causing file with a hostile name: zero bytes
    open(f"{root}/train/10_sks nl\nx/zero\x1b]0;pwn\x07.png", "wb").close()
    for i in range(3):
        img(f"{root}/reg/1_dog/r{i}.png", seed=500 + i)
    img(f"{root}/reg/1_dog/<img src=x onerror=alert(1)>.png", seed=200)  # leakage with the first train image
    open(root + "/.done", "w").close()
    return root


def sparse(path, size, head=b""):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(size)


if __name__ == "__main__":
    sd_tree(f"{FX}/sd")
    musubi_tree(f"{FX}/mus")
    print("ok")
