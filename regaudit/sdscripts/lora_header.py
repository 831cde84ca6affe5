"""The metadata of a .safetensors file, read from its header alone (never its tensors), bounded for
a hostile file.

A safetensors file starts with an 8-byte little-endian header length N, then N bytes of UTF-8
JSON: one object whose ``__metadata__`` entry is a mapping of strings to strings (what
``safetensors.torch.save_file(..., metadata=...)`` writes, and what sd-scripts' trainers put their
``ss_*`` keys in), the other entries describing the tensors. The tensors follow and are never read.

Whatever regaudit cannot read is a ``MetadataError`` (exit 2) naming the file and what is wrong.
"""

from __future__ import annotations

import json
import os
import struct

from ..errors import ConfigError, InputPathError, check_exhausted
from ..safeio import describe, open_regular, parse_guarded

MAX_HEADER = 100 << 20  # bytes; the safetensors library itself refuses headers over 100 MB
MAX_DEPTH = 32  # levels of nesting in the header or a metadata value; sd-scripts' deepest is 5


class MetadataError(ConfigError):
    """A .safetensors file whose header regaudit cannot read."""


def read_metadata(path: str) -> dict[str, str] | None:
    """The ``__metadata__`` mapping of a safetensors file's header, or None where the header has none.

    Refuses, with a ``MetadataError`` naming ``path``: a file shorter than 8 bytes, a header length
    over MAX_HEADER or past the end of the file, a header that is not UTF-8 JSON, that is nested more
    than MAX_DEPTH levels, that is not an object, or whose ``__metadata__`` is not a mapping of
    strings to strings."""
    header = _header_bytes(path)
    try:
        text = header.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MetadataError(f"{path}: the safetensors header is not UTF-8 (byte {exc.start}); not a safetensors "
                            f"file, or a damaged one") from None
    doc = parse_json(text, f"{path}: the safetensors header")
    if not isinstance(doc, dict):
        raise MetadataError(f"{path}: the safetensors header is a JSON {type(doc).__name__}, not an object; not a "
                            f"safetensors file")
    meta = doc.get("__metadata__")
    if meta is None:
        return None
    if not isinstance(meta, dict):
        raise MetadataError(f"{path}: __metadata__ is a JSON {type(meta).__name__}, not an object of strings")
    for key, value in meta.items():
        if not isinstance(value, str):
            raise MetadataError(f"{path}: __metadata__ value of {key!r} is a JSON {_kind(value)}, not a string "
                                f"(safetensors metadata holds strings only)")
    return meta


def parse_json(text: str, what: str) -> object:
    """JSON text, nested at most MAX_DEPTH levels; a MetadataError naming ``what`` otherwise."""
    def parse() -> object:
        try:
            return json.loads(text)
        except ValueError as exc:
            raise MetadataError(f"{what} is not valid JSON ({exc})") from None

    try:
        return parse_guarded(parse, what, MAX_DEPTH)
    except MetadataError:
        raise
    except ConfigError:
        raise MetadataError(f"{what} is nested more than {MAX_DEPTH} levels deep; sd-scripts writes at most 5")


def _kind(value: object) -> str:
    return {dict: "object", list: "array", bool: "boolean", type(None): "null", int: "number",
            float: "number"}.get(type(value), type(value).__name__)


def _header_bytes(path: str) -> bytes:
    try:
        with open_regular(path) as fh:
            size = os.fstat(fh.fileno()).st_size
            head = fh.read(8)
            if len(head) < 8:
                raise MetadataError(f"{path}: {len(head)} bytes long, too short for a safetensors header")
            (n,) = struct.unpack("<Q", head)
            if n > MAX_HEADER:
                raise MetadataError(f"{path}: the safetensors header claims {n} bytes, over the {MAX_HEADER >> 20} MB "
                                    f"any real one needs; not a safetensors file, or a damaged one")
            if 8 + n > size:
                raise MetadataError(f"{path}: the safetensors header claims {n} bytes but the file has only "
                                    f"{max(size - 8, 0)} after its length; truncated or not a safetensors file")
            data = fh.read(n)
    except OSError as exc:
        check_exhausted(exc, path)
        if isinstance(exc, FileNotFoundError):
            raise InputPathError(f"{path}: no such file") from None
        raise InputPathError(f"{path}: cannot be read: {describe(exc)}") from None
    if len(data) < n:  # (the file shrank while being read)
        raise MetadataError(f"{path}: the safetensors header is cut short ({len(data)} of {n} bytes)")
    return data
