"""Was the machine busy with something else while a figure was measured? The noise guard of every run.

A ratio measured here is only worth what the machine gave it: two cores shared with whatever else runs. A
`LoadWatch` reads the load average (/proc/loadavg) and the CPU time of every process outside the run
(/proc/stat's total less the run's own processes, /proc/<pid>/stat) when a measurement starts and ends. A
measurement is noisy when, over it, other processes kept more than NOISY_SHARE of a core busy, or the load
average stayed above the core count: its figure is marked so in the report, and the live line warns.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Callable, Iterable

from loadtest.local.runs.process_cpu import cpu_seconds

_TICKS = os.sysconf("SC_CLK_TCK")
NOISY_SHARE = 0.5  # cores other processes may keep busy before a measurement is called noisy


def load_average() -> float:
    """The 1-minute load average."""
    with open("/proc/loadavg") as source:
        return float(source.read().split()[0])


def machine_cpu_seconds() -> float:
    """CPU time every process on the machine has used (user + nice + system + irq + softirq + steal)."""
    with open("/proc/stat") as source:
        fields = source.readline().split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICKS


def _descendants(root: int) -> set[int]:
    parents: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat") as stat:
                    parents[int(entry.name)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = {root}, {root}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


@dataclasses.dataclass
class LoadReading:
    """What a watch saw over one measurement."""

    seconds: float
    load_start: float
    load_end: float
    other_cores: float  # cores other processes kept busy on average
    cores: int

    @property
    def noisy(self) -> bool:
        return self.other_cores > NOISY_SHARE or min(self.load_start, self.load_end) > self.cores

    def as_dict(self) -> dict:
        return {
            "seconds": round(self.seconds, 1),
            "load_average_start": self.load_start,
            "load_average_end": self.load_end,
            "other_processes_cores": round(self.other_cores, 2),
            "cores": self.cores,
            "noisy": self.noisy,
        }

    def note(self) -> str:
        """A phrase for a figure measured under this load ('' when quiet)."""
        if not self.noisy:
            return ""
        return (
            f"measured while other processes kept {self.other_cores:.1f} of {self.cores} cores busy (load "
            f"{self.load_start:.1f} → {self.load_end:.1f})"
        )


class LoadWatch:
    """Start it when a measurement starts; `reading()` when it ends. The run's own processes are this
    process and its descendants (found again at the end: pollers and workers come and go)."""

    def __init__(self, run_pids: Callable[[], Iterable[int]] | None = None):
        self._run_pids = run_pids or (lambda: _descendants(os.getpid()))
        self.start()

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._load0 = load_average()
        self._machine0 = machine_cpu_seconds()
        self._run0 = {pid: cpu_seconds(pid) for pid in self._run_pids()}

    def reading(self) -> LoadReading:
        wall = max(time.monotonic() - self._t0, 1e-9)
        pids = set(self._run_pids()) | set(self._run0)
        run_used = sum(max(0.0, cpu_seconds(pid) - self._run0.get(pid, 0.0)) for pid in pids)
        other = max(0.0, machine_cpu_seconds() - self._machine0 - run_used) / wall
        return LoadReading(wall, self._load0, load_average(), other, os.cpu_count() or 1)
