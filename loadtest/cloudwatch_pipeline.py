"""The pipeline view on AWS (pipeline_view.py): CloudWatch GetMetricData, one data point a minute.

What it reads, in one GetMetricData call with one-minute periods (the stack's names come from its outputs;
the DLQ's from the queue's redrive policy when only a queue URL is given):

- backlog, in flight, age of the oldest message: AWS/SQS ApproximateNumberOfMessagesVisible,
  ApproximateNumberOfMessagesNotVisible, ApproximateAgeOfOldestMessage of the queue (Maximum);
- DLQ depth: AWS/SQS ApproximateNumberOfMessagesVisible of the DLQ (Maximum);
- consumers: AWS/Lambda ConcurrentExecutions of the function, the `functionName` output (Maximum);
- stored events: the consumer's EMF metric EndToEndLatency in the stack's metrics namespace, dimension
  service=vehicle-consumer (SampleCount, Minimum, p50, p90, p99, Maximum).

The depths shown are each series' latest minute, with that minute as "as of".

Stored events. CloudWatch keeps no event's own latency: EndToEndLatency holds, per minute, how many values the
consumer put (SampleCount: one per stored event with a sentAt) and their statistics. Each minute that has
ended is rebuilt as SampleCount latencies whose quantiles are that minute's: latency number k of n (0-based)
is the value at quantile (k + 0.5) / n on the piecewise-linear curve through (0, Minimum), (0.5, p50),
(0.9, p90), (0.99, p99) and (1, Maximum); their times are spread evenly over the minute. A minute read again
with a larger SampleCount (EMF data that arrived late) adds the difference, taken evenly from that minute's
rebuilt set. What it loses: the shape between those five points (within a band the latencies are spread
linearly), each event's own time within its minute, events of a minute whose data arrives more than
LOOKBACK_S late, and events stored without a sentAt (EMF has no latency for them). A minute counts from the
one the test started in, which may hold events stored just before the start.

CloudWatch is read at most every REFRESH_S: a new data point comes once a minute, and GetMetricData is billed
per metric requested (11 metrics twice a minute: about 32,000 a day).
"""

from __future__ import annotations

import bisect
import dataclasses
import datetime
import time
from collections.abc import Callable
from typing import Any

from consumer.configuration import DEFAULT_SERVICE_NAME
from loadtest.cloudwatch_queries import PERIOD_S, metric_query, metric_series
from loadtest.pipeline_view import PipelineReading, dead_letter_queue_name
from loadtest.stack_target import StackTarget

REFRESH_S = 30.0
LOOKBACK_S = 15 * 60  # SQS's own metrics may lag up to 15 minutes after a queue wakes from idle
LATENCY_METRIC = "EndToEndLatency"  # consumer/handler.py, one value per stored event with a sentAt
# (query id suffix, statistic), and where each statistic sits on the rebuilt curve
LATENCY_STATISTICS = {
    "count": "SampleCount",
    "min": "Minimum",
    "p50": "p50",
    "p90": "p90",
    "p99": "p99",
    "max": "Maximum",
}
QUANTILES = ((0.0, "min"), (0.5, "p50"), (0.9, "p90"), (0.99, "p99"), (1.0, "max"))
# (query id, namespace, metric, which resource, dimension name)
DEPTHS = (
    ("queue_visible", "AWS/SQS", "ApproximateNumberOfMessagesVisible", "queue", "QueueName"),
    ("queue_in_flight", "AWS/SQS", "ApproximateNumberOfMessagesNotVisible", "queue", "QueueName"),
    ("oldest_age", "AWS/SQS", "ApproximateAgeOfOldestMessage", "queue", "QueueName"),
    ("dlq_visible", "AWS/SQS", "ApproximateNumberOfMessagesVisible", "dlq", "QueueName"),
    ("concurrency", "AWS/Lambda", "ConcurrentExecutions", "function", "FunctionName"),
)


def rebuild_minute(count: int, statistics: dict[str, float | None]) -> list[float]:
    """`count` latencies whose quantiles are the minute's `statistics` (min, p50, p90, p99, max; a missing one
    is left out of the curve)."""
    points = [(q, statistics[name]) for q, name in QUANTILES if statistics.get(name) is not None]
    if count <= 0 or not points:
        return []
    quantiles = [q for q, _ in points]
    latencies = []
    for k in range(count):
        q = (k + 0.5) / count
        right = bisect.bisect_left(quantiles, q)
        if right == 0 or right == len(points):  # beyond the first or last known point: hold its value
            latencies.append(float(points[min(right, len(points) - 1)][1]))
            continue
        (q0, v0), (q1, v1) = points[right - 1], points[right]
        latencies.append(v0 + (v1 - v0) * (q - q0) / (q1 - q0))
    return latencies


