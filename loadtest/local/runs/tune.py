"""Power tuning, offline: `make tune` (`python -m loadtest.local.runs.tune --stacks dev prod`).

What aws-lambda-power-tuning does on AWS (run the function at each memory size, measure, price, pick), done
on this machine: the real handler runs on recorded batches under the CPU share Lambda gives each memory
size, against the embedded AWS, and the cost model prices each size.

- Recorded batches: events the project's producer sends to the stack's queue on the embedded AWS, received
  as Lambda's poller receives them (every attribute) and cut into Lambda-shaped events of the stack's batch
  size; every size replays the same batches (build/runs/tune/batches-<stack>.json).
- CPU share: Lambda allocates CPU in proportion to memory, one vCPU at 1,769 MB (AWS Lambda Developer
  Guide, "configuration-memory"); a single-threaded handler cannot use more than one, so above 1,769 MB the
  share stays 1. No cgroups are writable here, so the handler's process is pinned to one core and
  duty-cycled from outside: SIGCONT for share × PERIOD_S, SIGSTOP for the rest (what CFS bandwidth control
  does with a quota and a period); everything else (this process, whose throttle must wake on time, and the
  emulator) is kept off that core. How close that comes is measured, not assumed: a CPU-bound process under
  the same throttle, its CPU-seconds (schedstat) over wall seconds, for each share; the running slice is then
  lengthened by the shortfall (a stopped process loses ~10 % of a 128 MB slice getting back on its core) and
  the share measured again (`calibration` in the results: within 5 % at 128 MB, 1 % above, when quiet).
- Measured: wall milliseconds per batch (the handler's duration) at each size, after a warm-up batch (cold
  starts are not what is compared), with tracing as the stack samples it; the median of 3 rounds' means,
  the sizes' order alternating, with the rounds' min–max.
- Priced: the stack's design at that size and duration by the cost model (its $ per million events, the
  report's measured usage for everything but the duration), and the Lambda cost of one invocation as
  aws-lambda-power-tuning reports it.
- Recommended: the cheapest, the fastest and the balanced size (aws-lambda-power-tuning's three strategies;
  balanced minimizes 0.5 × cost / the highest cost + 0.5 × duration / the longest).

`--power-tuning FILE` reads a real aws-lambda-power-tuning result (the state machine's output JSON: `results`
with `power`, `cost`, `duration`, `stateMachine.visualization` and, with includeOutputResults, `stats`; the
sizes, durations and costs are also decoded from the visualization URL when `stats` is absent) and sets its
durations beside the offline ones. The chart (duration and $ per million events against memory) goes to
build/runs/tune/tune.png, the figures to build/runs/tune/tune.json. What it cannot model: the network to
DynamoDB (moto answers on loopback in well under a millisecond, AWS in a few), Lambda's own CPU and its
burst behaviour: the durations are this machine's, the ranking is what to read.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import json
import os
import signal
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import boto3

from cli.command_line import OneLineParser, UsageError, entry_point
from consumer.sqs_event import RECEIVE_ALL_ATTRIBUTES, lambda_sqs_event
from infra.settings import PROJECT_ROOT, StackSettings, from_stack_file
from loadtest.analysis.aws_prices import PriceBook, load_prices
from loadtest.analysis.cost_inputs import Line, Usage
from loadtest.analysis.cost_model import LambdaDesign, lambda_month, per_million_events
from loadtest.local.emulator.embedded_aws import LOCAL_REGION
from loadtest.local.runs.noise_guard import CORES, NoiseGuard
from loadtest.local.runs.output_to_log import output_to_log
from loadtest.local.runs.session import LocalSession
from producer.sqs_producer import OutgoingMessage, SqsProducer
from producer.vehicles import VehicleFactory

PROG = "python -m loadtest.local.runs.tune"
RUN_DIR = PROJECT_ROOT / "build" / "runs" / "tune"
LOG = RUN_DIR / "tune.log"
MEMORY_SIZES_MB = (128, 256, 512, 768, 1024, 1536, 1769, 2048, 3008)
ONE_VCPU_MB = 1769  # AWS Lambda Developer Guide, configuration-memory: "At 1,769 MB, a function has the
# equivalent of one vCPU (one vCPU-second of credits per second)"
PERIOD_S = 0.01  # the duty cycle's period: run share × 10 ms, stopped for the rest (5 ms misses by up to
# 30 % at some shares, sleeps being ~0.1 ms late; 20 ms quantizes a batch's few milliseconds of CPU coarsely)
ROUNDS = 3  # per size and stack, the sizes' order alternating: the median of the rounds' mean durations
CALIBRATION_S = 3.0  # per share: a CPU-bound process under the throttle, half to set the gain, half to check
REFERENCE_EVENTS = 50e6
BALANCED_WEIGHT = 0.5  # aws-lambda-power-tuning's default
RECORDS_PER_SIZE = 2_000  # per memory size and stack: dev's 200 batches of 10, prod's 20 of 100


def cpu_share(memory_mb: int) -> float:
    """The CPU a single-threaded handler gets at `memory_mb`: proportional, one vCPU at 1,769 MB."""
    return min(1.0, memory_mb / ONE_VCPU_MB)


# ---- the throttle ---------------------------------------------------------------------------------------
def process_cpu_seconds(pid: int) -> float:
    """Time the process has run on a CPU, in nanoseconds' resolution (/proc/PID/schedstat; /proc/PID/stat
    counts 10 ms ticks, a sixth of what a 128 MB share runs in a second)."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9


