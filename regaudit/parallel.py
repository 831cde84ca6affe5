"""Work shared with other processes, results in order:

- ``map_parts`` / ``map_chunks``: a function over many parts (on Linux, workers forked from this
  process take parts from one pipe of part numbers while this one works too; elsewhere a
  process pool);
- ``alternate``: a sequence of results, every other one worked out by a forked child;
- ``Background``: one result worked out by a forked child while this process does something else.

Whatever a child could not give (it failed or died) is worked out in this process instead.

Workers never outlive regaudit: each asks Linux to kill it when its parent dies
(``PR_SET_PDEATHSIG``) and also runs a watchdog thread that exits when its parent changes, for
systems without that call and for a parent killed before the call was made."""

from __future__ import annotations

import gc
import os
import pickle
import select
import signal
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
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
    from concurrent.futures import ProcessPoolExecutor, as_completed

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


_INDEX = struct.Struct("<I")  # a part's number, as workers take it from the claims pipe
_FRAME = struct.Struct("<Q")  # the length of a result message that follows
_ATOMIC = 4096  # no more than PIPE_BUF: written whole or not at all (a multiple of the number size)


class _Claims:
    """The numbers of the parts, in a pipe that every process reads: a read of one number takes
    that part (the kernel hands each byte to one reader); an empty read means all are taken.
    Numbers that do not fit in the pipe at once are written by a thread while the work goes on."""

    def __init__(self, n: int) -> None:
        self.r, self.w = os.pipe()
        _widen(self.w)
        self.rest = memoryview(b"".join(map(_INDEX.pack, range(n))))
        os.set_blocking(self.w, False)
        while self.rest:  # in pieces the kernel writes whole or not at all: no reader sees part of a number
            try:
                self.rest = self.rest[os.write(self.w, self.rest[:_ATOMIC]):]
            except BlockingIOError:
                break
        self.writer: threading.Thread | None = None

    def start(self) -> None:
        """In this process (after the workers are forked): the rest of the numbers, then the end."""
        if not self.rest:
            os.close(self.w)
            return

        def write_rest() -> None:
            try:
                os.set_blocking(self.w, True)
                while self.rest:
                    self.rest = self.rest[os.write(self.w, self.rest[:_ATOMIC]):]
            except OSError:
                pass  # every reader is gone: nobody needs the rest
            finally:
                os.close(self.w)

        self.writer = threading.Thread(target=write_rest, name="regaudit-claims", daemon=True)
        self.writer.start()

    def take(self) -> int | None:
        """The next part nobody has taken, taken; None when all are."""
        data = os.read(self.r, _INDEX.size)
        return _INDEX.unpack(data)[0] if len(data) == _INDEX.size else None


