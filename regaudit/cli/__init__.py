"""The command line: parse, call the core, render, exit. Nothing else lives here.

Exit codes: 0 the command ran (findings or not); 1 a check or smoke test failed; 2 usage,
config or I/O error (one line on stderr, never a traceback).
"""

from .app import app, main, run

__all__ = ["app", "main", "run"]
