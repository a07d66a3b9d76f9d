"""Where the CPU goes: cores used by groups of processes between two readings of /proc/<pid>/stat.

A process that exits between the readings counts what it had used at the first reading only; the capacity
run measures during a hold, when no process starts or stops.
"""

from __future__ import annotations

import os
import time

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (all its threads), or 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime: fields 14 and 15 of the stat line


class CpuMeter:
    def __init__(self, groups: dict[str, list[int]]):
        self.groups = groups
        self._start = {name: sum(cpu_seconds(pid) for pid in pids) for name, pids in groups.items()}
        self._t0 = time.monotonic()

    def cores(self) -> dict[str, float]:
        """Cores each group used on average since the meter started (1.0 = one core busy all along)."""
        wall = max(time.monotonic() - self._t0, 1e-9)
        return {
            name: round((sum(cpu_seconds(pid) for pid in pids) - self._start[name]) / wall, 2)
            for name, pids in self.groups.items()
        }
