"""Duplicate and train/reg leakage detection, in two phases: encode every image to hashes
(cached, in parallel), then search the hashes (the search's answer cached too, keyed by the hashes
themselves) and group them. Pure apart from reading images and the cache; prints nothing."""

from __future__ import annotations

import errno
import os
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from enum import Enum
from functools import partial
from pathlib import Path

from ..errors import OptionError
from .hashcache import HashCache
from .hashing import HashEntry, HashKind, blake2b, encode, pixel_digest, preload
from ..limits import problem
from ..model import Finding, ScanResult
from ..sdscripts.registration import registrations
from ..rules.dupes import group_findings, hashing_findings

# numpy (the pair search) and the worker pool are imported where they are needed: a warm run, whose
# hashes and candidate pairs all come from the cache, never loads them

DEFAULT_MAX_DISTANCE = 8
VERIFY_BITS = 68  # of 256: true variants measured <= 60, unrelated candidates >= 76 (benchmarks/dupes.py)
_PARALLEL_MIN = 64
_CHUNK = 32

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class DupesOptions:
    hash: HashKind = HashKind.PHASH
    max_distance: int = DEFAULT_MAX_DISTANCE
    flip_aug: bool = False
    cache: Path | None = None  # None: no cache
    jobs: int | None = None
    # the cache is the one the user named (--cache): a file there that is not regaudit's stops the
    # run; at the default place nobody chose it, so the run goes on without the cache and says so
    cache_named: bool = True

    def __post_init__(self) -> None:
        why = problem("max-distance", self.max_distance)
        if why:
            raise OptionError(f"max-distance {why} (how many of a hash's 64 bits may differ)")

    @property
    def params(self) -> str:
        return f"{self.hash.value}:64:v1"


class Relation(str, Enum):
    """How a member of a duplicate group is the same picture as another member (``Member.of``)."""
    REFERENCE = "reference"  # the group's first member (train before reg, not a name like a copy's, then by path)
    BYTES = "byte-identical"  # the same file bytes
    PIXELS = "pixel-identical"  # other bytes, the same decoded pixels (another lossless encoding)
    NEAR = "near"  # perceptual hashes within the distance
    MIRROR = "mirror"  # the mirror image's hash within the distance (with flip_aug only)


@dataclass(frozen=True, slots=True)  # (one per image a group holds: a million of them)
class Member:
    path: str
    role: str
    subset: str
    effective_repeats: int  # after balancing; 0 for a reg image that is never used
    relation: Relation = Relation.REFERENCE
    distance: int = 0  # Hamming distance of the 64-bit hashes (near, mirror); 0 for the others
    of: str | None = None  # the member it is compared with (None for the reference)
    upright: bool = False  # near only once EXIF orientation is applied to one of the two


@dataclass(frozen=True)
class DupGroup:
    kind: str  # the loosest relation in the group: "exact" (bytes or pixels) | "near" | "mirror"
    distance: int  # the largest of the members' distances
    members: tuple[Member, ...]
    label: str  # "within-subset" | "cross-train" | "cross-reg" | "leakage"
    via_exif: bool = False

    @property
    def roles(self) -> list[str]:
        return [m.role for m in self.members]

    @property
    def train_repeats(self) -> int:
        return sum(m.effective_repeats for m in self.members if m.role == "train")


@dataclass(frozen=True)
class DupesResult:
    groups: tuple[DupGroup, ...]
    findings: tuple[Finding, ...]
    options: DupesOptions
    images: int
    hashed: int  # decoded this run (the rest came from the cache)
    scan: ScanResult = field(repr=False, compare=False, default=None)  # type: ignore[assignment]
    notes: tuple[str, ...] = ()  # what went wrong with the hash cache (locked, read-only, rebuilt), or a
    # near-duplicate search that stopped short: for stderr


def _encode_all(paths: list[str], opts: DupesOptions, progress: Progress | None) -> list[HashEntry]:
    from ..parallel import map_chunks

    if not paths:
        return []
    preload(opts.hash)
    jobs = opts.jobs if opts.jobs is not None else (os.cpu_count() or 1)
    return map_chunks(partial(encode, kind=opts.hash, mirror=True), paths, jobs, _CHUNK, _PARALLEL_MIN, progress)


