"""The knee: how many msgs/s the pipeline sustains on the embedded AWS, what `make capacity` runs.

    python -m loadtest.local.runs.capacity --stack dev

Phases:
1. start moto_server and provision the stack; measure the emulator's ceiling for the pipeline's own call
   mix (per 10 messages: SendMessageBatch, ReceiveMessage, BatchWriteItem, DeleteMessageBatch) from as many
   client processes as the pipeline runs (every poller and the producer), best of --ceiling-rounds rounds of
   --ceiling-seconds (loadtest/local/emulator/ceiling.py): a rate the pipeline cannot beat;
2. warm the stack's pollers (maxConcurrency of them), send a --backlog of messages, switch the event source
   mapping on and time the drain: the backlog drain rate;
3. the stepped search: offer a rate (from --start-share of the ceiling, × --step-factor each step, at most
   the ceiling) for --step-seconds, then bisect between the last sustainable rate (or zero, when the first
   step already was not) and the first that was not, until they are within --precision; a step is
   sustainable when, over its last two thirds, the backlog does not keep growing (its slope stays under 5%
   of the offered rate), it stores at least 95% of what it is offered and p99 end-to-end latency stays under
   --p99-bound-ms; the noise guard records whether other processes were busy meanwhile, and the ceiling's
   rounds whether the machine itself held its speed (a shared host can slow down with nothing here to show);
4. hold the last sustainable rate for --hold-seconds: the maximum sustained stored msgs/s, and where the CPU
   goes (the emulator's process, the pollers, this process's producer threads);
5. drain, stop, measure the ceiling again (a third time if the hold beat both: then the run says why) and
   take the best, check the ledger (lost / pending / duplicated), write the run's record
   (loadtest/analysis/run_record.py, its `capacity` part filled) whole to build/runs/capacity/run.json and,
   for the report, to report/data/capacity-<stack>.json, then regenerate REPORT.md (its Capacity section
   and charts new, every other section as it was).

The series' clock (and the steps' t_start_s/t_end_s) starts when the event source mapping is switched on
with the backlog waiting.

A line every few seconds says what it is doing; the last line says whether the goals were met and why.
Exits 0 when the ledger is clean, 1 otherwise (the ratio goals are reported, not enforced: they measure the
machine as much as the code).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from cli.command_line import OneLineParser, entry_point, number, whole_number
from infra.resource_spec import StackSpec
from infra.settings import PROJECT_ROOT, from_stack_file
from loadtest.analysis import report, report_data
from loadtest.analysis.ledger_check import scan_ledger_items
from loadtest.analysis.percentiles import percentile
from loadtest.analysis.run_record import (
    CapacitySearch,
    Ledger,
    Machine,
    Plan,
    ResourceNames,
    RunRecord,
    Step,
    settings_by_key,
)
from loadtest.ledger import LedgerWriter
from loadtest.local.consumers.esm_runner import EsmRunner
from loadtest.local.emulator.ceiling import Ceiling, measure_ceiling
from loadtest.local.emulator.request_counter import fetch_counts, reset_counts
from loadtest.local.runs import recording
from loadtest.local.runs.noise_guard import Noise, NoiseGuard
from loadtest.local.runs.paced_producer import PacedProducer
from loadtest.local.runs.process_cpu import CpuMeter
from loadtest.local.runs.progress import Progress
from loadtest.local.runs.run_arguments import stack_name
from loadtest.local.runs.session import LocalSession

RUN_DIR = PROJECT_ROOT / "build" / "runs" / "capacity"
GOAL_SUSTAINED_SHARE = 0.75  # of the pipeline-mix ceiling
GOAL_DRAIN_SHARE = 0.8  # of the sustained (no-backlog) rate
GROWTH_LIMIT_SHARE = 0.05  # backlog slope / offered rate above which a step is not sustainable
KEEP_UP_SHARE = 0.95  # a sustainable step stores at least this share of what it was offered
HOLD_ATTEMPTS = 3  # sustainable rates tried for the hold, highest first
MAX_STEPS = 16  # the search's steps at most (up, then bisecting)
DRAIN_DEADLINE_S = 180


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (t, y) points; 0 for fewer than two."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    return 0.0 if var == 0 else sum((t - mean_t) * (y - mean_y) for t, y in points) / var


def run_step(
    step: Step, seconds: float, runner: EsmRunner, producer: PacedProducer, progress: Progress
) -> Step:
    """Offer step.target for `seconds` and measure what the pipeline did with it."""
    producer.set_rate(step.target_msgs_per_s)
    first_sample = len(runner.samples)
    started = time.monotonic()
    step.t_start_s = round(progress.sampler.clock(), 1)
    # The first third settles from the step before: the rates, latencies and the backlog slope come from
    # the rest (counted from the step's start, a step just after a faster one looked as if it lost messages).
    time.sleep(seconds / 3)
    latencies0 = len(runner.latencies_ms)
    settled_at, accepted1, stored1 = time.monotonic(), producer.accepted, runner.totals["stored"]
    time.sleep(max(0.0, seconds - (time.monotonic() - started)))
    settled = max(time.monotonic() - settled_at, 1e-9)
    step.t_end_s = round(progress.sampler.clock(), 1)
    samples = runner.samples[first_sample:]
    tail = samples[len(samples) // 3 :]
    step.offered_msgs_per_s = round((producer.accepted - accepted1) / settled, 1)
    step.stored_msgs_per_s = round((runner.totals["stored"] - stored1) / settled, 1)
    step.backlog_start = samples[0].queue_visible if samples else 0
    step.backlog_end = samples[-1].queue_visible if samples else 0
    step.backlog_slope = round(slope([(s.t_s, s.queue_visible) for s in tail]), 1)
    step.pollers_max = max((s.pollers for s in samples), default=0)
    step.pollers_mean = round(sum(s.pollers for s in samples) / max(1, len(samples)), 1)
    latencies = runner.latencies_ms[latencies0:]
    step.p50_ms, step.p95_ms, step.p99_ms = (percentile(latencies, q) for q in (0.5, 0.95, 0.99))
    return step


def judge(step: Step, p99_bound_ms: float) -> Step:
    growing = step.backlog_slope > GROWTH_LIMIT_SHARE * max(step.offered_msgs_per_s, 1)
    if growing:
        step.why = f"backlog grows {step.backlog_slope:.0f} msgs/s"
    elif step.stored_msgs_per_s < KEEP_UP_SHARE * step.offered_msgs_per_s:
        step.why = f"stored {step.stored_msgs_per_s:.0f} of {step.offered_msgs_per_s:.0f} msgs/s offered"
    elif step.p99_ms > p99_bound_ms:
        step.why = f"p99 {step.p99_ms:.0f} ms > {p99_bound_ms:.0f} ms"
    elif step.offered_msgs_per_s < 0.9 * step.target_msgs_per_s:
        step.why = f"the producer placed only {step.offered_msgs_per_s:.0f} of {step.target_msgs_per_s:.0f}/s"
    step.sustainable = not step.why
    return step


def settle(runner: EsmRunner, producer: PacedProducer, progress: Progress) -> None:
    """Offer nothing until the queue is empty, so the next step measures its own rate, not a backlog."""
    producer.set_rate(0)
    progress.phase = "drain before the next step"
    runner.wait_until_drained(DRAIN_DEADLINE_S)


def search(
    args, runner: EsmRunner, producer: PacedProducer, ceiling: float, progress: Progress
) -> list[Step]:
    """Up by --step-factor while steps are sustainable (at most the ceiling, which the pipeline cannot beat),
    then bisect between the last sustainable share (or 0, when even the first step was not) and the first
    that was not, until the two are within --precision of each other. Bounded: MAX_STEPS steps in all."""
    steps: list[Step] = []

    def offer(share: float) -> Step:
        progress.phase = f"step {len(steps) + 1}: offer {share:.2f} × ceiling"
        step = judge(
            run_step(Step(round(share * ceiling, 1)), args.step_seconds, runner, producer, progress),
            args.p99_bound_ms,
        )
        steps.append(step)
        print(
            f"[capacity] step {len(steps)}: offered {step.offered_msgs_per_s:.0f}/s stored "
            f"{step.stored_msgs_per_s:.0f}/s backlog {step.backlog_start}→{step.backlog_end} "
            f"p99 {step.p99_ms:.0f} ms pollers ≤{step.pollers_max}: "
            f"{'sustainable' if step.sustainable else 'NOT sustainable, ' + step.why}",
            flush=True,
        )
        return step

    good, share = 0.0, min(args.start_share, args.max_share)
    while len(steps) < MAX_STEPS and offer(share).sustainable:
        good = share
        if good >= args.max_share:
            return steps  # sustainable all the way to the ceiling
        share = min(share * args.step_factor, args.max_share)
    if len(steps) >= MAX_STEPS:
        return steps
    bad = share
    while (bad - good) / bad > args.precision and len(steps) < MAX_STEPS:
        settle(runner, producer, progress)  # each bisecting step starts without the last one's backlog
        middle = (good + bad) / 2
        if offer(middle).sustainable:
            good = middle
        else:
            bad = middle
    return steps


def measure_the_ceiling(session: LocalSession, spec, clients: int, when: str, args) -> Ceiling:
    ceiling = measure_ceiling(
        session.endpoint,
        spec.dynamodb_create_table_args(),
        clients,
        seconds=args.ceiling_seconds,
        repetitions=args.ceiling_rounds,
    )
    print(f"[capacity] emulator ceiling {when}: {ceiling.line()}", flush=True)
    return ceiling


def hold_the_knee(args, steps, runner, producer, progress, moto_pid) -> tuple[Step, dict, list[Step]]:
    """Hold the highest sustainable rate for --hold-seconds; if its queue does not stay bounded over that
    longer window (near the knee a 15 s step can pass by luck), hold the next lower sustainable rate instead,
    up to HOLD_ATTEMPTS times. Returns the hold, the CPU per process group during it, and the failed holds."""
    targets = sorted({s.target_msgs_per_s for s in steps if s.sustainable}, reverse=True)
    targets = targets[:HOLD_ATTEMPTS] or [steps[0].target_msgs_per_s / 2]
    failed: list[Step] = []
    for target in targets:
        settle(runner, producer, progress)
        progress.phase = f"hold {target:.0f} msgs/s"
        meter = CpuMeter({"emulator": [moto_pid], "pollers": runner.pids(), "producer": [os.getpid()]})
        hold = judge(run_step(Step(target), args.hold_seconds, runner, producer, progress), args.p99_bound_ms)
        cpu = meter.cores()
        verdict = "bounded" if hold.sustainable else f"NOT bounded, {hold.why}"
        print(
            f"[capacity] hold at {target:.0f} msgs/s: stored {hold.stored_msgs_per_s:.0f}/s, {verdict}",
            flush=True,
        )
        if hold.sustainable:
            break
        failed.append(hold)
    return hold, cpu, failed


@entry_point("python -m loadtest.local.runs.capacity", aws_failures=False)  # on moto, an AWS error is a bug
def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.max_share < args.start_share:
        parser.error(
            f"argument --max-share: {args.max_share:g} is below --start-share {args.start_share:g}; "
            "raise it, or lower --start-share"
        )
    if args.run_dir.exists() and not args.run_dir.is_dir():
        parser.error(f"argument --run-dir: {args.run_dir} is a file; give a directory (created if missing)")
    settings = from_stack_file(args.stack)
    spec = StackSpec(args.stack, settings)
    record = RunRecord(
        kind="capacity",
        run=f"capacity-{args.stack}",
        command=recording.make_command("capacity", "loadtest.local.runs.capacity", argv),
        stack=args.stack,
        mode="lambda",
        started_at=recording.now(),
        finished_at="",
        machine=Machine.now(),
        settings=settings_by_key(settings),
        names=ResourceNames.of(spec),
    )
    with LocalSession("capacity", args.run_dir) as session:
        run_dir = session.run_dir
        result, raw = measure(args, settings, spec, session, record)
    recording.finish(record)
    # The whole run, every second of it (demo's plan reads this machine's sustained rate from here).
    record.save(run_dir / "run.json", max_points=None, **raw)
    if not args.no_report:
        print(f"[capacity] wrote {report_data.save(record).relative_to(PROJECT_ROOT)}", flush=True)
        report.main([])  # every section from report/data: Capacity new, the others as they were
    print(f"[capacity] {result.line()}", flush=True)
    print(f"[capacity] {_verdict(record.capacity, result)}", flush=True)
    return 0 if result.ok else 1


def measure(args, settings, spec, session: LocalSession, record: RunRecord):
    """The run itself (phases 1–5), into `record`; returns the ledger's result and the raw request counts."""
    local = session.start_stack(args.stack, settings)
    print(f"[capacity] moto_server on {session.endpoint}; stack {args.stack} provisioned", flush=True)
    clients = settings.max_concurrency + 1  # every poller and the producer, as the pipeline loads it
    before = measure_the_ceiling(session, spec, clients, "before the search", args)
    ceiling = before.msgs_per_s
    runner = session.consumers(local, settings, "lambda", DLQ_URL=local.dlq_url)
    ledger = LedgerWriter(session.ledger_dir)
    session.on_stop("the ledger", ledger.close)
    producer = PacedProducer(local.queue_url, ledger)
    session.on_stop("the paced producer", producer.stop)
    progress = Progress("capacity", runner, interval_s=args.progress_seconds, endpoint=session.endpoint)
    session.on_stop("the live line", progress.stop)
    runner.warm()
    print(f"[capacity] {settings.max_concurrency} pollers warm in {runner.warm_start_seconds} s", flush=True)
    reset_counts(session.endpoint)  # the run's requests from here: not provisioning, not the ceiling
    producer.send_now(args.backlog)
    print(f"[capacity] backlog of {args.backlog} sent; switching the event source mapping on", flush=True)
    runner.start()
    progress.start()  # t = 0 of the series: the mapping switched on, the backlog waiting
    progress.phase = f"drain a {args.backlog:,}-message backlog"
    backlog_seconds = runner.wait_until_drained(DRAIN_DEADLINE_S)
    runner.forget_latencies()  # the backlog's waits are not the search's
    producer.start()
    with NoiseGuard().round() as noise:
        steps = search(args, runner, producer, ceiling, progress)
        hold, cpu, failed_holds = hold_the_knee(args, steps, runner, producer, progress, session.moto_pid)
    if noise.others_busy:
        print(f"[capacity] WARNING: {noisy_phrase(noise)}: the figures are marked so", flush=True)
    producer.set_rate(0)
    progress.phase = "final drain"
    final_drain = runner.wait_until_drained(DRAIN_DEADLINE_S)
    progress.stop()
    producer.stop()
    runner.stop()
    ledger.close()
    after = measure_the_ceiling(session, spec, clients, "after the search", args)
    ceilings = [before, after]
    if hold.stored_msgs_per_s > max(c.msgs_per_s for c in ceilings):  # a ceiling must not be beaten
        ceilings.append(measure_the_ceiling(session, spec, clients, "again (the hold passed it)", args))
    ceiling = max(c.msgs_per_s for c in ceilings)
    counts = fetch_counts(session.endpoint)  # before the scan adds requests of its own
    items = scan_ledger_items(
        session_table(local),
        expected=producer.accepted,
        say=lambda line: print(f"[capacity] scan the table: {line}", flush=True),
    )
    result = session.check_ledger(local, items)
    search_result = (steps, hold, failed_holds, cpu, backlog_seconds, final_drain)
    fill_record(record, args, ceiling, progress, runner, items, result, search_result)
    record.capacity.ceiling_before, record.capacity.ceiling_after = before.as_dict(), after.as_dict()
    speed = machine_speed(ceilings)
    record.capacity.noise = {
        **noise.as_dict(),
        "others_busy": noise.others_busy,
        **speed,
        "noisy": noise.others_busy or not speed["speed_steady"],
    }
    if not record.capacity.noise["speed_steady"]:
        print(
            f"[capacity] WARNING: {speed_phrase(record.capacity.noise)}: the figures are marked so",
            flush=True,
        )
    if hold.stored_msgs_per_s > ceiling:
        record.capacity.ceiling_note = (
            f"the hold stored {hold.stored_msgs_per_s:.0f} msgs/s, above every ceiling measured "
            f"({', '.join(f'{c.msgs_per_s:.0f}' for c in ceilings)}): the machine gave the hold more than "
            f"the ceiling's rounds{'; ' + noisy_phrase(noise) if noise.others_busy else ''}"
        )
    raw = recording.measured_parts(record, spec, counts, session.run_dir / "pollers")
    return result, raw


