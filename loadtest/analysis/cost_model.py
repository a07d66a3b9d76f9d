"""What the pipeline costs a month on AWS, line by line, for a given number of events.

Three designs on one counts model, all fed by the same measured usage (`cost_inputs.Usage`) and priced from
one `PriceBook` (aws_prices.json, or `--prices FILE`):

- this design (`LambdaDesign.for_stack`): the producer's batches, Lambda's poller (up to 10 messages a
  receive, batches of `batchSize`, DeleteMessageBatch of up to 10), one BatchWriteItem per 25 records, the
  function's logs, EMF metrics and X-Ray traces, the stack's alarms and dashboard, its KMS key if any;
- seed-style (`seed_style`): what the seeds do, one SendMessage per event, one receive-process-delete per
  message (a batch of one), one put_item per record, on the same function, table and observability;
- the EC2 worker fleet (`FleetDesign`): `python -m consumer.worker` on t4g.small instances, as many as the
  event rate needs at the measured throughput of one busy consumer, never fewer than the minimum;
- the floor (`floor_month`): the least a month of events can cost with a stack's settings while each event is
  stored once — its write units alone (no index, no retry), SQS send, receive and delete in calls of 10, one
  invocation per batch at the measured duration, and nothing else (no logs, traces, metrics or alarms).
  `design ÷ floor` is what the design adds to what storing the events needs.

Requests and sizes per event come from the run; the rules that turn them into billed units (64 KiB per SQS
request, 1 KB per write unit and per index entry, X-Ray's sampling, the KMS data-key period) are data too.
Events are taken to arrive evenly over the month (X-Ray's reservoir is per second: an even month records
the most traces). Free tiers, taxes and Savings Plans are left out. `cost_report.py` writes REPORT.md's
section from it (and is the command line: `python -m loadtest.analysis.cost_report --prices FILE`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence

from infra.settings import StackSettings
from loadtest.analysis.aws_prices import PriceBook
from loadtest.analysis.cost_inputs import Usage

SECONDS_PER_HOUR = 3600
# What infra/monitoring.py declares with alarmsEnabled: seven single-metric alarms, and the error-rate and
# event-source-not-polling alarms, whose metric math reads two metrics each (CloudWatch bills an alarm per
# metric it reads). tests/infra/test_cost_allocation.py counts them in every stack's mocked graph.
STACK_ALARM_METRICS = 11
# A fleet without the function keeps the alarms on the queue, the DLQ and the table, and gets the two
# alarms target tracking creates on its backlog-per-instance metric math (two metrics each).
FLEET_ALARM_METRICS = 3 + 2 * 2
DASHBOARDS = 1
ROOT_VOLUME_GB = 8  # infra/worker_fleet.py: the launch template's gp3 root volume
DELETE_BATCH = 10  # DeleteMessageBatch and ReceiveMessage take up to 10 messages
# Lambda's lines around every invocation, as its developer guide shows them (text log format): START, END,
# and REPORT (with the X-Ray segment when tracing is Active). A request id is always 36 characters.
_REQUEST_ID = "8f507cfc-xmpl-4697-b07a-ac58fc914c95"
PLATFORM_LINES = (
    f"START RequestId: {_REQUEST_ID} Version: $LATEST",
    f"END RequestId: {_REQUEST_ID}",
    f"REPORT RequestId: {_REQUEST_ID}\tDuration: 12.34 ms\tBilled Duration: 13 ms\t"
    "Memory Size: {memory} MB\tMax Memory Used: 85 MB\t",
)
XRAY_REPORT_SUFFIX = (
    "\nXRAY TraceId: 1-5e1b4151-43a974f41cf6d4d3d4b2ac9c\tSegmentId: 2e2c6c5c3d33b5e3\tSampled: true\t"
)


@dataclasses.dataclass(frozen=True)
class LineItem:
    service: str
    item: str
    quantity: float
    unit: str
    unit_price: float  # USD per unit, from the price book
    fixed: bool = False  # the same whatever the number of events

    @property
    def dollars(self) -> float:
        return self.quantity * self.unit_price


@dataclasses.dataclass(frozen=True)
class LambdaDesign:
    name: str
    batch_size: int
    memory_mb: int
    architecture: str
    fifo: bool
    customer_managed_key: bool
    producer_principals: int
    alarm_metrics: int
    dashboards: int = DASHBOARDS
    traced: bool = True
    # The stack's X-Ray sampling rule (reservoir a second, fixed rate); None: X-Ray's default rule.
    sampling: tuple[int, float] | None = None
    # Write units per event in the table's indexes; None: as measured (the run's own table).
    index_write_units: float | None = None
    messages_per_send: float | None = None  # None: as measured (the producer's batches)
    messages_per_receive: float | None = None  # None: as measured (Lambda's poller asks for up to 10)
    messages_per_delete: int = DELETE_BATCH

    @classmethod
    def for_stack(cls, name: str, settings: StackSettings) -> LambdaDesign:
        return cls(
            name=name,
            batch_size=settings.batch_size,
            memory_mb=settings.function_memory_mb,
            architecture=settings.architecture,
            fifo=settings.fifo,
            customer_managed_key=settings.customer_managed_key,
            producer_principals=max(1, len(settings.producer_principals)),
            alarm_metrics=STACK_ALARM_METRICS if settings.alarms_enabled else 0,
            sampling=tuple(settings.xray_sampling) if settings.xray_sampling else None,
            index_write_units=stack_index_write_units(settings),
        )


def stack_index_write_units(settings: StackSettings) -> float:
    """Write units an event costs in the stack's indexes: none, or one for the keys-only event-id index (its
    entry, the keys alone, is far below the 1 KB a unit writes)."""
    return 1.0 if settings.event_id_index else 0.0


def seed_style(settings: StackSettings) -> LambdaDesign:
    """The seeds' pipeline on the same function and table: one message per call everywhere."""
    return dataclasses.replace(
        LambdaDesign.for_stack("seed-style", settings),
        batch_size=1,
        messages_per_send=1,
        messages_per_receive=1,
        messages_per_delete=1,
    )


