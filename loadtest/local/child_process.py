"""How every process a local run starts is tied to that run: it never outlives it, and Ctrl-C reaches only
the run, which stops its children itself, in order.

- `die_with_parent`: Linux's PR_SET_PDEATHSIG (prctl(2)) sends the child SIGTERM when the thread that started
  it ends, so even a run killed with SIGKILL leaves no moto_server, poller or worker behind.
- `ignore_interrupts` and `start_new_session`: the terminal sends Ctrl-C's SIGINT to its whole foreground
  process group. Children that took it too died in any order — the emulator first, then pollers and Locust
  failing every call for the rest of the run. Only the run's own process takes it; the run then stops Locust,
  the consumers and the emulator in that order (runs/session.py).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import signal
import sys
from typing import Any

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent(signum: int = signal.SIGTERM) -> None:
    """Ask the kernel to send `signum` to this process when its parent thread ends (Linux only; elsewhere
    the run's own stop is the only guard)."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)


def ignore_interrupts() -> None:
    """For a child started with multiprocessing (it shares the run's process group): the run, not the
    terminal's Ctrl-C, decides when it stops."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def popen_options() -> dict[str, Any]:
    """subprocess.Popen arguments for a child of a run: its own session (out of the terminal's process group),
    ended by the kernel if the run dies."""
    return {"start_new_session": True, "preexec_fn": die_with_parent}
