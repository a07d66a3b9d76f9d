"""The live line a person watching a long run needs, every few seconds, from a background thread:

    [demo]   42 s load | users 10 | offered 812/s stored 640/s | queue 1,210 visible, 90 in flight, DLQ 0
           | pollers 10 | p99 last 5 s 1,840 ms, max p99 2,100 ms

Offered and stored are read at the same instant from the emulator's request counter (pipeline_sampler.py),
over the same last few seconds; "p99 last 5 s" is of the events stored in that window (it rises and falls
with the backlog), "max p99" the highest such window so far. The same thread records the run's per-second
series (`progress.sampler.series`), which the run keeps in its record.

`load` (optional) gives the users (Locust's) and, where the emulator's counter cannot answer, the offered
rate the producer was asked for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from loadtest.analysis.percentiles import percentile
from loadtest.local.consumers.scaler import ConsumerScaler
from loadtest.local.runs.pipeline_sampler import PipelineSampler

SAMPLE_S = 1.0


class Progress:
    def __init__(
        self,
        name: str,
        consumers: ConsumerScaler,
        load: Callable[[], tuple[int | None, float]] | None = None,
        interval_s: float = 5.0,
        endpoint: str | None = None,
        sampler: PipelineSampler | None = None,
    ):
        self.name = name
        self.consumers = consumers
        self.load = load
        self.interval_s = interval_s
        self.phase = ""
        self.sampler = sampler or PipelineSampler(consumers, endpoint, users=self._users)
        self.max_p99_ms = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"{name}-progress", daemon=True)

    def _users(self) -> int | None:
        return self.load()[0] if self.load else None

    def start(self) -> None:
        """t = 0 of the series: call it when the load starts."""
        self.sampler.start()
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(5)

    def _loop(self) -> None:
        next_sample = last_print = time.monotonic()
        while True:
            next_sample += SAMPLE_S  # on a fixed beat: a slow answer does not push every later row
            if self._stop.wait(max(0.0, next_sample - time.monotonic())):
                return
            self.sampler.sample()
            if time.monotonic() - last_print >= self.interval_s - SAMPLE_S / 2:
                last_print = time.monotonic()
                print(self.line(), flush=True)

    def line(self) -> str:
        """The line for the last `interval_s` seconds of the series."""
        series, rows = self.sampler.series, max(1, round(self.interval_s / SAMPLE_S))
        users, asked = self.load() if self.load else (None, None)
        offered = self.sampler.rate("offered_total", rows)
        if offered is None:
            offered = asked
        stored = self.sampler.rate("stored_total", rows)
        parts = [
            f"[{self.name}] {self.sampler.clock():4.0f} s {self.phase}".rstrip(),
            *([f"users {users}"] if users is not None else []),
            f"offered {_rate(offered)} stored {_rate(stored)}",
            _depth(series),
            f"pollers {self.consumers.pollers}",
        ]
        latencies = self.sampler.latencies_since(rows)
        if latencies:  # the worker fleet reports counts only (its latencies come from the table)
            p99 = percentile(latencies, 0.99)
            self.max_p99_ms = max(self.max_p99_ms, p99)
            parts.append(f"p99 last {self.interval_s:g} s {p99:,.0f} ms, max p99 {self.max_p99_ms:,.0f} ms")
        elif self.max_p99_ms:
            parts.append(f"none stored last {self.interval_s:g} s, max p99 {self.max_p99_ms:,.0f} ms")
        return " | ".join(parts)


def _rate(msgs_per_s: float | None) -> str:
    return "?/s" if msgs_per_s is None else f"{msgs_per_s:,.0f}/s"


def _depth(series) -> str:
    if not len(series) or series.queue_visible[-1] is None:
        return "queue ?"
    return (
        f"queue {series.queue_visible[-1]:,} visible, {series.queue_in_flight[-1]:,} in flight,"
        f" DLQ {series.dlq_visible[-1]:,}"
    )
