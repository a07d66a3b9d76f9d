"""One typed record of a run, written by the runs that measure (the demo, the capacity search, the CloudWatch
collector) and read by everything in `loadtest/analysis/`: `RunRecord`.

A setting keeps one spelling from the stack file to the report: `settings` is keyed by the stack file's own
keys (`maxConcurrency`, `batchSize`, …, `infra.settings.KEYS`), and the record carries the names its stack
gave its queues and table (`names`), so nothing downstream reads the stack file again.

Where a record lives:

- `build/runs/<run>/run.json`: the whole record, every second of its series, plus the raw inputs the cost
  model fits (`request_counts`, `consumer_logs`, top-level keys beside the record's own);
- `report/data/<run>.json`: the same record for the report, committed (`RunRecord.save`): at most
  `MAX_POINTS` rows of series (longer runs keep every k-th row: totals and gauges are exact at the rows
  kept, each rate is recomputed over its row's longer interval, `Series.seconds_per_row` says k), no raw
  counts; a few KB. The report is rendered from these files only (loadtest/analysis/report_data.py).

The file is JSON; `RunRecord.load(path)` reads either. Fields, top level:

    kind          "demo" | "capacity" | "cloudwatch"
    run           the run's name: "demo-dev-lambda", "capacity-dev", "aws-dev" (its report/data file's stem)
    command       how it was run: "make demo", "make capacity STACK=fifo", …
    stack, mode   the stack file it ran (Pulumi.<stack>.yaml); "lambda" | "worker" | "chaos" | "aws"
    started_at, finished_at   ISO 8601, UTC
    machine       {cores, python, system, load_average_start, load_average_end} (1/5/15-minute load averages:
                  how busy the machine was besides the run)
    settings      the stack's settings, keyed by the stack file's keys
    names         {queue, dead_letter_queue, table}: the resources' names as the stack declared them
    plan          what was offered: {peak_rate_msgs_per_s, peak_users, user_rate, stage_seconds, batch_size,
                  poison_ratio, faults, source} (source: where the plateau's rate comes from)
    phases        [{name, seconds}]
    ceiling_msgs_per_s   the emulator's ceiling for the pipeline's call mix, under the pipeline's own
                         concurrency (loadtest/local/emulator/ceiling.py; null on AWS)
    series        per-second columns, t_s = seconds since the load started (below)
    ledger        {accepted, stored, in_dlq, lost, pending, duplicated, poison_accepted,
                  extra_dead_letter_copies, resent}
    runner        the consumers' counts: {min_pollers, max_pollers, invocations, records, stored,
                  failed_records, failed_invocations, routed_to_dlq, write_failures, timeouts,
                  unprocessed_retries, pollers_killed, throttles, …}
    latency_ms    end to end (sentAt → stored) over every stored event: {count, p50, p95, p99, max}
    throughput    {produced_msgs_per_s (over the load's length), stored_msgs_per_s (first to last store),
                  stored_vs_ceiling}
    batch_durations   receive-to-delete time of each batch (Lambda's billed duration stands in for it):
                  {batches, records_mean, mean_ms, p50_ms, p95_ms, p99_ms, max_ms, intercept_ms,
                  ms_per_record} (the last two: the least-squares line ms = intercept + slope × records)
    producer      Locust's own table for the demo: [{request, requests, failures, requests_per_s, p50_ms,
                  p95_ms, p99_ms}]
    measured_requests   the emulator's count per (service, operation, queue or table): [{service,
                  operation, resource, requests, messages, items, empty_receives, request_bytes,
                  response_bytes}]
    cost_usage    the cost model's measured inputs (`cost_inputs.Usage` as a dict), or null
    dlq_reasons   {reason: count}
    order_violations   per-vehicle order violations (FIFO stacks), else null
    capacity      the capacity search (kind "capacity"), else null: {steps: [Step], hold: Step,
                  failed_holds: [Step], sustained_msgs_per_s, sustained_share_of_ceiling, backlog,
                  backlog_drain_seconds, backlog_drain_msgs_per_s, backlog_drain_share_of_sustained,
                  final_drain_seconds, cpu_cores_during_hold, warm_start_seconds, goal_sustained_share,
                  goal_drain_share, p99_bound_ms}; a Step's t_start_s/t_end_s are on the series' clock
    note          free text the report shows under the section (e.g. "from an earlier run")

`series`, columns of equal length (one row a second; null where a column has no value that second):

    t_s                   seconds since the load started (the first send)
    offered_total         messages SendMessage(Batch) delivered to the main queue since the load started
                          (the emulator's count; on AWS, SQS NumberOfMessagesSent)
    offered_msgs_per_s    offered_total's growth over the row's interval
    stored_total          items the table took since the load started (the emulator's count; on AWS, the
                          messages deleted)
    stored_msgs_per_s     stored_total's growth over the row's interval
    queue_visible, queue_in_flight, dlq_visible   ApproximateNumberOfMessages(NotVisible) at t
    pollers               concurrent batches (pollers or workers) at t
    throttles_total       invokes refused by the function's concurrency limit, since the consumers started
    users                 Locust users at t (demo), else null
    latency_p50_ms, latency_p99_ms   end to end, of the events stored in the row's interval
    seconds_per_row       1, or k when the series was thinned to MAX_POINTS rows
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import platform
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from loadtest.analysis.percentiles import percentile

MAX_POINTS = 600  # rows of series a committed record keeps (10 minutes at one a second)
SERIES_COUNTS = ("offered_total", "stored_total")  # whose rate columns are recomputed when thinning


@dataclasses.dataclass
class Machine:
    cores: int
    python: str
    system: str
    load_average_start: list[float] = dataclasses.field(default_factory=list)
    load_average_end: list[float] = dataclasses.field(default_factory=list)

    @classmethod
    def now(cls) -> Machine:
        return cls(os.cpu_count() or 0, platform.python_version(), platform.system(), load_average())

    def describe(self) -> str:
        load = ""
        if self.load_average_start:
            during = self.load_average_end or self.load_average_start
            load = f", load average {self.load_average_start[0]:.1f} at the start, {during[0]:.1f} at the end"
        return f"{self.cores} cores, Python {self.python}, {self.system}{load}"


def load_average() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


@dataclasses.dataclass
class Series:
    t_s: list[float] = dataclasses.field(default_factory=list)
    offered_total: list[int] = dataclasses.field(default_factory=list)
    offered_msgs_per_s: list[float] = dataclasses.field(default_factory=list)
    stored_total: list[int] = dataclasses.field(default_factory=list)
    stored_msgs_per_s: list[float] = dataclasses.field(default_factory=list)
    queue_visible: list[int] = dataclasses.field(default_factory=list)
    queue_in_flight: list[int] = dataclasses.field(default_factory=list)
    dlq_visible: list[int] = dataclasses.field(default_factory=list)
    pollers: list[int] = dataclasses.field(default_factory=list)
    throttles_total: list[int] = dataclasses.field(default_factory=list)
    users: list[int | None] = dataclasses.field(default_factory=list)
    latency_p50_ms: list[float | None] = dataclasses.field(default_factory=list)
    latency_p99_ms: list[float | None] = dataclasses.field(default_factory=list)
    seconds_per_row: int = 1

    @classmethod
    def columns(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls) if f.name != "seconds_per_row"]

    def __len__(self) -> int:
        return len(self.t_s)

    def append(self, **row: Any) -> None:
        """One row; a column not given is null. The rates come from the totals and the previous row."""
        previous = len(self) - 1
        for name in self.columns():
            getattr(self, name).append(row.get(name))
        if previous >= 0:
            seconds = self.t_s[-1] - self.t_s[previous]
            for total in SERIES_COUNTS:
                self._rate_column(total)[-1] = _rate(getattr(self, total), previous, seconds)
        else:
            for total in SERIES_COUNTS:
                self._rate_column(total)[-1] = 0.0

    def _rate_column(self, total: str) -> list[float]:
        return getattr(self, total.replace("_total", "_msgs_per_s"))

    def rows(self) -> Iterable[dict[str, Any]]:
        for i in range(len(self)):
            yield {name: getattr(self, name)[i] for name in self.columns()}

    def thinned(self, max_points: int = MAX_POINTS) -> Series:
        """At most `max_points` rows: every k-th row (and the last), rates recomputed over k seconds."""
        if len(self) <= max_points:
            return dataclasses.replace(self)
        k = math.ceil(len(self) / max_points)
        keep = list(range(0, len(self), k))
        if keep[-1] != len(self) - 1:
            keep.append(len(self) - 1)
        thin = Series(seconds_per_row=self.seconds_per_row * k)
        for i in keep:
            thin.append(**{name: getattr(self, name)[i] for name in self.columns()})
        return thin


def _rate(totals: list[int | None], previous: int, seconds: float) -> float | None:
    now, before = totals[-1], totals[previous]
    if now is None or before is None or seconds <= 0:
        return None
    return round((now - before) / seconds, 1)


@dataclasses.dataclass
class Plan:
    peak_rate_msgs_per_s: float = 0.0
    peak_users: int = 0
    user_rate: float = 0.0  # send calls a second per user
    stage_seconds: float = 0.0
    batch_size: int = 10
    poison_ratio: float = 0.0
    faults: str = ""
    source: str = ""  # where the plateau's rate comes from


@dataclasses.dataclass
class Phase:
    name: str
    seconds: float


@dataclasses.dataclass
class Ledger:
    accepted: int = 0
    stored: int = 0
    in_dlq: int = 0
    lost: int = 0
    pending: int = 0
    duplicated: int = 0
    poison_accepted: int = 0
    extra_dead_letter_copies: int = 0
    resent: int = 0

    @classmethod
    def of(cls, result: Any) -> Ledger:
        """From a `ledger_check.LedgerResult` (or anything with the same counts)."""
        return cls(**{f.name: getattr(result, f.name, 0) for f in dataclasses.fields(cls)})

    @property
    def clean(self) -> bool:
        return self.lost == self.duplicated == self.pending == 0

    def line(self) -> str:
        counts = ("lost", "pending", "duplicated", "in_dlq", "stored", "accepted")
        resent = f" resent={self.resent}" if self.resent else ""
        return " ".join(f"{name}={getattr(self, name)}" for name in counts) + resent


@dataclasses.dataclass
class Latency:
    count: int = 0
    p50: float = 0.0
    p95: float = 0.0
    p99: float = 0.0
    max: float = 0.0

    @classmethod
    def of(cls, latencies_ms: Sequence[float]) -> Latency:
        if not latencies_ms:
            return cls()
        values = sorted(latencies_ms)
        return cls(
            len(values), *(round(percentile(values, q), 1) for q in (0.5, 0.95, 0.99)), float(values[-1])
        )


@dataclasses.dataclass
class Throughput:
    produced_msgs_per_s: float = 0.0
    stored_msgs_per_s: float = 0.0
    stored_vs_ceiling: float | None = None


@dataclasses.dataclass
class BatchDurations:
    batches: int = 0
    records_mean: float = 0.0
    mean_ms: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    intercept_ms: float = 0.0
    ms_per_record: float = 0.0

    @classmethod
    def of(cls, batches: Sequence[Sequence[float]]) -> BatchDurations:
        """From the emulator's [records, ms] pairs (request_counter's `batches`)."""
        if not batches:
            return cls()
        ms = sorted(float(m) for _, m in batches)
        records = [float(n) for n, _ in batches]
        intercept, slope = _least_squares(records, [float(m) for _, m in batches])
        return cls(
            len(ms),
            round(sum(records) / len(records), 2),
            round(sum(ms) / len(ms), 3),
            *(round(percentile(ms, q), 3) for q in (0.5, 0.95, 0.99)),
            ms[-1],
            round(intercept, 3),
            round(slope, 4),
        )


def _least_squares(x: list[float], y: list[float]) -> tuple[float, float]:
    """Intercept and slope; through the origin when x does not vary (one batch size)."""
    n = len(x)
    mean_x, mean_y = sum(x) / n, sum(y) / n
    spread = sum((v - mean_x) ** 2 for v in x)
    if spread == 0:
        return 0.0, (mean_y / mean_x if mean_x else 0.0)
    slope = sum((a - mean_x) * (b - mean_y) for a, b in zip(x, y, strict=True)) / spread
    return mean_y - slope * mean_x, slope


@dataclasses.dataclass
class Step:
    """One rate the capacity search offered, and what the pipeline did with it."""

    target_msgs_per_s: float
    offered_msgs_per_s: float = 0.0
    stored_msgs_per_s: float = 0.0
    backlog_start: int = 0
    backlog_end: int = 0
    backlog_slope: float = 0.0  # msgs/s, over the step's last two thirds
    pollers_max: int = 0
    pollers_mean: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    p99_ms: float = 0.0
    sustainable: bool = False
    why: str = ""
    t_start_s: float = 0.0  # on the series' clock (seconds since the load started)
    t_end_s: float = 0.0

    @property
    def seconds_held(self) -> float:
        return self.t_end_s - self.t_start_s


@dataclasses.dataclass
class CapacitySearch:
    steps: list[Step]
    hold: Step
    failed_holds: list[Step] = dataclasses.field(default_factory=list)
    sustained_msgs_per_s: float = 0.0
    sustained_share_of_ceiling: float = 0.0
    backlog: int = 0
    backlog_drain_seconds: float | None = None
    backlog_drain_msgs_per_s: float = 0.0
    backlog_drain_share_of_sustained: float = 0.0
    final_drain_seconds: float | None = None
    cpu_cores_during_hold: dict[str, float] = dataclasses.field(default_factory=dict)
    warm_start_seconds: float = 0.0
    goal_sustained_share: float = 0.75
    goal_drain_share: float = 0.8
    p99_bound_ms: float = 2000.0
    # The emulator's ceiling measured before and after the search (measure_ceiling's as_dict: best, rounds,
    # min–max, clients), the share is of the best of them, and why if the pipeline still beat them.
    ceiling_before: dict[str, Any] = dataclasses.field(default_factory=dict)
    ceiling_after: dict[str, Any] = dataclasses.field(default_factory=dict)
    ceiling_note: str = ""
    # The machine while the search and the hold ran: load average, other processes' cores, noisy or not.
    noise: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class ResourceNames:
    queue: str = ""
    dead_letter_queue: str = ""
    table: str = ""

    @classmethod
    def of(cls, spec: Any) -> ResourceNames:
        """From an `infra.resource_spec.StackSpec`: the names the program gives the stack's resources."""
        return cls(spec.queue.name, spec.dead_letter_queue.name, spec.table_name)


