"""The scale-out/in test on the embedded AWS, what `make demo` runs: `python -m loadtest.local.runs.demo`.

Phases: start moto_server; provision the stack from its stack file; measure the emulator's ceiling for the
pipeline's call mix; warm the consumers (the local event source mapping's pollers, or with `--mode worker`
the worker fleet); run Locust's scale shape headless in a subprocess, with a live line every few seconds;
wait for the queue to drain; check the ledger (and, on FIFO stacks, per-vehicle order); write the run's
record (loadtest/analysis/run_record.py) whole to `build/runs/<stack>-<mode>/run.json` and, for the report,
to `report/data/demo-<stack>-<mode>.json`, then regenerate REPORT.md (every other section as it was).
`--chaos` adds the faults of `make chaos`.

The plateau's offered rate is the sustained rate (this machine's `make capacity` for the stack; else the
committed one's share of its ceiling times the ceiling measured now) times an overshoot chosen from the shape
(loadtest/shapes.py `plateau_overshoot`, or --overload): a backlog builds on the plateau, pollers reach their
maximum, the backlog is gone as the idle stage begins. After the drain the consumers keep running until their
rule has stepped them back to the floor (bounded by what the rule needs from their peak, plus a margin), so
every run shows the scale-in. The worker fleet gets the same plateau (it scales out on backlog per worker);
correctness runs (FIFO order, chaos) keep a fixed load they always sustain.
Exits 1 if anything is lost, still queued at the deadline (pending), duplicated, out of order on FIFO, a
poison message is not in the DLQ with its reason, or the consumers did not step back to the floor in time;
the last line says which.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import boto3

from cli.command_line import OneLineParser, entry_point, number, share, whole_number
from infra.resource_spec import StackSpec
from infra.settings import PROJECT_ROOT, from_stack_file
from loadtest.analysis import report, report_data
from loadtest.analysis.ledger_check import LedgerResult, check_ledger, order_violations, scan_ledger_items
from loadtest.analysis.run_record import (
    Ledger,
    Machine,
    Phase,
    Plan,
    ResourceNames,
    RunRecord,
    Series,
    Throughput,
    settings_by_key,
)
from loadtest.ledger import read_ledger
from loadtest.local.consumers.scaler import ConsumerScaler
from loadtest.local.emulator.ceiling import measure_ceiling
from loadtest.local.emulator.request_counter import fetch_counts, reset_counts
from loadtest.local.runs import recording
from loadtest.local.runs.progress import SAMPLE_S, Progress
from loadtest.local.runs.run_arguments import fault_spec, stack_name
from loadtest.local.runs.session import LocalSession, shown
from loadtest.shapes import plateau_overshoot, scale_stages, total_seconds, users_at
from ops.dead_letter_queue import NO_REASON, reason_of
from ops.dead_letter_queue import scan as read_queue

DRAIN_DEADLINE_S = 120
# This machine's last `make capacity` (the committed report/data is another machine's, maybe).
CAPACITY_FILE = PROJECT_ROOT / "build" / "runs" / "capacity" / "run.json"
CORRECTNESS_PEAK_RATE = 120.0  # msgs/s: FIFO and chaos runs check correctness (order, faults), not the knee
CEILING_SHARE_WITHOUT_CAPACITY = 0.7  # the knee before any `make capacity` run: below the ceiling, always
SCALE_IN_MARGIN_S = 10  # beyond what the scaling rule needs to step back to the floor
CEILING_SECONDS, CEILING_ROUNDS = 5, 2  # the demo's ceiling: shorter than make capacity's 3 × 10 s


class Phases:
    def __init__(self):
        self.done: list[Phase] = []

    def run(self, name: str, action, *args, **kwargs):
        print(f"[demo] {name} …", flush=True)
        started = time.monotonic()
        result = action(*args, **kwargs)
        seconds = round(time.monotonic() - started, 2)
        self.done.append(Phase(name, seconds))
        print(f"[demo] {name}: done in {seconds} s", flush=True)
        return result


@dataclasses.dataclass(frozen=True)
class LoadPlan:
    peak_rate: float  # msgs/s offered at the plateau
    peak_users: int
    user_rate: float  # send calls per second per user
    source: str  # where the peak rate comes from

    @classmethod
    def make(cls, args, mode: str, stack: str, ceiling: float, fifo: bool = False) -> LoadPlan:
        if args.peak_rate:
            rate, source = args.peak_rate, "--peak-rate"
        elif mode == "chaos" or fifo:
            rate, source = CORRECTNESS_PEAK_RATE, f"fixed for {'FIFO' if fifo else mode} runs"
        else:
            sustained, source = _measured_capacity(stack, ceiling)
            # Enough over the sustained rate that a backlog builds on the plateau, little enough that it is
            # gone when the idle stage begins: the run shows the consumers scale out, then back in.
            overload = args.overload or plateau_overshoot(
                scale_stages(args.peak_users, args.stage_seconds), args.peak_users
            )
            rate = overload * sustained
            why = "--overload" if args.overload else "the backlog it builds is gone as the idle stage begins"
            source = f"{overload:g} × {source} ({why})"
        return cls(
            round(rate, 1), args.peak_users, round(rate / (args.peak_users * args.batch_size), 3), source
        )


def _measured_capacity(stack: str, ceiling: float) -> tuple[float, str]:
    """The rate the pipeline sustains: this machine's last `make capacity` for the stack; else the committed
    one's share of its ceiling, times the ceiling measured now (the same measure: a machine's speed today
    scales both alike); else a conservative share of the ceiling."""
    if CAPACITY_FILE.exists():
        capacity = RunRecord.load(CAPACITY_FILE)
        if capacity.stack == stack and capacity.ledger.lost == 0 and capacity.capacity:
            sustained = capacity.capacity.sustained_msgs_per_s
            return sustained, f"the sustained rate {sustained:.0f} msgs/s of make capacity on {capacity.date}"
    committed = report_data.DATA_DIR / f"capacity-{stack}.json"
    if committed.exists():
        capacity = RunRecord.load(committed)
        if capacity.capacity and capacity.capacity.ceiling_before:  # a ceiling measured as it is now
            share = min(capacity.capacity.sustained_share_of_ceiling, 1.0)
            return share * ceiling, (
                f"{share:.2f} × the ceiling {ceiling:.0f} msgs/s measured now (the committed make capacity"
                f" of {capacity.date} sustained that share of its own)"
            )
    guess = CEILING_SHARE_WITHOUT_CAPACITY
    return guess * ceiling, f"{guess} × the ceiling {ceiling:.0f} msgs/s (no make capacity run yet)"


def start_locust(session: LocalSession, queue_url: str, args, plan: LoadPlan):
    """Locust's scale shape, headless, as a child of the session (stopped with it on Ctrl-C)."""
    command = [
        str(Path(sys.executable).parent / "locust"),
        *("-f", str(PROJECT_ROOT / "loadtest/locustfile.py"), "--headless", "--shape", "scale"),
        *("-u", str(plan.peak_users), "--stage-seconds", str(args.stage_seconds)),
        *("--user-rate", str(plan.user_rate), "--batch-size", str(args.batch_size)),
        *("--poison-ratio", str(args.poison_ratio), "--queue-url", queue_url),
        *("--ledger-dir", str(session.ledger_dir), "--stop-timeout", "10"),
        *("--csv", str(session.run_dir / "locust"), "--csv-full-history", "--only-summary"),
    ]
    return session.popen("Locust", command, "locust.log")


