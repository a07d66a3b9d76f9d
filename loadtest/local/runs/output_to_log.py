"""Keep a run's terminal for progress and results: everything else the process writes goes to a log file.

The handler's Powertools Logger and Metrics write JSON to stdout (on Lambda that is the log stream), moto and
the libraries warn on stderr, and child processes inherit both: hundreds of lines around the few a person
reads. Redirecting the file descriptors, not just `sys.stdout`, catches all of them, C code and children
included; the run prints its own lines to the terminal stream it is given.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO


@contextlib.contextmanager
def output_to_log(path: Path) -> Iterator[TextIO]:
    """Send stdout and stderr to `path` until the block ends (fds 1 and 2, and `sys.stdout`/`sys.stderr`,
    which are not always on those fds); yield a stream on the terminal's stdout."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    terminal = os.fdopen(os.dup(saved[0]), "w", buffering=1)
    # Append mode: the descriptors and the Python streams below all write at the end, never over each other.
    log = open(path, "a", buffering=1)  # noqa: SIM115 - closed below, after the descriptors are restored
    try:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            yield terminal
    finally:  # restored before an exception propagates, so a crash's traceback reaches the terminal
        log.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
        log.close()
        terminal.close()
