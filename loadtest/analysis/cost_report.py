"""REPORT.md's "What it costs" section from a run's measured usage: `cost_section(run, charts_dir)`.

Also the command line for other prices or volumes:
`python -m loadtest.analysis.cost_report --run-dir build/runs/dev-lambda --prices my-prices.json`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from infra.settings import PROJECT_ROOT, from_stack_file, region_of
from loadtest.analysis.aws_prices import PriceBook, load_prices
from loadtest.analysis.cost_inputs import Usage, usage_from_run
from loadtest.analysis.cost_model import (
    FleetDesign,
    LambdaDesign,
    LineItem,
    break_even_rate,
    crossover,
    dominant,
    fixed,
    fleet_instances,
    fleet_month,
    floor_month,
    lambda_month,
    per_million_events,
    platform_log_bytes,
    records_per_invocation,
    seed_style,
    total,
)

RUNS_DIR = PROJECT_ROOT / "build" / "runs"
CHART = "cost_vs_volume.png"
REFERENCE_EVENTS = 50e6  # the question: what will 50 million events a month cost?
RATIO_GOAL = 1 / 5
CHART_RANGE = (1e5, 1e10)


def _money(dollars: float) -> str:
    return f"${dollars:,.2f}" if dollars >= 0.995 else f"${dollars:.3f}"


def _count(value: float) -> str:
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def worker_usage(run: dict[str, Any], prices: PriceBook, runs_dir: Path) -> tuple[Usage | None, str]:
    """The stack's worker-mode run, when one with counts exists: the fleet's own measured throughput."""
    worker_run = runs_dir / f"{run['stack']}-worker" / "run.json"
    if worker_run.exists():
        measured = json.loads(worker_run.read_text())
        if "request_counts" in measured and "consumer_logs" in measured:
            shown = (
                worker_run.relative_to(PROJECT_ROOT)
                if worker_run.is_relative_to(PROJECT_ROOT)
                else worker_run
            )
            return usage_from_run(measured, prices), f"`{shown}`"
    return None, "this run's batches (the worker runs the same handler.handle_batch on the same batches)"


def _design_rows(
    designs: list[tuple[str, list[LineItem], str]], seed_per_million: float, events: float
) -> list[str]:
    rows = [
        f"| design | settings | $ per million events | a month at {events / 1e6:,.0f} M events"
        " | of which fixed | per event vs seed-style |",
        "|---|---|---|---|---|---|",
    ]
    for name, items, settings in designs:
        per_million = per_million_events(items, events)
        rows.append(
            f"| {name} | {settings} | {_money(per_million)} | {_money(total(items))} | {_money(fixed(items))}"
            f" | {per_million / seed_per_million:.2f} |"
        )
    return rows


def _item_rows(items: list[LineItem]) -> list[str]:
    rows = ["| service | line item | quantity | unit price | a month | fixed |", "|---|---|---|---|---|---|"]
    for item in sorted(items, key=lambda i: i.dollars, reverse=True):
        rows.append(
            f"| {item.service} | {item.item} | {_count(item.quantity)} {item.unit} | ${item.unit_price:.3g}"
            f" | {_money(item.dollars)} | {'yes' if item.fixed else ''} |"
        )
    return rows


def _measured_rows(run: dict[str, Any]) -> list[str]:
    rows = [
        "| service | operation | queue or table | requests | messages / items | empty receives"
        " | request / response bytes |",
        "|---|---|---|---|---|---|---|",
    ]
    for o in run["request_counts"]["operations"]:
        if o["service"] not in ("sqs", "dynamodb"):
            continue
        moved = o["messages"] if o["service"] == "sqs" else o["items"]
        rows.append(
            f"| {o['service']} | {o['operation']} | {o['resource']} | {o['requests']:,} | {moved:,}"
            f" | {o['empty_receives']:,} | {o['request_bytes']:,} / {o['response_bytes']:,} |"
        )
    return rows


def _unit_rows(usage: Usage, design: LambdaDesign) -> list[str]:
    mean, smallest, largest = usage.item_bytes
    on_aws = usage.log_bytes_include_platform  # only CloudWatch's IncomingBytes holds Lambda's own lines
    duration = (
        "Lambda's Duration per invocation"
        if on_aws
        else "receive-to-delete per batch (billed-duration stand-in)"
    )
    platform = (
        ""
        if on_aws
        else f", plus Lambda's START/END/REPORT lines: {platform_log_bytes(design.memory_mb, design.traced)}"
    )
    sizes = "not in CloudWatch (its write units are)" if on_aws else f"{mean:.0f} / {smallest} / {largest}"
    polls = "" if on_aws else " (the local pollers long-poll 1 s, AWS's 20 s)"
    return [
        "| measured figure | value |",
        "|---|---|",
        f"| events (messages the producer got into the queue) | {usage.events:,} |",
        f"| messages per send call / per receive with messages | {usage.messages_per_send:.2f}"
        f" / {usage.messages_per_receive:.2f} |",
        f"| deliveries per event (retries raise it) | {usage.deliveries_per_event:.3f} |",
        f"| records per invocation (batch size {usage.batch_size}) | {usage.records_per_invocation:.2f} |",
        f"| ms, {duration} | {usage.batch_ms.intercept:.2f} + {usage.batch_ms.slope:.3f} × records"
        f" ({usage.batch_ms.points:,} batches) |",
        f"| bytes logged per invocation | {usage.log_bytes.intercept:.0f} + {usage.log_bytes.slope:.1f} × records"
        f" ({usage.log_bytes.points:,} invocations){platform} |",
        f"| item size, bytes: mean / smallest / largest | {sizes} |",
        f"| write units per event: table / its indexes | {usage.table_write_units_per_event:.3f}"
        f" / {usage.index_write_units_per_event:.3f} |",
        f"| EMF metric series (custom metrics) | {usage.custom_metrics} |",
        f"| one busy consumer's messages/s (receive + batch + delete) | {usage.consumer_msgs_per_s:.0f} |",
        f"| empty receives in the run{polls} | {usage.empty_receives:,} in {usage.run_seconds:.0f} s |",
    ]


def _price_rows(prices: PriceBook) -> list[str]:
    rows = ["| price or rule | value | unit | AWS page | read from | read on |", "|---|---|---|---|---|---|"]
    for figure in [*prices.prices.values(), *prices.rules.values()]:
        rows.append(
            f"| `{figure.key}` | {figure.value:g} | {figure.unit} | {figure.page} | {figure.read_from}"
            f" | {figure.read_on} |"
        )
    return rows


def cost_chart(
    curves: dict[str, Callable[[float], float]], crossing: float | None, charts_dir: Path, events: float
) -> str:
    """Monthly cost against events a month, and each design relative to this one (dev); returns the file
    name. Drawn in the report's chart style (cost_chart.py)."""
    from loadtest.analysis import cost_chart as chart

    return chart.draw(curves, crossing, charts_dir, events, CHART_RANGE, reference=THIS_DEV)


