"""The port: reading a safetensors header (bounded) and sd-scripts' ss_* metadata.

The recorded files in tests/sdscripts/lora_recorded/ hold the metadata the trainers would save for the trees
of tests/sdscripts/lora_trees.py: tests/differential/lora_meta.py ran the real sd-scripts dataset build (the
oracle) on each tree and made the metadata dict as NetworkTrainer.train() makes it. Every figure
below is a literal from those oracle runs."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pytest

from regaudit.sdscripts.lora_header import MAX_HEADER, MetadataError, read_metadata
from regaudit.sdscripts.lora_metadata import Form, literal, load, parse

RECORDED = Path(__file__).parent / "lora_recorded"


def recorded(name: str) -> dict:
    return json.loads((RECORDED / f"{name}.json").read_text(encoding="utf-8"))


def write_safetensors(path: Path, metadata: dict | None, header: bytes | None = None) -> Path:
    """A safetensors file as safetensors.torch.save_file writes one with no tensors: the 8-byte
    little-endian header length, the JSON header (with __metadata__), no tensor bytes."""
    if header is None:
        header = json.dumps({} if metadata is None else {"__metadata__": metadata}).encode("utf-8")
    path.write_bytes(struct.pack("<Q", len(header)) + header)
    return path


def test_folder_scan_with_reg_sd15(tmp_path):
    m = load(str(write_safetensors(tmp_path / "a.safetensors", recorded("scan_sd15")["metadata"])))
    assert m.form is Form.FOLDER_SCAN and m.trainer == "train_network"
    assert (m.num_train_images, m.num_reg_images, m.num_batches_per_epoch, m.num_epochs, m.max_train_steps) == \
        (38, 13, 39, 3, 117)
    (d,) = m.datasets
    assert [(s.name, s.is_reg, s.num_repeats, s.img_count, s.class_tokens) for s in d.subsets] == [
        ("10_sks dog", False, 10, 3, "sks dog"), ("4_sks cat", False, 4, 2, "sks cat"),
        ("2_cat", True, 2, 3, "cat"), ("1_dog", True, 1, 7, "dog")]
    # 13 reg samples recorded; the loop used 38 (every reg image: 2+2 and 1+2 repeats, 5 of them one more)
    assert (d.reg_samples_used, d.reg_images_unused) == (38, 0)
    assert (d.batch_size, d.resolution, d.enable_bucket, d.min_bucket_reso, d.max_bucket_reso) == \
        (2, (512, 512), True, 256, 1024)
    assert [(b.resolution, b.count) for b in d.buckets] == [((384, 640), 7), ((448, 576), 22), ((512, 512), 18),
                                                            ((576, 448), 17), ((704, 320), 12)]
    assert m.tag_frequency["10_sks dog"] == {"sks dog": 3, "running": 2, "grass": 2, "sitting": 1}
    assert m.tag_frequency["1_dog"] == {"dog": 7}
    assert (m.total_batch_size, m.gradient_accumulation_steps, m.num_processes) == (2, 1, 1)
    assert m.value("ss_network_alpha") == 4.0 and m.value("ss_resolution") == (512, 512)


def test_folder_scan_without_reg_sdxl(tmp_path):
    m = load(str(write_safetensors(tmp_path / "a.safetensors", recorded("noreg_sdxl")["metadata"])))
    assert m.trainer == "sdxl_train_network" and m.form is Form.FOLDER_SCAN
    assert (m.num_train_images, m.num_reg_images, m.num_batches_per_epoch, m.num_epochs, m.max_train_steps) == \
        (38, 0, 38, 3, 100)
    assert m.datasets[0].reg_samples_used == 0 and m.datasets[0].resolution == (1024, 1024)


def test_dataset_config_flux(tmp_path):
    m = load(str(write_safetensors(tmp_path / "a.safetensors", recorded("config_flux")["metadata"])))
    assert m.form is Form.DATASET_CONFIG and m.trainer == "flux_train_network"
    assert (m.num_train_images, m.num_reg_images, m.num_batches_per_epoch, m.num_epochs, m.max_train_steps) == \
        (30, 30, 32, 2, 32)
    dogs, cats = m.datasets
    assert (dogs.batch_size, dogs.resolution, dogs.num_train_images, dogs.num_reg_images) == (2, (512, 512), 24, 30)
    # 30 reg images x 1 recorded, the loop stops at the 24 train samples: 6 never used
    assert (dogs.reg_samples_used, dogs.reg_images_unused) == (24, 6)
    assert [(s.name, s.is_reg, s.num_repeats, s.img_count, s.class_tokens) for s in dogs.subsets] == [
        ("dogs", False, 6, 4, "sks dog"), ("regdogs", True, 1, 30, "dog")]
    assert dict(dogs.subsets[0].options)["caption_prefix"] == "photo, " and dict(dogs.subsets[0].options)[
        "keep_tokens"] == 1
    assert (cats.batch_size, cats.resolution, cats.reg_samples_used) == (1, (512, 384), 0)
    assert dict(cats.subsets[0].options)["flip_aug"] is True
    assert m.tag_frequency["cats"] == {"sks cat": 2, "indoors": 2}
    assert m.num_processes is None  # (the dataset-config form records no total batch size)


def test_no_ss_metadata_and_minimum_metadata(tmp_path):
    assert load(str(write_safetensors(tmp_path / "n.safetensors", None))).form is Form.NONE
    other = load(str(write_safetensors(tmp_path / "o.safetensors", {"format": "pt"})))
    assert other.form is Form.NONE and other.keys == {}
    # --no_metadata: train_network.py keeps SS_METADATA_MINIMUM_KEYS only
    minimum = {"ss_v2": "False", "ss_base_model_version": "sd_v1", "ss_network_module": "networks.lora",
               "ss_network_dim": "32", "ss_network_alpha": "16.0"}
    m = load(str(write_safetensors(tmp_path / "m.safetensors", minimum)))
    assert m.form is Form.NO_DATASET and m.datasets == () and m.trainer == "train_network"


def test_literal_reads_str_of_values():
    assert [literal(t) for t in ("40", "True", "None", "(512, 512)", "2e-06", "networks.lora")] == \
        [40, True, None, (512, 512), 2e-06, "networks.lora"]


def _framed(header: bytes) -> bytes:
    return struct.pack("<Q", len(header)) + header


@pytest.mark.parametrize("header,why", [
    (None, "too short"),
    (struct.pack("<Q", MAX_HEADER + 1), "over the 100 MB"),
    (struct.pack("<Q", 1 << 63), "over the 100 MB"),
    (struct.pack("<Q", 500) + b"{}", "only 2 after its length"),
    (struct.pack("<Q", 5) + b"{nope", "not valid JSON"),
    (struct.pack("<Q", 4) + b"\xff\xfe{}", "not UTF-8"),
    (struct.pack("<Q", 2) + b"[]", "not an object"),
    (struct.pack("<Q", 20000) + b"[" * 10000 + b"]" * 10000, "nested more than"),
    (_framed(b'{"__metadata__": {"ss_seed": 42}}'), "not a string"),
    (_framed(b'{"__metadata__": [1]}'), "not an object of strings"),
])
def test_hostile_headers(tmp_path, header, why):
    p = tmp_path / "bad.safetensors"
    p.write_bytes(b"\x01\x02" if header is None else header)
    with pytest.raises(MetadataError) as e:
        read_metadata(str(p))
    assert why in str(e.value) and str(p) in str(e.value) and "\n" not in str(e.value)


def test_hostile_metadata_values(tmp_path):
    deep = {"ss_dataset_dirs": "[" * 5000 + "]" * 5000}
    with pytest.raises(MetadataError, match="ss_dataset_dirs is nested more than"):
        parse("x.safetensors", deep)
    with pytest.raises(MetadataError, match="ss_datasets is not valid JSON"):
        parse("x.safetensors", {"ss_datasets": "[{"})
    with pytest.raises(MetadataError, match="ss_datasets is a JSON dict, not a list"):
        parse("x.safetensors", {"ss_datasets": "{}"})
    with pytest.raises(MetadataError, match="ss_tag_frequency is a JSON list, not an object"):
        parse("x.safetensors", {"ss_dataset_dirs": "{}", "ss_tag_frequency": "[]"})


def test_only_the_header_is_read(tmp_path):
    """The tensors after the header are never read: a file of 8 + header + 64 MiB is read in a moment
    and a header that claims more than the file holds is refused before any allocation."""
    p = tmp_path / "big.safetensors"
    header = json.dumps({"__metadata__": {"ss_num_epochs": "3"}, "w": {"dtype": "F32", "shape": [1 << 24],
                                                                      "data_offsets": [0, 1 << 26]}}).encode()
    with open(p, "wb") as fh:
        fh.write(struct.pack("<Q", len(header)) + header)
        fh.truncate(8 + len(header) + (1 << 26))
    assert read_metadata(str(p)) == {"ss_num_epochs": "3"}
