"""Recovery drills on the embedded AWS, with the real handler and the local event source mapping:
`make drills` runs them all, `make drill NAME=outage` one.

- outage: every DynamoDB write fails for longer than maxReceiveCount × the visibility timeout under steady
  load, so healthy events reach the DLQ through the redrive policy; the `dlq-not-empty` alarm's condition is
  met; the store comes back; the runbook's own command (`python -m ops.redrive … redrive`) sends the DLQ back;
  every event is stored once and only poison stays in the DLQ.
- deploy: mid-load, every poller is replaced by a new, cold one (a new function version): the old ones
  finish their in-flight batch and exit; the dip in stored msgs/s is measured.
- poison: a stage of 50% invalid bodies: each one in the DLQ with its reason, and the valid events' p99
  within 2× of the same-length clean stage just before.
- duplicates: the producer resends 30% of its events (same eventId, new message): each stored once, the
  resends counted apart from duplicates.
- distributed: a Locust master and two workers (processes on 127.0.0.1) drive the scale shape; their
  per-process ledgers add up to every message SQS accepted.
- backoff: the function's reserved concurrency (3) below the mapping's maximum (10), slow invocations and
  2 receives before the DLQ: Lambda throttles the pollers beyond 3, the mapping backs off, throttled batches
  are retried while they stay invisible; nothing is lost, and what reached the DLQ says why.
- throttling: a provisioned table of 40 write units a second under 100 msgs/s: DynamoDB returns unprocessed
  items and refuses calls, the store retries, SQS redelivers what it could not write; nothing is lost, and
  the pushback is counted second by second.

Each drill is bounded in time, prints a line every few seconds, ends with the ledger check, writes
build/runs/drills/<name>.json (REPORT.md's Drills section), and prints one PASSED/FAILED line. Exit 1 if any
drill failed. `--inject-loss` deletes one stored item before the check, to prove a broken ledger fails.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import boto3

from cli.command_line import OneLineParser, entry_point
from infra.settings import PROJECT_ROOT, StackSettings, from_stack_file
from loadtest.analysis import report, report_data
from loadtest.analysis.ledger_check import LedgerResult, scan_table
from loadtest.analysis.percentiles import percentile
from loadtest.ledger import LedgerWriter
from loadtest.local.consumers.esm_runner import EsmRunner
from loadtest.local.emulator.embedded_aws import LocalStack
from loadtest.local.runs.paced_producer import PacedProducer
from loadtest.local.runs.progress import Progress
from loadtest.local.runs.session import LocalSession
from ops.dead_letter_queue import NO_REASON, reason_of
from ops.dead_letter_queue import scan as read_queue

RUN_DIR = PROJECT_ROOT / "build" / "runs" / "drills"
DRAIN_DEADLINE_S = 90
RATE = 100.0  # msgs/s: well under the knee, so what a drill shows is the fault, not the capacity


def drill_settings() -> StackSettings:
    """dev's stack with a 1 s function timeout (so a 6 s visibility timeout) and 3 receives before the DLQ:
    an outage reaches the DLQ in about 18 s instead of the 5 × 60 s dev's settings would take."""
    return dataclasses.replace(from_stack_file("dev"), function_timeout_seconds=1, max_receive_count=3)


@dataclasses.dataclass
class Drill:
    """One drill's stack, consumers, producer and ledger, in a session of its own (a fresh moto_server)."""

    name: str
    session: LocalSession
    settings: StackSettings
    local: LocalStack
    endpoint: str
    runner: EsmRunner  # the drills run Lambda's poller (the deploy drill rolls its pollers out)
    producer: PacedProducer
    progress: Progress
    outage_flag: Path
    time_scale: float = 1.0  # --quick shortens the load stages (never the outage, which must outlast retries)

    @property
    def run_dir(self) -> Path:
        return self.session.run_dir

    def stage(
        self, phase: str, seconds: float, rate: float = RATE, scaled: bool = True
    ) -> tuple[float, float]:
        """Offer `rate` for `seconds`; returns the stage's (start, end) on the samples' clock."""
        self.progress.phase = phase
        self.producer.set_rate(rate)
        start = self.runner.clock()
        time.sleep(seconds * (self.time_scale if scaled else 1.0))
        return start, self.runner.clock()

    def drain(self) -> bool:
        self.producer.set_rate(0)
        self.progress.phase = "drain"
        return self.runner.wait_until_drained(DRAIN_DEADLINE_S) is not None

    def stored_rate(self, start: float, end: float) -> float:
        inside = [s for s in self.runner.samples if start <= s.t_s <= end]
        if len(inside) < 2:
            return 0.0
        return (inside[-1].stored_total - inside[0].stored_total) / max(inside[-1].t_s - inside[0].t_s, 1e-9)