def run_locust(session: LocalSession, queue_url: str, args, plan: LoadPlan) -> int:
    """Locust's exit status, once its shape has played (bounded: the shape's length and a minute)."""
    locust = start_locust(session, queue_url, args, plan)
    duration = total_seconds(scale_stages(plan.peak_users, args.stage_seconds))
    try:
        return locust.wait(timeout=duration + 60)
    except subprocess.TimeoutExpired:
        return -1


def shape_users(stages, sampler):
    """The users the scale shape asks of Locust, on the shape's own clock: it starts with Locust's first
    send (Locust takes seconds to start), which the series sees as the first second with messages offered.
    (Locust's own history file lags; what the users offered is the emulator's count of the sends.)"""

    def read() -> tuple[int, None]:
        series = sampler.series
        first = next((t for t, sent in zip(series.t_s, series.offered_total, strict=True) if sent), None)
        at = None if first is None else users_at(stages, sampler.clock() - first + SAMPLE_S / 2)
        return (at[0] if at else 0), None

    return read


def consumers_at_most(settings, mode: str) -> int:
    return settings.worker_fleet_max_size if mode == "worker" else min(settings.mapping_max_concurrency, 20)


def wait_for_floor(runner: ConsumerScaler) -> bool:
    """Keep the consumers until their rule has stepped them back to the floor, bounded by what the rule needs
    from where they are plus a margin: the run shows the scale-in, not only the scale-out."""
    bound = runner.seconds_to_floor() + SCALE_IN_MARGIN_S
    if runner.wait_until_at_floor(bound) is not None:
        return True
    print(
        f"[demo] the consumers did not step back to the floor ({runner.floor}) within {bound:.0f} s",
        flush=True,
    )
    return False