def _send(fd: int, msg: object) -> None:
    data = pickle.dumps(msg, pickle.HIGHEST_PROTOCOL)
    view = memoryview(_FRAME.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _send_result(fd: int, k: int, fn: Callable[[T], R], arg: T) -> None:
    """(k, True, fn(arg)) to the parent, or (k, False, None) where fn raises: the parent works it out
    again, and raises, if it does."""
    try:
        msg = (k, True, fn(arg))
    except Exception:
        msg = (k, False, None)
    _send(fd, msg)


def _read_exactly(fd: int, n: int) -> bytes | None:
    chunks, got = [], 0
    while got < n:
        b = os.read(fd, min(n - got, 1 << 20))
        if not b:
            return None  # the worker is gone
        chunks.append(b)
        got += len(b)
    return b"".join(chunks)


def _receive_one(fd: int) -> object:
    """One message from a worker's pipe; EOFError when the worker is gone."""
    head = _read_exactly(fd, _FRAME.size)
    body = None if head is None else _read_exactly(fd, _FRAME.unpack(head)[0])
    if body is None:
        raise EOFError
    return pickle.loads(body)


def _forked(fn: Callable[[T], R], parts: list[T], n_workers: int, finish: _Finished) -> list[R]:
    """map_parts on Linux: workers forked from this process (the parts are theirs without being
    sent), every process taking the next part from one claims pipe, so none waits on work handed
    to a slower one; results come back through a pipe each. A part whose worker failed or died is
    worked here again (its exception, if any, is then this process's own)."""
    n = len(parts)
    try:
        claims = _Claims(n)
    except OSError:  # no descriptor to spare: this process alone
        for k, part in enumerate(parts):
            finish(k, fn(part))
        return finish.results
    children: dict[int, _Child] = {}  # by the descriptor its results come through

    def work(w: int) -> None:  # in a worker
        os.close(claims.w)
        for fd in children:
            os.close(fd)
        while (k := claims.take()) is not None:
            _send_result(w, k, fn, parts[k])
        _send(w, None)

    def receive(fd: int) -> bool:
        """Take one message; False once the worker is through (or gone)."""
        try:
            msg = _receive_one(fd)
        except (EOFError, OSError):
            return False
        if msg is None:
            return False
        k, ok, result = msg  # type: ignore[misc]
        if ok:
            finish(k, result)
        return True

    # a forked worker's garbage collector would visit (and so copy) every object held here; frozen,
    # they stay shared pages: a million-image scan does not double its memory per worker
    gc.freeze()
    try:
        for _ in range(n_workers):
            child = _Child.fork(work)
            if child is not None:
                children[child.fd] = child  # type: ignore[index]
        claims.start()
        poller = select.poll()
        for fd in children:
            poller.register(fd, select.POLLIN)
        open_fds = set(children)

        def drain(timeout: int | None) -> None:
            for fd, _ in poller.poll(timeout):
                if fd in open_fds and not receive(fd):
                    open_fds.discard(fd)
                    poller.unregister(fd)

        while (k := claims.take()) is not None:
            finish(k, fn(parts[k]))
            drain(0)
        while open_fds:
            drain(None)
        for k in range(n):
            if not finish.done[k]:  # its worker failed on it or died with it
                finish(k, fn(parts[k]))
        return finish.results
    finally:
        gc.unfreeze()
        for child in children.values():  # through by now, or stopped here: never left behind
            child.close()
        os.close(claims.r)
        if claims.writer is not None:
            claims.writer.join()


def alternate(fn: Callable[[int], R], n: int) -> Iterator[R]:
    """``fn(0), fn(1), ..., fn(n - 1)``, in order, as they are ready: on Linux a forked child works
    out the odd ones (sending each as soon as it is done) while this process works out the even
    ones, so two cores share the work and few results wait at once. A result the child could not
    give (it failed or died) is worked out here."""

    def odd_ones(w: int) -> None:
        for k in range(1, n, 2):
            _send_result(w, k, fn, k)

    child = _Child.fork(odd_ones) if n >= 2 else None
    try:
        for k in range(n):
            yield child.take(k, fn) if child is not None and k % 2 else fn(k)
    finally:
        if child is not None:
            child.close()


class Background:
    """``fn(arg)`` worked out in a forked child while this process does something else (Linux);
    ``result()`` gives it. Where no child can be forked, or the child fails or dies, ``result()``
    works it out here (its exception, if any, is then this process's own)."""

    def __init__(self, fn: Callable[[T], R], arg: T) -> None:
        self.fn, self.arg = fn, arg

        self.child = _Child.fork(lambda w: _send_result(w, 0, fn, arg))

    def result(self) -> R:
        if self.child is None:
            return self.fn(self.arg)
        try:
            return self.child.take(0, lambda _: self.fn(self.arg))
        finally:
            self.close()

    def close(self) -> None:
        """Stop the child (if it still runs) and reap it."""
        if self.child is not None:
            self.child.close()


class _Child:
    """A forked child that sends (k, ok, result) messages in order through a pipe; what it cannot
    give is worked out here."""

    def __init__(self, pid: int, fd: int) -> None:
        self.pid: int | None = pid
        self.fd: int | None = fd

    @classmethod
    def fork(cls, body: Callable[[int], None]) -> _Child | None:
        """A child running ``body(pipe's write end)`` (None where none can be forked: not Linux, or no
        process to spare)."""
        if not (hasattr(os, "fork") and sys.platform.startswith("linux")):
            return None
        owner = os.getpid()
        try:
            r, w = os.pipe()
        except OSError:  # no descriptor to spare: no child
            return None
        _widen(w)
        try:
            pid = os.fork()
        except OSError:  # no process to spare
            os.close(r)
            os.close(w)
            return None
        if pid == 0:  # the child
            code = 0
            try:
                os.close(r)
                _die_with_parent(owner)
                body(w)
            except BaseException:
                code = 1
            finally:
                os._exit(code)
        os.close(w)
        return cls(pid, r)

    def take(self, k: int, fn: Callable[[int], R]) -> R:
        """The child's result ``k`` (the next it sends), or ``fn(k)`` worked out here."""
        if self.fd is not None:
            try:
                msg = _receive_one(self.fd)
            except (EOFError, OSError):
                msg = None
            if isinstance(msg, tuple) and len(msg) == 3 and msg[0] == k:
                if msg[1]:
                    return msg[2]
            else:  # gone, or out of step: this process does the rest
                self.close()
        return fn(k)

    def close(self) -> None:
        """Stop the child (if it still runs) and reap it."""
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        if self.pid is not None:
            pid, self.pid = self.pid, None
            if not _reaped(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                try:
                    os.waitpid(pid, 0)
                except ChildProcessError:
                    pass


def _widen(fd: int) -> None:
    """A 1 MiB pipe (Linux's F_SETPIPE_SZ): a worker's results for a part fit without waiting for
    this process to finish its own part and read them."""
    try:
        import fcntl

        fcntl.fcntl(fd, 1031, 1 << 20)
    except (ImportError, OSError):
        pass


def _reaped(pid: int) -> bool:
    """Whether the worker has ended (and is now reaped)."""
    try:
        return os.waitpid(pid, os.WNOHANG)[0] != 0
    except ChildProcessError:
        return True
