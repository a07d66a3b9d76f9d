"""REPORT.md from a run directory (never hand-edited): `python -m loadtest.analysis.report --run-dir build/runs/dev-lambda`.

Reads run.json, Locust's own CSV files, samples.csv and latencies.csv (written by loadtest.local.runs.demo), draws the
charts into report/ and writes REPORT.md with every figure taken from those files.
"""

from __future__ import annotations

import argparse
import csv
import datetime
import json
import os
import platform
import sys
from collections.abc import Sequence
from pathlib import Path

from infra.settings import PROJECT_ROOT
from loadtest.analysis.cost_report import cost_section
from loadtest.analysis.percentiles import percentile
from loadtest.analysis.scaling_model import drain_table

MAIN_RUN = PROJECT_ROOT / "build" / "runs" / "dev-lambda"  # `make demo`; runs beside it get a section each


def read_csv(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with open(path, newline="") as source:
        return list(csv.DictReader(source))


def charts(run_dir: Path, charts_dir: Path) -> list[tuple[str, str]]:
    """Draw the run's charts; return (title, file name) pairs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    charts_dir.mkdir(parents=True, exist_ok=True)
    drawn = []
    history = [r for r in read_csv(run_dir / "locust_stats_history.csv") if r["Name"] == "Aggregated"]
    samples = read_csv(run_dir / "samples.csv")
    latencies = read_csv(run_dir / "latencies.csv")

    def save(figure, name: str, title: str) -> None:
        figure.tight_layout()
        figure.savefig(charts_dir / name, dpi=90)
        plt.close(figure)
        drawn.append((title, name))

    if history:
        t0 = int(history[0]["Timestamp"])
        t = [int(r["Timestamp"]) - t0 for r in history]
        figure, users = plt.subplots(figsize=(8, 3.5))
        users.plot(t, [int(r["User Count"]) for r in history], color="tab:blue", label="users")
        users.set_xlabel("seconds since start")
        users.set_ylabel("Locust users")
        rate = users.twinx()
        rate.plot(t, [float(r["Requests/s"]) * 10 for r in history], color="tab:orange", label="messages/s")
        rate.set_ylabel("messages sent / s")
        users.set_title("Producer: users and send rate")
        save(figure, "users_and_send_rate.png", "Users and send rate")
    if samples:
        t = [float(s["t_s"]) for s in samples]
        figure, depth = plt.subplots(figsize=(8, 3.5))
        depth.plot(t, [int(s["queue_visible"]) for s in samples], label="queue visible")
        depth.plot(t, [int(s["queue_in_flight"]) for s in samples], label="queue in flight")
        depth.plot(t, [int(s["dlq_visible"]) for s in samples], label="DLQ visible")
        depth.set_xlabel("seconds since load start")
        depth.set_ylabel("messages")
        depth.set_title("Queue and DLQ depth")
        depth.legend()
        save(figure, "queue_depth.png", "Queue and DLQ depth")
        figure, pollers = plt.subplots(figsize=(8, 3.5))
        pollers.step(t, [int(s["pollers"]) for s in samples], where="post", color="tab:green")
        pollers.set_xlabel("seconds since load start")
        pollers.set_ylabel("concurrent pollers")
        pollers.set_title("Event source mapping concurrency (scale-out and scale-in)")
        save(figure, "runner_concurrency.png", "Runner concurrency")
    if latencies:
        start = min(int(r["storedAt"]) for r in latencies)
        buckets: dict[int, list[float]] = {}
        for r in latencies:
            buckets.setdefault((int(r["storedAt"]) - start) // 5000 * 5, []).append(float(r["latency_ms"]))
        t = sorted(buckets)
        figure, lat = plt.subplots(figsize=(8, 3.5))
        lat.plot(t, [percentile(buckets[k], 0.5) for k in t], label="p50")
        lat.plot(t, [percentile(buckets[k], 0.99) for k in t], label="p99")
        lat.set_xlabel("seconds since first store (5 s buckets)")
        lat.set_ylabel("sentAt → stored (ms)")
        lat.set_title("End-to-end latency over time")
        lat.legend()
        save(figure, "latency.png", "End-to-end latency")
    return drawn


def locust_rows(run_dir: Path) -> list[str]:
    rows = [
        "| request | requests | failures | req/s | p50 ms | p95 ms | p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in read_csv(run_dir / "locust_stats.csv"):
        rows.append(
            f"| {r['Name']} | {r['Request Count']} | {r['Failure Count']} | {float(r['Requests/s']):.1f} "
            f"| {r['50%']} | {r['95%']} | {r['99%']} |"
        )
    return rows


def scaling_chart(run_dir: Path, charts_dir: Path) -> str:
    """Backlog and consumers of one run on one chart; returns the file name."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    samples = read_csv(run_dir / "samples.csv")
    t = [float(s["t_s"]) for s in samples]
    figure, depth = plt.subplots(figsize=(8, 3))
    depth.plot(t, [int(s["queue_visible"]) for s in samples], color="tab:blue", label="queue visible")
    depth.set_xlabel("seconds since load start")
    depth.set_ylabel("visible messages")
    consumers = depth.twinx()
    consumers.step(t, [int(s["pollers"]) for s in samples], where="post", color="tab:green")
    consumers.set_ylabel("pollers / workers")
    depth.set_title(f"{run_dir.name}: backlog (blue) and consumers (green)")
    figure.tight_layout()
    name = f"{run_dir.name}_scaling.png"
    figure.savefig(charts_dir / name, dpi=90)
    plt.close(figure)
    return name


MODE_COMMANDS = {"lambda": "make demo STACK={stack}", "worker": "make demo STACK={stack} MODE=worker"}


def other_run_rows(main_run: Path, charts_dir: Path, rel: str) -> list[str]:
    """One row per other demo run (FIFO stack, worker fleet…) beside the main one, and its chart."""
    runs = []
    for run_file in sorted(main_run.parent.glob("*/run.json")):
        run_dir = run_file.parent
        run = json.loads(run_file.read_text())
        if run_dir.resolve() != main_run.resolve() and run["mode"] in MODE_COMMANDS:
            runs.append((run_dir, run))
    if not runs:
        return []
    rows = [
        "## Other runs",
        "",
        "The same scale shape and ledger check on other stacks and compute modes.",
        "",
        "| command | ledger | produced / stored msgs/s | latency p50 / p95 / p99 (ms) | max consumers |"
        " per-vehicle order violations |",
        "|---|---|---|---|---|---|",
    ]
    charts = []
    for run_dir, run in runs:
        ledger, throughput = run["ledger"], run["throughput"]
        latencies = [float(r["latency_ms"]) for r in read_csv(run_dir / "latencies.csv")]
        order = run.get("order_violations")
        rows.append(
            f"| `{MODE_COMMANDS[run['mode']].format(stack=run['stack'])}` | lost={ledger['lost']} "
            f"pending={ledger.get('pending', 0)} duplicated={ledger['duplicated']} stored={ledger['stored']} |"
            f" {throughput['produced_msgs_per_s']} / "
            f"{throughput['stored_msgs_per_s']} | {percentile(latencies, 0.5):.0f} / {percentile(latencies, 0.95):.0f}"
            f" / {percentile(latencies, 0.99):.0f} | {run['runner']['max_pollers']} {'workers' if run['mode'] == 'worker' else 'pollers'}"
            f" | {'—' if order is None else order} |"
        )
        charts.append(f"![{run_dir.name}]({rel}/{scaling_chart(run_dir, charts_dir)})")
    return [*rows, "", *charts, ""]


def fault_rows(chaos_run: Path) -> list[str]:
    """The last `make chaos` run: faults injected at once, and where every message ended."""
    if not chaos_run.exists():
        return []
    run = json.loads(chaos_run.read_text())
    ledger, totals = run["ledger"], run["runner"]
    return [
        "## Fault injection (`make chaos`)",
        "",
        f"At once: {run['shape']['poison_ratio']:.0%} poison bodies from the producer, handler faults "
        f"`{run['shape']['faults']}` (throttling-style write failures, invocations overrunning the timeout), "
        f"and {totals['pollers_killed']} poller SIGKILLed mid-run (its batch came back after the visibility timeout).",
        "",
        f"**`{ledger_line(ledger)}`** — {ledger_verdict(ledger)}.",
        "",
        "| count | value |",
        "|---|---|",
        f"| events accepted by SQS | {ledger['accepted']} |",
        f"| poison bodies accepted | {ledger['poison_accepted']} |",
        f"| poison routed to the DLQ by the consumer (with a reason) | {totals['routed_to_dlq']} |",
        f"| transient write failures injected (retried by SQS) | {totals['write_failures']} |",
        f"| invocations that overran the timeout (whole batch retried) | {totals['timeouts']} |",
        f"| deliveries to the handler / retries beyond the first | {totals['records']} / {totals['records'] - ledger['accepted']} |",
        f"| stored / in DLQ / lost / duplicated | {ledger['stored']} / {ledger['in_dlq']} / {ledger['lost']} / {ledger['duplicated']} |",
        f"| DLQ by reason | {json.dumps(run.get('dlq_reasons', {}))} |",
        f"| poison messages dead-lettered twice (routed, then the poller was killed before its delete) |"
        f" {ledger.get('extra_dead_letter_copies', 0)} |",
        "",
    ]


def benchmark_rows(bench_file: Path) -> list[str]:
    """The last `make bench` figures, each benchmark with its ratio to the baseline run beside it."""
    if not bench_file.exists():
        return []
    rows = [
        "## Benchmarks (`make bench`)",
        "",
        "| benchmark | ratio | goal | met | figures |",
        "|---|---|---|---|---|",
    ]
    for name, figures in json.loads(bench_file.read_text()).items():
        detail = ", ".join(f"{k}={v}" for k, v in figures.items() if k not in ("ratio", "goal", "met"))
        rows.append(
            f"| {name} | {figures.get('ratio', '')} | {figures.get('goal', '')} | {figures.get('met', '')} | {detail} |"
        )
    return [*rows, ""]


def result_section(run: dict, run_dir: Path) -> list[str]:
    """The ledger line and the run's headline figures."""
    latencies = [float(r["latency_ms"]) for r in read_csv(run_dir / "latencies.csv")]
    ledger, throughput, runner = run["ledger"], run["throughput"], run["runner"]
    plan = run.get("plan", {})
    ceiling = run["emulator_ceiling"].get("pipeline_mix_msgs_per_s", "n/a")
    return [
        "## Result",
        "",
        f"**`{ledger_line(ledger)}`** — {ledger_verdict(ledger)}.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| plateau offered (msgs/s) and where it comes from | {plan.get('peak_rate', 'n/a')} ({plan.get('source', 'n/a')}) |",
        f"| messages produced / s (over the shape) | {throughput['produced_msgs_per_s']} |",
        f"| messages stored / s (first to last store) | {throughput['stored_msgs_per_s']} |",
        f"| emulator ceiling for the pipeline's call mix, msgs/s (same run) | {ceiling} |",
        f"| stored throughput / emulator ceiling | {throughput['stored_vs_ceiling']} |",
        f"| end-to-end latency p50 / p95 / p99 (ms) | {percentile(latencies, 0.5):.0f} / {percentile(latencies, 0.95):.0f}"
        f" / {percentile(latencies, 0.99):.0f} |",
        f"| pollers: floor → max (maxConcurrency {run['settings']['maxConcurrency']}) | {runner.get('min_pollers', 'n/a')}"
        f" → {runner['max_pollers']} |",
        f"| invocations / records delivered | {runner['invocations']} / {runner['records']} |",
        f"| failed records / whole-batch failures | {runner['failed_records']} / {runner['failed_invocations']} |",
        "",
        "The plateau offers more than the pipeline sustains (the knee, below), so a backlog builds, pollers scale out"
        " to maxConcurrency by AWS's rule (5 at once, up to 300 more a minute), the backlog drains on the way down,"
        " and pollers step back to the floor once it is gone.",
        "",
    ]


def ledger_line(ledger: dict) -> str:
    counts = ("lost", "pending", "duplicated", "in_dlq", "stored", "accepted")
    return " ".join(f"{name}={ledger.get(name, 0)}" for name in counts)


def ledger_verdict(ledger: dict) -> str:
    clean = ledger["lost"] == ledger["duplicated"] == ledger.get("pending", 0) == 0
    return "no message lost, pending or stored twice" if clean else "FAILED"


def seconds_held(step: dict) -> str:
    return f"{step['t_end_s'] - step['t_start_s']:.0f}"


def capacity_section(capacity_file: Path, rel: str) -> list[str]:
    """The knee from the last `make capacity` run."""
    if not capacity_file.exists():
        return []
    c = json.loads(capacity_file.read_text())
    cpu = c["cpu_cores_during_hold"]
    busiest = max(cpu, key=cpu.get)
    rows = [
        "## Capacity: the knee (`make capacity`)",
        "",
        f"Stack `{c['stack']}` (maxConcurrency {c['max_concurrency']}, batch {c['batch_size']}). The emulator's ceiling"
        f" for the pipeline's call mix (per 10 messages one SendMessageBatch, ReceiveMessage, BatchWriteItem and"
        f" DeleteMessageBatch, one client flat out, nothing else running) was **{c['pipeline_mix_ceiling_msgs_per_s']:.0f}"
        f" msgs/s** in the same run.",
        "",
        "| figure | value | goal |",
        "|---|---|---|",
        f"| maximum sustained stored msgs/s (held {seconds_held(c['hold'])} s) |"
        f" {c['sustained_msgs_per_s']:.0f} | |",
        f"| sustained / ceiling | **{c['sustained_share_of_ceiling']:.2f}** | ≥ {c['goal_sustained_share']} |",
        f"| {c['backlog']:,}-message backlog drained in (s) / at msgs/s | {c['backlog_drain_seconds']} /"
        f" {c['backlog_drain_msgs_per_s']:.0f} | |",
        f"| backlog drain rate / sustained rate | **{c['backlog_drain_share_of_sustained']:.2f}** | ≥ {c['goal_drain_share']} |",
        f"| queue bounded during the hold | {'yes' if c['hold']['sustainable'] else 'no: ' + c['hold']['why']} | yes |",
        *[
            f"| an earlier hold, at {h['target_msgs_per_s']:.0f} msgs/s, not bounded over {seconds_held(h)} s | {h['why']} | |"
            for h in c.get("failed_holds", [])
        ],
        f"| hold p50 / p95 / p99 (ms) | {c['hold']['p50_ms']:.0f} / {c['hold']['p95_ms']:.0f} / {c['hold']['p99_ms']:.0f} |"
        f" p99 ≤ {c['p99_bound_ms']:.0f} |",
        f"| ledger | `{ledger_line(c['ledger'])}` | all 0 but stored |",
        "",
        "| step | offered msgs/s | stored msgs/s | backlog start → end | backlog slope msgs/s | pollers mean / max |"
        " p50 / p95 / p99 ms | sustainable |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for n, step in enumerate(c["steps"], 1):
        rows.append(
            f"| {n} | {step['offered_msgs_per_s']:.0f} | {step['stored_msgs_per_s']:.0f} | {step['backlog_start']} →"
            f" {step['backlog_end']} | {step['backlog_slope']:.0f} | {step['pollers_mean']} / {step['pollers_max']} |"
            f" {step['p50_ms']:.0f} / {step['p95_ms']:.0f} / {step['p99_ms']:.0f} |"
            f" {'yes' if step['sustainable'] else 'no: ' + step['why']} |"
        )
    rows += [
        "",
        f"Where the CPU went during the hold, in cores of this machine's {os.cpu_count()}: "
        + ", ".join(f"{name} {cores}" for name, cores in cpu.items())
        + f". The {busiest} is the largest consumer: "
        + CPU_NOTES.get(busiest, "")
        + " Pollers were warm before the load (all maxConcurrency of them imported the handler in"
        f" {c['warm_start_seconds']} s), so a scale-out step switched a poller on instead of starting a process.",
        "",
        f"![Load against capacity]({rel}/capacity_timeline.png)",
        f"![Latency against throughput]({rel}/capacity_latency.png)",
        "",
    ]
    return rows


CPU_NOTES = {
    "emulator": "moto_server is one Python process (one GIL) serving every SQS and DynamoDB call of the producer,"
    " the pollers and the sampler. With the SQS performance layer a call no longer grows with the backlog (make"
    " bench: the same cost at 10,000 waiting as at 100); a profile of the server under load puts moto's SQS"
    " models at about 7% of its time and the rest in moto_server's own request handling (werkzeug's"
    " thread-per-request server, dispatch, botocore-shaped parsing and serialization). That per-request cost, on"
    " 2 cores shared with the pollers and the producer, is what limits the ratio.",
    "pollers": "the handler's own work (validation, item building, BatchWriteItem serialization, logs and metrics)"
    " dominates; see the consumer benchmark.",
    "producer": "the producer's boto3 calls dominate; more producer threads or processes would be the next step.",
}


def header(run_dir: Path) -> list[str]:
    return [
        "# Scale test report",
        "",
        f"Generated by `loadtest/analysis/report.py` from `{os.path.relpath(run_dir, PROJECT_ROOT)}` (a real `make demo`"
        " run on the embedded AWS) and the other runs under `build/`; do not edit by hand.",
        "",
    ]


def run_section(run: dict) -> list[str]:
    return [
        "## Run",
        "",
        f"Stack `{run['stack']}` ({run['mode']} mode), {run['started_at']} → {run['finished_at']}; machine: "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, {platform.system()}.",
        "",
        f"Shape: `{json.dumps(run['shape'])}`",
        "",
        "| phase | seconds |",
        "|---|---|",
        *[f"| {p['name']} | {p['seconds']} |" for p in run["phases"]],
        "",
        "Settings: `" + json.dumps(run["settings"], default=str) + "`",
        "",
    ]


def model_section(run: dict) -> list[str]:
    return [
        "## Scale-out on AWS, modelled",
        "",
        "Time to drain a backlog of N messages with Lambda's SQS poller (starts at 5 concurrent batches, adds up to"
        " 300 per minute, up to `maxConcurrency`: the rule the local event source mapping follows) against seed 000's"
        " EC2 loop (checks depth every 60 s, one instance per 1,000 messages up to a maximum, instances take 60 s to"
        " boot). A batch is taken to last 0.1 s (the local handler needs less); "
        "`loadtest/analysis/scaling_model.py` states every assumption.",
        "",
        *drain_table(run),
        "",
    ]


DRILL_WHAT = {
    "outage": "every DynamoDB write fails for longer than maxReceiveCount × the visibility timeout under steady"
    " load; the store comes back; the runbook's redrive sends the DLQ back",
    "deploy": "mid-load, every poller is replaced by a new, cold one (a new function version); the old ones"
    " finish their batch and exit",
    "poison": "a stage of 50% invalid bodies after a clean stage of the same length and rate",
    "duplicates": "the producer resends 30% of its events (same eventId, a new message)",
    "distributed": "a Locust master and two workers on 127.0.0.1 drive the scale shape",
}


def drills_section(drills_dir: Path) -> list[str]:
    """One row per drill of the last `make drills` (or `make drill NAME=…`) run."""
    records = [json.loads(path.read_text()) for path in sorted(drills_dir.glob("*/*.json"))]
    records = [r for r in records if r.get("name") in DRILL_WHAT]
    if not records:
        return []
    order = list(DRILL_WHAT)
    rows = [
        "## Drills (`make drills`)",
        "",
        "On the embedded AWS with the real handler and the local event source mapping, on a drill stack (dev"
        " with a 1 s function timeout, so a 6 s visibility timeout, and maxReceiveCount 3). Each ends with the"
        " ledger check. The outage drill is the proof of the README's DLQ runbook.",
        "",
        "| drill | what was done | figures | ledger | result |",
        "|---|---|---|---|---|",
    ]
    for r in sorted(records, key=lambda r: order.index(r["name"])):
        skip = {"name", "passed", "problems", "ledger"}
        figures = "; ".join(f"{k.replace('_', ' ')} {v}" for k, v in r.items() if k not in skip)
        result = "passed" if r["passed"] else "FAILED: " + "; ".join(r["problems"])
        rows.append(f"| {r['name']} | {DRILL_WHAT[r['name']]} | {figures} | `{r['ledger']}` | {result} |")
    return [*rows, ""]


REPRODUCE = [
    "## Reproduce",
    "",
    "`make demo` (this report), `make capacity` (the knee), `make demo STACK=fifo`, `make demo MODE=worker` (other"
    " runs), `make chaos` (fault injection), `make drills` (recovery drills), `make bench`; on AWS: `pulumi up -s dev`, then "
    "`locust -f loadtest/locustfile.py --stack-outputs build/dev-outputs.json`.",
]


def render(run_dir: Path, charts_dir: Path, out: Path, usage=None) -> str:
    """REPORT.md, section by section; each section reads its own run's files. `usage`: the cost model's
    inputs when they come from CloudWatch rather than from the run's request counts."""
    run = json.loads((run_dir / "run.json").read_text())
    rel = os.path.relpath(charts_dir, out.parent)
    drawn = charts(run_dir, charts_dir)
    lines = [
        *header(run_dir),
        *result_section(run, run_dir),
        *capacity_section(run_dir.parent / "capacity" / "capacity.json", rel),
        "## Producer (Locust)",
        "",
        *locust_rows(run_dir),
        "",
        "## Charts",
        "",
        *[f"![{title}]({rel}/{name})" for title, name in drawn],
        "",
        *run_section(run),
        *other_run_rows(run_dir, charts_dir, rel),
        *fault_rows(run_dir.parent / f"{run['stack']}-chaos" / "run.json"),
        *drills_section(run_dir.parent / "drills"),
        *cost_section(run, charts_dir, rel=rel, usage=usage),
        *benchmark_rows(PROJECT_ROOT / "build" / "bench.json"),
        *model_section(run),
        *REPRODUCE,
    ]
    text = "\n".join(lines) + "\n"
    out.write_text(text)
    return text


def from_cloudwatch(
    run_dir: Path, charts_dir: Path, stack_outputs: Path, start: str, end: str, stack: str
) -> list[str]:
    """An AWS run: the series from CloudWatch into samples.csv, the ledger checked against the real table
    and DLQ, the dashboard's widgets as images, the cost model's inputs from the stack's own counts. Returns the
    report lines that link the dashboard, and those inputs."""
    import boto3

    from loadtest.analysis.cloudwatch_source import cost_totals, dashboard_images, samples
    from loadtest.analysis.cost_inputs import usage_from_cloudwatch
    from loadtest.analysis.ledger_check import check_ledger, scan_table
    from loadtest.ledger import read_ledger
    from ops.dead_letter_queue import scan as read_dead_letters

    outputs = json.loads(stack_outputs.read_text())
    session = boto3.session.Session(region_name=outputs["region"])
    begin, finish = (datetime.datetime.fromisoformat(t) for t in (start, end))
    rows = samples(session.client("cloudwatch"), outputs, begin, finish)
    with open(run_dir / "samples.csv", "w", newline="") as out:
        writer = csv.DictWriter(
            out,
            fieldnames=["t_s", "queue_visible", "queue_in_flight", "dlq_visible", "pollers", "stored_total"],
        )
        writer.writeheader()
        writer.writerows(rows)
    result = check_ledger(
        read_ledger(run_dir / "ledger"),
        scan_table(session.resource("dynamodb").Table(outputs["tableName"])),
        read_dead_letters(session.client("sqs"), outputs["dlqUrl"]),
    )
    seconds = max(1.0, (finish - begin).total_seconds())
    from infra.settings import KEYS, from_stack_file

    settings = from_stack_file(stack)
    run = {
        "stack": stack,
        "mode": "aws",
        "started_at": start,
        "finished_at": end,
        "settings": {key: getattr(settings, meta.field) for key, meta in KEYS.items()},
        "phases": [],
        "shape": {},
        "emulator_ceiling": {"pipeline_mix_msgs_per_s": "n/a on AWS"},
        "ledger": {
            k: getattr(result, k)
            for k in ("accepted", "stored", "in_dlq", "lost", "pending", "duplicated", "poison_accepted")
        },
        "runner": {
            "max_pollers": max((r["pollers"] for r in rows), default=0),
            "invocations": "see dashboard",
            "records": result.accepted,
            "failed_records": "see dashboard",
            "failed_invocations": "see dashboard",
        },
        "throughput": {
            "produced_msgs_per_s": round(result.accepted / seconds, 1),
            "stored_msgs_per_s": round(result.stored / seconds, 1),
            "stored_vs_ceiling": "n/a on AWS",
        },
    }
    (run_dir / "run.json").write_text(json.dumps(run, indent=2))
    links = [f"Dashboard: {outputs.get('dashboardUrl', 'not deployed')}", ""]
    if "dashboardName" in outputs:
        links += [
            f"![{title}]({os.path.relpath(charts_dir, PROJECT_ROOT)}/{name})"
            for title, name in dashboard_images(
                session.client("cloudwatch"), outputs["dashboardName"], charts_dir
            )
        ]
    sends = {r["Name"]: r for r in read_csv(run_dir / "locust_stats.csv")}.get("Aggregated", {})
    totals = cost_totals(session.client("cloudwatch"), outputs, settings.metrics_namespace, begin, finish)
    usage = usage_from_cloudwatch(totals, settings, int(sends.get("Request Count", 0)), seconds)
    return links, usage


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.analysis.report", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--run-dir", type=Path, default=MAIN_RUN)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "REPORT.md")
    parser.add_argument("--charts-dir", type=Path, default=PROJECT_ROOT / "report")
    parser.add_argument(
        "--source",
        choices=["local", "cloudwatch"],
        default="local",
        help="cloudwatch: read the series of a deployed stack (needs --stack-outputs, --start, --end)",
    )
    parser.add_argument("--stack-outputs", type=Path, help="JSON of `pulumi stack output --json`")
    parser.add_argument("--start", help="ISO time the load started (cloudwatch source)")
    parser.add_argument("--end", help="ISO time the load ended (cloudwatch source)")
    parser.add_argument(
        "--stack", default="dev", help="stack whose settings the run used (cloudwatch source)"
    )
    args = parser.parse_args(argv)
    extra: list[str] = []
    usage = None
    if args.source == "cloudwatch":
        if not (args.stack_outputs and args.start and args.end):
            parser.error("--source cloudwatch needs --stack-outputs, --start and --end")
        extra, usage = from_cloudwatch(
            args.run_dir, args.charts_dir, args.stack_outputs, args.start, args.end, args.stack
        )
    text = render(args.run_dir, args.charts_dir, args.out, usage)
    if extra:
        args.out.write_text(
            text.replace("## Run\n", "## CloudWatch dashboard\n\n" + "\n".join(extra) + "\n\n## Run\n", 1)
        )
    print(f"[report] wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
