"""A function over many parts in worker processes, results in order (``map_parts``, ``map_chunks``).

A ``concurrent.futures.ProcessPoolExecutor``. On Linux its workers are forked: they find the
function and the parts in a module global set before the pool starts, so only part numbers go
out and results come back; nothing big is pickled. Elsewhere (macOS, Windows) they are spawned,
and the function and each part are pickled to them. Where no worker can start, the parts are
worked here; a part a worker could not finish (it raised, or the pool broke) is worked here
again, so its exception, if any, is this process's own.

Workers ignore Ctrl-C (regaudit stops them) and, on Linux, end when regaudit ends
(``PR_SET_PDEATHSIG``). ``Background`` runs one call in a thread while the caller does something
else."""

from __future__ import annotations

import gc
import os
import signal
import sys
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

MAX_JOBS_PER_CPU = 4  # more worker processes than this per core only cost memory
_FORK = sys.platform.startswith("linux")
_job: tuple[Callable, list] | None = None  # (fn, parts), for forked workers to find


def worker_count(jobs: int, chunks: int) -> int:
    """Processes worth starting: no more than chunks of work, nor than a few per core."""
    return max(1, min(jobs, chunks, MAX_JOBS_PER_CPU * (os.cpu_count() or 1)))


def _start_worker(owner: int) -> None:
    """Each worker, first: Ctrl-C is for regaudit, not its workers; end when regaudit ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for name in ("SIGTERM", "SIGHUP"):  # (regaudit's own handler, inherited by fork, is not the workers')
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_DFL)
    if _FORK:
        try:
            import ctypes

            ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
        if os.getppid() != owner:  # regaudit ended before that call
            os._exit(1)


def _run_parts(ks: list[int]) -> list:  # in a forked worker
    fn, parts = _job  # type: ignore[misc]
    return [fn(parts[k]) for k in ks]


def _runs(parts: list, weight: Callable[[Any], int], batch: int) -> list[list[int]]:
    """The parts' numbers in runs of consecutive parts, each run weighing at least ``batch`` (but
    the last)."""
    runs: list[list[int]] = []
    run: list[int] = []
    held = 0
    for k, part in enumerate(parts):
        run.append(k)
        held += weight(part)
        if held >= batch:
            runs.append(run)
            run, held = [], 0
    return runs + [run] if run else runs


def map_parts(fn: Callable[[T], R], parts: list[T], jobs: int,
              progress: Callable[[int, int], None] | None = None,
              weight: Callable[[T], int] = lambda part: 1, batch: int = 1) -> list[R]:
    """``[fn(p) for p in parts]`` in up to ``jobs`` processes; ``progress(done, total)`` counts
    ``weight(part)`` per finished part; ``parts`` is emptied as they finish. A worker is handed
    consecutive parts weighing at least ``batch`` at a time (100,000 parts of two images each would
    cost more in messages to and fro than in work)."""
    results: list = [None] * len(parts)
    total, done = sum(map(weight, parts)), 0

    def finish(k: int, result: Any) -> None:
        nonlocal done
        results[k] = result
        done += weight(parts[k])
        parts[k] = None  # type: ignore[call-overload]  # (its items are no longer needed here)
        if progress:
            progress(done, total)

    left = list(range(len(parts)))
    if jobs > 1 and len(parts) > 1:
        runs = _runs(parts, weight, batch)
        left = _in_workers(fn, parts, runs, worker_count(jobs, len(runs)), finish)
    for k in left:
        finish(k, fn(parts[k]))
    return results


def _in_workers(fn: Callable, parts: list, runs: list[list[int]], workers: int,
                finish: Callable[[int, Any], None]) -> list[int]:
    """Work the parts in a pool of ``workers`` processes, a run of them at a time; the numbers of
    those it did not finish."""
    import multiprocessing  # (here: a small scan starts no pool and needs none of it)
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    global _job
    left = set(range(len(parts)))
    pool = None
    _job = (fn, parts)
    gc.freeze()  # a forked worker's garbage collector would otherwise touch (and copy) every object here
    try:
        # elsewhere spawned, as macOS and Windows start them (named here, so that a test on Linux can too)
        pool = ProcessPoolExecutor(workers, multiprocessing.get_context("fork" if _FORK else "spawn"),
                                   initializer=_start_worker, initargs=(os.getpid(),))
        futures = {(pool.submit(_run_parts, ks) if _FORK else pool.submit(_apply, fn, [parts[k] for k in ks])): ks
                   for ks in runs}
        for future in as_completed(futures):
            ks = futures.pop(future)
            try:
                worked = future.result()
            except Exception:  # it raised, or its worker died: worked here again
                continue
            for k, result in zip(ks, worked):
                finish(k, result)
                left.discard(k)
    except (OSError, NotImplementedError, BrokenProcessPool):  # no worker could start: worked here
        pass
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        gc.unfreeze()
        _job = None
    return sorted(left)


def _apply(fn: Callable[[T], R], chunk: Sequence[T]) -> list[R]:
    return [fn(x) for x in chunk]


def map_chunks(fn: Callable[[T], R], items: Sequence[T], jobs: int, chunk: int, min_parallel: int,
               progress: Callable[[int, int], None] | None = None) -> list[R]:
    """``[fn(x) for x in items]``, in ``jobs`` processes, ``chunk`` items a part, when there are at
    least ``min_parallel`` items (below that, starting workers costs more than it saves)."""
    total = len(items)
    if jobs <= 1 or total < min_parallel:
        out = []
        for k, x in enumerate(items):
            out.append(fn(x))
            if progress and (k % 200 == 0 or k == total - 1):
                progress(k + 1, total)
        return out
    results = map_parts(partial(_apply, fn), [items[i:i + chunk] for i in range(0, total, chunk)], jobs,
                        progress, len)
    out = []
    for k, part in enumerate(results):
        out += part
        results[k] = None  # (a million results are never held twice)
    return out


class Background:
    """``fn(arg)`` worked out in a thread while this one does something else; ``result()`` gives it
    (or raises its exception)."""

    def __init__(self, fn: Callable[[T], R], arg: T) -> None:
        from concurrent.futures import ThreadPoolExecutor

        self._pool = ThreadPoolExecutor(1, thread_name_prefix="regaudit-background")
        self._future = self._pool.submit(fn, arg)

    def result(self) -> Any:
        return self._future.result()

    def close(self) -> None:
        self._pool.shutdown(wait=False)