class _UnionFind:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _members(scan: ScanResult) -> list[Member]:
    """Every image once (the first subset that lists it), with its effective repeats; a path
    that is no readable, non-empty file is left out (the scan reports it)."""
    members: list[Member] = []
    repeats: dict[str, int] = {}
    for ds in scan.datasets:
        entries, *_ = registrations(ds)
        for img, _, _, k in entries.values():
            repeats[img.abs_path] = k  # the record's abs_path: os.path.abspath(path); k: its effective repeats
    seen: set[str] = set()
    skip = ("not_a_file", "zero_bytes", "unreadable")
    for s in scan.subsets:
        role, subset = s.role.value, s.abs_path
        for img in s.images:
            path = img.abs_path
            if path in seen or img.probe.error_kind in skip:
                continue
            seen.add(path)
            members.append(Member(path, role, subset, repeats.get(path, 0)))
    return members


def find_dupes(scan: ScanResult, opts: DupesOptions, progress: Progress | None = None,
               failures: bool = True) -> DupesResult:
    """The duplicate groups of the scanned images and the findings on them; ``failures`` False: no
    finding on the files that could not be hashed (fix wants the groups: a million keys naming no
    file would be a million findings made for nothing)."""
    members = _members(scan)
    cache = HashCache(opts.cache, opts.cache_named) if opts.cache is not None else None
    searched: list[str] = []  # a near-duplicate search that stopped short
    try:
        keys, inodes, missing = _stat_keys([m.path for m in members])
        entries, hashed = _entries(keys, opts, cache, progress, inodes, missing)
        findings = [] if not failures else hashing_findings((m.path, e.error) for m, e in zip(members, entries)
                                                           if e.error)
        stats = {p: (s, t) for p, s, t in keys}

        def cached(kind: str, compute: Callable[[str], str | None]) -> Callable[[str], str | None]:
            def get(path: str) -> str | None:
                size, mtime = stats[path]
                known = cache.get_extra(kind, path, size, mtime) if cache else None
                if known is None:
                    known = compute(path)
                    if cache and known is not None:
                        cache.put_extra(kind, path, size, mtime, known)
                return known
            return get

        groups = _group(members, entries, opts, cached("pixels", pixel_digest), cache, searched)
    finally:
        if cache:
            cache.close()
    findings += group_findings(groups)
    return DupesResult(tuple(groups), tuple(findings), opts, len(members), hashed, scan,
                       (*(cache.notes if cache else ()), *searched))


def _stat_keys(paths: list[str]) -> tuple[list[tuple[str, int, int]], dict[str, tuple[int, int]], dict[str, str]]:
    """(path, size, mtime) of each path, the cache's key ((-1, -1): it cannot be read), the file
    (device, inode) of each path that has one, and why each path naming no file has none (a million
    metadata keys naming no file: not sent to the workers one by one)."""
    keys, inodes, missing = [], {}, {}
    for p in paths:
        try:
            st = os.stat(p)
            keys.append((p, st.st_size, st.st_mtime_ns))
            if st.st_ino:  # (0: a filesystem without inode numbers)
                inodes[p] = (st.st_dev, st.st_ino)
        except OSError as exc:
            keys.append((p, -1, -1))
            if exc.errno in (errno.ENOENT, errno.ENOTDIR):  # no such file: nothing for a worker to open
                missing[p] = exc.strerror or str(exc)
        except ValueError as exc:  # a NUL or a lone surrogate in a metadata key: no path the system takes
            keys.append((p, -1, -1))
            missing[p] = str(exc)
    return keys, inodes, missing