@dataclasses.dataclass(frozen=True)
class Comparison:
    """The four designs priced on one run's usage, at the reference volume."""

    usage: Usage
    prices: PriceBook
    events: float
    months: dict[str, Callable[[float], list[LineItem]]]  # design name -> its month for a number of events
    settings: dict[str, str]  # design name -> what it is, in a few words
    this: LambdaDesign  # dev's
    fleet: FleetDesign
    fleet_source: str  # where the fleet's throughput per instance was measured

    def items(self, name: str) -> list[LineItem]:
        return self.months[name](self.events)

    def per_million(self, name: str) -> float:
        return per_million_events(self.items(name), self.events)

    def variable_without_storage(self, name: str) -> float:
        return sum(i.dollars for i in self.items(name) if i.service != "DynamoDB" and not i.fixed)

    def crossover(self) -> float | None:
        return crossover(lambda e: total(self.months[THIS_DEV](e)), lambda e: total(self.months[FLEET](e)))


THIS_DEV, THIS_PROD, SEEDS, FLEET = "this design, dev", "this design, prod", "seed-style", "EC2 worker fleet"


def compare(
    run: dict[str, Any],
    usage: Usage,
    prices: PriceBook,
    runs_dir: Path,
    events: float,
    fleet_measured: tuple[Usage, str] | None = None,
) -> Comparison:
    """`fleet_measured`: the worker run's usage and where it comes from, when the caller has it (the report
    reads it from report/data); else the worker run beside the run's in `runs_dir`."""
    dev, prod = from_stack_file("dev"), from_stack_file("prod")
    this_dev, this_prod, seeds = (
        LambdaDesign.for_stack(THIS_DEV, dev),
        LambdaDesign.for_stack(THIS_PROD, prod),
        seed_style(dev),
    )
    fleet_usage, fleet_source = fleet_measured or worker_usage(run, prices, runs_dir)
    fleet = FleetDesign.for_stack(FLEET, dev, (fleet_usage or usage).consumer_msgs_per_s)

    def lambda_settings(design: LambdaDesign) -> str:
        key = "customer key" if design.customer_managed_key else "AWS-managed keys"
        return (
            f"batch {design.batch_size} ({records_per_invocation(design, usage):.1f} filled),"
            f" {design.memory_mb} MB {design.architecture}, {key}"
        )

    return Comparison(
        usage=usage,
        prices=prices,
        events=events,
        months={
            THIS_DEV: lambda e: lambda_month(this_dev, usage, prices, e),
            THIS_PROD: lambda e: lambda_month(this_prod, usage, prices, e),
            SEEDS: lambda e: lambda_month(seeds, usage, prices, e),
            FLEET: lambda e: fleet_month(fleet, usage, prices, e),
        },
        settings={
            THIS_DEV: lambda_settings(this_dev),
            THIS_PROD: lambda_settings(this_prod),
            SEEDS: "one message per send, receive, delete and put_item; dev's function",
            FLEET: f"{fleet.instance_type}, min {fleet.min_size}, {fleet.msgs_per_s_per_instance:.0f} msgs/s each"
            f" ({fleet_instances(fleet, usage, prices, events)} at this volume)",
        },
        this=this_dev,
        fleet=fleet,
        fleet_source=fleet_source,
    )


