"""The cost model's usage inputs, measured: from a local run's request counts and logs, or from CloudWatch.

A local run leaves three things (loadtest/local/runs/demo.py puts them in run.json):
- `request_counts`: what the emulator counted (loadtest/local/emulator/request_counter.py): requests by
  service, operation and queue or table, messages, empty receives, item sizes in the table and its indexes,
  and the receive-to-delete time of every batch;
- `consumer_logs`: what `consumer_log_bytes` measures in the pollers' log files: the bytes each invocation
  wrote to stdout (which Lambda ships to CloudWatch Logs), with its record count, and the EMF metric series;
- `runner`: the invocations and records the local event source mapping counted.

`usage_from_run` turns them into a `Usage`: ratios per event, fitted lines per batch, sizes. What no local
run can measure is Lambda's billed duration: the receive-to-delete time of a batch stands in for it (the
handler's run plus the poller's bookkeeping, on this machine's CPU against a local emulator; on AWS the
network to DynamoDB adds to it and a 256 MB function has a fraction of a vCPU). `usage_from_cloudwatch`
builds the same inputs from a deployed stack's own metrics, where Duration is the real one.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from infra.resource_spec import StackSpec
from infra.settings import StackSettings, from_stack_file
from loadtest.analysis.aws_prices import PriceBook

MAX_INVOCATIONS_KEPT = 50_000  # per-invocation pairs kept for the fit; totals count every invocation


@dataclasses.dataclass(frozen=True)
class Line:
    """y = intercept + slope × records, fitted over (records, y) points; `points` is how many."""

    intercept: float
    slope: float
    points: int

    def at(self, records: float) -> float:
        return self.intercept + self.slope * records


def fit_line(pairs: Iterable[tuple[float, float]]) -> Line:
    """Least squares over (records, value). With a single batch size in the data, or a negative intercept,
    the line goes through the origin (value proportional to records): it never invents a fixed cost per
    batch the data does not show, which keeps one-record batches (the seed style) from looking cheaper."""
    points = [(float(x), float(y)) for x, y in pairs if x > 0]
    if not points:
        return Line(0.0, 0.0, 0)
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    if spread > 0:
        slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / spread
        intercept = mean_y - slope * mean_x
        if intercept >= 0 and slope >= 0:
            return Line(intercept, slope, n)
    return Line(0.0, mean_y / mean_x, n)


@dataclasses.dataclass(frozen=True)
class Usage:
    """What one run measured, per event and per batch, as the cost model reads it."""

    source: str
    events: int  # messages the producer got into the queue
    messages_per_send: float  # per SendMessage(Batch) call the producer made
    deliveries_per_event: float  # messages received / events: retries and redeliveries raise it
    messages_per_receive: float  # per ReceiveMessage that returned messages
    dlq_sends_per_event: float  # invalid records the consumer sent to the DLQ itself
    sqs_largest_body_bytes: int  # above the 64 KiB chunk, a call would bill more than one request
    records_per_invocation: float
    batch_size: int  # the measured stack's batch size: records_per_invocation / batch_size is the batch fill
    batch_ms: Line  # receive-to-delete time of a batch (stands in for Lambda's billed duration)
    log_bytes: Line  # bytes logged per invocation
    log_bytes_include_platform: bool  # CloudWatch's IncomingBytes includes Lambda's START/END/REPORT lines
    table_write_units_per_event: float  # WRUs, each item rounded up to the write unit
    index_write_units_per_event: float  # the same for every GSI entry written
    item_bytes: tuple[float, int, int]  # mean, smallest, largest item written
    custom_metrics: int  # distinct EMF metric series (namespace, name, dimensions)
    consumer_msgs_per_s: float  # a busy consumer's throughput: messages per (receive + batch) second
    empty_receives: int  # measured; the local pollers long-poll 1 s, so reported, not modelled
    run_seconds: float

    @property
    def batch_fill(self) -> float:
        return self.records_per_invocation / self.batch_size


# ---- the pollers' logs --------------------------------------------------------------------------------
def _emf_series(document: dict) -> list[str]:
    """`namespace/metric{dim=value,…}` for every metric an EMF document defines."""
    series = []
    for directive in document.get("_aws", {}).get("CloudWatchMetrics", []):
        for dimension_set in directive.get("Dimensions", []):
            dims = ",".join(f"{name}={document.get(name)}" for name in dimension_set)
            series += [
                f"{directive['Namespace']}/{m['Name']}{{{dims}}}" for m in directive.get("Metrics", [])
            ]
    return series


def _metric_total(value: float | list[float]) -> int:
    """An EMF value is a number or, as Powertools writes it, a list of the values added."""
    return int(sum(value) if isinstance(value, list) else value)


def consumer_log_bytes(log_dir: Path) -> dict[str, Any]:
    """What the consumer wrote to stdout, per invocation: Lambda ships each line to CloudWatch Logs.

    An invocation's lines end with the EMF document `metrics.log_metrics` prints after the handler returns
    (the one holding BatchSize, its record count); every line since the previous one is its. Also returns the
    distinct EMF metric series, each a billed custom metric."""
    per_invocation: list[list[int]] = []
    invocations = total = unattributed = 0
    series: set[str] = set()
    for path in sorted(Path(log_dir).glob("*.log")):
        pending = 0
        for line in path.read_bytes().splitlines():
            pending += len(line)
            if not line.startswith(b"{") or b'"_aws"' not in line:
                continue
            document = json.loads(line)
            series.update(_emf_series(document))
            if "BatchSize" in document:
                invocations += 1
                total += pending
                if len(per_invocation) < MAX_INVOCATIONS_KEPT:
                    per_invocation.append([_metric_total(document["BatchSize"]), pending])
                pending = 0
        unattributed += pending  # after a poller's last invocation: its shutdown, no invocation's
    return {
        "invocations": invocations,
        "bytes": total,
        "unattributed_bytes": unattributed,
        "per_invocation": per_invocation,
        "metric_series": sorted(series),
    }


# ---- a local run ----------------------------------------------------------------------------------------
def _operations(counts: Mapping[str, Any]) -> dict[tuple[str, str, str], dict]:
    return {(o["service"], o["operation"], o["resource"]): o for o in counts["operations"]}


def _write_units(sizes: Mapping[int, int], unit_bytes: float) -> int:
    """Each item (or index entry) is rounded up to whole write units."""
    return sum(n * max(1, math.ceil(size / unit_bytes)) for size, n in sizes.items())


def _merged(histograms: Iterable[Mapping[str, int]]) -> Counter:
    merged: Counter = Counter()
    for histogram in histograms:
        merged.update({int(size): n for size, n in histogram.items()})
    return merged


def run_spec(run: Mapping[str, Any]) -> StackSpec:
    """The names the run's stack gave its queues and table (from its stack file, as the run did)."""
    return StackSpec(run["stack"], from_stack_file(run["stack"]))


