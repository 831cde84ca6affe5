"""map_parts keeps order and loses nothing when a worker fails or dies (the forked workers of
Linux take parts from one shared counter; this process works too)."""

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


@linux
def test_more_parts_than_the_claims_pipe_holds(monkeypatch):
    """Part numbers that do not fit in the claims pipe at once are written while the work goes on
    (here the pipe is shrunk to one page: 1,024 numbers for 3,000 parts)."""
    import fcntl

    import regaudit.parallel as parallel

    def small(fd):
        fcntl.fcntl(fd, 1031, 4096)  # F_SETPIPE_SZ

    monkeypatch.setattr(parallel, "_widen", small)
    parts = [[i] for i in range(3000)]
    assert map_parts(_square_part, list(parts), 3) == [[i * i] for i in range(3000)]


def _pid_and_double(x):
    return os.getpid(), 2 * x


def _fails_in_child(x):
    if os.getpid() != OWNER:
        raise ValueError("only in the child")
    return x


def _dies_in_child(x):
    if os.getpid() != OWNER:
        os._exit(5)
    return x


@linux
def test_background_work_is_done_in_a_child():
    from regaudit.parallel import Background

    pid, value = Background(_pid_and_double, 21).result()
    assert value == 42 and pid != os.getpid()


@pytest.mark.parametrize("fn", [_fails_in_child, _dies_in_child])
def test_background_work_a_child_could_not_finish_is_done_here(fn):
    from regaudit.parallel import Background

    assert Background(fn, 7).result() == 7


def test_background_error_is_raised_here():
    from regaudit.parallel import Background

    with pytest.raises(KeyError):
        Background(_always_fails, [3]).result()