def backoff_settings() -> StackSettings:
    """The drill stack with reserved concurrency 3 under a maximum of 10 and 2 receives before the DLQ: the
    combination settings validation refuses (AWS: it throttles messages), built past it on purpose."""
    return dataclasses.replace(
        drill_settings(), max_concurrency=10, reserved_concurrency_override=3, max_receive_count=2
    )


def throttling_settings() -> StackSettings:
    """The drill stack on a provisioned table of 40 write units a second (its index too): below what the
    pollers write at the drill's rate."""
    return dataclasses.replace(
        drill_settings(), billing_mode="PROVISIONED", write_capacity=40, read_capacity=5
    )


def start_drill(name: str, session: LocalSession, settings: StackSettings, faults: str = "") -> Drill:
    """The drill's stack on the session's emulator, its pollers (with the outage flag the handler watches),
    a paced producer writing the run's ledger and a live line: all started, all stopped by the session."""
    local = session.start_stack(f"drill-{name}", settings)
    flag = session.run_dir / "dynamodb-outage"
    flag.unlink(missing_ok=True)
    session.on_stop("the outage flag", lambda: flag.unlink(missing_ok=True))
    faults = ",".join(filter(None, [f"dynamodb_outage_flag={flag}", faults]))
    runner = session.consumers(local, settings, DLQ_URL=local.dlq_url, VEHICLE_PIPELINE_FAULTS=faults)
    ledger = LedgerWriter(session.ledger_dir)
    session.on_stop("the ledger", ledger.close)
    producer = PacedProducer(local.queue_url, ledger)
    session.on_stop("the paced producer", producer.stop)
    progress = Progress(name, runner, lambda: (None, producer.rate))
    session.on_stop("the live line", progress.stop)
    runner.start()
    runner.reset_clock()
    producer.start()
    progress.start()
    return Drill(name, session, settings, local, session.endpoint, runner, producer, progress, flag)


def stop_load(drill: Drill) -> None:
    """Stop the producer and the consumers before the ledger is read (the session's own stop then finds
    them stopped)."""
    drill.progress.stop()
    drill.producer.stop()
    drill.runner.stop()
    drill.producer.ledger.close()


# ---- the drills: each returns its figures and a list of failed checks --------------------------------------
def outage(drill: Drill) -> tuple[dict, list[str]]:
    visibility = drill.settings.queue_visibility_timeout_seconds
    outage_s = drill.settings.max_receive_count * visibility + 15
    drill.stage("steady", 10)
    drill.outage_flag.touch()
    outage_start = drill.runner.clock()
    drill.stage(f"DynamoDB outage ({outage_s} s)", outage_s, scaled=False)
    drill.outage_flag.unlink()
    drill.producer.poison_ratio = 0.05  # poison after the outage: the DLQ alarm during it is the outage's
    drill.stage("store back, 5% poison", 10)
    drill.producer.poison_ratio = 0.0
    drained = drill.drain()
    first_dead = next(
        (s.t_s for s in drill.runner.samples if s.t_s >= outage_start and s.dlq_visible > 0), None
    )
    sqs = boto3.client("sqs")
    before = read_queue(sqs, drill.local.dlq_url)
    by_policy = [m for m in before if reason_of(m) == NO_REASON]
    outputs = drill.local.write_outputs(drill.run_dir / "outputs.json")
    runbook = ["--stack-outputs", str(outputs), "redrive", "--rate", "500", "--yes"]
    started = time.monotonic()
    redrive = subprocess.run(
        [sys.executable, "-m", "ops.redrive", *runbook], capture_output=True, text=True, timeout=120
    )
    redrive_s = time.monotonic() - started
    drained_again = drill.drain()
    redriven_ids = {json.loads(m["Body"])["eventId"] for m in by_policy}
    items = scan_table(boto3.resource("dynamodb").Table(drill.local.table_name))
    latencies = [int(i["storedAt"]) - int(i["sentAt"]) for i in items if i["eventId"] in redriven_ids]
    after = read_queue(sqs, drill.local.dlq_url)
    figures = {
        "outage_seconds": outage_s,
        "visibility_timeout_s": visibility,
        "max_receive_count": drill.settings.max_receive_count,
        "seconds_to_first_dead_letter": round(first_dead - outage_start, 1) if first_dead else None,
        "dlq_alarm_condition_met": first_dead is not None,
        "dead_lettered_by_redrive_policy": len(by_policy),
        "redrive_command": " ".join(["python -m ops.redrive", *runbook]).replace(f"{PROJECT_ROOT}/", ""),
        "redrive_seconds": round(redrive_s, 1),
        "redriven_latency_p50_ms": percentile(latencies, 0.5),
        "redriven_latency_max_ms": max(latencies, default=0),
        "dlq_after_redrive": len(after),
        "dlq_after_redrive_all_poison": all(reason_of(m) != NO_REASON for m in after),
    }
    failed = [
        *([] if drained and drained_again else ["the queue did not drain"]),
        *(
            []
            if redrive.returncode == 0
            else [f"redrive exited {redrive.returncode}: {redrive.stderr.strip()[-300:]}"]
        ),
        *([] if by_policy else ["no message reached the DLQ through the redrive policy"]),
        *([] if figures["dlq_after_redrive_all_poison"] else ["non-poison messages left in the DLQ"]),
        *([] if len(latencies) == len(redriven_ids) else ["a redriven event was not stored"]),
    ]
    return figures, failed