def usage_from_run(run: Mapping[str, Any], prices: PriceBook, spec: StackSpec | None = None) -> Usage:
    """A local run's measured usage. Needs `request_counts`, `consumer_logs` and `runner` in `run`."""
    missing = [key for key in ("request_counts", "consumer_logs", "runner") if key not in run]
    if missing:
        raise KeyError(f"run.json of {run.get('stack')}-{run.get('mode')} has no {', '.join(missing)}")
    spec = spec or run_spec(run)
    counts, logs, runner = run["request_counts"], run["consumer_logs"], run["runner"]
    ops = _operations(counts)
    queue, dlq, table = spec.queue.name, spec.dead_letter_queue.name, spec.table_name

    def tally(operation: str, field: str, resource: str = queue, service: str = "sqs") -> float:
        return ops.get((service, operation, resource), {}).get(field, 0)

    events = tally("SendMessageBatch", "messages") + tally("SendMessage", "messages")
    if not events:
        raise ValueError(f"the run's counts hold no message sent to {queue}")
    sends = tally("SendMessageBatch", "requests") + tally("SendMessage", "requests")
    received = tally("ReceiveMessage", "messages")
    busy_receives = tally("ReceiveMessage", "requests") - tally("ReceiveMessage", "empty_receives")
    busy_receive_s = tally("ReceiveMessage", "seconds") - tally("ReceiveMessage", "empty_receive_seconds")
    deletes = tally("DeleteMessageBatch", "requests") + tally("DeleteMessage", "requests")
    delete_s = tally("DeleteMessageBatch", "seconds") + tally("DeleteMessage", "seconds")
    batches = counts["batches"]
    unit = prices.rule("dynamodb_write_unit_bytes")
    item_sizes = _merged([counts["item_sizes"].get(table, {})])
    index_sizes = _merged(counts["index_entry_sizes"].get(table, {}).values())
    written = sum(item_sizes.values())
    messages_per_receive = received / max(1, busy_receives)
    return Usage(
        source=f"local run {run['stack']}-{run['mode']}",
        events=int(events),
        messages_per_send=events / sends,
        deliveries_per_event=received / events,
        messages_per_receive=messages_per_receive,
        dlq_sends_per_event=tally("SendMessage", "messages", dlq) / events,
        sqs_largest_body_bytes=int(
            max((o["largest_body_bytes"] for o in counts["operations"] if o["service"] == "sqs"), default=0)
        ),
        records_per_invocation=runner["records"] / max(1, runner["invocations"]),
        batch_size=int(run["settings"]["batchSize"]),
        batch_ms=fit_line(batches),
        log_bytes=fit_line(logs["per_invocation"]),
        log_bytes_include_platform=False,
        table_write_units_per_event=_write_units(item_sizes, unit) / events,
        index_write_units_per_event=_write_units(index_sizes, unit) / events,
        item_bytes=(
            sum(size * n for size, n in item_sizes.items()) / max(1, written),
            min(item_sizes, default=0),
            max(item_sizes, default=0),
        ),
        custom_metrics=len(logs["metric_series"]),
        consumer_msgs_per_s=busy_consumer_rate(
            batches,
            busy_receive_s / max(1, busy_receives),
            messages_per_receive,
            delete_s / max(1, deletes),
        ),
        empty_receives=int(tally("ReceiveMessage", "empty_receives")),
        run_seconds=float(counts["elapsed_seconds"]),
    )