def fill_record(record: RunRecord, args, ceiling, progress, runner, items, result, search_result) -> None:
    """What the search measured, into its record."""
    steps, hold, failed_holds, cpu, backlog_seconds, final_drain = search_result
    record.plan = Plan(
        peak_rate_msgs_per_s=max(s.target_msgs_per_s for s in [*steps, hold]),
        stage_seconds=args.step_seconds,
        source=f"stepped search from {args.start_share} × the ceiling, × {args.step_factor} a step"
        f" of {args.step_seconds:g} s, then bisected to {args.precision:.0%}, a {args.hold_seconds:g} s hold",
    )
    record.ceiling_msgs_per_s = ceiling
    record.series = progress.sampler.series
    record.latency_ms = recording.fill_latencies(record.series, items, progress.sampler.started_epoch_ms)
    record.ledger = Ledger.of(result)
    floor = min((s.pollers for s in runner.samples), default=0)
    record.runner = {"min_pollers": floor, "max_pollers": runner.max_pollers, **runner.totals}
    drain_rate = args.backlog / backlog_seconds if backlog_seconds else 0.0
    record.capacity = CapacitySearch(
        steps=steps,
        hold=hold,
        failed_holds=failed_holds,
        sustained_msgs_per_s=hold.stored_msgs_per_s,
        sustained_share_of_ceiling=round(min(hold.stored_msgs_per_s / ceiling, 1.0), 3),
        backlog=args.backlog,
        backlog_drain_seconds=round(backlog_seconds, 1) if backlog_seconds else None,
        backlog_drain_msgs_per_s=round(drain_rate, 1),
        backlog_drain_share_of_sustained=round(drain_rate / max(hold.stored_msgs_per_s, 1e-9), 3),
        final_drain_seconds=round(final_drain, 1) if final_drain is not None else None,
        cpu_cores_during_hold=cpu,
        warm_start_seconds=runner.warm_start_seconds,
        goal_sustained_share=GOAL_SUSTAINED_SHARE,
        goal_drain_share=GOAL_DRAIN_SHARE,
        p99_bound_ms=args.p99_bound_ms,
    )


