"""The ``regaudit`` command's first step: Ctrl-C handled from the start (even while the rest is
imported), then the command line (cli.app.run). Kept small: nothing is imported before the
handler is in place."""

from __future__ import annotations

import gc
import os
import signal
import sys


def run() -> None:
    interrupted: list[int] = []

    def on_interrupt(signum, frame) -> None:  # Python's own handler, remembering it was called
        interrupted.append(signum)
        if len(interrupted) == 1:  # (a second Ctrl-C while stopping would interrupt the stopping)
            raise KeyboardInterrupt

    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:  # (an ignored Ctrl-C stays ignored)
        signal.signal(signal.SIGINT, on_interrupt)
    # SIGTERM (kill, a CI job cancelled, a container stopped) is handled as Ctrl-C is: what is half
    # written is removed, then exit 143 (128 + SIGTERM) as the default action would give
    if hasattr(signal, "SIGTERM") and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, on_interrupt)
    # regaudit keeps many long-lived objects (records, findings) and makes little cyclic garbage: with
    # Python's default threshold (a collection every 700 allocations) a 20,000-dataset scan spent a
    # fifth of its time in the collector (mypy raises it the same way)
    gc.set_threshold(200_000, 30, 30)
    try:
        from .cli.app import run as run_cli
    except KeyboardInterrupt:
        terminated = interrupted[:1] == [getattr(signal, "SIGTERM", None)]
        if sys.stderr is not None:
            sys.stderr.write("regaudit: terminated\n" if terminated else "regaudit: interrupted\n")
            sys.stderr.flush()
        os._exit(143 if terminated else 130)
    run_cli(interrupted)
