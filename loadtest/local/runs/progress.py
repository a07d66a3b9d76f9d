"""The live line a person watching a long run needs, every few seconds, from a background thread:

    [demo] 42s run the Locust scale shape | users 12 | offered 480/s stored 455/s | queue 1,210 visible
           90 in flight | pollers 10 | p99 so far 1,840 ms

The consumer set gives the queue, pollers, stored total and latencies; `load` (optional) gives the users and
the offered rate of whatever produces (Locust's CSV history, or the capacity search's paced producer).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from loadtest.analysis.percentiles import percentile
from loadtest.local.consumers.scaler import ConsumerScaler


class Progress:
    def __init__(
        self,
        name: str,
        consumers: ConsumerScaler,
        load: Callable[[], tuple[int | None, float]] | None = None,
        interval_s: float = 5.0,
    ):
        self.name = name
        self.consumers = consumers
        self.load = load
        self.interval_s = interval_s
        self.phase = ""
        self._t0 = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"{name}-progress", daemon=True)
        self._last = (time.monotonic(), 0)

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._last = (self._t0, self.consumers.totals["stored"])
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            print(self.line(), flush=True)

    def line(self) -> str:
        now, stored = time.monotonic(), self.consumers.totals["stored"]
        then, stored_then = self._last
        self._last = (now, stored)
        rate = (stored - stored_then) / max(now - then, 1e-9)
        sample = self.consumers.samples[-1] if self.consumers.samples else None
        users, offered = self.load() if self.load else (None, 0.0)
        parts = [
            f"[{self.name}] {now - self._t0:4.0f}s {self.phase}",
            *([f"users {users}"] if users is not None else []),
            f"offered {offered:,.0f}/s stored {rate:,.0f}/s",
            f"queue {sample.queue_visible:,} visible {sample.queue_in_flight:,} in flight"
            if sample
            else "queue ?",
            f"pollers {self.consumers.pollers}",
        ]
        if self.consumers.latencies_ms:  # the worker fleet reports counts only (latencies: from the table)
            parts.append(f"p99 so far {percentile(self.consumers.latencies_ms, 0.99):,.0f} ms")
        return " | ".join(parts)
