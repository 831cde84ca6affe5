"""Captions family (RA020-RA039): caption files as sd-scripts reads them, and captions as the text
encoder sees them, through `regaudit scan`."""

from __future__ import annotations

import pytest

from .cli_table import F, Img, No, row, run_case

SCAN = ["scan", "--json", "-j", "1", "train"]
D = "train/1_dog/"


def pics(*names: str, folder: str = D) -> dict:
    return {folder + n: Img() for n in names}


ROWS = [
    row("RA020 empty caption file",
        {**pics("a.png"), D + "a.caption": b""}, SCAN,
        F("RA020", "error", D + "a.caption",
          "caption file is empty (0 lines); sd-scripts stops with 'caption file is empty'")),
    row("RA021 caption not utf-8",
        {**pics("a.png"), D + "a.caption": b"caf\xe9 dog"}, SCAN,
        F("RA021", "error", D + "a.caption",
          "caption file is not valid UTF-8; sd-scripts crashes with a UnicodeDecodeError")),
    row("RA022 caption unreadable",
        {**pics("a.png"), D + "a.caption": "a dog"}, SCAN,
        F("RA022", "error", D + "a.caption", "caption file cannot be opened; sd-scripts crashes"),
        locked=(D + "a.caption",)),
    row("RA023 byte-order mark",
        {**pics("a.png"), D + "a.caption": "\ufeffa dog"}, SCAN,
        F("RA023", "warning", D + "a.caption",
          "caption starts with a UTF-8 BOM (U+FEFF), which becomes the first character of the prompt")),
    row("RA024 blank first line",
        {**pics("a.png", "b.png"), D + "a.caption": "   ", D + "b.caption": "a dog"}, SCAN,
        F("RA024", "warning", D + "a.caption",
          "caption's first line is blank: the image trains with an empty caption")),
    row("RA025 several lines",
        {**pics("a.png", "b.png", "c.png"), D + "a.caption": "a dog\nsitting", D + "b.caption": "a dog\n\nrunning",
         D + "c.caption": "a dog\n"}, SCAN,
        F("RA025", "info", "train/1_dog",
          "2 caption files have several lines; only the first is used: a.caption, b.caption",
          images=({"path": "train/1_dog/a.caption", "lines": 2}, {"path": "train/1_dog/b.caption", "lines": 3}))),
    row("RA025 not with wildcards",
        {**pics("a.png"), D + "a.caption": "a dog\nsitting"}, SCAN + ["--enable_wildcard"],
        No("RA025")),
    row("RA094 absurdly long caption",  # (read only up to limits.CAPTION_BYTES, 64 KiB)
        {**pics("a.png"), D + "a.caption": "a dog, " + "x" * (100 << 10)}, SCAN,
        F("RA094", "warning", D + "a.caption",
          "caption file is 100.0 KiB (102407 bytes), absurdly long for a caption; regaudit reads only its first 64 "
          "KiB, sd-scripts reads all of it")),
    row("RA094 an absurdly long caption in fine-tuning metadata",  # (kept to limits.CAPTION_BYTES characters)
        {"img/a.png": Img(size=(64, 64)), "img/b.png": Img(size=(64, 64)),
         "meta.json": '{"a": {"caption": "a dog, ' + "x" * (100 << 10) + '"}, "b": {"caption": "a cat"}}'},
        ["scan", "--json", "-j", "1", "--trainer", "fine_tune", "--in_json", "meta.json", "--train_data_dir", "img",
         "--resolution", "64", "--cache_latents"],
        F("RA094", "warning", "meta.json",
          "a caption in this metadata is absurdly long, up to 100.0 KiB (102407 bytes, 'a'); regaudit reads only "
          "the first 64 KiB of each, sd-scripts all of it")),
    row("RA094 not for a long caption under the limit",
        {**pics("a.png"), D + "a.caption": "a dog, " + "x" * (60 << 10)}, SCAN,
        No("RA094")),
    row("RA026 captions of another extension",
        {**pics("a.png", "b.png", "c.png"), D + "a.txt": "a dog", D + "b.txt": "a dog"}, SCAN,
        F("RA026", "warning", "train/1_dog",
          "2 of 3 images have a '.txt' caption beside them (a.png, b.png), but the caption extension is '.caption', so "
          "sd-scripts ignores those files and uses the class tokens",
          images=({"path": D + "a.png", "caption": "{root}/" + D + "a.txt"},
                  {"path": D + "b.png", "caption": "{root}/" + D + "b.txt"}))),
    row("RA026 not with their extension",
        {**pics("a.png", "b.png"), D + "a.txt": "a dog", D + "b.txt": "a dog"}, SCAN + ["--caption_extension", ".txt"],
        No("RA026")),
    row("RA027 shared stem",
        {**pics("h.png", "h.jpg", "k.png"), D + "h.caption": "a dog"}, SCAN,
        F("RA027", "warning", D + "h.jpg", "h.jpg, h.png share the stem 'h' and so one caption 'h.caption'")),
    row("RA028 face-crop fallback outside the subset",
        # 'train/1_dog/a_b_c_d.png'.split('_')[:-4] == ['train/1']: sd-scripts reads 'train/1.caption'
        {**pics("a_b_c_d.png", "e.png"), "train/1.caption": "a dog"}, SCAN,
        F("RA028", "warning", D + "a_b_c_d.png",
          "no 'a_b_c_d.caption': the caption is read from '{root}/train/1.caption', outside this subset folder")),
    row("RA029 class tokens as the caption",
        {**pics("a.png", "b.png", "c.png", folder="train/1_sks dog/"), "train/1_sks dog/a.caption": "sks dog"},
        SCAN,
        F("RA029", "info", "train/1_sks dog",
          "2 of 3 images have no caption file and train on the class tokens 'sks dog': b.png, c.png",
          images=("train/1_sks dog/b.png", "train/1_sks dog/c.png"))),
    row("RA029 names the extension when a caption of another one is there",
        # b.txt is beside b.png but the extension is '.caption' (RA026): b.png has no '.caption' file
        {**pics("a.png", "b.png", "c.png", folder="train/1_sks dog/"), "train/1_sks dog/a.caption": "sks dog",
         "train/1_sks dog/b.txt": "sks dog"},
        SCAN,
        F("RA029", "info", "train/1_sks dog",
          "2 of 3 images have no '.caption' caption file and train on the class tokens 'sks dog': b.png, c.png",
          images=("train/1_sks dog/b.png", "train/1_sks dog/c.png"))),
    row("RA030 empty prompt",
        pics("a.png", "b.png", folder="train/2/"), SCAN,
        F("RA030", "warning", "train/2",
          "2 of 2 images have no caption file and no class tokens, so they train on an empty prompt: a.png, b.png",
          images=("train/2/a.png", "train/2/b.png"))),
    row("RA031 longer than 75 tokens",
        # 'dog' is one CLIP token: 80 of them, 5 past the 75 kept
        {**pics("a.png", "b.png"), D + "a.caption": "dog " * 80, D + "b.caption": "dog"}, SCAN,
        F("RA031", "warning", "train/1_dog",
          "1 of 2 captions are longer than the 75 CLIP tokens sd-scripts keeps: a.png 80 tokens, 5 past, loses "
          "'dog dog dog dog dog dog dog d…'")),
    row("RA031 not within 150 tokens",
        {**pics("a.png"), D + "a.caption": "dog " * 80}, SCAN + ["--max_token_length", "150"],
        No("RA031")),
    row("RA032 trigger word missing",
        {**pics("a.png", "b.png", "c.png", folder="train/1_sks/"), "train/1_sks/a.caption": "sks on grass",
         "train/1_sks/b.caption": "a dog", "train/1_sks/c.caption": "a dog running"}, SCAN,
        F("RA032", "warning", "train/1_sks",
          "2 of 3 captions read from caption files never contain 'sks' (b.png, c.png); sd-scripts does not "
          "add the folder's class tokens 'sks' to them",
          images=({"path": "train/1_sks/b.png", "trigger": "missing"}, {"path": "train/1_sks/c.png", "trigger": "missing"}))),
    row("RA033 trigger in reg captions",
        {**pics("a.png", folder="train/1_sks/"), **pics("r.png", "s.png", "t.png", folder="reg/1_dog/"),
         "reg/1_dog/r.caption": "sks dog", "reg/1_dog/s.caption": "a dog, sks", "reg/1_dog/t.caption": "a dog"},
        ["scan", "--json", "-j", "1", "--train", "train", "--reg", "reg"],
        F("RA033", "warning", "reg/1_dog",
          "2 of 3 reg captions carry the trigger of the train subset 'sks' (r.png, s.png)",
          images=("reg/1_dog/r.png", "reg/1_dog/s.png"))),
    row("RA039 a tag in most train captions",
        {**pics("a.png", "b.png", "c.png", "d.png", "e.png"), D + "a.caption": "dog, white shirt, grass",
         D + "b.caption": "dog, white shirt, sofa", D + "c.caption": "dog, White Shirt, beach",
         D + "d.caption": "white shirt, dog, snow", D + "e.caption": "dog, red hat, park"}, SCAN,
        # 'dog' is the class token: meant to be there
        F("RA039", "warning", "train/1_dog",
          "'white shirt' is in 4 of 5 train captions (80%): it is trained with 'dog' on nearly every step, so "
          "the trigger learns it as part of the subject; images without it: e.png")),
    row("RA039 not below 5 captions, nor for a tag as common in reg",
        {**pics("a.png", "b.png", "c.png", "d.png", folder="train/1_sks dog/"),
         **{f"train/1_sks dog/{n}.caption": f"sks dog, white shirt, {n}" for n in "abcd"},
         **pics("e.png", "f.png", "g.png", "h.png", "i.png", folder="train/1_ohwx cat/"),
         **{f"train/1_ohwx cat/{n}.caption": f"ohwx cat, 1girl, {n}" for n in "efghi"},
         **pics("r.png", "s.png", folder="reg/1_cat/"),
         "reg/1_cat/r.caption": "cat, 1girl", "reg/1_cat/s.caption": "1girl, cat, sofa"},
        ["scan", "--json", "-j", "1", "--train", "train", "--reg", "reg"],
        No("RA039")),
    row("RA039 a subject tag in reg captions",
        {**pics("a.png", "b.png", "c.png", "d.png", "e.png", folder="train/1_sks dog/"),
         **{f"train/1_sks dog/{n}.caption": f"sks dog, white shirt, {n}" for n in "abcde"},
         **pics("r.png", "s.png", "t.png", folder="reg/1_dog/"),
         "reg/1_dog/r.caption": "dog, white shirt", "reg/1_dog/s.caption": "dog, grass", "reg/1_dog/t.caption": "dog"},
        ["scan", "--json", "-j", "1", "--train", "train", "--reg", "reg"],
        F("RA039", "warning", "train/1_sks dog",
          "'white shirt' is in 5 of 5 train captions (100%): it is trained with 'sks dog' on nearly every step, "
          "so the trigger learns it as part of the subject; every image has it"),
        F("RA039", "warning", "reg/1_dog",
          "'white shirt', in 100% of the train captions of 'sks dog' (learned as part of that subject), is in 1 of "
          "3 reg captions (33%; e.g. r.png): those reg images teach the class the subject's look")),
    row("RA034 identical captions and repeated tags",
        {**pics("a.png", "b.png", "c.png", "d.png"), D + "a.caption": "a dog", D + "b.caption": "A  dog",
         D + "c.caption": "dog, red, red", D + "d.caption": "dog, ball"}, SCAN,
        F("RA034", "info", "train/1_dog", "2 images share 1 identical captions: 'a dog' ×2 (a.png, b.png)",
          images=({"path": D + "a.png", "caption": "a dog", "shared_by": 2},
                  {"path": D + "b.png", "caption": "a dog", "shared_by": 2})),
        F("RA034", "info", "train/1_dog", "1 caption repeats a tag (c.png: 'red')",
          images=({"path": D + "c.png", "repeated": ["red"]},))),
    row("RA035 wildcards while enable_wildcard is off",
        {**pics("a.png", "b.png"), D + "a.caption": "a {red|blue} dog", D + "b.caption": "a dog"}, SCAN,
        F("RA035", "warning", "train/1_dog",
          "1 captions contain '{a|b}' wildcard groups but enable_wildcard is off: the braces and '|' reach the "
          "text encoder as they are (a.png)")),
    row("RA036 separators",
        {**pics("a.png", "b.png"), D + "a.caption": "dog, red ball", D + "b.caption": "dog on grass"},
        SCAN + ["--shuffle_caption", "--keep_tokens_separator", "|||", "--caption_prefix", "sks"],
        F("RA036", "warning", "train/1_dog",
          "1 of 2 captions contain no caption_separator ',': each is one tag, so shuffle_caption, tag dropout and "
          "warmup leave it as it is (b.png: 'dog on grass')"),
        F("RA036", "warning", "train/1_dog",
          "2 of 2 captions have no keep_tokens_separator '|||': keep_tokens (0) decides what stays in place for "
          "them instead (a.png, b.png)"),
        F("RA036", "warning", "train/1_dog",
          "caption_prefix 'sks' has no caption_separator ',' on its inner side, so it joins each caption's first "
          "tag into one (e.g. 'sks dog' in a.png)")),
    row("RA037 empty separator",
        {**pics("a.png", "b.png"), D + "a.caption": "dog, red ball", D + "b.caption": "dog on grass"},
        SCAN + ["--shuffle_caption", "--caption_separator", ""],
        F("RA037", "error", "train/1_dog",
          "caption_separator is '' and captions are cut into tags (shuffle_caption, token warmup or tag dropout): "
          "process_caption raises 'ValueError: empty separator' on the first of its 2 captions")),
    row("RA038 caption augmentation",
        # keep_tokens 1: 'dog, red ball' leaves 1 tag to shuffle, 'dog, on, grass' 2
        {**pics("a.png", "b.png"), D + "a.caption": "dog, red ball", D + "b.caption": "dog, on, grass"},
        SCAN + ["--caption_dropout_rate", "0.1", "--caption_dropout_every_n_epochs", "3",
                "--caption_tag_dropout_rate", "0.25", "--keep_tokens", "1"],
        F("RA038", "info", "train/1_dog",
          "caption_dropout_rate 0.1: about 10% of steps train these images with an empty caption; "
          "caption_dropout_every_n_epochs 3: every 3rd epoch trains all of them with an empty caption; "
          "caption_tag_dropout_rate 0.25: each shuffled tag (1 to 2 a caption) is left out of 25% of steps")),
]


@pytest.mark.parametrize("case", ROWS)
def test_caption_findings(case, root, capsys, monkeypatch):
    run_case(case, root, capsys, monkeypatch)