@contextlib.contextmanager
def throttled(pid: int, share: float, period_s: float = PERIOD_S, gain: float = 1.0) -> Iterator[None]:
    """Duty-cycle `pid` to `share` of one core until the block ends (a share of 1 leaves it running). `gain`
    lengthens the running part by what a stopped process loses getting back on its core (calibrate)."""
    if share >= 1.0:
        yield
        return
    stop = threading.Event()

    def cycle() -> None:
        on = min(period_s, share * gain * period_s)
        off = period_s - on
        deadline = time.monotonic()
        while not stop.is_set():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
            deadline += on
            time.sleep(max(0.0, deadline - time.monotonic()))
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGSTOP)
            deadline += off
            time.sleep(max(0.0, deadline - time.monotonic()))

    thread = threading.Thread(target=cycle, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


def pinned_core() -> int:
    """The core the measured process runs on: the machine's last."""
    return (os.cpu_count() or 1) - 1


def keep_off_the_pinned_core(pid: int = 0) -> None:
    """Everything else (this process, whose throttle thread must wake on time, and the emulator) runs on the
    other cores, so the measured process has its core to itself, as a Lambda sandbox has its share."""
    others = set(range(os.cpu_count() or 1)) - {pinned_core()}
    if others:
        os.sched_setaffinity(pid, others)


def measured_share(share: float, gain: float, seconds: float) -> float:
    """The share a CPU-bound process really gets under the throttle: its CPU-seconds over the wall seconds."""
    spin = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        os.sched_setaffinity(spin.pid, {pinned_core()})
        time.sleep(0.05)
        with throttled(spin.pid, share, gain=gain):
            cpu, wall = process_cpu_seconds(spin.pid), time.monotonic()
            time.sleep(seconds)
            cpu, wall = process_cpu_seconds(spin.pid) - cpu, time.monotonic() - wall
        return cpu / wall
    finally:
        spin.kill()
        spin.wait()


def calibrate(share: float, seconds: float = CALIBRATION_S) -> tuple[float, float]:
    """The gain that gives `share` (a stopped process loses a little of each running slice getting back on its
    core: ~10 % of a 128 MB slice), and the share then measured: (gain, measured share)."""
    if share >= 1.0:
        return 1.0, measured_share(share, 1.0, seconds / 2)
    first = measured_share(share, 1.0, seconds / 2)
    gain = share / first if first > 0 else 1.0
    return gain, measured_share(share, gain, seconds / 2)


# ---- recorded batches -----------------------------------------------------------------------------------
def record_batches(local: Any, batch_size: int, records: int) -> list[dict]:
    """`records` events sent by the project's producer, received with every attribute as Lambda's poller
    receives them, cut into Lambda-shaped events of `batch_size` records."""
    sqs = boto3.client("sqs")
    factory = VehicleFactory(seed=25)
    producer = SqsProducer(local.queue_url, client=sqs)
    events = [OutgoingMessage(factory.event().to_json()) for _ in range(records)]
    for start in range(0, records, 10):
        producer.send(events[start : start + 10])
    messages: list[dict] = []
    while len(messages) < records:
        got = sqs.receive_message(
            QueueUrl=local.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1, **RECEIVE_ALL_ATTRIBUTES
        ).get("Messages", [])
        if not got:
            break
        messages += got
    return [
        lambda_sqs_event(messages[start : start + batch_size], local.queue_arn, LOCAL_REGION)
        for start in range(0, len(messages), batch_size)
    ]


# ---- one memory size: the real handler in a child, throttled --------------------------------------------
CHILD = """
import json, os, sys, time
batches, traced_every, out = json.loads(open(sys.argv[1]).read()), int(sys.argv[2]), sys.argv[3]
from consumer import handler

class Context:
    function_name, memory_limit_in_mb, aws_request_id = "tune-consumer", 0, "tune"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:tune-consumer"
    @staticmethod
    def get_remaining_time_in_millis():
        return 60_000

def invoke(number, event):
    sampled = 1 if number % traced_every == 0 else 0
    os.environ["_X_AMZN_TRACE_ID"] = (
        f"Root=1-{int(time.time()):08x}-{os.urandom(12).hex()};Parent={os.urandom(8).hex()};Sampled={sampled}"
    )
    started = time.perf_counter()
    response = handler.lambda_handler(event, Context())
    elapsed = (time.perf_counter() - started) * 1000
    if response != {"batchItemFailures": []}:
        raise SystemExit(f"a recorded batch failed: {response}")
    return elapsed

invoke(0, batches[0])  # warm: imports done, store and connection made (cold starts are not compared)
print("ready", flush=True)
sys.stdin.readline()
durations = [invoke(number, event) for number, event in enumerate(batches, 1)]
open(out, "w").write(json.dumps(durations))
"""


def run_size(
    local: Any,
    batches_file: Path,
    share: float,
    traced_every: int,
    daemon_port: int,
    settings: StackSettings,
    gain: float = 1.0,
) -> list[float]:
    """Milliseconds per batch of the real handler at `share` of one core."""
    env = {
        **os.environ,
        "TABLE_NAME": local.table_name,
        "POWERTOOLS_SERVICE_NAME": "vehicle-consumer",
        "POWERTOOLS_METRICS_NAMESPACE": settings.metrics_namespace,
        "POWERTOOLS_LOG_LEVEL": settings.log_level,
        "LAMBDA_TASK_ROOT": str(PROJECT_ROOT),
        "AWS_LAMBDA_FUNCTION_NAME": "tune-consumer",
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon_port}",
    }
    for name in ("POWERTOOLS_METRICS_DISABLED", "POWERTOOLS_TRACE_DISABLED", "_X_AMZN_TRACE_ID", "DLQ_URL"):
        env.pop(name, None)
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "durations.json"
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(batches_file), str(traced_every), str(out)],
            cwd=PROJECT_ROOT,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            os.sched_setaffinity(child.pid, {pinned_core()})
            ready = child.stdout.readline()  # the EMF documents and log lines go to the same pipe: skip them
            while ready and ready.strip() != "ready":
                ready = child.stdout.readline()
            if not ready:
                raise RuntimeError(f"the handler did not start: {child.stderr.read()[-3000:]}")
            with throttled(child.pid, share, gain=gain):
                child.stdin.write("go\n")
                child.stdin.flush()
                _drain(child)
            if child.returncode != 0:
                raise RuntimeError(f"the handler failed: {child.stderr.read()[-3000:]}")
            return json.loads(out.read_text())
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()