def _entries(keys: list[tuple[str, int, int]], opts: DupesOptions, cache: HashCache | None,
             progress: Progress | None, inodes: dict[str, tuple[int, int]] | None = None,
             missing: dict[str, str] | None = None) -> tuple[list[HashEntry], int]:
    """Each path's hashes, from the cache or encoded now, and how many were not in the cache. A file
    under several names (hard links: one folder linked into a folder per dataset) is encoded once."""
    cached = cache.get_many(keys, opts.params) if cache else {}
    todo = [p for p, _, _ in keys if p not in cached]
    if not todo:  # warm: everything from the cache
        return [cached[p] for p, _, _ in keys], 0
    inodes, missing = inodes or {}, missing or {}
    said: dict[str, HashEntry] = {}  # (one entry per reason, shared by the paths it is about)
    gone = {p: said.get(why) or said.setdefault(why, HashEntry("", None, None, None, f"cannot be read: {why}"))
            for p in todo if (why := missing.get(p)) is not None}  # (what encode would say, without a worker)
    first: dict[tuple[int, int], str] = {}  # a file -> the first of its names encoded
    same = {p: first.setdefault(inodes[p], p) for p in todo if p in inodes}
    once = [p for p in todo if same.get(p, p) == p and p not in gone]
    fresh = dict(zip(once, _encode_all(once, opts, progress)))
    fresh.update(gone)
    fresh.update((p, fresh[q]) for p, q in same.items() if p != q)
    if cache:
        cache.put_many([(p, s, m, fresh[p]) for p, s, m in keys if p in fresh and s >= 0], opts.params)
    return [cached.get(p) or fresh[p] for p, _, _ in keys], len(todo)


_PAIRS_KIND = "pairs:v1"  # extras kind of a remembered pair search; its path is _PAIRS_PATH + a digest
_PAIRS_PATH = b"\x00pairs:"  # no file path starts with NUL: never a file's row
_PAIRS_KEEP_MAX = 100_000  # a search with more pairs than this (a huge --max-distance) is not remembered


def _values_digest(values: list[int], max_distance: int) -> str:
    h = blake2b(digest_size=16)
    h.update(f"{max_distance}:{len(values)}:".encode())
    h.update(b"".join(v.to_bytes(8, "big") for v in values))
    return h.hexdigest()


def _pairs_key(members: list[Member], opts: DupesOptions) -> bytes:
    """Where the pair search of this dataset (its subsets and options) is remembered: one row per
    dataset, replaced when its hashes change, so the rows do not pile up as images come and go."""
    h = blake2b(digest_size=16)
    h.update(f"{opts.params}:{opts.max_distance}:{opts.flip_aug}".encode())
    for subset in dict.fromkeys(m.subset for m in members):
        h.update(b"\x00" + os.fsencode(subset))
    return _PAIRS_PATH + h.digest()


def _encode_pairs(digest: str, pairs: list[tuple[int, int, int]]) -> str:
    return digest + " " + ",".join(f"{a},{b},{d}" for a, b, d in pairs)


def _decode_pairs(text: str | None, digest: str, values: list[int],
                  max_distance: int) -> list[tuple[int, int, int]] | None:
    """The remembered pairs when they belong to exactly these ``values``; None otherwise, or when
    the row does not hold what ``pairs_within`` returns (sorted i < j, each distance true)."""
    if not text or not isinstance(text, str):
        return None
    head, _, body = text.partition(" ")
    if head != digest:
        return None
    if body.count(",") >= 3 * _PAIRS_KEEP_MAX:
        return None
    try:
        flat = [int(v) for v in body.split(",")] if body else []
    except ValueError:
        return None
    if len(flat) % 3:
        return None
    n = len(values)
    pairs = list(zip(flat[0::3], flat[1::3], flat[2::3]))
    last = (-1, -1)
    for a, b, d in pairs:
        if not (0 <= a < b < n) or (a, b) <= last or d != (values[a] ^ values[b]).bit_count() or d > max_distance:
            return None
        last = (a, b)
    return pairs