def _summary(c: Comparison, chart: str, rel: str) -> list[str]:
    ratio = c.per_million(THIS_DEV) / c.per_million(SEEDS)
    rest = c.variable_without_storage(THIS_DEV) / c.variable_without_storage(SEEDS)
    verdict = "met" if ratio <= RATIO_GOAL else "not met"
    crossing, needed = c.crossover(), break_even_rate(c.this, c.fleet, c.usage, c.prices)
    usage, seconds = c.usage, c.prices.rule("hours_per_month") * 3600
    if crossing is None:
        choice = "**Lambda or the fleet:** the fleet never costs less than this design (dev) below 100,000 M events a month"
    else:
        rate = crossing * usage.deliveries_per_event / seconds
        choice = f"**Lambda or the fleet:** the fleet costs less than this design (dev) above **{crossing / 1e6:,.0f} M events a month** ({rate:,.0f} msgs/s on average)"
    if needed is not None:
        choice += f". Per event, the fleet beats Lambda only while one {c.fleet.instance_type} sustains more than {needed:.0f} msgs/s"
    top = dominant(c.items(THIS_DEV))
    return [
        *_design_rows(
            [(name, c.items(name), c.settings[name]) for name in c.months], c.per_million(SEEDS), c.events
        ),
        "",
        f"**This design against seed-style: {ratio:.2f} of its cost per event** (goal ≤ {RATIO_GOAL:.2f}: {verdict})."
        f" Both pay the same DynamoDB writes (the same items: {usage.table_write_units_per_event:.2f} write units an event"
        f" in the table and {c.this.index_write_units or 0:.2f} in its indexes); everything else costs"
        f" {rest:.2f} of seed-style's, as batching takes out most SQS requests and Lambda invocations and, with them,"
        " most of the logs and traces.",
        "",
        "What dominates this design (dev) at this volume: "
        + "; ".join(f"{item.service} {item.item} {_money(item.dollars)} ({share:.0%})" for item, share in top)
        + ".",
        "",
        f"{choice}; one worker's throughput, {c.fleet.msgs_per_s_per_instance:.0f} msgs/s, is measured from {c.fleet_source}.",
        "",
        *floor_rows(c.usage, c.prices, c.events),
        *_sensitivity(c),
        f"![Monthly cost against events per month]({rel}/{chart})",
        "",
    ]


