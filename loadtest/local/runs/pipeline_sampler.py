"""The run's per-second series (`run_record.Series`), every column read at one instant.

Each `sample()` asks the emulator for its counts per operation (`GET /_pipeline/request-counts?summary=1`,
request_counter.py): the messages SendMessage(Batch) delivered to the main queue and the items the table
took, so "offered" and "stored" are the same moment's, from the same counter (a producer's own history file
lags by seconds and makes the tail look like loss). The queue's depth and the pollers come from the
consumers' last sample (their controller reads the queue every second); Locust's users from `users()`.

Without the emulator's counter (stock moto, AWS) offered is null and stored is the consumers' own count.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from loadtest.analysis.run_record import Series
from loadtest.local.consumers.scaler import ConsumerScaler
from loadtest.local.emulator.request_counter import fetch_counts

SENDS = ("SendMessage", "SendMessageBatch")
WRITES = ("PutItem", "BatchWriteItem")


def pipeline_counts(endpoint: str, queue_name: str) -> tuple[int, int]:
    """Messages sent to `queue_name` and items written to any table, since the counter's last reset."""
    counts = fetch_counts(endpoint, timeout_s=2, summary=True)
    sent = written = 0
    for o in counts["operations"]:
        if o["service"] == "sqs" and o["operation"] in SENDS and o["resource"] == queue_name:
            sent += o.get("messages", 0)
        elif o["service"] == "dynamodb" and o["operation"] in WRITES:
            written += o.get("items", 0)
    return sent, written


class PipelineSampler:
    def __init__(
        self,
        consumers: ConsumerScaler,
        endpoint: str | None = None,
        users: Callable[[], int | None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.consumers = consumers
        self.endpoint = endpoint if endpoint is not None else os.environ.get("AWS_ENDPOINT_URL", "")
        self.queue_name = consumers.queue_url.rstrip("/").rsplit("/", 1)[-1]
        self.users = users
        self.series = Series()
        self.started_epoch_ms = 0
        self._monotonic = monotonic
        self._t0 = monotonic()
        self._base: tuple[int, int] = (0, 0)
        self._counter_answers = bool(self.endpoint)
        self._latency_marks: list[tuple[Any, int]] = []  # per row: (the consumers' latency list, its length)

    def start(self) -> None:
        """t = 0: the load starts now; the totals count from here. The first row is the queue as the load
        finds it (make capacity's backlog waiting), read now rather than from the consumers' last sample."""
        self._t0 = self._monotonic()
        self.started_epoch_ms = int(time.time() * 1000)
        self._base = self._counts() or (0, 0)
        self.sample(depth=self.consumers.depth())

    def clock(self) -> float:
        """Seconds since the load started (the series' clock)."""
        return self._monotonic() - self._t0

    def _counts(self) -> tuple[int, int] | None:
        if not self._counter_answers:
            return None
        try:
            return pipeline_counts(self.endpoint, self.queue_name)
        except (OSError, ValueError, KeyError):
            self._counter_answers = False  # stock moto, or gone: say nothing wrong, fall back
            return None

    def sample(self, depth: tuple[int, int, int] | None = None) -> None:
        """One row: now's counts, and the queue's (visible, in flight, DLQ) `depth` if given, else the
        consumers' last sample of it."""
        counts = self._counts()
        t = round(self.clock(), 1)
        if depth is None and self.consumers.samples:
            last = self.consumers.samples[-1]
            depth = (last.queue_visible, last.queue_in_flight, last.dlq_visible)
        if counts is None:
            offered, stored = None, self.consumers.totals["stored"]
        else:
            offered, stored = counts[0] - self._base[0], counts[1] - self._base[1]
        self.series.append(
            t_s=t,
            offered_total=offered,
            stored_total=stored,
            queue_visible=depth[0] if depth else None,
            queue_in_flight=depth[1] if depth else None,
            dlq_visible=depth[2] if depth else None,
            pollers=self.consumers.pollers,
            throttles_total=self.consumers.totals.get("throttles", 0),
            users=self.users() if self.users else None,
        )
        latencies = self.consumers.latencies_ms
        self._latency_marks.append((latencies, len(latencies)))

    def latencies_since(self, rows_back: int) -> list[int]:
        """End-to-end latencies the consumers reported over the last `rows_back` rows."""
        if len(self._latency_marks) <= rows_back:
            start_list, start = (self._latency_marks[0][0], 0) if self._latency_marks else (None, 0)
        else:
            start_list, start = self._latency_marks[-1 - rows_back]
        latencies = self.consumers.latencies_ms
        if start_list is not latencies:  # the list was started afresh (forget_latencies) in between
            start = 0
        return latencies[start:]

    def rate(self, column: str, rows_back: int) -> float | None:
        """msgs/s of a total column over the last `rows_back` rows."""
        totals, t = getattr(self.series, column), self.series.t_s
        if len(t) < 2:
            return None
        first = max(0, len(t) - 1 - rows_back)
        if totals[-1] is None or totals[first] is None or t[-1] <= t[first]:
            return None
        return (totals[-1] - totals[first]) / (t[-1] - t[first])