@dataclasses.dataclass(frozen=True)
class FleetDesign:
    name: str
    instance_type: str
    min_size: int
    msgs_per_s_per_instance: float  # measured: one busy consumer's throughput
    fifo: bool
    customer_managed_key: bool
    producer_principals: int
    alarm_metrics: int = FLEET_ALARM_METRICS
    dashboards: int = DASHBOARDS
    volume_gb: int = ROOT_VOLUME_GB
    index_write_units: float | None = None  # None: as measured

    @classmethod
    def for_stack(cls, name: str, settings: StackSettings, msgs_per_s_per_instance: float) -> FleetDesign:
        return cls(
            name=name,
            instance_type=settings.worker_fleet_instance_type,
            min_size=settings.worker_fleet_min_size,
            msgs_per_s_per_instance=msgs_per_s_per_instance,
            fifo=settings.fifo,
            customer_managed_key=settings.customer_managed_key,
            producer_principals=max(1, len(settings.producer_principals)),
            index_write_units=stack_index_write_units(settings),
        )

    def instance_price_key(self) -> str:
        return f"ec2_{self.instance_type.replace('.', '_')}_per_hour"


# ---- shared pieces ------------------------------------------------------------------------------------
def month_seconds(prices: PriceBook) -> float:
    return prices.rule("hours_per_month") * SECONDS_PER_HOUR


def records_per_invocation(design: LambdaDesign, usage: Usage) -> float:
    """Measured for the run's own batch size; for another, that size filled as the run filled its batches."""
    if design.batch_size == usage.batch_size:
        return usage.records_per_invocation
    return min(float(design.batch_size), max(1.0, design.batch_size * usage.batch_fill))


def platform_log_bytes(memory_mb: int, traced: bool) -> int:
    lines = [line.replace("{memory}", str(memory_mb)) for line in PLATFORM_LINES]
    if traced:
        lines[-1] += XRAY_REPORT_SUFFIX
    return sum(len(line.encode()) for line in lines)