def _drain(child: subprocess.Popen) -> None:
    """Read the child's stdout (its log lines) until it exits, so a full pipe never blocks it."""
    for _ in child.stdout:
        pass
    child.wait()


# ---- pricing and the strategies ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class SizeResult:
    memory_mb: int
    share: float
    achieved_share: float
    duration_ms: float  # mean per batch (Lambda bills each invocation's duration), median of the rounds
    median_ms: float  # of every batch
    low_ms: float  # the rounds' lowest and highest mean
    high_ms: float
    per_million: float  # the stack's $ per million events at this size and duration
    invocation_cost: float  # Lambda's cost of one invocation, as aws-lambda-power-tuning reports it


def price(
    settings: StackSettings, usage: Usage, prices: PriceBook, memory_mb: int, duration_ms: float
) -> tuple[float, float]:
    """$ per million events of the stack at `memory_mb` with batches lasting `duration_ms`, and Lambda's cost
    of one invocation (request and GB-seconds)."""
    design = dataclasses.replace(LambdaDesign.for_stack("tuned", settings), memory_mb=memory_mb)
    records = float(settings.batch_size)
    measured = dataclasses.replace(
        usage,
        batch_ms=Line(0.0, duration_ms / records, 1),
        batch_size=settings.batch_size,
        records_per_invocation=records,
    )
    per_million = per_million_events(
        lambda_month(design, measured, prices, REFERENCE_EVENTS), REFERENCE_EVENTS
    )
    billed_s = max(1, round(duration_ms + 0.4999)) / 1000
    invocation = prices.price(
        "lambda_requests_per_million"
    ) / 1e6 + billed_s * memory_mb / 1024 * prices.price(f"lambda_gb_second_{settings.architecture}")
    return per_million, invocation


