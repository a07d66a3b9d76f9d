"""Repeated measurements on a shared machine: each figure the median of its rounds with min–max beside it,
and every round marked when the machine was busier than its cores while it ran.

    guard = NoiseGuard()
    with guard.round() as noise:        # load average and other processes' CPU at start and end
        ...measure...
    figure = Spread.of(values, noises)  # median, min, max, rounds, and how many were noisy

"Other processes" are everything but this process and its descendants (the emulator, the children it waits
for): their CPU is the machine's busy time (/proc/stat) less ours over the round. A round is noisy when the
1-minute load average at its start or end passes the machine's core count: then the figure may be off, and is
marked so (the lead re-runs final figures on a quiet machine). Linux only (/proc), as the machine is.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import statistics
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CORES = os.cpu_count() or 1
OTHERS_BUSY_CORES = 0.5  # cores other processes may keep busy before a run's measurement is marked noisy


def machine_busy_seconds() -> float:
    """CPU-seconds every core spent busy since boot (user, nice, system, irq, softirq, steal)."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(v) for v in fields[:8])
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
    found, pending = [], [pid]
    while pending:
        for child in children.get(pending.pop(), []):
            found.append(child)
            pending.append(child)
    return found


def own_seconds() -> float:
    """CPU-seconds of this process, the children it has waited for, and its live descendants."""
    times = os.times()
    total = times.user + times.system + times.children_user + times.children_system
    for pid in _descendants(os.getpid()):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime
    return total


@dataclasses.dataclass
class Noise:
    """What the rest of the machine did during one round."""

    load_start: float = 0.0
    load_end: float = 0.0
    others_cpu_s: float = 0.0
    wall_s: float = 0.0

    @property
    def others_cores(self) -> float:
        return self.others_cpu_s / self.wall_s if self.wall_s else 0.0

    @property
    def busier_than_cores(self) -> bool:
        return max(self.load_start, self.load_end) > CORES

    @property
    def others_busy(self) -> bool:
        """Other processes kept more than OTHERS_BUSY_CORES busy: the test for a run whose own processes
        load the machine themselves (the capacity search's emulator, pollers and producer)."""
        return self.others_cores > OTHERS_BUSY_CORES

    def as_dict(self) -> dict:
        return {
            "seconds": round(self.wall_s, 1),
            "load_average": [round(self.load_start, 2), round(self.load_end, 2)],
            "other_processes_cores": round(self.others_cores, 2),
            "cores": CORES,
            "noisy": self.others_busy,
        }


class NoiseGuard:
    @contextlib.contextmanager
    def round(self) -> Iterator[Noise]:
        noise = Noise(load_start=os.getloadavg()[0])
        started, busy, own = time.monotonic(), machine_busy_seconds(), own_seconds()
        try:
            yield noise
        finally:
            noise.wall_s = time.monotonic() - started
            noise.others_cpu_s = max(0.0, (machine_busy_seconds() - busy) - (own_seconds() - own))
            noise.load_end = os.getloadavg()[0]


@dataclasses.dataclass(frozen=True)
class Spread:
    """A figure over repeated rounds: its median with min–max, and the machine while it was measured."""

    median: float
    low: float
    high: float
    rounds: int
    noisy_rounds: int  # rounds during which the load average passed the core count
    load_low: float
    load_high: float
    others_cores: float  # median of the other processes' average cores busy, per round

    @classmethod
    def of(cls, values: Sequence[float], noises: Sequence[Noise]) -> Spread:
        loads = [load for noise in noises for load in (noise.load_start, noise.load_end)] or [0.0]
        return cls(
            median=statistics.median(values),
            low=min(values),
            high=max(values),
            rounds=len(values),
            noisy_rounds=sum(noise.busier_than_cores for noise in noises),
            load_low=min(loads),
            load_high=max(loads),
            others_cores=statistics.median([noise.others_cores for noise in noises] or [0.0]),
        )

    def text(self, digits: int = 3) -> str:
        """`0.135 (0.128–0.142)`: the median, its min–max beside it."""
        return f"{self.median:.{digits}f} ({self.low:.{digits}f}–{self.high:.{digits}f})"

    def machine(self) -> str:
        mark = (
            f"; busier than its {CORES} cores in {self.noisy_rounds} of {self.rounds} rounds"
            if self.noisy_rounds
            else ""
        )
        return (
            f"load average {self.load_low:.1f}–{self.load_high:.1f} on {CORES} cores, other processes"
            f" {self.others_cores:.2f} cores{mark}"
        )

    def as_dict(self, digits: int = 3) -> dict:
        return {
            "median": round(self.median, digits),
            "min": round(self.low, digits),
            "max": round(self.high, digits),
            "rounds": self.rounds,
            "noisy_rounds": self.noisy_rounds,
            "load_average": [round(self.load_low, 2), round(self.load_high, 2)],
            "other_processes_cores": round(self.others_cores, 2),
            "cores": CORES,
        }