# The emulator's own ceiling, measured in rounds before and after the search with nothing else of the run
# going, is the machine's speed. On a shared host it can change with no process here to show for it
# (another tenant's load is invisible inside the VM: make capacity saw rounds of 643, 537 and 407 msgs/s
# with other processes at 0.00 cores); below this share between its slowest and fastest round the figures
# are marked noisy.
SPEED_STEADY = 0.8


def machine_speed(ceilings: Sequence[Ceiling]) -> dict:
    """Every ceiling round of the run: the slowest, the fastest, and whether the machine held its speed."""
    rounds = [r for c in ceilings for r in c.rounds_msgs_per_s]
    low, high = min(rounds), max(rounds)
    return {
        "ceiling_rounds_msgs_per_s": [round(low, 1), round(high, 1)],
        "speed_steady": low >= SPEED_STEADY * high,
    }


def speed_phrase(noise: dict) -> str:
    low, high = noise["ceiling_rounds_msgs_per_s"]
    return (
        f"the emulator's own ceiling ranged {low:,.0f}–{high:,.0f} msgs/s over the run ({low / high:.2f} of "
        f"its best, below {SPEED_STEADY}): the machine's speed changed under it"
    )


def noisy_phrase(noise: Noise) -> str:
    return (
        f"other processes kept {noise.others_cores:.1f} of the {noise.as_dict()['cores']} cores busy "
        f"(load {noise.load_start:.1f} → {noise.load_end:.1f})"
    )