def deploy(drill: Drill) -> tuple[dict, list[str]]:
    before = drill.stage("steady", 15, rate=150)
    drill.progress.phase = "rolling out a new version"
    rolled_at = drill.runner.clock()
    drill.runner.roll_out()
    rolled = drill.runner.clock() - rolled_at
    after = drill.stage("after the roll-out", 20, rate=150)
    drained = drill.drain()
    rates = [
        (s.t_s, (s.stored_total - p.stored_total) / max(s.t_s - p.t_s, 1e-9))
        for p, s in itertools.pairwise(drill.runner.samples)
        if rolled_at <= s.t_s <= after[1]
    ]
    steady = drill.stored_rate(before[0] + 5, before[1])
    dip = min((r for _, r in rates), default=0.0)
    recovered = next((t for t, r in rates if t > rolled_at + rolled and r >= 0.9 * steady), None)
    figures = {
        "steady_stored_msgs_per_s": round(steady, 1),
        "lowest_stored_msgs_per_s_after_roll_out": round(dip, 1),
        "dip_share": round(1 - dip / steady, 2) if steady else None,
        "old_pollers_exited_seconds": round(rolled, 1),
        "seconds_until_90pct_of_steady": round(recovered - rolled_at, 1) if recovered else None,
        "after_roll_out_stored_msgs_per_s": round(drill.stored_rate(after[0] + 5, after[1]), 1),
    }
    return figures, [] if drained else ["the queue did not drain"]


def poison(drill: Drill) -> tuple[dict, list[str]]:
    drill.stage("warm-up", 5)
    clean_from = len(drill.runner.latencies_ms)
    drill.stage("clean stage", 15)
    storm_from = len(drill.runner.latencies_ms)
    drill.producer.poison_ratio = 0.5
    drill.stage("50% poison", 15)
    storm_to = len(drill.runner.latencies_ms)
    drill.producer.poison_ratio = 0.0
    drained = drill.drain()
    clean_p99 = percentile(drill.runner.latencies_ms[clean_from:storm_from], 0.99)
    storm_p99 = percentile(drill.runner.latencies_ms[storm_from:storm_to], 0.99)
    dead = read_queue(boto3.client("sqs"), drill.local.dlq_url)
    reasons = sorted({reason_of(m) for m in dead})
    figures = {
        "clean_valid_p99_ms": clean_p99,
        "storm_valid_p99_ms": storm_p99,
        "p99_ratio": round(storm_p99 / max(clean_p99, 1.0), 2),
        "dead_letters": len(dead),
        "dlq_reasons": reasons,
    }
    failed = [
        *([] if drained else ["the queue did not drain"]),
        *(
            []
            if figures["p99_ratio"] <= 2
            else [f"valid p99 {figures['p99_ratio']}× the clean stage's (> 2×)"]
        ),
        *([] if NO_REASON not in reasons else ["a dead letter has no reason"]),
    ]
    return figures, failed


def duplicates(drill: Drill) -> tuple[dict, list[str]]:
    drill.producer.resend_ratio = 0.3
    drill.stage("30% of events resent", 20)
    drill.producer.resend_ratio = 0.0
    drained = drill.drain()
    return {"resend_ratio": 0.3}, [] if drained else ["the queue did not drain"]