def evenly(count: int, total: int) -> list[int]:
    """`count` of the indices 0 … total-1, spread evenly (the late part of a minute, as a sample of it)."""
    return [min(total - 1, int((i + 0.5) * total / count)) for i in range(count)]


class CloudWatchPipeline:
    source = "CloudWatch"

    def __init__(
        self,
        cloudwatch: Any,
        names: dict[str, str | None],  # queue, dlq, function: None leaves that series out
        namespace: str,
        service: str = DEFAULT_SERVICE_NAME,
        clock: Callable[[], float] = time.time,
        refresh_s: float = REFRESH_S,
    ):
        self.cloudwatch, self.names, self.namespace, self.service = cloudwatch, names, namespace, service
        self.clock, self.refresh_s = clock, refresh_s
        self._since = 0.0
        self._fetched_at: float | None = None
        self._depths = PipelineReading(None, None, None, None, None)
        self._given: dict[float, int] = {}  # minute start (epoch s) -> latencies given for it

    @classmethod
    def for_target(cls, target: StackTarget, namespace: str) -> CloudWatchPipeline:
        sqs = target.queue.client("sqs")
        function = target.outputs.get("functionName")
        names = {
            "queue": target.queue.name,
            "dlq": dead_letter_queue_name(target, sqs),
            "function": function if isinstance(function, str) else None,
        }
        return cls(target.queue.client("cloudwatch"), names, namespace)

    def queries(self) -> list[dict]:
        depths = [
            metric_query(query_id, namespace, metric, {dimension: self.names[resource]}, "Maximum")
            for query_id, namespace, metric, resource, dimension in DEPTHS
            if self.names.get(resource)
        ]
        latency = [
            metric_query(f"latency_{suffix}", self.namespace, LATENCY_METRIC, {"service": self.service}, stat)
            for suffix, stat in LATENCY_STATISTICS.items()
        ]
        return depths + latency

    def start(self) -> None:
        self._since = self.clock()

    def read(self) -> PipelineReading:
        now = self.clock()
        if self._fetched_at is not None and now - self._fetched_at < self.refresh_s:
            return self._depths  # nothing new yet: data points come a minute at a time
        self._fetched_at = now
        end = datetime.datetime.fromtimestamp(now, datetime.UTC)
        series = metric_series(
            self.cloudwatch, self.queries(), end - datetime.timedelta(seconds=LOOKBACK_S), end
        )
        self._depths = self._latest_depths(series)
        return dataclasses.replace(self._depths, stored=tuple(self._new_stored(series, now)))

    @staticmethod
    def _latest_depths(series: dict[str, dict[datetime.datetime, float]]) -> PipelineReading:
        latest = {
            query_id: points[max(points)] for query_id, *_ in DEPTHS if (points := series.get(query_id))
        }
        stamps = [max(series[query_id]) for query_id in latest]

        def whole(query_id: str) -> int | None:
            return int(latest[query_id]) if query_id in latest else None

        return PipelineReading(
            as_of=max(stamps).timestamp() if stamps else None,
            queue_visible=whole("queue_visible"),
            queue_in_flight=whole("queue_in_flight"),
            dlq_visible=whole("dlq_visible"),
            consumers=whole("concurrency"),
            oldest_message_age_s=latest.get("oldest_age"),
        )

    def _new_stored(
        self, series: dict[str, dict[datetime.datetime, float]], now: float
    ) -> list[tuple[float, float]]:
        first_minute = self._since - self._since % PERIOD_S  # the minute the test started in
        stored = []
        for stamp, count in sorted(series.get("latency_count", {}).items()):
            minute = stamp.timestamp()
            given = self._given.get(minute, 0)
            if minute < first_minute or minute + PERIOD_S > now or count <= given:
                continue
            statistics = {name: series.get(f"latency_{name}", {}).get(stamp) for _, name in QUANTILES}
            rebuilt = rebuild_minute(int(count), statistics)
            for k in evenly(len(rebuilt) - given, len(rebuilt)):
                stored.append(((minute + PERIOD_S * (k + 0.5) / len(rebuilt)) * 1000, rebuilt[k]))
            self._given[minute] = len(rebuilt)
        for minute in [m for m in self._given if m < now - LOOKBACK_S - PERIOD_S]:
            del self._given[minute]  # beyond the window read: never seen again
        return stored
