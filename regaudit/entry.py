"""The ``regaudit`` command's first step: Ctrl-C handled from the start (even while the rest is
imported), then the command line (cli.app.run). Kept small: nothing is imported before the
handler is in place."""

from __future__ import annotations

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
    try:
        from .cli.app import run as run_cli
    except KeyboardInterrupt:
        if sys.stderr is not None:
            sys.stderr.write("regaudit: interrupted\n")
            sys.stderr.flush()
        os._exit(130)
    run_cli(interrupted)