def traces_recorded(
    invocations: float, prices: PriceBook, sampling: tuple[int, float] | None = None
) -> float:
    """A sampling rule (the stack's, else X-Ray's default): the first `reservoir` requests each second, then
    a fixed share of the rest. The reservoir is the rule's, shared by every instance of the function."""
    per_second, rate = sampling or (prices.rule("xray_reservoir_per_second"), prices.rule("xray_fixed_rate"))
    reservoir = min(invocations, per_second * month_seconds(prices))
    return reservoir + rate * (invocations - reservoir)


def _sqs_items(
    fifo: bool,
    messages_per_send: float,
    idle_consumers: float,
    usage: Usage,
    prices: PriceBook,
    events: float,
    receives: float,
    deletes: float,
) -> list[LineItem]:
    price = (
        prices.price("sqs_fifo_requests_per_million" if fifo else "sqs_standard_requests_per_million") / 1e6
    )
    # A call whose payload passes 64 KiB is billed once per started chunk.
    chunks = max(1, math.ceil(usage.sqs_largest_body_bytes / prices.rule("sqs_payload_chunk_bytes")))
    idle = idle_consumers * month_seconds(prices) / prices.rule("idle_poll_seconds")
    return [
        LineItem(
            "SQS",
            "SendMessage(Batch) by the producer",
            events / messages_per_send * chunks,
            "requests",
            price,
        ),
        LineItem("SQS", "ReceiveMessage with messages", receives * chunks, "requests", price),
        LineItem("SQS", "DeleteMessage(Batch)", deletes, "requests", price),
        LineItem(
            "SQS", "SendMessage to the DLQ", events * usage.dlq_sends_per_event * chunks, "requests", price
        ),
        LineItem("SQS", "empty receives of idle consumers", idle, "requests", price, fixed=True),
    ]


def _storage_items(
    usage: Usage, prices: PriceBook, events: float, index_units: float | None = None
) -> list[LineItem]:
    """The table's write units, and its indexes' (`index_units` an event; None: as the run measured)."""
    price = prices.price("dynamodb_write_request_units_per_million") / 1e6
    per_event = usage.index_write_units_per_event if index_units is None else index_units
    items = [
        LineItem(
            "DynamoDB", "write request units, table", events * usage.table_write_units_per_event, "WRU", price
        )
    ]
    if per_event:
        items.append(LineItem("DynamoDB", "write request units, indexes", events * per_event, "WRU", price))
    return items


def _fixed_items(
    design: LambdaDesign | FleetDesign, prices: PriceBook, custom_metrics: int
) -> list[LineItem]:
    items = [
        LineItem(
            "CloudWatch",
            "custom metrics (EMF)",
            custom_metrics,
            "metrics",
            prices.price("cloudwatch_custom_metric_per_month"),
            fixed=True,
        ),
        LineItem(
            "CloudWatch",
            "alarm metrics",
            design.alarm_metrics,
            "alarm metrics",
            prices.price("cloudwatch_alarm_metric_per_month"),
            fixed=True,
        ),
        LineItem(
            "CloudWatch",
            "dashboards",
            design.dashboards,
            "dashboards",
            prices.price("cloudwatch_dashboard_per_month"),
            fixed=True,
        ),
    ]
    if design.customer_managed_key:
        # SQS asks KMS for a data key once a reuse period per producing principal (twice) and consumer.
        periods = month_seconds(prices) / prices.rule("sqs_kms_data_key_reuse_seconds")
        requests = periods * (2 * design.producer_principals + 1)
        items += [
            LineItem("KMS", "customer-managed key", 1, "keys", prices.price("kms_key_per_month"), fixed=True),
            LineItem(
                "KMS",
                "SQS data-key requests",
                requests,
                "requests",
                prices.price("kms_requests_per_10000") / 10_000,
                fixed=True,
            ),
        ]
    return items