def wait_for_drain(runner: ConsumerScaler, deadline_s: float) -> bool:
    if runner.wait_until_drained(deadline_s, poll_s=1) is not None:
        return True
    print(f"[demo] the queue did not drain within {deadline_s} s", flush=True)
    return False


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Every flag checked as it is parsed (one line and exit 2 through `entry_point`), before moto_server."""
    parser = OneLineParser(prog="python -m loadtest.local.runs.demo", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", type=stack_name, default="dev", help="Pulumi.<stack>.yaml (default dev)")
    parser.add_argument("--peak-users", type=whole_number(1), default=10)
    parser.add_argument(
        "--peak-rate", type=number(above=0), help="msgs/s at the plateau (default: from the capacity)"
    )
    parser.add_argument(
        "--overload",
        type=number(above=0),
        help="plateau / sustained capacity (default: chosen so the backlog is gone as the idle stage begins)",
    )
    parser.add_argument("--stage-seconds", type=number(above=0), default=10)
    parser.add_argument("--batch-size", type=whole_number(1, 10), default=10)
    parser.add_argument("--poison-ratio", type=share, default=0.0)
    parser.add_argument(
        "--faults", type=fault_spec, default="", help="VEHICLE_PIPELINE_FAULTS for the handler (chaos runs)"
    )
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
    parser.add_argument("--progress-seconds", type=number(above=0), default=5)
    args = parser.parse_args(argv)
    if args.run_dir and args.run_dir.exists() and not args.run_dir.is_dir():
        parser.error(f"argument --run-dir: {args.run_dir} is a file; give a directory (created if missing)")
    if args.chaos:
        args.poison_ratio = args.poison_ratio or 0.01
        args.faults = args.faults or "dynamodb_failure_ratio=0.01,overrun_ratio=0.01"
    return args


def run_directory(args, mode: str) -> Path:
    return args.run_dir or PROJECT_ROOT / "build" / "runs" / f"{args.stack}-{mode}"


@dataclasses.dataclass
class Evidence:
    """What the run left behind, read after the consumers stopped."""

    items: list[dict]  # the ledger's attributes of every stored item (ledger_check.LEDGER_ATTRIBUTES)
    dead: list[dict]
    queued: list[dict]
    drained: bool
    request_counts: dict  # every AWS request the pipeline made during the load and the drain, by operation
    series: Series  # one row a second from the load's start
    load_started_ms: int  # the series' t = 0, epoch milliseconds (the items' storedAt clock)
    locust_exit: int = 0  # Locust's exit status (-1: it ran past its shape by a minute)
    scaled_in: bool = True  # the consumers stepped back to their floor after the drain


def load_and_drain(args, settings, local, session: LocalSession, phases, mode) -> tuple:
    endpoint = session.endpoint
    measured = phases.run(
        "measure the emulator's ceiling for the pipeline's call mix",
        measure_ceiling,
        endpoint,
        StackSpec(args.stack, settings).dynamodb_create_table_args(),
        clients=(settings.worker_fleet_max_size if mode == "worker" else settings.mapping_max_concurrency)
        + 1,
        seconds=CEILING_SECONDS,
        repetitions=CEILING_ROUNDS,
    )
    ceiling = measured.msgs_per_s
    print(f"[demo] emulator ceiling: {measured.line()}", flush=True)
    plan = LoadPlan.make(args, mode, args.stack, ceiling, settings.fifo)
    print(f"[demo] plateau: {plan.peak_rate:.0f} msgs/s offered, {plan.source}", flush=True)
    print(
        f"[demo] that is {plan.peak_users} Locust users, each sending {plan.user_rate:g} batches of "
        f"{args.batch_size} a second",
        flush=True,
    )
    runner = session.consumers(
        local, settings, mode, DLQ_URL=local.dlq_url, VEHICLE_PIPELINE_FAULTS=args.faults
    )
    reset_counts(endpoint)  # the cost model counts the pipeline's requests, not provisioning or the ceiling
    phases.run(f"start the {'worker pool' if mode == 'worker' else 'event source mapping'}", runner.start)
    runner.reset_clock()
    load_seconds = total_seconds(scale_stages(plan.peak_users, args.stage_seconds))
    if args.chaos:
        killer = threading.Timer(load_seconds / 2, runner.kill_one_poller)
        killer.start()
        session.on_stop("the chaos timer", killer.cancel)
    # Failed batches come back only after the visibility timeout (and overruns after the function's).
    drain_deadline = DRAIN_DEADLINE_S + (3 * settings.queue_visibility_timeout_seconds if args.chaos else 0)
    progress = Progress("demo", runner, interval_s=args.progress_seconds, endpoint=endpoint)
    progress.load = shape_users(scale_stages(plan.peak_users, args.stage_seconds), progress.sampler)
    progress.start()
    session.on_stop("the live line", progress.stop)
    progress.phase = "load"
    locust_exit = phases.run("run the Locust scale shape", run_locust, session, local.queue_url, args, plan)
    progress.phase = "drain"
    drained = phases.run("drain the queue", wait_for_drain, runner, drain_deadline)
    progress.phase = "scale-in"
    scaled_in = phases.run("wait for the consumers to step back to the floor", wait_for_floor, runner)
    progress.stop()
    phases.run("stop the consumers", runner.stop)  # before reading what they left
    counts = fetch_counts(endpoint)  # before the scans below add requests of their own
    sqs = boto3.client("sqs")
    series = progress.sampler.series
    evidence = Evidence(
        items=phases.run(
            "scan the table",
            scan_ledger_items,
            boto3.resource("dynamodb").Table(local.table_name),
            expected=series.offered_total[-1] if len(series) else None,
            say=lambda line: print(f"[demo] scan the table: {line}", flush=True),
        ),
        dead=phases.run("read the DLQ", read_queue, sqs, local.dlq_url),
        queued=phases.run("read what is still queued", read_queue, sqs, local.queue_url),
        drained=drained,
        request_counts=counts,
        series=series,
        load_started_ms=progress.sampler.started_epoch_ms,
        locust_exit=locust_exit,
        scaled_in=scaled_in,
    )
    return ceiling, plan, runner, evidence


def verdict(
    result: LedgerResult, evidence: Evidence, reasons: dict, out_of_order: int | None
) -> tuple[bool, str]:
    """Passed or not, and one phrase that says why."""
    poison_routed = sum(count for reason, count in reasons.items() if reason != NO_REASON)
    problems = [] if result.ok else [result.verdict()]
    if not evidence.drained and result.pending == 0:
        problems.append("the queue did not drain in time")
    if evidence.drained and not evidence.scaled_in:
        problems.append("the consumers did not step back to the floor in the time their rule needs")
    if evidence.locust_exit:
        problems.append(f"Locust exited {evidence.locust_exit} (see its locust.log)")
    if poison_routed < result.poison_accepted:
        problems.append(
            f"{result.poison_accepted - poison_routed} poison messages not in the DLQ with a reason"
        )
    if out_of_order:
        problems.append(f"{out_of_order} per-vehicle order violations")
    return not problems, "; ".join(problems) or result.verdict()


@entry_point("python -m loadtest.local.runs.demo", aws_failures=False)  # on moto, an AWS error is a bug
def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    mode = "chaos" if args.chaos else args.mode
    settings = from_stack_file(args.stack)
    spec = StackSpec(args.stack, settings)
    phases = Phases()
    record = RunRecord(
        kind="demo",
        run=f"demo-{args.stack}-{mode}",
        command=recording.make_command(
            "chaos" if args.chaos else "demo", "loadtest.local.runs.demo", argv, flags=("--chaos",)
        ),
        stack=args.stack,
        mode=mode,
        started_at=recording.now(),
        finished_at="",
        machine=Machine.now(),
        settings=settings_by_key(settings),
        names=ResourceNames.of(spec),
    )
    with LocalSession("demo", run_directory(args, mode)) as session:
        run_dir = session.run_dir
        local = phases.run("provision the stack on moto", session.start_stack, args.stack, settings)
        ceiling, plan, runner, evidence = load_and_drain(args, settings, local, session, phases, mode)
    result = check_ledger(read_ledger(run_dir / "ledger"), evidence.items, evidence.dead, evidence.queued)
    reasons = dict(Counter(reason_of(message) for message in evidence.dead))
    # FIFO promises order per message group (vehicle); a standard queue does not, so it is not counted.
    out_of_order = order_violations(evidence.items) if settings.fifo else None
    fill_record(record, args, run_dir, phases, ceiling, plan, runner, evidence, result)
    record.dlq_reasons, record.order_violations = reasons, out_of_order
    raw = recording.measured_parts(record, spec, evidence.request_counts, run_dir / record.consumers)
    recording.finish(record)
    # The whole run, every second of it, and the raw counts cost_report's command line reads.
    record.save(run_dir / "run.json", max_points=None, **raw)
    passed, why = verdict(result, evidence, reasons, out_of_order)
    print(f"[demo] {result.line()}", flush=True)
    if result.extra_dead_letter_copies:
        print(f"[demo] poison messages dead-lettered twice: {result.extra_dead_letter_copies}", flush=True)
    if out_of_order is not None:
        print(f"[demo] per-vehicle order violations: {out_of_order}", flush=True)
    if args.chaos:
        print(f"[demo] faults: {json.dumps(runner.totals)}; DLQ by reason: {json.dumps(reasons)}", flush=True)
    if not args.no_report:
        saved = report_data.save(record)
        print(f"[demo] wrote {shown(saved)}: this run's sections of REPORT.md", flush=True)
        report.main([])  # every section from report/data: this run's new, the others as they were
    last = runner.samples[-1].pollers if runner.samples else 0
    scaling = (
        f"{record.consumers} {min_pollers(runner)}→{runner.max_pollers}→{last} (max {runner.max_concurrency})"
    )
    print(f"[demo] {'PASSED' if passed else 'FAILED'}: {why}; {scaling}", flush=True)
    return 0 if passed else 1


def min_pollers(runner: ConsumerScaler) -> int:
    return min((s.pollers for s in runner.samples), default=0)


def fill_record(record: RunRecord, args, run_dir, phases, ceiling, plan, runner, evidence, result) -> None:
    """What the run measured, into its record."""
    load_seconds = total_seconds(scale_stages(plan.peak_users, args.stage_seconds))
    record.plan = Plan(
        plan.peak_rate, plan.peak_users, plan.user_rate, args.stage_seconds, args.batch_size,
        args.poison_ratio, args.faults, plan.source,
    )  # fmt: skip
    record.phases = phases.done
    record.ceiling_msgs_per_s = ceiling
    record.series = evidence.series
    record.latency_ms = recording.fill_latencies(evidence.series, evidence.items, evidence.load_started_ms)
    record.ledger = Ledger.of(result)
    record.runner = {"min_pollers": min_pollers(runner), "max_pollers": runner.max_pollers, **runner.totals}
    stored_at = [int(i["storedAt"]) for i in evidence.items if "sentAt" in i]
    stored_window = max(1e-9, (max(stored_at, default=0) - min(stored_at, default=0)) / 1000)
    record.throughput = Throughput(
        produced_msgs_per_s=round(result.accepted / load_seconds, 1),
        stored_msgs_per_s=round(len(stored_at) / stored_window, 1),
        stored_vs_ceiling=round(len(stored_at) / stored_window / ceiling, 3),
    )
    record.producer = [
        {
            "request": r["Name"],
            "requests": int(r["Request Count"]),
            "failures": int(r["Failure Count"]),
            "requests_per_s": round(float(r["Requests/s"]), 1),
            **{f"p{q}_ms": float(r[f"{q}%"]) for q in (50, 95, 99)},
        }
        for r in report.read_csv(run_dir / "locust_stats.csv")
    ]


if __name__ == "__main__":
    sys.exit(main())
