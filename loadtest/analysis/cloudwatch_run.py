"""A run on a deployed stack as a `RunRecord`, collected from CloudWatch after the load (`python -m
loadtest.analysis.report --source cloudwatch --stack-outputs FILE --start ISO --end ISO`): the series a
minute at a time (cloudwatch_source.samples), the ledger checked against the real table and DLQ, the
dashboard's widgets as images, and the cost model's inputs from the stack's own counts. The record goes to
report/data/aws-<stack>.json (the report's "On AWS" section) and, whole, to the run directory."""

from __future__ import annotations

import dataclasses
import datetime
import json
from pathlib import Path

from loadtest.analysis.run_record import (
    Latency,
    Ledger,
    Machine,
    ResourceNames,
    RunRecord,
    Series,
    Throughput,
    settings_by_key,
)


def collect(
    run_dir: Path, charts_dir: Path, stack_outputs: Path, start: str, end: str, stack: str
) -> RunRecord:
    import boto3

    from infra.resource_spec import StackSpec
    from infra.settings import from_stack_file
    from loadtest.analysis.cloudwatch_source import cost_totals, dashboard_images, samples
    from loadtest.analysis.cost_inputs import usage_from_cloudwatch
    from loadtest.analysis.ledger_check import check_ledger, scan_ledger_items
    from loadtest.analysis.report import read_csv
    from loadtest.ledger import read_ledger
    from ops.dead_letter_queue import scan as read_dead_letters

    outputs = json.loads(stack_outputs.read_text())
    session = boto3.session.Session(region_name=outputs["region"])
    cloudwatch = session.client("cloudwatch")
    begin, finish = (datetime.datetime.fromisoformat(t) for t in (start, end))
    seconds = max(1.0, (finish - begin).total_seconds())
    settings = from_stack_file(stack)
    series = Series()
    for row in samples(cloudwatch, outputs, begin, finish):  # a row a minute: CloudWatch's own period
        series.append(**row)
    result = check_ledger(
        read_ledger(run_dir / "ledger"),
        scan_ledger_items(session.resource("dynamodb").Table(outputs["tableName"])),
        read_dead_letters(session.client("sqs"), outputs["dlqUrl"]),
    )
    sends = {r["Name"]: r for r in read_csv(run_dir / "locust_stats.csv")}.get("Aggregated", {})
    totals = cost_totals(cloudwatch, outputs, settings.metrics_namespace, begin, finish)
    usage = usage_from_cloudwatch(totals, settings, int(sends.get("Request Count", 0)), seconds)
    if "dashboardName" in outputs:
        dashboard_images(cloudwatch, outputs["dashboardName"], charts_dir)
    record = RunRecord(
        kind="cloudwatch",
        run=f"aws-{stack}",
        command="python -m loadtest.analysis.report --source cloudwatch"
        f" --stack {stack} --start {start} --end {end}",
        stack=stack,
        mode="aws",
        started_at=start,
        finished_at=end,
        machine=Machine.now(),
        settings=settings_by_key(settings),
        names=ResourceNames.of(StackSpec(stack, settings)),
        series=series,
        ledger=Ledger.of(result),
        runner={"max_pollers": max((p for p in series.pollers if p is not None), default=0)},
        latency_ms=Latency(),  # the consumer's EndToEndLatency metric is on the dashboard
        throughput=Throughput(round(result.accepted / seconds, 1), round(result.stored / seconds, 1)),
        cost_usage=dataclasses.asdict(usage),
        note=outputs.get("dashboardUrl", ""),
    )
    record.save(run_dir / "run.json", max_points=None)
    return record
