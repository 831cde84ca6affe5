"""What differs between Linux, macOS and Windows, tested on every OS where it can be simulated:
the target OS's glob (case), files read byte for byte (Windows' text-mode descriptors), path
spellings, spawned workers (macOS, Windows) and a pool that cannot start, output files without
os.fchmod, and peak memory without the resource module."""

from __future__ import annotations

import json
import os
import sys

import pytest

from regaudit import parallel
from regaudit.cli import main
from regaudit.sdscripts.layout import Absolute, is_globbed, list_subset
from tests.conftest import make_image

# bytes a text-mode descriptor would change: CRLF read as LF, Ctrl-Z (0x1a) read as the end
TEXT_MODE_BAIT = b"a\r\nb\x1ac\r\n\xff\x00"


def test_a_caption_file_is_read_byte_for_byte(tmp_path):
    from regaudit.sdscripts.captions import _read_if_file

    (tmp_path / "a.caption").write_bytes(TEXT_MODE_BAIT)
    assert _read_if_file(str(tmp_path / "a.caption")) == (TEXT_MODE_BAIT, 0)  # (0: not over the size cap)


def test_a_config_file_is_read_byte_for_byte(tmp_path):
    from regaudit.safeio import read_regular

    (tmp_path / "p.yaml").write_bytes(TEXT_MODE_BAIT)
    assert read_regular(tmp_path / "p.yaml") == TEXT_MODE_BAIT


def test_an_image_header_is_read_byte_for_byte(tmp_path):
    # a PNG begins with 89 'PNG' CR LF 1A LF: a text-mode read would see neither its signature nor its size
    from regaudit.sdscripts.images import probe

    make_image(tmp_path / "a.png", size=(40, 24), fmt="PNG")
    got = probe(str(tmp_path / "a.png"))
    assert (got.format, got.width, got.height, got.size_via, got.error_kind) == ("PNG", 40, 24, "header", None)


def test_appended_text_keeps_its_newlines(tmp_path):
    from regaudit.outputs import append_text

    append_text(str(tmp_path / "summary.md"), "a\nb\n", "the job summary")
    append_text(str(tmp_path / "summary.md"), "c\n", "the job summary")
    assert (tmp_path / "summary.md").read_bytes() == b"a\nb\nc\n"


def test_an_output_file_is_written_without_os_fchmod(tmp_path, monkeypatch):
    # Windows before Python 3.13 has no os.fchmod
    from regaudit.outputs import write_text

    monkeypatch.delattr(os, "fchmod", raising=False)
    assert write_text(str(tmp_path / "out.txt"), "ü\n") == 3
    assert (tmp_path / "out.txt").read_bytes() == "ü\n".encode()


# --- the target OS's glob ----------------------------------------------------------------------

def _names(listing):
    return sorted(os.path.basename(p) for p in listing.images)


@pytest.mark.parametrize("target, images", [("windows", ["a.Png", "b.PNG", "c.png", "d.WebP"]),
                                            ("Windows", ["a.Png", "b.PNG", "c.png", "d.WebP"]),
                                            ("linux", ["b.PNG", "c.png"]), ("macOS", ["b.PNG", "c.png"])])