# ---- the designs' months -------------------------------------------------------------------------------
def lambda_month(design: LambdaDesign, usage: Usage, prices: PriceBook, events: float) -> list[LineItem]:
    """Line items of a month of `events` through the Lambda design."""
    records = records_per_invocation(design, usage)
    deliveries = events * usage.deliveries_per_event
    invocations = deliveries / records
    receives = deliveries / (design.messages_per_receive or usage.messages_per_receive)
    deletes = invocations * math.ceil(records / design.messages_per_delete)
    billed_ms = math.ceil(usage.batch_ms.at(records))  # Lambda rounds each invocation up to the millisecond
    gb_seconds = invocations * billed_ms / 1000 * design.memory_mb / 1024
    platform = 0 if usage.log_bytes_include_platform else platform_log_bytes(design.memory_mb, design.traced)
    log_gb = invocations * (usage.log_bytes.at(records) + platform) / prices.rule("bytes_per_gb")
    traces = traces_recorded(invocations, prices, design.sampling) if design.traced else 0.0
    per_send = design.messages_per_send or usage.messages_per_send
    idle_pollers = prices.rule("lambda_idle_pollers")
    return [
        *_sqs_items(design.fifo, per_send, idle_pollers, usage, prices, events, receives, deletes),
        LineItem(
            "Lambda",
            "invocations",
            invocations,
            "requests",
            prices.price("lambda_requests_per_million") / 1e6,
        ),
        LineItem(
            "Lambda",
            f"duration ({design.memory_mb} MB, {design.architecture}, {billed_ms} ms a batch)",
            gb_seconds,
            "GB-s",
            prices.price(f"lambda_gb_second_{design.architecture}"),
        ),
        *_storage_items(usage, prices, events, design.index_write_units),
        LineItem(
            "CloudWatch", "log ingestion", log_gb, "GB", prices.price("cloudwatch_logs_ingestion_per_gb")
        ),
        LineItem(
            "X-Ray",
            "traces recorded",
            traces,
            "traces",
            prices.price("xray_traces_recorded_per_million") / 1e6,
        ),
        *_fixed_items(design, prices, usage.custom_metrics),
    ]


def floor_month(design: LambdaDesign, usage: Usage, prices: PriceBook, events: float) -> list[LineItem]:
    """The least a month of `events` costs with the design's settings (batch size and fill, memory,
    architecture, queue type) while each event is stored once: every line item is one the mission needs."""
    sqs_price = prices.price(
        "sqs_fifo_requests_per_million" if design.fifo else "sqs_standard_requests_per_million"
    )
    records = records_per_invocation(design, usage)
    invocations = events / records
    calls = events / DELETE_BATCH
    billed_ms = math.ceil(usage.batch_ms.at(records))
    return [
        LineItem("SQS", "SendMessageBatch of 10", calls, "requests", sqs_price / 1e6),
        LineItem("SQS", "ReceiveMessage of 10", calls, "requests", sqs_price / 1e6),
        LineItem("SQS", "DeleteMessageBatch of 10", calls, "requests", sqs_price / 1e6),
        LineItem(
            "Lambda",
            "invocations",
            invocations,
            "requests",
            prices.price("lambda_requests_per_million") / 1e6,
        ),
        LineItem(
            "Lambda",
            f"duration ({design.memory_mb} MB, {design.architecture}, {billed_ms} ms a batch)",
            invocations * billed_ms / 1000 * design.memory_mb / 1024,
            "GB-s",
            prices.price(f"lambda_gb_second_{design.architecture}"),
        ),
        LineItem(
            "DynamoDB",
            "write request units, each event once",
            events * max(1.0, usage.table_write_units_per_event),
            "WRU",
            prices.price("dynamodb_write_request_units_per_million") / 1e6,
        ),
    ]


def fleet_instances(design: FleetDesign, usage: Usage, prices: PriceBook, events: float) -> int:
    rate = events * usage.deliveries_per_event / month_seconds(prices)
    return max(design.min_size, math.ceil(rate / design.msgs_per_s_per_instance))