def strategies(results: Sequence[SizeResult], weight: float = BALANCED_WEIGHT) -> dict[str, SizeResult]:
    """aws-lambda-power-tuning's analyzer: cheapest (ties: fastest), fastest (ties: cheapest), balanced."""
    cheapest = min(results, key=lambda r: (r.per_million, r.duration_ms))
    fastest = min(results, key=lambda r: (r.duration_ms, r.per_million))
    top_cost = max(r.per_million for r in results)
    top_duration = max(r.duration_ms for r in results)
    balanced = min(
        results, key=lambda r: weight * r.per_million / top_cost + (1 - weight) * r.duration_ms / top_duration
    )
    return {"cost": cheapest, "speed": fastest, "balanced": balanced}


# ---- aws-lambda-power-tuning's output ---------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class PowerTuningStat:
    memory_mb: int
    duration_ms: float  # average per invocation
    cost: float  # average per invocation, USD


def read_power_tuning(path: Path) -> tuple[dict[str, Any], list[PowerTuningStat]]:
    """The result of an aws-lambda-power-tuning execution: the state machine's output (`{"results": …}`) or
    its `results` alone. Per size: `stats` when includeOutputResults was on, else decoded from
    `stateMachine.visualization`, whose hash holds the sizes (Int16), durations and costs (Float32),
    little-endian, base64, `;`-separated (its utils.buildVisualizationURL)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise UsageError(f"--power-tuning {path}: not a readable JSON file ({error})") from None
    results = data.get("results", data) if isinstance(data, dict) else None
    if not isinstance(results, dict) or "power" not in results:
        raise UsageError(
            f"--power-tuning {path}: not an aws-lambda-power-tuning output (no results.power); give the state"
            " machine's output JSON"
        )
    stats = results.get("stats")
    if stats:
        return results, sorted(
            (
                PowerTuningStat(int(s["value"]), float(s["averageDuration"]), float(s["averagePrice"]))
                for s in stats
            ),
            key=lambda s: s.memory_mb,
        )
    return results, decode_visualization(results.get("stateMachine", {}).get("visualization", ""))


def decode_visualization(url: str) -> list[PowerTuningStat]:
    if "#" not in url:
        return []
    sizes, durations, costs = (base64.b64decode(part) for part in url.split("#", 1)[1].split(";")[:3])
    count = len(sizes) // 2
    return [
        PowerTuningStat(size, duration, cost)
        for size, duration, cost in zip(
            struct.unpack(f"<{count}h", sizes),
            struct.unpack(f"<{count}f", durations),
            struct.unpack(f"<{count}f", costs),
            strict=True,
        )
    ]


# ---- the run ----------------------------------------------------------------------------------------------
def usage_for_pricing() -> Usage:
    """The report's measured usage (report/data, `make demo`): everything the model needs but the duration."""
    from loadtest.analysis import cost_view, report_data

    main = report_data.load(report_data.MAIN_RUN)
    if main is None or not main.cost_usage:
        raise UsageError("no measured usage in report/data to price with: run `make demo` first")
    return cost_view.usage_of(main.cost_usage)


def traced_every(settings: StackSettings, batch_size: int) -> int:
    """Every how many invocations one is sampled, as the stack's rule samples at the reference volume."""
    sampling = settings.xray_sampling
    if sampling is None:
        return 1
    per_second = REFERENCE_EVENTS / batch_size / (730 * 3600)
    traced = min(per_second, sampling.reservoir_per_second) + sampling.fixed_rate * max(
        0.0, per_second - sampling.reservoir_per_second
    )
    return max(1, round(per_second / traced)) if traced else 10**9


