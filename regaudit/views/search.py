"""All pairs of 64-bit hashes within a Hamming distance. Pure numpy, testable with literal hashes.

Small sets are compared block by block (vectorised XOR + popcount). Large ones use multi-index
hashing: the 64 bits are cut into m chunks; two hashes within distance d agree within
r = ceil((d+1)/m) - 1 bits on at least one chunk (pigeonhole), so only hashes that share a chunk
value up to r flipped bits are compared. With m = 3 and d <= 8 a million random hashes need a few
hundred candidate comparisons each: near-linear.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

BRUTE_FORCE_MAX = 40_000
_BLOCK_ELEMENTS = 1 << 20  # hashes compared at once (and so pairs found at once): 8 MB a block
# A bounded search stops once it has found PAIRS_MAX pairs or compared CANDIDATES_MAX candidates: 150,000
# nearly alike images (tiny icons, one flat colour) are 10^10 pairs, which no memory holds and no
# group needs (a group is connected by far fewer links). Real datasets find far fewer near pairs.
PAIRS_MAX = 1_000_000
CANDIDATES_MAX = 300_000_000


class _Budget:
    """What a bounded search may still find and compare; ``complete`` turns False once it is spent."""

    def __init__(self, pairs: int | None, candidates: int | None):
        self.pairs, self.candidates, self.complete = pairs, candidates, True

    def spend(self, found: int, compared: int) -> bool:
        """Count a block's work; False once the search must stop (None: that bound is off)."""
        if self.pairs is not None:
            self.pairs -= found
            self.complete = self.complete and self.pairs > 0
        if self.candidates is not None:
            self.candidates -= compared
            self.complete = self.complete and self.candidates > 0
        return self.complete


def _popcount(x: np.ndarray) -> np.ndarray:
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(x)
    # numpy < 2.0: byte-wise table
    table = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)
    return table[x.view(np.uint8).reshape(*x.shape, 8)].sum(axis=-1)


def pairs_within(hashes: np.ndarray, max_distance: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(i, j, distance) for every i < j with popcount(h[i] ^ h[j]) <= max_distance, sorted."""
    i, j, d, _ = bounded_pairs_within(hashes, max_distance, None, None)
    return i, j, d


def bounded_pairs_within(hashes: np.ndarray, max_distance: int, pairs_max: int | None = PAIRS_MAX,
                         candidates_max: int | None = CANDIDATES_MAX
                         ) -> tuple[np.ndarray, np.ndarray, np.ndarray, bool]:
    """pairs_within, stopping once about ``pairs_max`` pairs are found or ``candidates_max``
    candidates compared (None: no bound); the last value says whether every pair was found."""
    h = np.ascontiguousarray(hashes, dtype=np.uint64)
    if len(h) < 2 or max_distance < 0:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty, True
    budget = _Budget(pairs_max, candidates_max)
    if len(h) <= BRUTE_FORCE_MAX:
        i, j = _brute_force(h, max_distance, budget)
    else:
        i, j = _multi_index(h, max_distance, budget)
    d = _popcount(h[i] ^ h[j]).astype(np.int64)
    order = np.lexsort((j, i))
    return i[order], j[order], d[order], budget.complete


def _brute_force(h: np.ndarray, d: int, budget: _Budget) -> tuple[np.ndarray, np.ndarray]:
    n = len(h)
    rows = max(1, _BLOCK_ELEMENTS // n)
    out_i, out_j = [np.empty(0, dtype=np.int64)], [np.empty(0, dtype=np.int64)]
    for start in range(0, n, rows):
        block = h[start:start + rows]
        dist = _popcount(block[:, None] ^ h[None, :])
        bi, bj = np.nonzero(dist <= d)
        bi = bi + start
        keep = bj > bi
        out_i.append(bi[keep])
        out_j.append(bj[keep])
        if not budget.spend(int(keep.sum()), block.size):
            break
    return np.concatenate(out_i).astype(np.int64), np.concatenate(out_j).astype(np.int64)


def _chunks(m: int) -> list[tuple[int, int]]:
    """(shift, bits) of m chunks covering 64 bits."""
    sizes = [64 // m + (1 if k < 64 % m else 0) for k in range(m)]
    out, shift = [], 0
    for b in sizes:
        out.append((shift, b))
        shift += b
    return out


def _flip_masks(bits: int, radius: int) -> np.ndarray:
    masks = [0]
    for r in range(1, radius + 1):
        for combo in combinations(range(bits), r):
            v = 0
            for b in combo:
                v |= 1 << b
            masks.append(v)
    return np.array(masks, dtype=np.int64)


def _multi_index(h: np.ndarray, d: int, budget: _Budget) -> tuple[np.ndarray, np.ndarray]:
    n = len(h)
    m = 3 if d <= 8 else 4
    r = -(-(d + 1) // m) - 1
    found_i, found_j = [], []
    idx = np.arange(n, dtype=np.int64)
    for shift, bits in _chunks(m):
        keys = ((h >> np.uint64(shift)) & np.uint64((1 << bits) - 1)).astype(np.int64)
        order = np.argsort(keys, kind="stable")
        counts = np.bincount(keys, minlength=1 << bits)
        offsets = np.zeros((1 << bits) + 1, dtype=np.int64)
        np.cumsum(counts, out=offsets[1:])
        for mask in _flip_masks(bits, r):
            q = keys ^ mask
            starts = offsets[q]
            lens = offsets[q + 1] - starts
            if not lens.any():
                continue
            # the queries in slices of about _BLOCK_ELEMENTS candidates (one query at least): memory
            # stays bounded when a chunk value is shared by most hashes
            ends = np.cumsum(lens)
            a = 0
            while a < n:
                b = max(a + 1, int(np.searchsorted(ends, (ends[a - 1] if a else 0) + _BLOCK_ELEMENTS, "right")))
                b = min(b, n)
                sl = lens[a:b]
                total = int(sl.sum())
                if total:
                    qi = np.repeat(idx[a:b], sl)
                    first = np.repeat(np.cumsum(sl) - sl, sl)
                    pos = np.repeat(starts[a:b], sl) + (np.arange(total, dtype=np.int64) - first)
                    cj = order[pos]
                    keep = cj > qi
                    qi, cj = qi[keep], cj[keep]
                    close = _popcount(h[qi] ^ h[cj]) <= d
                    found_i.append(qi[close])
                    found_j.append(cj[close])
                    if not budget.spend(int(close.sum()), total):
                        break
                a = b
            if not budget.complete:
                break
        if not budget.complete:
            break
    if not found_i:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty
    i = np.concatenate(found_i)
    j = np.concatenate(found_j)
    packed = np.unique(i * n + j)
    return packed // n, packed % n