def busy_consumer_rate(
    batches: list[list[float]], receive_s: float, messages_per_receive: float, delete_s: float
) -> float:
    """Messages a second one consumer takes when it never waits: a batch's messages over its cycle, which is
    the receives that gather it, the batch itself (receive to delete) and its delete."""
    if not batches:
        return 0.0
    messages = sum(n for n, _ in batches) / len(batches)
    cycle_s = (
        sum(ms for _, ms in batches) / len(batches) / 1000
        + messages / max(1e-9, messages_per_receive) * receive_s
        + delete_s
    )
    return messages / cycle_s


# ---- a deployed stack -----------------------------------------------------------------------------------
def usage_from_cloudwatch(
    totals: Mapping[str, float], settings: StackSettings, send_requests: int, window_seconds: float
) -> Usage:
    """The same inputs from a deployed stack's CloudWatch totals over a run (`cloudwatch_source.cost_totals`)
    and the producer's own request count (Locust's, for its SendMessageBatch calls).

    CloudWatch counts messages, not ReceiveMessage calls, and has no per-batch split: a poller is taken to
    fill a batch with receives of up to 10, and duration and log bytes to grow in proportion to records."""
    sent = totals["sent"]
    if not sent or not totals["invocations"]:
        raise ValueError("the CloudWatch totals hold no message sent or no invocation")
    invocations = totals["invocations"]
    records = totals["received"] / invocations
    mean_ms = totals["duration_sum_ms"] / invocations
    return Usage(
        source="CloudWatch",
        events=int(sent),
        messages_per_send=sent / send_requests,
        deliveries_per_event=totals["received"] / sent,
        messages_per_receive=min(10.0, records),
        dlq_sends_per_event=totals["dlq_sent"] / sent,
        sqs_largest_body_bytes=int(totals["largest_message_bytes"]),
        records_per_invocation=records,
        batch_size=settings.batch_size,
        batch_ms=Line(0.0, mean_ms / records, int(totals["invocations"])),
        log_bytes=Line(
            0.0, totals["log_bytes"] / totals["invocations"] / records, int(totals["invocations"])
        ),
        log_bytes_include_platform=True,
        table_write_units_per_event=totals["table_write_units"] / sent,
        index_write_units_per_event=totals["index_write_units"] / sent,
        item_bytes=(0.0, 0, 0),  # CloudWatch has write units, not item sizes
        custom_metrics=int(totals["custom_metrics"]),
        consumer_msgs_per_s=records / (mean_ms / 1000) if mean_ms else 0.0,
        empty_receives=int(totals["empty_receives"]),
        run_seconds=window_seconds,
    )
