"""The scale-out/in test on the embedded AWS, what `make demo` runs: `python -m loadtest.local.demo`.

Phases: start moto_server; provision the stack from its stack file; measure the emulator's own ceiling;
start the consumers (the local event source mapping, or with `--mode worker` the worker fleet); run Locust's
scale shape headless in a subprocess; wait for the queue to drain; check the ledger (and, on FIFO stacks,
per-vehicle order); write `build/runs/<stack>-<mode>/` and regenerate REPORT.md. `--chaos` adds the faults of
`make chaos`. Exits 1 if anything is lost or duplicated, out of order on FIFO, or a deadline passes.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import boto3

from infra.resource_spec import StackSpec
from infra.settings import KEYS, PROJECT_ROOT, from_stack_file
from loadtest.analysis import report
from loadtest.analysis.ledger_check import check_ledger, order_violations, scan_table
from loadtest.ledger import read_ledger
from loadtest.local.embedded_aws import LOCAL_REGION, aws_environment, moto_server, provision
from loadtest.local.emulator_ceiling import measure_ceiling
from loadtest.local.esm_runner import EsmRunner, PollerConfig
from loadtest.local.worker_fleet import WorkerFleet
from loadtest.shapes import scale_stages, total_seconds
from ops.dead_letter_queue import NO_REASON, reason_of
from ops.dead_letter_queue import scan as read_dead_letters

DRAIN_DEADLINE_S = 120


class Phases:
    def __init__(self):
        self.done: list[dict] = []

    def run(self, name: str, action, *args, **kwargs):
        print(f"[demo] {name} …", flush=True)
        started = time.monotonic()
        result = action(*args, **kwargs)
        seconds = round(time.monotonic() - started, 2)
        self.done.append({"name": name, "seconds": seconds})
        print(f"[demo] {name}: done in {seconds} s", flush=True)
        return result


def run_locust(run_dir: Path, queue_url: str, env: dict, args) -> None:
    command = [
        str(Path(sys.executable).parent / "locust"),
        "-f",
        str(PROJECT_ROOT / "loadtest/locustfile.py"),
        "--headless",
        "--shape",
        "scale",
        "--peak-users",
        str(args.peak_users),
        "--stage-seconds",
        str(args.stage_seconds),
        "--user-rate",
        str(args.user_rate),
        "--batch-size",
        str(args.batch_size),
        "--poison-ratio",
        str(args.poison_ratio),
        "--queue-url",
        queue_url,
        "--ledger-dir",
        str(run_dir / "ledger"),
        "--stop-timeout",
        "10",
        "--csv",
        str(run_dir / "locust"),
        "--csv-full-history",
        "--only-summary",
    ]
    duration = total_seconds(scale_stages(args.peak_users, args.stage_seconds))
    with open(run_dir / "locust.log", "w") as log:
        subprocess.run(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, check=True, timeout=duration + 60
        )


def wait_for_drain(runner: EsmRunner, deadline_s: float) -> bool:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        visible, in_flight, _ = runner.depth()
        if visible == 0 and in_flight == 0:
            return True
        time.sleep(1)
    print(f"[demo] the queue did not drain within {deadline_s} s", flush=True)
    return False


def write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["empty"])
        writer.writeheader()
        writer.writerows(rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m loadtest.local.demo", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--stack", default="dev")
    # Peak 6 users × 2 calls/s × 10 = 120 msgs/s: about a third of moto's bare send+receive+delete ceiling,
    # which the pipeline shares with DynamoDB writes and sampling. moto slows down as a backlog grows (it
    # scans per call), so a producer that outruns the pollers collapses the whole run (GUIDE §2).
    parser.add_argument("--peak-users", type=int, default=6)
    parser.add_argument("--stage-seconds", type=float, default=10)
    parser.add_argument("--user-rate", type=float, default=2.0, help="send calls per second per user")
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--poison-ratio", type=float, default=0.0)
    parser.add_argument("--faults", default="", help="VEHICLE_PIPELINE_FAULTS for the handler (chaos runs)")
    parser.add_argument(
        "--chaos",
        action="store_true",
        help="fault injection: 1%% poison, 1%% throttled writes, 1%% timeout overruns, and one poller "
        "SIGKILLed mid-run (make chaos)",
    )
    parser.add_argument(
        "--mode",
        choices=["lambda", "worker"],
        default="lambda",
        help="lambda: the event source mapping runner; worker: a fleet of `python -m consumer.worker` "
        "processes scaled on backlog per worker (make demo MODE=worker)",
    )
    parser.add_argument("--run-dir", type=Path)
    parser.add_argument("--no-report", action="store_true")
    args = parser.parse_args(argv)
    if args.chaos:
        args.poison_ratio = args.poison_ratio or 0.01
        args.faults = args.faults or "dynamodb_failure_ratio=0.01,overrun_ratio=0.01"
    mode = "chaos" if args.chaos else args.mode

    settings = from_stack_file(args.stack)
    spec = StackSpec(args.stack, settings)
    run_dir = args.run_dir or PROJECT_ROOT / "build" / "runs" / f"{args.stack}-{mode}"
    run_dir.mkdir(parents=True, exist_ok=True)
    for stale in [*run_dir.glob("ledger/*.jsonl"), *run_dir.glob("*.log"), *run_dir.glob("workers/*")]:
        stale.unlink()
    phases = Phases()
    started_at = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    with moto_server(log_path=run_dir / "moto.log") as endpoint:
        env = {**os.environ, **aws_environment(endpoint)}
        os.environ.update(aws_environment(endpoint))
        local = phases.run("provision the stack on moto", provision, spec, endpoint)
        ceiling = phases.run("measure the emulator's ceiling", measure_ceiling, endpoint)
        config = PollerConfig.for_stack(
            local,
            settings,
            aws_environment(endpoint),
            DLQ_URL=local.dlq_url,
            VEHICLE_PIPELINE_FAULTS=args.faults,
        )
        runner = consumers(mode, config, local.dlq_url, settings, run_dir)
        phases.run(
            f"start the {'worker fleet' if mode == 'worker' else 'event source mapping'}", runner.start
        )
        runner.reset_clock()
        load_seconds = total_seconds(scale_stages(args.peak_users, args.stage_seconds))
        killer = threading.Timer(load_seconds / 2, runner.kill_one_poller) if args.chaos else None
        # Failed batches come back only after the visibility timeout (and overruns after the function's).
        drain_deadline = DRAIN_DEADLINE_S + (
            3 * settings.queue_visibility_timeout_seconds if args.chaos else 0
        )
        try:
            if killer:
                killer.start()
            phases.run("run the Locust scale shape", run_locust, run_dir, local.queue_url, env, args)
            drained = phases.run("drain the queue", wait_for_drain, runner, drain_deadline)
        finally:
            if killer:
                killer.cancel()
            phases.run("stop the consumers", runner.stop)  # always, before moto_server goes away
        items = phases.run("scan the table", scan_table, boto3.resource("dynamodb").Table(local.table_name))
        dead = phases.run("read the DLQ", read_dead_letters, boto3.client("sqs"), local.dlq_url)
    ledger = read_ledger(run_dir / "ledger")
    result = check_ledger(ledger, items, dead)
    reasons = dict(Counter(reason_of(message) for message in dead))
    # FIFO promises order per message group (vehicle); a standard queue does not, so it is not counted.
    out_of_order = order_violations(items) if settings.fifo else None
    extra = {"dlq_reasons": reasons, "order_violations": out_of_order}
    write_run(run_dir, args, spec, phases, started_at, ceiling, runner, items, result, mode, extra)
    print(f"[demo] {result.line()}", flush=True)
    if result.extra_dead_letter_copies:
        print(f"[demo] poison messages dead-lettered twice: {result.extra_dead_letter_copies}", flush=True)
    if out_of_order is not None:
        print(f"[demo] per-vehicle order violations: {out_of_order}", flush=True)
    if args.chaos:
        print(f"[demo] faults: {json.dumps(runner.totals)}; DLQ by reason: {json.dumps(reasons)}", flush=True)
    if not args.no_report and (report.MAIN_RUN / "run.json").exists():
        report.main([])  # the dev Lambda run, with every other run's section
    # Every poison message must be in the DLQ with a reason, not merely somewhere.
    poison_routed = sum(count for reason, count in reasons.items() if reason != NO_REASON)
    in_order = not out_of_order
    return 0 if result.ok and drained and poison_routed >= result.poison_accepted and in_order else 1


def consumers(mode: str, config: PollerConfig, dlq_url: str, settings, run_dir: Path) -> EsmRunner:
    """Lambda's poller, or the worker fleet with the stack's sizes and backlog-per-instance target."""
    if mode == "worker":
        return WorkerFleet(
            config,
            dlq_url,
            settings.worker_fleet_min_size,
            settings.worker_fleet_max_size,
            settings.worker_fleet_backlog_per_instance,
            run_dir / "workers",
        )
    return EsmRunner(config, dlq_url, settings.max_concurrency, run_dir / "pollers")


def write_run(run_dir, args, spec, phases, started_at, ceiling, runner, items, result, mode, extra) -> None:
    write_csv(run_dir / "samples.csv", [dataclasses.asdict(s) for s in runner.samples])
    latencies = sorted((int(i["storedAt"]), int(i["sentAt"]), i["eventId"]) for i in items if "sentAt" in i)
    write_csv(
        run_dir / "latencies.csv",
        [
            {"eventId": e, "sentAt": sent, "storedAt": stored, "latency_ms": stored - sent}
            for stored, sent, e in latencies
        ],
    )
    load_seconds = total_seconds(scale_stages(args.peak_users, args.stage_seconds))
    first_stored = min((s for s, _, _ in latencies), default=0)
    last_stored = max((s for s, _, _ in latencies), default=0)
    stored_window = max(1e-9, (last_stored - first_stored) / 1000)
    settings = spec.settings
    run = {
        "stack": spec.stack,
        "mode": mode,
        **extra,
        "region": LOCAL_REGION,
        "started_at": started_at,
        "finished_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "settings": {key: getattr(settings, meta.field) for key, meta in KEYS.items()},
        "phases": phases.done,
        "shape": {
            "peak_users": args.peak_users,
            "stage_seconds": args.stage_seconds,
            "user_rate": args.user_rate,
            "batch_size": args.batch_size,
            "poison_ratio": args.poison_ratio,
            "faults": args.faults,
        },
        "emulator_ceiling": ceiling,
        "ledger": {k: v for k, v in dataclasses.asdict(result).items() if not k.endswith("_ids")},
        "runner": {"max_pollers": runner.max_pollers, **runner.totals},
        "throughput": {
            "produced_msgs_per_s": round(result.accepted / load_seconds, 1),
            "stored_msgs_per_s": round(len(latencies) / stored_window, 1),
            "stored_vs_ceiling": round(
                len(latencies) / stored_window / ceiling["send_receive_delete_msgs_per_s"], 3
            ),
        },
    }
    (run_dir / "run.json").write_text(json.dumps(run, indent=2, default=str))


if __name__ == "__main__":
    sys.exit(main())
