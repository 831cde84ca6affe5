"""parallel: workers die with a killed parent, and too many jobs start only useful workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from tests.hostile_fixtures import ROOT


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/status") as fh:
            return any(line.startswith("State:") and "Z" in line for line in fh)
    except FileNotFoundError:
        return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_workers_die_with_a_killed_parent(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(textwrap.dedent(f"""
        import os, sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from regaudit.parallel import map_chunks

        def slow(x):
            open(os.path.join({str(tmp_path)!r}, "w%d" % os.getpid()), "w").close()
            time.sleep(60)
            return x

        if __name__ == "__main__":
            map_chunks(slow, list(range(8)), jobs=2, chunk=1, min_parallel=1)
    """))
    parent = subprocess.Popen([sys.executable, str(script)])
    try:
        deadline = time.monotonic() + 30
        while len(list(tmp_path.glob("w*"))) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        workers = [int(p.name[1:]) for p in tmp_path.glob("w*")]
        assert len(workers) == 2
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait()
        deadline = time.monotonic() + 10
        while not all(_gone(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert all(_gone(w) for w in workers)
    finally:
        parent.kill()
        for p in tmp_path.glob("w*"):
            try:
                os.kill(int(p.name[1:]), signal.SIGKILL)
            except ProcessLookupError:
                pass


def test_too_many_jobs_start_only_useful_workers():
    from regaudit.parallel import worker_count

    assert worker_count(10**6, 3) == 3
    assert worker_count(10**6, 10**6) <= 4 * (os.cpu_count() or 1)
