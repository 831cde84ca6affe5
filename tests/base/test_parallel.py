"""map_parts keeps order and loses nothing when a worker fails or dies, or no worker can start
(a process pool; on Linux its workers are forked and find the parts in a module global)."""

from __future__ import annotations

import os
import sys

import pytest

from regaudit.parallel import map_chunks, map_parts

OWNER = os.getpid()
linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="forked workers are Linux's")


def _square_part(part):
    return [x * x for x in part]


def _plus_one(x):
    return x + 1


def test_results_in_order_with_progress():
    parts = [list(range(i, i + 5)) for i in range(0, 100, 5)]
    seen = []
    out = map_parts(_square_part, list(parts), 3, lambda done, total: seen.append((done, total)), len)
    assert out == [[x * x for x in p] for p in parts]
    assert seen[-1] == (100, 100) and len(seen) == len(parts)
    assert map_chunks(_plus_one, list(range(50)), 2, 4, 1) == list(range(1, 51))


def _fails_in_workers(part):
    if os.getpid() != OWNER:
        raise ValueError("only in a worker")
    return sum(part)


def _dies_in_workers(part):
    if os.getpid() != OWNER:
        os._exit(3)
    return sum(part)


@linux
@pytest.mark.parametrize("fn", [_fails_in_workers, _dies_in_workers])
def test_a_part_a_worker_could_not_finish_is_worked_here(fn):
    parts = [[i, i + 1] for i in range(40)]
    assert map_parts(fn, list(parts), 3) == [sum(p) for p in parts]


def _always_fails(part):
    raise KeyError(part[0])


def test_an_error_of_the_function_itself_is_raised():
    with pytest.raises(KeyError):
        map_parts(_always_fails, [[1], [2], [3]], 2)


def test_many_parts_in_order():
    parts = [[i] for i in range(3000)]
    assert map_parts(_square_part, list(parts), 3) == [[i * i] for i in range(3000)]


@pytest.mark.parametrize("error", [OSError(24, "Too many open files"), NotImplementedError(), PermissionError()])
def test_parts_are_worked_here_when_no_worker_can_start(monkeypatch, error):
    from concurrent.futures import ProcessPoolExecutor

    def cannot_start(*args, **kwargs):
        raise error

    monkeypatch.setattr(ProcessPoolExecutor, "submit", cannot_start)
    seen = []
    parts = [[i, i + 1] for i in range(10)]
    assert map_parts(sum, list(parts), 3, lambda done, total: seen.append(done)) == [sum(p) for p in parts]
    assert seen == list(range(1, 11))


def _pid(_part):
    return os.getpid()


@linux
def test_workers_are_other_processes():
    assert OWNER not in map_parts(_pid, [[i] for i in range(6)], 2)


def _thread_and_double(x):
    import threading

    return threading.get_ident(), 2 * x


def test_background_work_is_done_meanwhile_in_a_thread():
    import threading

    from regaudit.parallel import Background

    ident, value = Background(_thread_and_double, 21).result()
    assert value == 42 and ident != threading.get_ident()


def test_background_error_is_raised_here():
    from regaudit.parallel import Background

    with pytest.raises(KeyError):
        Background(_always_fails, [3]).result()


def _broken_start(owner):
    raise RuntimeError("this worker cannot start")


def test_parts_are_worked_here_when_the_pool_breaks_at_start(monkeypatch):
    import regaudit.parallel as parallel

    monkeypatch.setattr(parallel, "_start_worker", _broken_start)
    parts = [[i, i + 1] for i in range(10)]
    assert map_parts(sum, list(parts), 3) == [sum(p) for p in parts]


def _pid_part(part):
    return (os.getpid(), part)


@linux
def test_tiny_parts_go_to_a_worker_in_runs_of_the_batch_weight():
    """100,000 two-image subsets were 100,000 round trips to a worker (a 5,000-dataset scan took
    twice as long with two workers as with one); each worker now takes runs of parts."""
    from regaudit.parallel import _runs

    assert _runs([[1, 2]] * 5, len, 4) == [[0, 1], [2, 3], [4]]
    assert _runs([[1] * 9, [1], [1] * 3], len, 4) == [[0], [1, 2]]
    parts = [[i, i + 1] for i in range(60)]
    out = map_parts(_pid_part, list(parts), 2, None, len, batch=40)
    assert [p for _, p in out] == parts
    # each run of 20 parts (40 images) is worked in one process
    assert all(len({pid for pid, _ in out[i:i + 20]}) == 1 for i in range(0, 60, 20))