def session_table(local):
    import boto3  # here: the search itself never calls DynamoDB

    return boto3.resource("dynamodb").Table(local.table_name)


def _verdict(capacity: CapacitySearch, result) -> str:
    sustained, drained = capacity.sustained_share_of_ceiling, capacity.backlog_drain_share_of_sustained
    hold = capacity.hold
    unbounded = "" if hold.sustainable else f", but the hold's queue was not bounded: {hold.why}"
    goals = (
        f"sustained {capacity.sustained_msgs_per_s:.0f} msgs/s = {sustained:.2f} of the ceiling "
        f"(goal ≥ {GOAL_SUSTAINED_SHARE}: {'met' if sustained >= GOAL_SUSTAINED_SHARE else 'NOT met'}"
        f"{unbounded}); "
        f"{capacity.backlog}-message backlog drained at {drained:.2f} of it "
        f"(goal ≥ {GOAL_DRAIN_SHARE}: {'met' if drained >= GOAL_DRAIN_SHARE else 'NOT met'})"
    )
    if capacity.noise.get("noisy"):
        goals += " (figures marked noisy, see the warning above)"
    return f"{'PASSED' if result.ok else 'FAILED'}: {result.verdict()}; {goals}"


def _parser() -> OneLineParser:
    """Every flag checked as it is parsed (one line and exit 2 through `entry_point`), before moto_server."""
    parser = OneLineParser(
        prog="python -m loadtest.local.runs.capacity", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--stack", type=stack_name, default="dev", help="Pulumi.<stack>.yaml (default dev)")
    parser.add_argument(
        "--backlog", type=whole_number(1), default=10_000, help="messages to drain before the search"
    )
    parser.add_argument(
        "--start-share", type=number(above=0), default=0.4, help="first step, as a share of the ceiling"
    )
    parser.add_argument(
        "--step-factor", type=number(above=1), default=1.15, help="each step offers this times the last"
    )
    parser.add_argument(
        "--precision",
        type=number(above=0, at_most=1),
        default=0.05,
        help="bisect until the last good and first bad rates are within this share (default 0.05)",
    )
    # The ceiling is measured under the pipeline's own concurrency: the pipeline cannot beat it.
    parser.add_argument(
        "--max-share", type=number(above=0), default=1.0, help="the search stops here at the latest"
    )
    parser.add_argument("--ceiling-seconds", type=number(above=0), default=10, help="each ceiling round")
    parser.add_argument("--ceiling-rounds", type=whole_number(1), default=3, help="the ceiling's best of")
    parser.add_argument("--step-seconds", type=number(above=0), default=15)
    parser.add_argument("--hold-seconds", type=number(above=0), default=30)
    parser.add_argument("--p99-bound-ms", type=number(above=0), default=2000)
    parser.add_argument("--progress-seconds", type=number(above=0), default=5)
    parser.add_argument("--run-dir", type=Path, default=RUN_DIR)
    parser.add_argument("--no-report", action="store_true")
    return parser


if __name__ == "__main__":
    sys.exit(main())