def _pairs(values: list[int], max_distance: int, cache: HashCache | None = None,
           key: bytes | None = None, stopped: list[str] | None = None) -> list[tuple[int, int, int]]:
    """``search.pairs_within`` of the 64-bit ``values``, as (i, j, distance) sorted by (i, j). A
    warm run finds the answer in the cache (keyed by a digest of the values themselves) and neither
    imports numpy nor searches."""
    remember = cache is not None and key is not None
    if remember:
        digest = _values_digest(values, max_distance)
        known = _decode_pairs(cache.get_extra(_PAIRS_KIND, key, len(values), max_distance),  # type: ignore
                              digest, values, max_distance)
        if known is not None:
            return known
    if len(values) < 2:
        pairs: list[tuple[int, int, int]] = []
    else:
        import numpy as np

        from .search import PAIRS_MAX, bounded_pairs_within

        ii, jj, dd, complete = bounded_pairs_within(np.array(values, dtype=np.uint64), max_distance)
        pairs = list(zip(ii.tolist(), jj.tolist(), dd.tolist()))
        if not complete:
            (stopped if stopped is not None else []).append(f"the near-duplicate search stopped after {len(pairs):,} pairs of {len(values):,} hashes "
                           f"(it keeps at most {PAIRS_MAX:,}): the images are nearly all alike, so the near-duplicate "
                           f"groups may be incomplete (exact copies are all found)")
            return pairs  # (not remembered: a later run searches again)
    if remember and len(pairs) <= _PAIRS_KEEP_MAX:
        cache.put_extra(_PAIRS_KIND, key, len(values), max_distance, _encode_pairs(digest, pairs))  # type: ignore
    return pairs



# how strongly two files are the same picture, strongest first: a member is shown with its link in
# the group's strongest spanning tree, towards the group's first member
_RANK = {Relation.BYTES: 0, Relation.PIXELS: 1, Relation.NEAR: 2, Relation.MIRROR: 3}
_BY_RANK = {v: k for k, v in _RANK.items()}

Link = tuple[int, int, int, int, bool]  # (rank, distance, member i, member j, near only once EXIF-rotated)


def _links(members: list[Member], entries: list[HashEntry], opts: DupesOptions,
           pixels: Callable[[str], str | None], cache: HashCache | None, notes: list[str] | None = None) -> list[Link]:
    """Every link found between two members: the same bytes (each copy linked to the first), the
    same pixels, a near hash, or (with flip_aug) a mirror image's hash. A pair may be linked more
    than once (by several variants)."""
    links: list[Link] = []
    memo: dict[int, str | None] = {}

    def pixels_of(k: int) -> str | None:  # each file decoded once, however many pairs it is in
        if k not in memo:
            memo[k] = pixels(members[k].path)
        return memo[k]

    by_digest: dict[str, list[int]] = defaultdict(list)
    for k, e in enumerate(entries):
        if e.digest and e.hash is not None:
            by_digest[e.digest].append(k)
    reps = []
    for ks in by_digest.values():
        links += [(0, 0, ks[0], other, False) for other in ks[1:]]
        reps.append(ks[0])
    # one entry per (representative, variant); variant 0 stored pixels, 1 mirrored, 2 upright
    ent_rep, ent_var, values = [], [], []
    for k in reps:
        e = entries[k]
        ent_rep.append(k), ent_var.append(0), values.append(e.hash)
        if opts.flip_aug and e.mirror is not None:
            ent_rep.append(k), ent_var.append(1), values.append(e.mirror)
        if e.upright is not None:
            ent_rep.append(k), ent_var.append(2), values.append(e.upright)
    if not values:
        return links
    pairs = _pairs(values, opts.max_distance, cache, _pairs_key(members, opts) if cache else None, notes)

    def confirmed(x: int, va: int, y: int, vb: int) -> bool:
        # the 64-bit hash finds candidates; a 256-bit phash of the same variants confirms them
        fx, fy = entries[x].fine[va], entries[y].fine[vb]
        if fx is None or fy is None:
            return True  # nothing better to go on
        return (fx ^ fy).bit_count() <= VERIFY_BITS

    for a, b, d in pairs:
        x, y = ent_rep[a], ent_rep[b]
        if x == y:
            continue
        va, vb = ent_var[a], ent_var[b]
        if (va == 1 and vb == 1) or not confirmed(x, va, y, vb):
            continue
        if va != 1 and vb != 1:  # stored or upright pixels on both sides
            upright = 2 in (va, vb)
            same = (not upright and d == 0 and (px := pixels_of(x)) is not None
                    and px == pixels_of(y))  # the same pixels in another encoding
            links.append((1, 0, x, y, False) if same else (2, d, x, y, upright))
        elif 2 not in (va, vb):  # stored against mirrored
            links.append((3, d, x, y, False))
    return links