def distributed(drill: Drill) -> tuple[dict, list[str]]:
    drill.producer.set_rate(0)  # Locust produces here
    drill.progress.phase = "Locust master + 2 workers"
    ledger_dir = drill.run_dir / "ledger"
    locust = [str(Path(sys.executable).parent / "locust"), "-f", str(PROJECT_ROOT / "loadtest/locustfile.py")]
    shared = ["--queue-url", drill.local.queue_url, "--ledger-dir", str(ledger_dir), "--user-rate", "2"]
    port = _free_port()
    master_args = ["--master", "--master-bind-host", "127.0.0.1", "--master-bind-port", str(port)]
    shape = ["--headless", "--expect-workers", "2", "--shape", "scale", "-u", "6", "--stage-seconds", "4"]
    worker_args = ["--worker", "--master-host", "127.0.0.1", "--master-port", str(port)]
    csv_args = ["--csv", str(drill.run_dir / "locust")]
    master = drill.session.popen(
        "the Locust master", [*locust, *master_args, *shape, *shared, *csv_args], "locust.log"
    )
    workers = [
        drill.session.popen(f"Locust worker {n}", [*locust, *worker_args, *shared], "locust.log")
        for n in (1, 2)
    ]
    try:
        master_code = master.wait(timeout=120)
    except subprocess.TimeoutExpired:
        master_code = -1
    for process in workers:  # they leave once the master quits
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    drained = drill.drain()
    # One file per process that sent anything: the two workers (the master and this process send nothing).
    counts = {
        path.name: len(path.read_text().splitlines()) for path in sorted(ledger_dir.glob("ledger-*.jsonl"))
    }
    per_process = {name: count for name, count in counts.items() if count}
    rows = {r["Name"]: r for r in report.read_csv(drill.run_dir / "locust_stats.csv")}
    locust_messages = 10 * int(rows.get("SendMessageBatch", {}).get("Request Count", 0))
    figures = {
        "ledger_files": len(per_process),
        "messages_per_process": list(per_process.values()),
        "messages_in_ledgers": sum(per_process.values()),
        "messages_by_locust_stats": locust_messages,
    }
    failed = [
        *([] if master_code == 0 else [f"the Locust master exited {master_code}"]),
        *(
            []
            if len(per_process) == 2
            else [f"{len(per_process)} ledgers with messages, expected 2 (one per worker)"]
        ),
        *(
            []
            if figures["messages_in_ledgers"] == locust_messages
            else ["the ledgers and Locust's counts differ"]
        ),
        *([] if drained else ["the queue did not drain"]),
    ]
    return figures, failed


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pushback_timeline(drill: Drill, field: str) -> list[list[float]]:
    """(second, count in that second) of a cumulative sample field, for the seconds where it moved."""
    samples = drill.runner.samples
    return [
        [round(after.t_s), getattr(after, field) - getattr(before, field)]
        for before, after in itertools.pairwise(samples)
        if getattr(after, field) > getattr(before, field)
    ]


def dead_letters_by_reason(drill: Drill) -> dict[str, int]:
    dead = read_queue(boto3.client("sqs"), drill.local.dlq_url)
    return dict(Counter(reason_of(message) for message in dead))


def backoff(drill: Drill) -> tuple[dict, list[str]]:
    drill.stage("300 msgs/s on a function reserved to 3", 20, rate=300)
    drained = drill.drain()
    throttled = pushback_timeline(drill, "throttles_total")
    timeline = [sample.pollers for sample in drill.runner.samples]
    figures = {
        "reserved_concurrency": drill.settings.reserved_concurrency,
        "max_concurrency": drill.settings.max_concurrency,
        "max_receive_count": drill.settings.max_receive_count,
        "throttles": drill.runner.totals["throttles"],
        "batches_let_go_after_throttling": drill.runner.totals["throttled_batches"],
        "throttles_per_second": throttled,
        "pollers_max": max(timeline, default=0),
        "pollers_after_backoff": timeline[-1] if timeline else 0,
        "dlq_by_reason": dead_letters_by_reason(drill),
    }
    failed = [
        *([] if drained else ["the queue did not drain"]),
        *(
            []
            if figures["throttles"]
            else ["Lambda never throttled: the reserved concurrency was not reached"]
        ),
    ]
    return figures, failed