def tune_stack(
    session: LocalSession,
    stack: str,
    sizes: Sequence[int],
    calibration: dict[int, tuple[float, float]],
    say: Callable,
) -> dict[str, Any]:
    settings = from_stack_file(stack)
    local = session.start_stack(stack, settings)
    keep_off_the_pinned_core(session.moto_pid)
    batches = record_batches(local, settings.batch_size, RECORDS_PER_SIZE)
    batches_file = RUN_DIR / f"batches-{stack}.json"
    batches_file.write_text(json.dumps(batches))
    usage, prices = usage_for_pricing(), load_prices()
    every = traced_every(settings, settings.batch_size)
    rounds: dict[int, list[list[float]]] = {memory: [] for memory in sizes}
    guard, noises = NoiseGuard(), []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:  # an X-Ray daemon that drops all
        daemon.bind(("127.0.0.1", 0))
        for index in range(ROUNDS):
            with guard.round() as noise:
                for memory in sizes if index % 2 == 0 else list(reversed(sizes)):
                    share = cpu_share(memory)
                    port, gain = daemon.getsockname()[1], calibration[memory][0]
                    rounds[memory].append(run_size(local, batches_file, share, every, port, settings, gain))
            noises.append(noise)
    results = []
    for memory in sizes:
        means = [statistics.fmean(durations) for durations in rounds[memory]]
        mean = statistics.median(means)
        per_million, invocation = price(settings, usage, prices, memory, mean)
        results.append(
            SizeResult(
                memory,
                round(cpu_share(memory), 4),
                round(calibration[memory][1], 4),
                round(mean, 2),
                round(statistics.median(d for durations in rounds[memory] for d in durations), 2),
                round(min(means), 2),
                round(max(means), 2),
                round(per_million, 4),
                invocation,
            )
        )
        say(
            f"[tune] {stack} {memory:>5} MB (share {cpu_share(memory):.3f}, measured"
            f" {calibration[memory][1]:.3f}): {mean:7.1f} ms ({min(means):.1f}–{max(means):.1f}) a batch of"
            f" {settings.batch_size}, ${per_million:.3f} per million events"
        )
    picked = strategies(results)
    loads = [load for noise in noises for load in (noise.load_start, noise.load_end)]
    busy = sum(noise.busier_than_cores for noise in noises)
    say(
        f"[tune] {stack}: load average {min(loads):.1f}–{max(loads):.1f} on {CORES} cores"
        + (f"; busier than its cores in {busy} of {ROUNDS} rounds: re-run on a quiet machine" if busy else "")
    )
    return {
        "load_average": [round(min(loads), 2), round(max(loads), 2)],
        "noisy_rounds": busy,
        "stack": stack,
        "batch_size": settings.batch_size,
        "configured_memory_mb": settings.function_memory_mb,
        "batches": len(batches),
        "traced_every": every,
        "sizes": [dataclasses.asdict(r) for r in results],
        "recommendation": {name: r.memory_mb for name, r in picked.items()},
    }