FLOOR_GOAL = 1.3  # issue 25: each stack within 1.3 × the least that stores every event once


def floor_rows(usage: Usage, prices: PriceBook, events: float) -> list[str]:
    """Each stack's design against its floor (cost_model.floor_month), and the design before issue 25 (a
    byVehicle index written beside every item, X-Ray's default sampling) against the same floor."""
    rows = [
        "**Against the floor.** The floor is the least a million events cost with the stack's settings while each"
        " is stored once: its write units alone, SQS send, receive and delete in calls of 10, one invocation per"
        " batch at the measured duration, nothing else (`cost_model.floor_month`). What the design adds to it is"
        " observability: logs, EMF metrics, X-Ray traces at the stack's sampling rule (`xraySampling`).",
        "",
        "| stack | settings | floor, $ per million | this design | design ÷ floor | before (index + default sampling) | before ÷ floor |",
        "|---|---|---|---|---|---|---|",
    ]
    for stack in ("dev", "prod"):
        settings = from_stack_file(stack)
        design = LambdaDesign.for_stack(stack, settings)
        before = dataclasses.replace(
            design, sampling=None, index_write_units=max(1.0, usage.table_write_units_per_event)
        )
        floor = per_million_events(floor_month(design, usage, prices, events), events)
        now = per_million_events(lambda_month(design, usage, prices, events), events)
        then = per_million_events(lambda_month(before, usage, prices, events), events)
        sampling = settings.xray_sampling
        traced = (
            f"traces {sampling.reservoir_per_second}/s + {sampling.fixed_rate:.0%}"
            if sampling
            else "X-Ray's default sampling"
        )
        verdict = "✓" if now / floor <= FLOOR_GOAL else f"over {FLOOR_GOAL}"
        rows.append(
            f"| {stack} | batch {design.batch_size}, {design.memory_mb} MB, {traced} | {_money(floor)}"
            f" | {_money(now)} | **{now / floor:.2f}** {verdict} | {_money(then)} | {then / floor:.2f} |"
        )
    return [*rows, ""]


def _sensitivity(c: Comparison) -> list[str]:
    """How the answers move with what the local run measures least well."""
    untraced = dataclasses.replace(c.this, traced=False)
    crossing = crossover(
        lambda e: total(lambda_month(untraced, c.usage, c.prices, e)), lambda e: total(c.months[FLEET](e))
    )
    slower = dataclasses.replace(
        c.usage,
        batch_ms=dataclasses.replace(
            c.usage.batch_ms, intercept=5 * c.usage.batch_ms.intercept, slope=5 * c.usage.batch_ms.slope
        ),
    )
    slower_per_million = per_million_events(lambda_month(c.this, slower, c.prices, c.events), c.events)
    where = (
        "never below 100,000 M events a month"
        if crossing is None
        else f"above {crossing / 1e6:,.0f} M events a month"
    )
    return [
        f"Part of that gap is observability the fleet does not have (its instances record no X-Ray traces and keep"
        f" their logs in the journal): without tracing on the function, the fleet would be cheaper {where}. Were"
        f" Lambda's billed duration five times the local stand-in, this design (dev) would cost"
        f" {_money(slower_per_million)} per million events instead of {_money(c.per_million(THIS_DEV))}.",
        "",
    ]


