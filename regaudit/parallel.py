"""Run a per-item function over many items in worker processes, in chunks, keeping order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def _apply(fn: Callable[[T], R], chunk: Sequence[T]) -> list[R]:
    return [fn(x) for x in chunk]


def map_chunks(fn: Callable[[T], R], items: Sequence[T], jobs: int, chunk: int, min_parallel: int,
               progress: Callable[[int, int], None] | None = None) -> list[R]:
    """``[fn(x) for x in items]``, in ``jobs`` processes when there are at least ``min_parallel``
    items (below that, starting workers costs more than it saves). ``fn`` must be picklable."""
    total = len(items)
    if jobs <= 1 or total < min_parallel:
        out = []
        for k, x in enumerate(items):
            out.append(fn(x))
            if progress and (k % 200 == 0 or k == total - 1):
                progress(k + 1, total)
        return out
    chunks = [items[i:i + chunk] for i in range(0, total, chunk)]
    results: list = [None] * len(chunks)
    done = 0
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(_apply, fn, c): k for k, c in enumerate(chunks)}
        for fut in as_completed(futures):
            k = futures[fut]
            results[k] = fut.result()
            done += len(chunks[k])
            if progress:
                progress(done, total)
    return [r for part in results for r in part]