@dataclasses.dataclass
class RunRecord:
    kind: str
    run: str
    command: str
    stack: str
    mode: str
    started_at: str
    finished_at: str
    machine: Machine
    settings: dict[str, Any]
    names: ResourceNames = dataclasses.field(default_factory=ResourceNames)
    plan: Plan = dataclasses.field(default_factory=Plan)
    phases: list[Phase] = dataclasses.field(default_factory=list)
    ceiling_msgs_per_s: float | None = None
    series: Series = dataclasses.field(default_factory=Series)
    ledger: Ledger = dataclasses.field(default_factory=Ledger)
    runner: dict[str, Any] = dataclasses.field(default_factory=dict)
    latency_ms: Latency = dataclasses.field(default_factory=Latency)
    throughput: Throughput = dataclasses.field(default_factory=Throughput)
    batch_durations: BatchDurations = dataclasses.field(default_factory=BatchDurations)
    producer: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    measured_requests: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    cost_usage: dict[str, Any] | None = None
    dlq_reasons: dict[str, int] = dataclasses.field(default_factory=dict)
    order_violations: int | None = None
    capacity: CapacitySearch | None = None
    note: str = ""

    @property
    def date(self) -> str:
        """The day the run ended, as the report shows it."""
        return self.finished_at[:10]

    @property
    def consumers(self) -> str:
        """What its consumers are called: a worker fleet's workers, an event source mapping's pollers."""
        return "workers" if self.mode == "worker" else "pollers"

    def to_dict(self, max_points: int | None = None) -> dict[str, Any]:
        series = self.series.thinned(max_points) if max_points else self.series
        return dataclasses.asdict(dataclasses.replace(self, series=series))

    def save(self, path: Path, max_points: int | None = MAX_POINTS, **raw: Any) -> Path:
        """Write the record (its series thinned to `max_points` rows; None keeps every row); `raw`: extra
        top-level keys for the build copy (the cost model's request counts and logs)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(compact_json({**self.to_dict(max_points), **raw}) + "\n")
        return path

    @classmethod
    def load(cls, path: Path) -> RunRecord:
        return cls.from_dict(json.loads(Path(path).read_text()))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        return _build(cls, data)


def _build(kind: type, data: Any) -> Any:
    """A dataclass from its asdict() form, nested ones included; unknown keys (raw counts) are ignored."""
    import typing

    hints = typing.get_type_hints(kind)
    values = {}
    for field in dataclasses.fields(kind):
        if field.name not in data:
            continue
        values[field.name] = _typed(hints[field.name], data[field.name])
    return kind(**values)


def _typed(hint: Any, value: Any) -> Any:
    import types
    import typing

    if value is None:
        return None
    options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
    for option in options:
        if dataclasses.is_dataclass(option):
            return _build(option, value)
        if typing.get_origin(option) is list:
            (item,) = typing.get_args(option) or (Any,)
            if dataclasses.is_dataclass(item):
                return [_build(item, v) for v in value]
    return value


def compact_json(data: Any, indent: int = 0) -> str:
    """JSON with one key a line and each list of numbers or strings on one line: short files, short diffs."""
    pad, inner = " " * indent, " " * (indent + 1)
    if isinstance(data, dict):
        if not data:
            return "{}"
        body = ",\n".join(f"{inner}{json.dumps(k)}: {compact_json(v, indent + 1)}" for k, v in data.items())
        return "{\n" + body + "\n" + pad + "}"
    if isinstance(data, list) and any(isinstance(v, dict | list) for v in data):
        return "[\n" + ",\n".join(inner + compact_json(v, indent + 1) for v in data) + "\n" + pad + "]"
    return json.dumps(data, ensure_ascii=False, default=str)


def latency_by_second(
    stored_sent_ms: Iterable[tuple[int, int]], load_started_ms: int, t_s: Sequence[float]
) -> tuple[list[float | None], list[float | None]]:
    """p50 and p99 end-to-end latency of the events stored in each row's interval (t[i-1], t[i]], from
    (storedAt, sentAt) epoch milliseconds; null where nothing was stored."""
    import bisect

    buckets: list[list[int]] = [[] for _ in t_s]
    for stored, sent in stored_sent_ms:
        at = (stored - load_started_ms) / 1000
        row = bisect.bisect_left(t_s, at)
        if row < len(t_s):
            buckets[row].append(stored - sent)
    p50 = [round(percentile(b, 0.5), 1) if b else None for b in buckets]
    p99 = [round(percentile(b, 0.99), 1) if b else None for b in buckets]
    return p50, p99


def settings_by_key(settings: Any) -> dict[str, Any]:
    """A `StackSettings` as the stack file spells it: {"maxConcurrency": 10, …}, JSON-ready."""
    from infra.settings import KEYS

    def plain(value: Any) -> Any:
        if dataclasses.is_dataclass(value):
            return dataclasses.asdict(value)
        return list(value) if isinstance(value, tuple) else value

    return {key: plain(getattr(settings, meta.field)) for key, meta in KEYS.items()}


def measured_requests(request_counts: dict[str, Any]) -> list[dict[str, Any]]:
    """The emulator's SQS and DynamoDB counts per (operation, queue or table), in its own shape
    (request_counter's `operations`) without the fields no report reads."""
    kept = ("service", "operation", "resource", "requests", "messages", "items", "empty_receives")
    kept += ("request_bytes", "response_bytes")
    return [
        {key: o.get(key, 0) for key in kept}
        for o in request_counts.get("operations", [])
        if o["service"] in ("sqs", "dynamodb")
    ]