def _details(c: Comparison, run: dict[str, Any]) -> list[str]:
    prices = c.prices
    return [
        "### Line items, this design (dev), a month at the reference volume",
        "",
        *_item_rows(c.items(THIS_DEV)),
        "",
        "### Fixed monthly costs",
        "",
        "| design | fixed a month | what |",
        "|---|---|---|",
        *[
            f"| {name} | {_money(fixed(c.items(name)))} | "
            + ", ".join(f"{i.item} {_money(i.dollars)}" for i in c.items(name) if i.fixed and i.dollars)
            + " |"
            for name in c.months
        ],
        "",
        f"Idle consumers: Lambda's poller keeps long-polling an idle queue (modelled as {prices.rule('lambda_idle_pollers'):g}"
        f" pollers, one empty receive each {prices.rule('idle_poll_seconds'):g} s); the fleet's minimum instances do the same.",
        "",
        "### Measured in this run",
        "",
        *(
            [
                *_measured_rows(run),
                "",
                "GetQueueAttributes is the local controller sampling the queues each second to scale the pollers"
                " as AWS would; Lambda's poller needs no such calls of the account, so the model does not price"
                " them.",
                "",
            ]
            if "request_counts" in run
            else []
        ),
        *_unit_rows(c.usage, c.this),
        "",
        "What a local run cannot measure is **Lambda's billed duration**: the emulator's receive-to-delete time of each"
        " batch stands in for it (the handler plus the poller's bookkeeping, on this machine's CPU against a local"
        " emulator). On AWS the calls to DynamoDB cross a network and a 256 MB function gets a fraction of a vCPU, so"
        " the real duration is likely longer; `--source cloudwatch` runs read Lambda's own Duration, and the duration"
        " line above shows what the figure weighs.",
        "",
        "Left out: free tiers; storage (DynamoDB's per GB-month grows with every item kept, PITR backups, log"
        " retention); reads (the status CLI, Logs Insights queries, GetMetricData); data transfer; the fleet's network"
        " path (a NAT gateway or VPC endpoints for private subnets) and its S3 artifact; the SNS topic; KMS calls other"
        " than SQS's (DynamoDB, CloudWatch Logs, the function's environment) and key rotations; Lambda's INIT phase on"
        " cold starts; the producer's own compute.",
        "",
        "<details><summary>Prices and rules used</summary>",
        "",
        *_price_rows(prices),
        "",
        "</details>",
        "",
    ]


def cost_section(
    run: dict[str, Any],
    charts_dir: Path,
    prices: PriceBook | None = None,
    runs_dir: Path = RUNS_DIR,
    reference_events: float = REFERENCE_EVENTS,
    rel: str = "report",
    usage: Usage | None = None,
    fleet_measured: tuple[Usage, str] | None = None,
) -> list[str]:
    """Markdown lines of "What it costs" for a local run with `request_counts` and `consumer_logs`, or for a run
    on AWS with `usage` from `cost_inputs.usage_from_cloudwatch`; the chart goes to
    charts_dir/cost_vs_volume.png, linked as `rel`/cost_vs_volume.png."""
    prices = prices or load_prices()
    heading = ["## What it costs", ""]
    if usage is None:
        try:
            usage = usage_from_run(run, prices)
        except (KeyError, ValueError) as missing:
            return [*heading, f"Not measured in this run ({missing}); `make demo` measures it.", ""]
    c = compare(run, usage, prices, runs_dir, reference_events, fleet_measured)
    curves = {name: (lambda e, month=month: total(month(e))) for name, month in c.months.items()}
    chart = cost_chart(curves, c.crossover(), charts_dir, reference_events)
    measured = (
        "the emulator counted every request (`loadtest/local/emulator/request_counter.py`), the pollers' logs gave the bytes"
        " logged"
        if "request_counts" in run
        else "the deployed stack's own CloudWatch counts over the run (`cloudwatch_source.cost_totals`)"
    )
    return [
        *heading,
        f"AWS list prices for {prices.region} (`loadtest/analysis/aws_prices.json`, each with its page and the date"
        " read; change any with `python -m loadtest.analysis.cost_report --prices FILE`) times the requests, bytes"
        f" and sizes **this run measured**: {measured}. Per million events is what each further million adds; the"
        f" month adds the fixed part. Every design is priced in {prices.region}, prod's too (its stack file deploys"
        f" to {region_of('prod')}).",
        "",
        *_summary(c, chart, rel),
        *_details(c, run),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.analysis.cost_report", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--run-dir", type=Path, default=RUNS_DIR / "dev-lambda")
    parser.add_argument(
        "--prices", type=Path, help="prices and rules to change, in the shape of aws_prices.json"
    )
    parser.add_argument("--events-per-month", type=float, default=REFERENCE_EVENTS)
    parser.add_argument("--charts-dir", type=Path, default=PROJECT_ROOT / "report")
    args = parser.parse_args(argv)
    run = json.loads((args.run_dir / "run.json").read_text())
    # Runs beside the one given (the stack's worker run: the fleet's own throughput) are read too.
    lines = cost_section(
        run, args.charts_dir, load_prices(args.prices), args.run_dir.parent, args.events_per_month
    )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