def test_the_target_os_decides_which_names_are_images(tmp_path, capsys, monkeypatch, target, images):
    for name in ("a.Png", "b.PNG", "c.png", "d.WebP"):
        make_image(tmp_path / "train" / "1_x" / name, size=(64, 64), fmt="WEBP" if "eb" in name else "PNG")
    insensitive = target.lower() == "windows"
    assert _names(list_subset(str(tmp_path / "train" / "1_x"), insensitive)) == images
    assert [is_globbed(n, insensitive) for n in images] == [True] * len(images)
    monkeypatch.chdir(tmp_path)
    assert main(["scan", "--json", "-j", "1", "--target-os", target, "train"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["summary"]["images"] == len(images)


def test_an_unknown_target_os_is_one_line(tmp_path, capsys):
    (tmp_path / "1_x").mkdir()
    assert main(["scan", "--target-os", "beos", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "--target-os 'beos' is not one of linux, windows, macos" in err and "Traceback" not in err


def test_the_default_target_is_this_machine(tmp_path):
    make_image(tmp_path / "1_x" / "a.Png", size=(64, 64), fmt="PNG")
    assert _names(list_subset(str(tmp_path / "1_x"))) == (["a.Png"] if os.name == "nt" else [])


# --- path spellings ----------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["a\\b.png", "C:\\data\\a.png", "C:a.png", "\\\\server\\share\\a.png", "C:/x/./y.png",
                                  "a/b\\..\\c.png", "//server/share/a.png", "a\\", "a/b/"])
def test_windows_spellings_give_what_os_path_abspath_gives(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert Absolute()(path) == os.path.abspath(path)
    assert Absolute().all_of([path, path]) == [os.path.abspath(path)] * 2


@pytest.mark.skipif(os.name != "nt", reason="backslash is a separator on Windows only")
def test_a_folder_spelled_with_backslashes_lists_the_same_images(tmp_path):
    make_image(tmp_path / "train" / "1_x" / "a.png")
    forward = list_subset(str(tmp_path / "train" / "1_x").replace("\\", "/"))
    backward = list_subset(str(tmp_path / "train" / "1_x").replace("/", "\\"))
    assert [os.path.normcase(p) for p in forward.images] == [os.path.normcase(p) for p in backward.images]


# --- workers: spawned as on macOS and Windows; none at all --------------------------------------

def _pid_and_square(part):
    return os.getpid(), [x * x for x in part]


def test_spawned_workers_give_the_results_in_order(monkeypatch):
    monkeypatch.setattr(parallel, "_FORK", False)  # macOS' and Windows' way: spawn, function and parts pickled
    parts = [list(range(i, i + 3)) for i in range(0, 30, 3)]
    out = parallel.map_parts(_pid_and_square, list(parts), 2)
    assert [r for _, r in out] == [[x * x for x in p] for p in parts]
    assert os.getpid() not in {pid for pid, _ in out}


def test_a_spawned_scan_equals_a_serial_one(tmp_path, capsys, monkeypatch):
    from regaudit.views import scan, scan_parts

    for i in range(12):
        make_image(tmp_path / "train" / "2_x" / f"{i:02}.png", size=(64 + 8 * i, 64))
        (tmp_path / "train" / "2_x" / f"{i:02}.caption").write_text(f"caption {i}\r\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    docs = []
    for jobs in ("1", "2"):
        assert main(["scan", "--json", "-j", jobs, "--no-progress", "train"]) == 0
        docs.append(json.loads(capsys.readouterr().out))
    monkeypatch.setattr(parallel, "_FORK", False)
    monkeypatch.setattr(scan, "_PARALLEL_MIN", 4)  # (the parent decides: workers keep the real numbers)
    monkeypatch.setattr(scan_parts, "CHUNK", 3)
    assert main(["scan", "--json", "-j", "2", "--no-progress", "train"]) == 0
    spawned = json.loads(capsys.readouterr().out)
    assert spawned == docs[0] == docs[1]
    assert spawned["summary"]["images"] == 12


def test_no_worker_can_start_the_scan_is_done_here(tmp_path, capsys, monkeypatch):
    from concurrent.futures import ProcessPoolExecutor

    from regaudit.views import scan, scan_parts

    def cannot_start(*args, **kwargs):
        raise OSError(11, "Resource temporarily unavailable")

    for i in range(8):
        make_image(tmp_path / "train" / "1_x" / f"{i}.png", size=(64, 64))
    monkeypatch.chdir(tmp_path)
    assert main(["scan", "--json", "-j", "1", "train"]) == 0
    serial = json.loads(capsys.readouterr().out)
    monkeypatch.setattr(ProcessPoolExecutor, "__init__", cannot_start)
    monkeypatch.setattr(scan, "_PARALLEL_MIN", 2)
    monkeypatch.setattr(scan_parts, "CHUNK", 2)
    assert main(["scan", "--json", "-j", "4", "train"]) == 0
    assert json.loads(capsys.readouterr().out) == serial


# --- peak memory ---------------------------------------------------------------------------------

def test_peak_memory_without_the_resource_module(monkeypatch):
    from regaudit.views.smoke import peak_rss

    monkeypatch.setitem(sys.modules, "resource", None)  # as on Windows: import resource fails
    got = peak_rss()
    assert isinstance(got, int) and (got > 0 if os.name == "nt" else got == 0)


@pytest.mark.skipif(os.name == "nt", reason="the resource module is POSIX's")
@pytest.mark.parametrize("platform, scale", [("linux", 1024), ("darwin", 1)])
def test_peak_memory_is_in_bytes(monkeypatch, platform, scale):
    import resource

    from regaudit.views.smoke import peak_rss

    monkeypatch.setattr(sys, "platform", platform)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    got = peak_rss()
    assert before * scale <= got <= resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
