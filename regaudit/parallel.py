"""Run a per-item function over many items in worker processes, in chunks, keeping order (on
Linux, workers forked from this process take parts from one shared counter; elsewhere a process
pool).

Workers never outlive regaudit: each asks Linux to kill it when its parent dies
(``PR_SET_PDEATHSIG``) and also runs a watchdog thread that exits when its parent changes, for
systems without that call and for a parent killed before the call was made."""

from __future__ import annotations

import gc
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from functools import partial
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_PR_SET_PDEATHSIG = 1
WATCH_SECONDS = 0.5
MAX_JOBS_PER_CPU = 4  # more worker processes than this per core only cost memory


def _apply(fn: Callable[[T], R], chunk: Sequence[T]) -> list[R]:
    return [fn(x) for x in chunk]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def _die_with_parent(owner: int) -> None:
    """Worker initializer: end this process when regaudit (``owner``) or this process's parent
    (``owner`` itself, or a fork server) ends."""
    parent = os.getppid()
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent or not _alive(owner):  # it died before we could ask
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(WATCH_SECONDS)
            if os.getppid() != parent or not _alive(owner):
                os._exit(1)

    threading.Thread(target=watch, name="regaudit-parent-watch", daemon=True).start()


def worker_count(jobs: int, chunks: int) -> int:
    """Processes worth starting: no more than chunks of work, nor than a few per core."""
    return max(1, min(jobs, chunks, MAX_JOBS_PER_CPU * (os.cpu_count() or 1)))


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
    results = map_parts(partial(_apply, fn), chunks, jobs, progress, len)
    out = []
    for k, part in enumerate(results):
        out += part
        results[k] = None
    return out


class _Finished:
    """The results of map_parts as parts finish: each stored, its part let go (its items are no
    longer needed here), progress told."""

    def __init__(self, parts: list, progress: Callable[[int, int], None] | None,
                 weight: Callable[[Any], int]) -> None:
        self.parts, self.progress, self.weight = parts, progress, weight
        self.results: list = [None] * len(parts)
        self.done = [False] * len(parts)
        self.total = sum(map(weight, parts))
        self.count = 0

    def __call__(self, k: int, result) -> None:
        self.results[k] = result
        self.done[k] = True
        self.count += self.weight(self.parts[k])
        self.parts[k] = None
        if self.progress:
            self.progress(self.count, self.total)


def map_parts(fn: Callable[[T], R], parts: list[T], jobs: int,
              progress: Callable[[int, int], None] | None = None,
              weight: Callable[[T], int] = lambda part: 1) -> list[R]:
    """``[fn(p) for p in parts]``, each part a unit of work for one of ``jobs`` processes, this
    one included (one worker fewer to start, and its share of the results is never pickled).
    ``progress`` counts ``weight(part)`` per finished part; ``parts`` is emptied as they finish."""
    finish = _Finished(parts, progress, weight)
    if jobs <= 1 or len(parts) <= 1:
        for k, part in enumerate(parts):
            finish(k, fn(part))
        return finish.results
    if hasattr(os, "fork") and sys.platform.startswith("linux"):
        return _forked(fn, parts, worker_count(jobs - 1, len(parts)), finish)
    # A forked worker's garbage collector would visit (and so copy) every object the parent holds;
    # frozen, they stay shared pages: a million-image scan does not double its memory per worker.
    gc.freeze()
    try:
        with ProcessPoolExecutor(max_workers=worker_count(jobs - 1, len(parts)), initializer=_die_with_parent,
                                 initargs=(os.getpid(),)) as pool:
            futures = {pool.submit(fn, part): k for k, part in enumerate(parts)}
            for fut in reversed(list(futures)):  # this process works from the far end of the queue
                if not fut.cancel():  # a worker has it (or it is queued to one): the rest are theirs
                    break
                k = futures.pop(fut)
                finish(k, fn(parts[k]))
            for fut in as_completed(futures):
                finish(futures.pop(fut), fut.result())
    finally:
        gc.unfreeze()
    return finish.results


def _claim(counter, n: int) -> int | None:
    """The next part nobody has taken, taken; None when all are."""
    with counter.get_lock():
        k = counter.value
        if k >= n:
            return None
        counter.value = k + 1
        return k


def _forked(fn: Callable[[T], R], parts: list[T], n_workers: int, finish: _Finished) -> list[R]:
    """map_parts on Linux: workers forked from this process (the parts are theirs without being
    sent), every process taking the next part from one shared counter, so none waits on work
    handed to a slower one; results come back through a pipe each. A part whose worker failed or
    died is worked here again (its exception, if any, is then this process's own)."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    try:
        counter = ctx.Value("q", 0)
    except OSError:  # no shared semaphores here (a locked-down /dev/shm): this process alone
        for k, part in enumerate(parts):
            finish(k, fn(part))
        return finish.results
    n = len(parts)
    owner = os.getpid()
    readers: list = []
    pids: list[int] = []

    def receive(conn) -> bool:
        """Take one message; False once the worker is through (or gone)."""
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return False
        if msg is None:
            return False
        k, ok, result = msg
        if ok:
            finish(k, result)
        return True

    # a forked worker's garbage collector would visit (and so copy) every object held here; frozen,
    # they stay shared pages: a million-image scan does not double its memory per worker
    gc.freeze()
    try:
        for _ in range(n_workers):
            r, w = ctx.Pipe(duplex=False)
            _widen(w)
            pid = os.fork()
            if pid == 0:  # the worker
                code = 0
                try:
                    r.close()
                    _die_with_parent(owner)
                    while (k := _claim(counter, n)) is not None:
                        try:
                            w.send((k, True, fn(parts[k])))
                        except Exception:
                            w.send((k, False, None))  # the parent works it again and raises, if it does
                    w.send(None)
                except BaseException:
                    code = 1
                finally:
                    os._exit(code)
            w.close()
            readers.append(r)
            pids.append(pid)
        open_readers = list(readers)
        while (k := _claim(counter, n)) is not None:
            finish(k, fn(parts[k]))
            open_readers = [c for c in open_readers if not c.poll() or receive(c)]
        from multiprocessing.connection import wait

        while open_readers:
            for c in wait(open_readers):
                if not receive(c):
                    open_readers.remove(c)
        for k in range(n):
            if not finish.done[k]:  # its worker failed on it or died with it
                finish(k, fn(parts[k]))
        return finish.results
    finally:
        gc.unfreeze()
        for c in readers:
            c.close()
        for pid in pids:  # through by now, or stopped here: never left behind
            if _reaped(pid):
                continue
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


def _widen(conn) -> None:
    """A 1 MiB pipe (Linux's F_SETPIPE_SZ): a worker's results for a part fit without waiting for
    this process to finish its own part and read them."""
    try:
        import fcntl

        fcntl.fcntl(conn.fileno(), 1031, 1 << 20)
    except (ImportError, OSError):
        pass


def _reaped(pid: int) -> bool:
    """Whether the worker has ended (and is now reaped)."""
    try:
        return os.waitpid(pid, os.WNOHANG)[0] != 0
    except ChildProcessError:
        return True
