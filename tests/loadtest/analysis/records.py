"""Synthetic run records for the report's tests: a demo with a backlog that builds and drains, a capacity
search, the drills and benchmarks files. Every figure is chosen so the report's text can be asserted
exactly."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from loadtest.analysis import report_data
from loadtest.analysis.run_record import (
    CapacitySearch,
    Latency,
    Ledger,
    Machine,
    Phase,
    Plan,
    RunRecord,
    Series,
    Step,
    Throughput,
)

MACHINE = Machine(2, "3.12.1", "Linux", [1.5, 1.0, 0.5], [2.5, 1.2, 0.6])
SETTINGS = {"maxConcurrency": 10, "batchSize": 10, "fifo": False}
# The cost model's inputs as a demo measures them (cost_inputs.Usage, as a dict).
USAGE = {
    "source": "local run dev-lambda",
    "events": 10_000,
    "messages_per_send": 10.0,
    "deliveries_per_event": 1.0,
    "messages_per_receive": 10.0,
    "dlq_sends_per_event": 0.0,
    "sqs_largest_body_bytes": 2600,
    "records_per_invocation": 10.0,
    "batch_size": 10,
    "batch_ms": {"intercept": 0.0, "slope": 9.0, "points": 1000},
    "log_bytes": {"intercept": 0.0, "slope": 120.0, "points": 1000},
    "log_bytes_include_platform": False,
    "table_write_units_per_event": 1.0,
    "index_write_units_per_event": 0.0,
    "item_bytes": [276, 267, 284],
    "custom_metrics": 8,
    "consumer_msgs_per_s": 50.0,
    "empty_receives": 70,
    "run_seconds": 100.0,
}


def backlog_series(seconds: int = 60) -> Series:
    """Offered 100/s for 20 s, 300/s for 20 s, then nothing; the pipeline stores at most 200/s."""
    series, offered, stored = Series(), 0, 0
    for t in range(seconds + 1):
        backlog = offered - stored
        series.append(
            t_s=float(t),
            offered_total=offered,
            stored_total=stored,
            queue_visible=backlog,
            queue_in_flight=min(backlog, 100),
            dlq_visible=0,
            pollers=5 if backlog < 200 else 10,
            throttles_total=0,
            users=2 if t < 20 else (6 if t < 40 else 0),
        )
        offered += 100 if t < 20 else (300 if t < 40 else 0)
        stored += min(200, offered - stored)
    series.latency_p50_ms = [10.0 + t for t in series.t_s]
    series.latency_p99_ms = [20.0 + 2 * t for t in series.t_s]
    return series


def demo_record(run: str = "demo-dev-lambda", command: str = "make demo", mode: str = "lambda", **changes):
    series = backlog_series()
    stored = series.stored_total[-1]
    record = RunRecord(
        kind="demo",
        run=run,
        command=command,
        stack=run.split("-")[1],
        mode=mode,
        started_at="2026-12-01T10:00:00+00:00",
        finished_at="2026-12-01T10:02:00+00:00",
        machine=MACHINE,
        settings=dict(SETTINGS),
        plan=Plan(
            300.0,
            6,
            5.0,
            20,
            10,
            0.0,
            "",
            "1.3 × the sustained rate 231 msgs/s of make capacity on 2026-11-30",
        ),
        phases=[Phase("run the Locust scale shape", 60.0), Phase("scan the table", 1.5)],
        ceiling_msgs_per_s=400.0,
        series=series,
        ledger=Ledger(accepted=stored, stored=stored),
        runner={
            "min_pollers": 5,
            "max_pollers": 10,
            "invocations": 800,
            "records": stored,
            "failed_records": 0,
            "failed_invocations": 0,
        },
        latency_ms=Latency(stored, 510.0, 950.0, 990.0, 1000.0),
        cost_usage=dict(USAGE),
        throughput=Throughput(133.3, 200.0, 0.5),
        producer=[
            {
                "request": "SendMessageBatch",
                "requests": 800,
                "failures": 0,
                "requests_per_s": 13.3,
                "p50_ms": 30.0,
                "p95_ms": 60.0,
                "p99_ms": 80.0,
            },
        ],
    )
    return dataclasses.replace(record, **changes)


def capacity_record() -> RunRecord:
    step = Step(300.0, 298.0, 296.0, 0, 20, 1.0, 6, 5.5, 40.0, 120.0, 300.0, True, "", 10.0, 25.0)
    bad = dataclasses.replace(
        step,
        target_msgs_per_s=345.0,
        offered_msgs_per_s=344.0,
        stored_msgs_per_s=290.0,
        backlog_slope=40.0,
        p50_ms=900.0,
        p95_ms=1800.0,
        p99_ms=2100.0,
        sustainable=False,
        why="backlog grows 40 msgs/s",
        t_start_s=25.0,
        t_end_s=40.0,
    )
    refined = dataclasses.replace(
        step,
        target_msgs_per_s=322.0,
        offered_msgs_per_s=321.0,
        stored_msgs_per_s=320.0,
        p50_ms=60.0,
        t_start_s=42.0,
        t_end_s=57.0,
    )
    hold = dataclasses.replace(refined, t_start_s=60.0, t_end_s=90.0)
    return demo_record(
        run="capacity-dev",
        command="make capacity",
        kind="capacity",
        capacity=CapacitySearch(
            steps=[step, bad, refined],
            hold=hold,
            sustained_msgs_per_s=320.0,
            sustained_share_of_ceiling=0.8,
            backlog=10_000,
            backlog_drain_seconds=30.0,
            backlog_drain_msgs_per_s=333.3,
            backlog_drain_share_of_sustained=1.04,
            cpu_cores_during_hold={"emulator": 0.9, "pollers": 0.6, "producer": 0.2},
            warm_start_seconds=4.2,
        ),
    )


def drills() -> dict:
    rows = {}
    for name, passed in (("poison", False), ("outage", True)):
        rows[name] = {
            "name": name,
            "passed": passed,
            "problems": [] if passed else ["valid p99 2.5× the clean stage's"],
            "ledger": "lost=0 pending=0 duplicated=0 in_dlq=5 stored=95 accepted=100",
            "seconds": 80.0,
            "command": "make drills",
            "date": "2026-12-01",
        }
    return {"drills": rows}


def write_all(data_dir: Path) -> None:
    """A data directory with every section's file."""
    for record in (
        demo_record(),
        demo_record(
            "demo-dev-worker",
            "make demo MODE=worker",
            "worker",
            cost_usage=USAGE | {"consumer_msgs_per_s": 150.0},
        ),
        demo_record(
            "demo-fifo-lambda", "make demo STACK=fifo", order_violations=0, settings=SETTINGS | {"fifo": True}
        ),
        demo_record("demo-dev-chaos", "make chaos", "chaos"),
        capacity_record(),
    ):
        report_data.save(record, data_dir)
    report_data._write_json("drills.json", drills(), data_dir)
    report_data._write_json(
        "bench.json",
        {
            "benchmarks": {
                "producer": {
                    "ratio": 8.79,
                    "goal": "≥ 5×",
                    "met": True,
                    "batch_msgs_per_cpu_s": 11389,
                    "command": "make bench",
                    "date": "2026-12-01",
                }
            }
        },
        data_dir,
    )