def draw(tuned: list[dict[str, Any]], power_tuning: list[PowerTuningStat], path: Path) -> None:
    """Duration per batch and $ per million events against memory, one line per stack; a real
    aws-lambda-power-tuning result's durations beside them when given."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullLocator

    figure, (duration, cost) = plt.subplots(1, 2, figsize=(10, 4.2))
    for entry in tuned:
        sizes = [s["memory_mb"] for s in entry["sizes"]]
        label = f"{entry['stack']} (batch {entry['batch_size']})"
        duration.plot(sizes, [s["duration_ms"] for s in entry["sizes"]], marker="o", label=label)
        cost.plot(sizes, [s["per_million"] for s in entry["sizes"]], marker="o", label=label)
        for strategy, memory in entry["recommendation"].items():
            point = next(s for s in entry["sizes"] if s["memory_mb"] == memory)
            cost.annotate(
                strategy,
                (memory, point["per_million"]),
                fontsize=7,
                xytext=(3, 5),
                textcoords="offset points",
            )
    if power_tuning:
        duration.plot(
            [s.memory_mb for s in power_tuning],
            [s.duration_ms for s in power_tuning],
            marker="x",
            linestyle="--",
            color="grey",
            label="aws-lambda-power-tuning (per invocation)",
        )
    for axes, title, unit in (
        (duration, "Duration against memory", "ms a batch (this machine, CPU share of the size)"),
        (cost, "Cost against memory (50 M events a month)", "USD per million events"),
    ):
        axes.set_xscale("log")
        axes.xaxis.set_minor_locator(NullLocator())
        axes.set_xticks(MEMORY_SIZES_MB)
        axes.set_xticklabels([str(m) for m in MEMORY_SIZES_MB], rotation=45, fontsize=7)
        axes.set_xlabel("memory, MB (1,769 MB = one vCPU)")
        axes.set_ylabel(unit)
        axes.set_title(title, fontsize=10)
        axes.legend(fontsize=7)
    duration.set_yscale("log")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=90)
    plt.close(figure)


def _parser() -> OneLineParser:
    parser = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--stacks", nargs="+", default=["dev", "prod"], metavar="STACK")
    parser.add_argument(
        "--memory", nargs="+", type=int, default=list(MEMORY_SIZES_MB), metavar="MB", help="sizes to try"
    )
    parser.add_argument(
        "--power-tuning", type=Path, metavar="FILE", help="an aws-lambda-power-tuning output JSON to compare"
    )
    parser.add_argument("--chart", type=Path, default=RUN_DIR / "tune.png")
    return parser


@entry_point(PROG, aws_failures=False)  # on moto, an AWS error is a bug
def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    for size in args.memory:
        if not 128 <= size <= 10_240:
            raise UsageError(f"--memory {size}: Lambda takes 128–10240 MB")
    power_tuning = read_power_tuning(args.power_tuning) if args.power_tuning else None
    usage_for_pricing()  # refused before anything starts when there is nothing to price with
    for stack in args.stacks:
        from_stack_file(stack)  # an unknown stack is a usage error (ConfigError) before anything starts
    RUN_DIR.mkdir(parents=True, exist_ok=True)
    keep_off_the_pinned_core()
    with output_to_log(LOG) as terminal:

        def say(line: str) -> None:
            print(line, file=terminal, flush=True)

        say(
            f"[tune] calibrating the throttle ({CALIBRATION_S:.0f} s a share,"
            f" {PERIOD_S * 1000:.0f} ms period) …"
        )
        with NoiseGuard().round() as noise:
            calibration = {size: calibrate(cpu_share(size)) for size in args.memory}
        error = max(abs(calibration[s][1] - cpu_share(s)) / cpu_share(s) for s in args.memory)
        say(
            "[tune] share asked → measured: "
            + ", ".join(f"{s} MB {cpu_share(s):.3f}→{calibration[s][1]:.3f}" for s in args.memory)
            + f" (largest relative error {error:.1%};"
            + f" load average {noise.load_start:.1f}–{noise.load_end:.1f}"
            + (", busier than its cores: the shares are off" if noise.busier_than_cores else "")
            + ")"
        )
        tuned = []
        with LocalSession("tune", RUN_DIR / "emulator", run_dir_option=None) as session:
            for stack in args.stacks:
                tuned.append(tune_stack(session, stack, args.memory, calibration, say))
        stats = power_tuning[1] if power_tuning else []
        draw(tuned, stats, args.chart)
        for entry in tuned:
            picks = entry["recommendation"]
            say(
                f"[tune] {entry['stack']}: functionMemoryMb cheapest {picks['cost']},"
                f" fastest {picks['speed']}, balanced {picks['balanced']}"
                f" (configured {entry['configured_memory_mb']})"
            )
        if power_tuning:
            results = power_tuning[0]
            say(
                f"[tune] aws-lambda-power-tuning ({args.power_tuning}): optimal {results['power']} MB,"
                f" {float(results['duration']):.1f} ms, ${float(results['cost']):.3g} an invocation;"
                " per size: " + ", ".join(f"{s.memory_mb} MB {s.duration_ms:.1f} ms" for s in stats)
            )
        (RUN_DIR / "tune.json").write_text(
            json.dumps(
                {
                    "period_ms": PERIOD_S * 1000,
                    "calibration": {
                        str(k): {"gain": round(gain, 3), "measured_share": round(measured, 4)}
                        for k, (gain, measured) in calibration.items()
                    },
                    "largest_share_error": round(error, 4),
                    "stacks": tuned,
                    "power_tuning": [dataclasses.asdict(s) for s in stats],
                },
                indent=2,
            )
        )
        say(f"[tune] chart: {args.chart}; figures: {RUN_DIR / 'tune.json'}; log: {LOG}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