def fleet_month(design: FleetDesign, usage: Usage, prices: PriceBook, events: float) -> list[LineItem]:
    """Line items of a month of `events` through the worker fleet. Its logs stay in the instances' journal
    and it publishes no metrics or traces (the launch template installs no CloudWatch agent)."""
    hours = prices.rule("hours_per_month")
    # An instance-hour with its share of the root volume's month.
    hourly = (
        prices.price(design.instance_price_key())
        + design.volume_gb * prices.price("ebs_gp3_per_gb_month") / hours
    )
    added = fleet_instances(design, usage, prices, events) - design.min_size
    receives = events * usage.deliveries_per_event / min(DELETE_BATCH, usage.messages_per_receive)
    sqs = _sqs_items(
        design.fifo, usage.messages_per_send, design.min_size, usage, prices, events, receives, receives
    )
    return [
        *sqs,
        LineItem(
            "EC2",
            f"{design.instance_type} kept by the minimum size (with its gp3 volume)",
            design.min_size * hours,
            "instance-hours",
            hourly,
            fixed=True,
        ),
        LineItem(
            "EC2",
            f"{design.instance_type} added for the load (with its gp3 volume)",
            added * hours,
            "instance-hours",
            hourly,
        ),
        *_storage_items(usage, prices, events, design.index_write_units),
        *_fixed_items(design, prices, 0),
    ]


# ---- reading the months ---------------------------------------------------------------------------------
def total(items: Sequence[LineItem]) -> float:
    return sum(item.dollars for item in items)


def fixed(items: Sequence[LineItem]) -> float:
    return sum(item.dollars for item in items if item.fixed)


def per_million_events(items: Sequence[LineItem], events: float) -> float:
    """What each million events adds: the month's cost beyond its fixed part, per million."""
    return (total(items) - fixed(items)) / events * 1e6


def dominant(items: Sequence[LineItem], count: int = 3) -> list[tuple[LineItem, float]]:
    """The largest line items with their share of the month."""
    month = total(items) or 1.0
    ranked = sorted(items, key=lambda item: item.dollars, reverse=True)[:count]
    return [(item, item.dollars / month) for item in ranked]


def crossover(
    first: Callable[[float], float], second: Callable[[float], float], low: float = 1e5, high: float = 1e11
) -> float | None:
    """The events a month above which `second` always costs no more than `first` (within `high`), or None."""
    steps = 600
    grid = [low * (high / low) ** (i / steps) for i in range(steps + 1)]
    cheaper = [second(n) <= first(n) for n in grid]
    if not cheaper[-1]:
        return None
    dearer = [i for i, ok in enumerate(cheaper) if not ok]
    if not dearer:
        return low
    lo, hi = grid[dearer[-1]], grid[dearer[-1] + 1]
    for _ in range(60):  # the fleet's cost is a staircase: bisect to the step where it stays below
        middle = math.sqrt(lo * hi)
        lo, hi = (lo, middle) if second(middle) <= first(middle) else (middle, hi)
    return hi


def break_even_rate(
    lambda_design: LambdaDesign, fleet: FleetDesign, usage: Usage, prices: PriceBook, events: float = 1e10
) -> float | None:
    """Messages a second one instance must sustain for the fleet to cost no more per event than Lambda at
    large volume: an instance-month over what Lambda charges (beyond the fleet's own requests) for the
    events that instance would take. None when Lambda is never dearer per event."""

    def marginal(month: Callable[[float], list[LineItem]]) -> float:
        return (total(month(2 * events)) - total(month(events))) / events

    no_instances = dataclasses.replace(fleet, msgs_per_s_per_instance=math.inf, min_size=0)
    saving = marginal(lambda n: lambda_month(lambda_design, usage, prices, n)) - marginal(
        lambda n: fleet_month(no_instances, usage, prices, n)
    )
    if saving <= 0:
        return None
    instance_month = prices.rule("hours_per_month") * prices.price(fleet.instance_price_key()) + (
        fleet.volume_gb * prices.price("ebs_gp3_per_gb_month")
    )
    return instance_month * usage.deliveries_per_event / (saving * month_seconds(prices))
