"""The floor for `regaudit scan`: a bare loop that does only what sd-scripts must do per image.

    python benchmarks/floor.py ROOT [--caption-extension .txt]

For every image in every subset folder under ROOT/train and ROOT/reg (any depth-1 folder), it
calls ``imagesize.get()`` (imagesize 1.4.1, what sd-scripts calls; `pip install imagesize==1.4.1`,
for this benchmark only) and reads the caption file beside it when there is one. Time it as a
whole process: ``time python benchmarks/floor.py ROOT``.
"""

from __future__ import annotations

import os
import sys

import imagesize

EXTS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".PNG", ".JPG", ".JPEG", ".WEBP", ".BMP")


def main() -> None:
    root = sys.argv[1]
    ext = sys.argv[3] if len(sys.argv) > 3 and sys.argv[2] == "--caption-extension" else ".txt"
    images = captions = 0
    for top in ("train", "reg"):
        base = os.path.join(root, top)
        if not os.path.isdir(base):
            continue
        for sub in sorted(os.listdir(base)):
            folder = os.path.join(base, sub)
            for name in sorted(os.listdir(folder)):
                if not name.endswith(EXTS):
                    continue
                path = os.path.join(folder, name)
                imagesize.get(path)
                images += 1
                try:
                    with open(os.path.splitext(path)[0] + ext, "rb") as fh:
                        fh.read().decode("utf-8")
                    captions += 1
                except FileNotFoundError:
                    pass
    print(f"{images} images, {captions} captions")


if __name__ == "__main__":
    main()