def _group(members: list[Member], entries: list[HashEntry], opts: DupesOptions,
           pixels: Callable[[str], str | None] = pixel_digest, cache: HashCache | None = None,
           notes: list[str] | None = None) -> list[DupGroup]:
    """One group per set of linked files (copies, near copies, and with flip_aug mirror images),
    each member with its own relation to another member: the strongest spanning tree of the links
    (Kruskal, strongest first), walked from the group's first member (train before reg, then by
    path)."""
    links = _links(members, entries, opts, pixels, cache, notes)
    links.sort()
    uf = _UnionFind(len(members))
    tree: dict[int, list[tuple[int, Link]]] = defaultdict(list)
    for link in links:
        _, _, x, y, _ = link
        if uf.find(x) != uf.find(y):
            uf.union(x, y)
            tree[x].append((y, link))
            tree[y].append((x, link))
    comps: dict[int, list[int]] = defaultdict(list)
    for k in tree:
        comps[uf.find(k)].append(k)
    groups = [_tree_group(members, ks, tree) for ks in comps.values()]
    groups.sort(key=lambda g: ({"leakage": 0, "cross-train": 1, "within-subset": 2, "cross-reg": 3}[g.label],
                               g.members[0].path))
    return groups


# the names a browser, Windows, macOS or GNOME gives a second copy: 'a (1).jpg', 'a - Copy.jpg',
# 'a - Copy (2).jpg', 'a copy 2.jpg', 'a (copy).jpg', 'a (another copy).jpg', 'a (3rd copy).jpg', 'Copy of a.jpg'
_COPY_NAME = re.compile(r"(?i)^copy of |( \(\d+\)| - copy( \(\d+\))?| copy( \d+)?| \((another |\d+\w\w )?copy\))$")


def looks_like_a_copy(path: str) -> bool:
    """A file name that says it is a second copy: not the group's reference (the one a fix keeps)."""
    return bool(_COPY_NAME.search(os.path.splitext(os.path.basename(path))[0]))


def copy_rank(path: str) -> tuple[bool, str]:
    """A name like a copy's after the others, then by the path without its extension, so that a stem
    comes before the longer ones it starts ('a.jpg' before 'a-edited.jpg', which the '.' put after):
    the original a user means to keep comes first."""
    return looks_like_a_copy(path), os.path.splitext(path)[0]


def _tree_group(members: list[Member], ks: list[int], tree: dict[int, list[tuple[int, Link]]]) -> DupGroup:
    """The group of members ``ks``: each member but the first names its neighbour towards the first."""
    ks = sorted(ks, key=lambda k: (members[k].role != "train", members[k].path))
    first = min(ks, key=lambda k: (members[k].role != "train", copy_rank(members[k].path), members[k].path))
    ks = [first, *(k for k in ks if k != first)]  # the reference first, the others in their order
    placed: dict[int, Member] = {ks[0]: members[ks[0]]}
    todo = [ks[0]]
    while todo:
        parent = todo.pop()
        for k, (rank, d, _, _, upright) in tree[parent]:
            if k not in placed:
                placed[k] = replace(members[k], relation=_BY_RANK[rank], distance=d, of=members[parent].path,
                                    upright=upright)
                todo.append(k)
    return _make_group([placed[k] for k in ks])


def _make_group(ms: list[Member]) -> DupGroup:
    relations = {m.relation for m in ms[1:]}
    kind = ("mirror" if Relation.MIRROR in relations else "near" if Relation.NEAR in relations else "exact")
    roles = {m.role for m in ms}
    if roles == {"train", "reg"}:
        label = "leakage"
    elif len({m.subset for m in ms}) == 1:
        label = "within-subset"
    else:
        label = "cross-train" if roles == {"train"} else "cross-reg"
    return DupGroup(kind, max(m.distance for m in ms), tuple(ms), label, any(m.upright for m in ms))