def throttling(drill: Drill) -> tuple[dict, list[str]]:
    drill.stage("100 msgs/s into a 40-unit table", 20)
    drained = drill.drain()
    figures = {
        "write_capacity_units": drill.settings.write_capacity,
        "offered_msgs_per_s": RATE,
        "unprocessed_item_retries": drill.runner.totals["unprocessed_retries"],
        "records_not_written_and_redelivered": drill.runner.totals["write_failures"],
        "retries_per_second": pushback_timeline(drill, "write_retries_total"),
        "stored_msgs_per_s_under_pushback": round(drill.stored_rate(5, 20), 1),
        "dlq_by_reason": dead_letters_by_reason(drill),
    }
    failed = [
        *([] if drained else ["the queue did not drain"]),
        *([] if figures["unprocessed_item_retries"] else ["DynamoDB never pushed back"]),
    ]
    return figures, failed


DRILLS: dict[str, Callable[[Drill], tuple[dict, list[str]]]] = {
    "outage": outage,
    "deploy": deploy,
    "poison": poison,
    "duplicates": duplicates,
    "distributed": distributed,
    "backoff": backoff,
    "throttling": throttling,
}
# The drills that need a stack of their own, and the faults their pollers inject.
DRILL_STACKS: dict[str, Callable[[], StackSettings]] = {
    "backoff": backoff_settings,
    "throttling": throttling_settings,
}
DRILL_FAULTS = {"backoff": "slow_invocation_ms=150"}  # a slow downstream: invocations hold their slot


def run_drill(name: str, run_root: Path, inject_loss: bool, time_scale: float = 1.0) -> bool:
    started = time.monotonic()
    print(f"[{name}] starting", flush=True)
    with LocalSession(name, run_root / name) as session:
        settings = DRILL_STACKS.get(name, drill_settings)()
        drill = start_drill(name, session, settings, DRILL_FAULTS.get(name, ""))
        drill.time_scale = time_scale
        figures, failed = DRILLS[name](drill)
        stop_load(drill)
        result = ledger(drill, inject_loss)
    figures |= {"seconds": round(time.monotonic() - started, 1), "poison_accepted": result.poison_accepted}
    problems = failed + ([] if result.ok else [result.verdict()])
    record = {"name": name, "passed": not problems, "problems": problems, "ledger": result.line(), **figures}
    (session.run_dir / f"{name}.json").write_text(json.dumps(record, indent=2))
    print(f"[{name}] {result.line()}", flush=True)
    print(f"[{name}] {'PASSED' if not problems else 'FAILED: ' + '; '.join(problems)}", flush=True)
    return not problems


def ledger(drill: Drill, inject_loss: bool) -> LedgerResult:
    table = boto3.resource("dynamodb").Table(drill.local.table_name)
    items = scan_table(table)
    if inject_loss and items:  # a message gone behind the pipeline's back: the check must fail
        table.delete_item(Key={name: items[0][name] for name in ("vehicleId", "eventKey")})
        items = items[1:]
    return drill.session.check_ledger(drill.local, items)


@entry_point("python -m loadtest.local.runs.drills", aws_failures=False)  # on moto, an AWS error is a bug
def main(argv: Sequence[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m loadtest.local.runs.drills", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "names", nargs="*", metavar="NAME", help=f"drills to run (default all): {', '.join(DRILLS)}"
    )
    parser.add_argument("--inject-loss", action="store_true", help="delete one stored item before each check")
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR)
    parser.add_argument("--no-report", action="store_true")
    parser.add_argument("--quick", action="store_true", help="quarter-length load stages (tests)")
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in DRILLS]
    if unknown:
        parser.error(f"unknown drill {unknown[0]!r}; choose one of {', '.join(DRILLS)} (make drill NAME=…)")
    if args.run_dir.exists() and not args.run_dir.is_dir():
        parser.error(f"argument --run-dir: {args.run_dir} is a file; give a directory (created if missing)")
    names = args.names or list(DRILLS)
    scale = 0.25 if args.quick else 1.0
    passed = [name for name in names if run_drill(name, args.run_dir, args.inject_loss, scale)]
    if not args.no_report:  # these drills' rows of report/data/drills.json, then REPORT.md from that data
        command = f"make drill NAME={names[0]}" if len(args.names) == 1 else "make drills"
        if len(args.names) > 1:
            command = "python -m loadtest.local.runs.drills " + " ".join(names)
        records = [json.loads((args.run_dir / n / f"{n}.json").read_text()) for n in names]
        report_data.record_drills(records, command)
        report.main([])
    failed = [name for name in names if name not in passed]
    which = f"; failed: {', '.join(failed)}" if failed else ""
    print(
        f"[drills] {'PASSED' if not failed else 'FAILED'}: {len(passed)} of {len(names)} clean{which}",
        flush=True,
    )
    return 0 if not failed else 1


if __name__ == "__main__":
    sys.exit(main())
