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


@pytest.mark.skipif(not hasattr(signal, "pthread_sigmask"), reason="no signal mask (Windows)")
def test_a_signal_while_the_temporary_file_is_made_is_handled_once_its_removal_is_armed(tmp_path, monkeypatch):
    # a SIGTERM between mkstemp and the try that removes the file left .NAME.XXXXXXXX.tmp beside the output
    import tempfile

    from regaudit import outputs
    from regaudit.safeio import hold_signals

    release = hold_signals()
    os.kill(os.getpid(), signal.SIGINT)  # held: not handled yet
    with pytest.raises(KeyboardInterrupt):
        release()
        for _ in range(1000):
            pass
    real = tempfile.mkstemp

    def signalled(*a, **k):  # the signal arrives just after the file is made
        made = real(*a, **k)
        os.kill(os.getpid(), signal.SIGINT)
        return made

    monkeypatch.setattr(tempfile, "mkstemp", signalled)
    with pytest.raises(KeyboardInterrupt):
        outputs.write_text(str(tmp_path / "r.html"), "<!-- generator: regaudit -->")
    assert os.listdir(tmp_path) == []


def test_regaudits_handler_puts_a_signal_off_while_a_temporary_file_is_made():
    # a signal delivered to another thread (the progress bar's, a pool's) is not held by the main thread's mask:
    # regaudit's handler (entry.run) then puts it off until the removal is armed
    from regaudit import safeio

    release = safeio.hold_signals()
    try:
        assert safeio.signal_put_off(signal.SIGTERM)  # the handler returns instead of raising
    finally:
        with pytest.raises(KeyboardInterrupt):
            release()
    assert not safeio.signal_put_off(signal.SIGTERM)  # no hold: handled at once


def test_an_output_folder_too_long_to_name_is_one_short_line():
    # from a cwd over 4096 bytes deep, `report -o rel.html` printed one 5 KB line (the whole folder)
    from regaudit import outputs

    long = "/" + "/".join(["y" * 200] * 25)  # (only the message is checked: the folder need not exist)
    with pytest.raises(outputs.OutputError) as exc:
        outputs.check_target(os.path.join(long, "r.html"))
    text = str(exc.value)
    assert len(text) < 700 and "…" in text and text.endswith("choose a shorter path")
