"""outputs: a temporary file a live run is writing is left alone by another run's clean-up."""

from __future__ import annotations

import os
import signal

import pytest


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="POSIX")
def test_a_temp_file_a_live_run_is_writing_is_left_alone(tmp_path):
    import fcntl

    from regaudit.outputs import remove_stale_temps

    live = tmp_path / ".page.html.live0001.tmp"
    live.write_text("<!-- generator: regaudit -->")
    with open(live) as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        pid = os.fork()
        if pid == 0:  # another process: the lock is held there
            os._exit(remove_stale_temps(str(tmp_path), "page.html"))
        _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0 and live.exists()
    assert remove_stale_temps(str(tmp_path), "page.html") == 1 and not live.exists()
