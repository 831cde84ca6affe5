"""The ``regaudit`` command's first step: Ctrl-C handled from the start (even while the rest is
imported), then the command line (cli.app.run). Kept small: nothing is imported before the
handler is in place."""

from __future__ import annotations

import gc
import os
import signal
import sys


def stopped_by(signum: int) -> str:
    """What regaudit says when a signal stopped it."""
    if signum == getattr(signal, "SIGTERM", None):
        return "terminated"
    if signum == getattr(signal, "SIGHUP", None):
        return "hung up"
    return "interrupted"


def run() -> None:
    interrupted: list[int] = []

    def on_interrupt(signum, frame) -> None:  # Python's own handler, remembering it was called
        interrupted.append(signum)
        io = sys.modules.get("regaudit.safeio")  # (a temporary file being made: raised once its removal is armed)
        if len(interrupted) == 1 and not (io is not None and io.signal_put_off(signum)):
            raise KeyboardInterrupt  # (a second Ctrl-C while stopping would interrupt the stopping)

    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # (an ignored Ctrl-C stays ignored)
        signal.signal(signal.SIGINT, on_interrupt)
    # SIGTERM (kill, a CI job cancelled, a container stopped) and SIGHUP (the terminal or ssh session
    # closed) are handled as Ctrl-C is: what is half written is removed, then exit 128 + the signal's
    # number (143, 129) as the default action would give. (One that is ignored stays ignored: nohup.)
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name) and signal.getsignal(getattr(signal, name)) == signal.SIG_DFL:
            signal.signal(getattr(signal, name), on_interrupt)
    # regaudit keeps many long-lived objects (records, findings) and makes little cyclic garbage: with
    # Python's default threshold (a collection every 700 allocations) a 20,000-dataset scan spent a
    # fifth of its time in the collector (mypy raises it the same way)
    gc.set_threshold(200_000, 30, 30)
    try:
        from .cli.app import run as run_cli
    except KeyboardInterrupt:
        signum = interrupted[0] if interrupted else signal.SIGINT
        if sys.stderr is not None:
            sys.stderr.write(f"regaudit: {stopped_by(signum)}\n")
            sys.stderr.flush()
        os._exit(128 + signum)
    run_cli(interrupted)
