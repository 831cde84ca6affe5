"""Layout family (RA001-RA013): which folders and files sd-scripts reads, through `regaudit scan`."""

from __future__ import annotations

import pytest

from .cli_table import DIR, F, Img, Link, No, row, run_case

SCAN = ["scan", "--json", "-j", "1", "--target-os", "linux"]
TWICE = """\
[[datasets]]
[[datasets.subsets]]
image_dir = "train/1_dog"
[[datasets.subsets]]
image_dir = "train/1_dog"
is_reg = true
[[datasets.subsets]]
image_dir = "{root}/train/1_dog"
num_repeats = 3
"""

ROWS = [
    row("RA001 folder without repeats",
        {"train/1_dog/a.png": Img(), "train/dog/a.png": Img(), "train/dog/b.png": Img()}, SCAN + ["train"],
        F("RA001", "error", "train/dog",
          "folder 'dog' holds 2 images but its name does not start with '<repeats>_', so sd-scripts ignores it")),
    row("RA002 repeats below one",
        {"train/1_dog/a.png": Img(), "train/0_cat/a.png": Img(), "train/-2_cow/a.png": Img()}, SCAN + ["train"],
        F("RA002", "warning", "train/0_cat", "folder '0_cat' has repeats 0; sd-scripts skips it without a word"),
        F("RA002", "warning", "train/-2_cow", "folder '-2_cow' has repeats -2; sd-scripts skips it without a word")),
    row("RA003 stray images beside subsets",
        {"train/1_dog/a.png": Img(), "train/stray.png": Img()}, SCAN + ["train"],
        F("RA003", "warning", "train", "1 image file(s) lie directly in the train root and are never read "
                                       "(only its '<repeats>_<class tokens>' subfolders are subsets)")),
    row("RA003 RA011 images only in the root",
        {"train/a.png": Img(), "train/b.jpg": Img()}, SCAN + ["train"],
        F("RA003", "error", "train", "2 image file(s) lie directly in the train root and are never read "
                                     "(only its '<repeats>_<class tokens>' subfolders are subsets)"),
        F("RA011", "error", "train",
          "train root has no '<repeats>_<class tokens>' subfolder: sd-scripts finds no train subset in it")),
    row("RA011 reg root without subsets",
        {"train/1_dog/a.png": Img(), "reg/dog/r.png": Img()}, SCAN + ["--train", "train", "--reg", "reg"],
        F("RA011", "warning", "reg", "reg root has no '<repeats>_<class tokens>' subfolder: sd-scripts finds no "
                                     "reg subset in it; it trains without regularization images")),
    row("RA004 nested folder",
        {"train/1_dog/a.png": Img(), "train/1_dog/sub/b.png": Img(), "train/1_dog/sub/c.jpg": Img()},
        SCAN + ["train"],
        F("RA004", "warning", "train/1_dog/sub",
          "2 images in nested folder 'sub' are never read (subsets are not recursive)")),
    row("RA005 hidden folder and hidden file",
        {"train/1_dog/a.png": Img(), "train/1_dog/._a.png": Img(), "train/.cache/a.png": Img()}, SCAN + ["train"],
        F("RA005", "info", "train/.cache", "hidden folder '.cache' with 1 images is ignored"),
        F("RA005", "info", "train/1_dog", "1 hidden image files or folders are ignored (._a.png)",
          images=("train/1_dog/._a.png",))),
    row("RA006 mixed-case extension",
        {"train/1_dog/a.png": Img(), "train/1_dog/b.Png": Img(), "train/1_dog/c.JPG": Img()}, SCAN + ["train"],
        F("RA006", "error", "train/1_dog/b.Png",
          "'b.Png' is never used: sd-scripts matches '.png' and '.PNG' but not '.Png' on Linux and macOS")),
    row("RA006 not on windows",
        {"train/1_dog/a.png": Img(), "train/1_dog/b.Png": Img()},
        ["scan", "--json", "-j", "1", "--target-os", "windows", "train"],
        No("RA006")),
    row("RA007 formats sd-scripts does not glob",
        {"train/1_dog/a.png": Img(), "train/1_dog/c.gif": Img(fmt="GIF"), "train/1_dog/d.tiff": Img(fmt="TIFF"),
         "train/1_dog/e.gif": Img(fmt="GIF")}, SCAN + ["train"],
        F("RA007", "warning", "train/1_dog", "3 files with extensions .gif, .tiff are ignored (c.gif, d.tiff, "
                                             "e.gif)")),
    row("RA008 subset without images",
        {"train/1_dog/a.png": Img(), "train/2_cat/notes.txt": "x", "train/3_cow/a.gif": Img(fmt="GIF")},
        SCAN + ["train"],
        F("RA008", "warning", "train/2_cat", "subset has no image files found; sd-scripts ignores it"),
        F("RA008", "warning", "train/3_cow", "subset has no image files found; sd-scripts ignores it")),
    row("RA009 RA010 one folder configured three times",
        {"train/1_dog/a.png": Img(), "train/1_dog/b.png": Img(), "ds.toml": TWICE},
        SCAN + ["--dataset_config", "ds.toml"],
        F("RA009", "warning", "train/1_dog", "folder is configured twice in dataset 0; the later (reg) entry is "
                                             "ignored and the first one is used"),
        F("RA010", "warning", "train/1_dog", "one folder is read as 2 subsets through different spellings: "
                                             "'train/1_dog' (train), '{root}/train/1_dog' (train); sd-scripts "
                                             "registers its 2 images 2 times")),
    row("RA012 directory and dangling link with image names",
        {"train/1_dog/a.png": Img(), "train/1_dog/x.png": DIR, "train/1_dog/y.jpg": Link("gone.jpg")},
        SCAN + ["train"],
        F("RA012", "error", "train/1_dog/x.png",
          "'x.png' is a directory with an image name; sd-scripts globs it as an image and crashes reading it"),
        F("RA012", "error", "train/1_dog/y.jpg", "'y.jpg' cannot be read: No such file or directory; sd-scripts "
                                                 "globs it as an image and crashes reading it")),
    row("RA013 unreadable subset",
        {"train/1_dog/a.png": Img(), "train/2_cat/a.png": Img(), "reg/1_dog/r.png": Img()},
        SCAN + ["--train", "train", "--reg", "reg"],
        F("RA013", "error", "train/2_cat",
          "subset folder cannot be listed (Permission denied); sd-scripts sees no image in it"),
        F("RA008", "warning", "train/2_cat", "subset has not a readable directory; sd-scripts ignores it"),
        locked=("train/2_cat",)),
    # config_util.generate_dreambooth_subsets_config_by_subdirs lists a root with Path.iterdir, which
    # raises: the run stops while it builds the dataset
    row("RA013 a reg root sd-scripts cannot list stops it",
        {"train/1_dog/a.png": Img(), "reg/1_dog/r.png": Img()},
        SCAN + ["--train", "train", "--reg", "reg"],
        F("RA013", "error", "reg", "sd-scripts stops on the reg folder: PermissionError: [Errno 13] Permission "
                                   "denied: 'reg'"),
        locked=("reg",)),
]


@pytest.mark.parametrize("case", ROWS)
def test_layout_findings(case, root, capsys, monkeypatch):
    run_case(case, root, capsys, monkeypatch)
