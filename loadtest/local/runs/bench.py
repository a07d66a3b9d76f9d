"""Benchmarks, each against a baseline run side by side in this same script: `make bench`.

The machine is shared and noisy, so every figure is a ratio against a baseline measured in the same run,
never an absolute time, and nothing here is asserted by a test. Each headline ratio is the median of
repeated rounds with its min–max beside it (consumer CPU ÷ seed-style, tracing on and off: 5 rounds of
2,000 records, the three sides alternating their order; the producer: 5 rounds of 1,000 messages; DynamoDB
calls per record: every round of the consumer), and every round records the load average and the other
processes' CPU at its start and end: a figure measured while the machine was busier than its cores says so
(noise_guard.py). Prints each ratio with its min–max; writes build/bench.json and the report's data.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import boto3

from cli.command_line import OneLineParser, entry_point
from consumer.sqs_event import lambda_sqs_event
from infra.code_package import write_zip
from infra.settings import PROJECT_ROOT, StackSettings
from loadtest.analysis import report, report_data
from loadtest.local.emulator.embedded_aws import LOCAL_REGION
from loadtest.local.runs.noise_guard import NoiseGuard, Spread
from loadtest.local.runs.output_to_log import output_to_log
from loadtest.local.runs.session import LocalSession
from producer.sqs_producer import OutgoingMessage, SqsProducer
from producer.vehicles import VehicleFactory

BENCH_FILE = PROJECT_ROOT / "build" / "bench.json"
RUN_DIR = PROJECT_ROOT / "build" / "runs" / "bench"
HANDLER_LOG = PROJECT_ROOT / "build" / "bench-handler.log"
PROG = "python -m loadtest.local.runs.bench"


ROUNDS = 5  # the CPU ratios: median of 5, min–max beside it
PRODUCER_MESSAGES = 1_000  # per side and round
CONSUMER_RECORDS = 2_000  # per side and round, in batches of ten
CONSUMER_GOAL = 0.15  # issue 25: consumer CPU per record ≤ 0.15 of the seed-style handler's, tracing on


def figure(name: str, spread: Spread, goal: str, met: bool, detail: str, digits: int = 3) -> dict:
    """A benchmark row: the median with its min–max as the ratio, the rounds and the machine beside it."""
    noisy = " — measured on a busy machine" if spread.noisy_rounds else ""
    return {
        "ratio": spread.text(digits),
        "median": round(spread.median, digits),
        "goal": goal,
        "met": met,
        "figures": (
            f"median of {spread.rounds} rounds (min–max in brackets); {detail}; {spread.machine()}{noisy}"
        ),
        "spread": spread.as_dict(digits),
        "name": name,
    }


def producer(endpoint: str, rounds: int = ROUNDS, count: int = PRODUCER_MESSAGES) -> dict:
    """Messages per client CPU-second: batches of 10 vs one SendMessage per message (the seeds' way), the two
    alternating which goes first, a fresh queue for each (moto slows as a queue fills)."""
    factory = VehicleFactory(seed=1)
    messages = [OutgoingMessage(factory.event().to_json()) for _ in range(count)]
    sqs = boto3.client("sqs", endpoint_url=endpoint)

    def cpu_per_message(batch: int, round_: int) -> float:
        queue = sqs.create_queue(QueueName=f"bench-producer-{batch}-{round_}")["QueueUrl"]
        client = SqsProducer(queue, client=sqs)
        started = time.process_time()
        for start in range(0, count, batch):
            client.send(messages[start : start + batch])
        return (time.process_time() - started) / count

    guard, ratios, noises, batched_rates, single_rates = NoiseGuard(), [], [], [], []
    for round_ in range(rounds):
        with guard.round() as noise:
            order = (1, 10) if round_ % 2 == 0 else (10, 1)
            cpu = {batch: cpu_per_message(batch, round_) for batch in order}
        noises.append(noise)
        ratios.append(cpu[1] / cpu[10])
        batched_rates.append(1 / cpu[10])
        single_rates.append(1 / cpu[1])
    spread = Spread.of(ratios, noises)
    detail = (
        f"{count:,} messages a side and round; batch {statistics.median(batched_rates):,.0f} msgs per CPU-s,"
        f" single {statistics.median(single_rates):,.0f}"
    )
    return figure(
        "producer msgs per CPU-s, batches of 10 ÷ single sends", spread, "≥ 5×", spread.median >= 5, detail, 2
    )


CONSUMER_SIDES = ("seed", "tracing_off", "tracing_on")


def consumer(local, rounds: int = ROUNDS, per_round: int = CONSUMER_RECORDS) -> dict[str, dict]:
    """Client CPU per record of the real handler, tracing off and on, vs a seed-style handler (put_item each).

    Each round runs each side once over `per_round` new records, in a fresh interpreter, the order turning
    round by round (seed, off, on; off, on, seed; …) so that the machine's drift falls on all three alike;
    each round's ratio is its side's CPU over the same round's seed. Fresh interpreters because the Tracer
    decides at import whether it is on, and once the X-Ray SDK has patched botocore every call in that
    process is traced: the seed runs untraced, as its authors ran it. The handler runs as deployed:
    StackSettings' log level, EMF metrics on (stdout goes to /dev/null here, to the log pipe on Lambda), the
    store and its writer created by the handler itself. "Tracing on" is what the Lambda runtime sets up:
    LAMBDA_TASK_ROOT and AWS_LAMBDA_FUNCTION_NAME, a new sampled `_X_AMZN_TRACE_ID` before each invocation,
    and AWS_XRAY_DAEMON_ADDRESS on a loopback UDP socket that only receives (its datagrams a batch are
    reported: two, the handler's subsegment and the BatchWriteItem's, prove the batch was traced).

    What the profiles showed, and what was done (py-spy and cProfile on a process-time clock; batches of ten):
    - Issue 25's start (tracing off 0.197 of the seed, on 0.282): one BatchWriteItem through botocore cost
      1.2-1.7 ms of CPU a batch (its serializer walking every AttributeValue against the model ~0.3 ms, event
      hooks and endpoint rules, a generic SigV4 signer, urllib3 and the parser; the HTTP exchange with moto
      itself ~0.5 ms), and X-Ray's subsegment per record ~0.065 of the seed per record (the SDK in Lambda mode
      re-parses the trace header on each of ~9 lookups a subsegment makes and streams each as a datagram).
    - Now the call is signed and sent by consumer/batch_write.py (0.6-0.7 ms a batch, half of it the HTTP
      exchange moto answers with `Connection: close`), and X-Ray records a batch once: the handler's
      subsegment with the ids as annotations and one dynamodb subsegment (~0.1 ms a batch). What remains a
      batch: the HTTP exchange, validation and items (~0.1 ms), EMF metrics and the summary line (~0.1 ms),
      Powertools' batch processing and the two subsegments.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))
        received = {"datagrams": 0}

        def receive() -> None:  # an X-Ray daemon that only receives
            with contextlib.suppress(OSError):
                while daemon.recv(65536):
                    received["datagrams"] += 1

        threading.Thread(target=receive, daemon=True).start()
        guard = NoiseGuard()
        per_side: dict[str, list[dict]] = {side: [] for side in CONSUMER_SIDES}
        noises = []
        for index in range(rounds):
            turn = index % len(CONSUMER_SIDES)
            with guard.round() as noise:
                for side in CONSUMER_SIDES[turn:] + CONSUMER_SIDES[:turn]:
                    first = (index * len(CONSUMER_SIDES) + CONSUMER_SIDES.index(side)) * per_round
                    per_side[side].append(
                        _consumer_child(local, side, per_round, first, daemon.getsockname()[1])
                    )
            noises.append(noise)
        time.sleep(0.2)  # the last datagrams
    seed = [r["cpu_s"] for r in per_side["seed"]]
    batches = rounds * per_round / 10
    calls = [
        max(off["dynamodb_calls"], on["dynamodb_calls"]) / per_round
        for off, on in zip(per_side["tracing_off"], per_side["tracing_on"], strict=True)
    ]
    results = {}
    for side, label in (("tracing_on", "on"), ("tracing_off", "off")):
        spread = Spread.of([r["cpu_s"] / s for r, s in zip(per_side[side], seed, strict=True)], noises)
        ms = statistics.median(r["cpu_s"] for r in per_side[side]) / per_round * 1000
        detail = (
            f"{rounds} rounds of {per_round:,} records a side, sides alternating; {ms:.3f} ms a record"
            f" against the seed's {statistics.median(seed) / per_round * 1000:.3f}"
        )
        if side == "tracing_on":
            detail += f"; {received['datagrams'] / batches:.1f} X-Ray datagrams a batch"
        # "consumer" is the headline row (tracing on), as the report has always named it
        results["consumer" if label == "on" else "consumer_tracing_off"] = figure(
            f"consumer CPU per record ÷ seed-style, tracing {label}",
            spread,
            f"≤ {CONSUMER_GOAL}",
            spread.median <= CONSUMER_GOAL,
            detail,
        )
    spread = Spread.of(calls, noises)
    seed_calls = statistics.median(r["dynamodb_calls"] / per_round for r in per_side["seed"])
    results["consumer_dynamodb_calls"] = figure(
        "DynamoDB calls per record",
        spread,
        "≤ 0.1",
        spread.high <= 0.1,
        f"every round of the consumer (batches of ten); the seed-style handler {seed_calls:.2f}",
    )
    return results


def _consumer_child(local, side: str, count: int, first: int, daemon_port: int) -> dict:
    settings = StackSettings()
    env = {
        **os.environ,
        "TABLE_NAME": local.table_name,
        "POWERTOOLS_SERVICE_NAME": "vehicle-consumer",
        "POWERTOOLS_METRICS_NAMESPACE": settings.metrics_namespace,
        "POWERTOOLS_LOG_LEVEL": settings.log_level,
    }
    for name in ("POWERTOOLS_METRICS_DISABLED", "POWERTOOLS_TRACE_DISABLED", "DLQ_URL", "_X_AMZN_TRACE_ID"):
        env.pop(name, None)
    if side == "tracing_on":
        env |= {
            "LAMBDA_TASK_ROOT": str(PROJECT_ROOT),
            "AWS_LAMBDA_FUNCTION_NAME": "bench-consumer",
            "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon_port}",
        }
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "consumer.json"
        code = "import sys; from loadtest.local.runs.bench import consumer_cpu; consumer_cpu(*sys.argv[1:])"
        args = [side, local.queue_arn, local.table_name, str(count), str(first), str(out)]
        child = subprocess.run(
            [sys.executable, "-c", code, *args],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,  # the EMF documents and log lines, as Lambda's stdout
            stderr=subprocess.PIPE,
            text=True,
            timeout=600,
        )
        if child.returncode != 0:
            raise RuntimeError(f"consumer benchmark ({side}) failed:\n{child.stderr[-4000:]}")
        return json.loads(out.read_text())


def consumer_cpu(side: str, queue_arn: str, table_name: str, count: str, first: str, out: str) -> None:
    """One child of `consumer`: one side's CPU over `count` records (the bench's records from `first` on)."""
    factory = VehicleFactory(seed=2)
    bodies = [factory.event().to_json() for _ in range(int(first) + int(count))][int(first) :]

    def event(prefix: str, start: int) -> dict:
        messages = [
            {
                "MessageId": f"{prefix}{int(first) + start + i}",
                "ReceiptHandle": "r",
                "Body": body,
                "MD5OfBody": "",
                "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1790000000000"},
            }
            for i, body in enumerate(bodies[start : start + 10])
        ]
        return lambda_sqs_event(messages, queue_arn, LOCAL_REGION)

    events = [event("m", start) for start in range(0, len(bodies), 10)]
    invoke = _seed_style(table_name) if side == "seed" else _handler(side == "tracing_on", len(events) + 1)
    invoke(event("warm-up-", 0))  # first-call costs (connection pool, caches) are not what is measured
    calls = 0
    started = time.process_time()
    for batch in events:
        calls += invoke(batch)
    cpu = time.process_time() - started
    Path(out).write_text(json.dumps({"cpu_s": cpu, "dynamodb_calls": calls}))


def _seed_style(table_name: str):
    """Seed 004's usual answer: parse each body and put_item it, one call per record; returns calls made."""
    table = boto3.resource("dynamodb").Table(table_name)

    def invoke(event: dict) -> int:
        for record in event["Records"]:
            item = json.loads(record["body"])
            key = record["messageId"] + "-seed"
            table.put_item(Item={**item, "eventKey": f"0000000000001#{key}", "eventId": key, "eventTime": 1})
        return len(event["Records"])

    return invoke


def _handler(traced: bool, invocations: int):
    """The real handler as Lambda invokes it; returns the DynamoDB calls it reports."""
    from consumer import handler  # with tracing on, the Tracer patches botocore for X-Ray here

    class Context:
        function_name, memory_limit_in_mb, aws_request_id = "bench-consumer", 256, "bench"
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench-consumer"

    # What the Lambda runtime sets before each invocation of a function whose tracing is Active; made up
    # front, as it is the runtime's work, not the function's.
    trace_headers = iter(
        [
            f"Root=1-{int(time.time()):08x}-{os.urandom(12).hex()};Parent={os.urandom(8).hex()};Sampled=1"
            for _ in range(invocations)
        ]
    )

    def invoke(event: dict) -> int:
        if traced:
            os.environ["_X_AMZN_TRACE_ID"] = next(trace_headers)
        if handler.lambda_handler(event, Context()) != {"batchItemFailures": []}:
            raise RuntimeError("the benchmark's records are all valid: none may fail")
        return handler.processor.outcome.dynamodb_calls

    return invoke


def _import_seconds(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    env = {
        **os.environ,
        "POWERTOOLS_METRICS_NAMESPACE": "Bench",
        "AWS_DEFAULT_REGION": "us-east-1",
        "TABLE_NAME": "bench-events",  # the handler checks its configuration at import
    }
    return float(subprocess.check_output([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, text=True))


def cold_start(runs: int = 7) -> dict:
    """Import time of the handler vs its bare dependencies, alternating fresh interpreters, median ratio."""
    # The handler's dependencies as they load in Lambda: boto3, the Powertools pieces it uses, the X-Ray SDK
    # (the Tracer loads it at creation) and fastjsonschema. The ratio is what the project's own code adds.
    bare = (
        "import boto3; from aws_lambda_powertools import Logger, Metrics, Tracer; import aws_xray_sdk.core; "
        "from aws_lambda_powertools.utilities.batch import BatchProcessor; import fastjsonschema"
    )
    handler, baseline = [], []
    for _ in range(runs):
        baseline.append(_import_seconds(bare))
        handler.append(_import_seconds("import consumer.handler"))
    ratio = statistics.median(handler) / statistics.median(baseline)
    with tempfile.TemporaryDirectory() as folder:
        size = write_zip(Path(folder) / "consumer.zip").stat().st_size
    return {
        "handler_import_ms": round(statistics.median(handler) * 1000),
        "bare_import_ms": round(statistics.median(baseline) * 1000),
        "ratio": round(ratio, 2),
        "package_bytes": size,
        "goal": "≤ 1.3× and ≤ 64 KB",
        "met": ratio <= 1.3 and size <= 64 * 1024,
    }


def pipeline() -> dict:
    """From the last `make capacity` run: the sustained stored msgs/s against the emulator's ceiling for the
    pipeline's call mix, measured in that run."""
    capacity_file = PROJECT_ROOT / "build" / "runs" / "capacity" / "capacity.json"
    if not capacity_file.exists():
        return {"note": "run `make capacity` first"}
    capacity = json.loads(capacity_file.read_text())
    share = capacity["sustained_share_of_ceiling"]
    return {
        "sustained_msgs_per_s": capacity["sustained_msgs_per_s"],
        "ceiling_msgs_per_s": capacity["pipeline_mix_ceiling_msgs_per_s"],
        "ratio": share,
        "goal": f"≥ {capacity['goal_sustained_share']} of the ceiling",
        "met": share >= capacity["goal_sustained_share"],
    }


def emulator(waiting=(100, 1_000, 10_000), rounds: int = 25) -> dict:
    """Per-call cost (ms) of the embedded SQS with 100, 1,000 and 10,000 messages waiting: stock moto vs moto
    with the performance layer (emulator/sqs_performance.py), and cost@10,000 / cost@100 per call.

    In process, one after the other: boto3 through `mock_aws` (moto's request parsing, backend and reply as
    moto_server runs them, without the HTTP hop). A round is what a poller and the producer do per 10
    messages: SendMessageBatch(10), ReceiveMessage(10), DeleteMessageBatch(10) of those, GetQueueAttributes
    of the three Approximate* counts (what the runner polls); the backlog stays where it was. The queue is
    filled through the layer (stock moto's own sends slow down with the backlog), then the layer is removed
    for the stock rounds. Stock moto takes seconds a call at 10,000, so it gets few rounds there.
    """
    from moto import mock_aws
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.sqs.models import sqs_backends

    from loadtest.local.emulator import sqs_performance

    region = "us-east-1"
    entries = [{"Id": str(i), "MessageBody": '{"bench": true}'} for i in range(10)]
    calls = ("ReceiveMessage(10)", "SendMessageBatch(10)", "DeleteMessageBatch(10)", "GetQueueAttributes")

    def round_ms(sqs, url: str) -> dict[str, float]:
        timed = {}
        started = time.perf_counter()
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
        timed["SendMessageBatch(10)"], started = time.perf_counter() - started, time.perf_counter()
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        timed["ReceiveMessage(10)"], started = time.perf_counter() - started, time.perf_counter()
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)],
        )
        timed["DeleteMessageBatch(10)"], started = time.perf_counter() - started, time.perf_counter()
        sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )
        timed["GetQueueAttributes"] = time.perf_counter() - started
        return {call: seconds * 1000 for call, seconds in timed.items()}

    def cost(layer: bool, backlog: int) -> dict[str, float]:
        with mock_aws():
            sqs = boto3.client("sqs", region_name=region, endpoint_url=f"https://sqs.{region}.amazonaws.com")
            url = sqs.create_queue(QueueName=f"bench-{backlog}")["QueueUrl"]
            sqs_performance.install()
            try:
                backend = sqs_backends[DEFAULT_ACCOUNT_ID][region]
                for number in range(backlog):
                    backend.send_message(f"bench-{backlog}", f'{{"waiting": {number}}}')
                if not layer:
                    sqs_performance.uninstall()  # moto's own code from here on, over the same messages
                samples = [
                    round_ms(sqs, url) for _ in range(rounds if layer else max(3, rounds * 100 // backlog))
                ]
            finally:
                sqs_performance.uninstall()
        return {call: round(statistics.median(s[call] for s in samples), 2) for call in calls}

    figures: dict[str, dict] = {"stock": {}, "layer": {}}
    for variant in figures:
        for backlog in waiting:
            figures[variant][backlog] = cost(variant == "layer", backlog)
            line = ", ".join(f"{call} {ms} ms" for call, ms in figures[variant][backlog].items())
            print(f"[bench] emulator {variant:5} @{backlog:>6,} waiting: {line}", flush=True)
    low, high = waiting[0], waiting[-1]
    ratios = {
        variant: {call: round(by_size[high][call] / by_size[low][call], 2) for call in calls}
        for variant, by_size in figures.items()
    }
    worst = max(ratios["layer"].values())
    return {
        "ms_per_call": {
            variant: {f"{n:,}": costs for n, costs in by_size.items()} for variant, by_size in figures.items()
        },
        f"ratio_{high}_to_{low}": ratios,
        "ratio": worst,
        "goal": f"≤ 2× (each call with the layer, cost at {high:,} waiting / at {low:,})",
        "met": worst <= 2,
    }


def say(terminal, row: dict) -> None:
    """`[bench] <figure>: <median> (<min>–<max>) <goal> met/not met; rounds and the machine`."""
    verdict = "met" if row["met"] else "NOT met"
    print(f"[bench] {row['name']}: {row['ratio']} — goal {row['goal']}: {verdict}", file=terminal)
    print(f"[bench]   {row['figures']}", file=terminal)


@entry_point(PROG, aws_failures=False)  # on moto, an AWS error is a bug
def main(argv: Sequence[str] | None = None) -> int:
    OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0]).parse_args(argv)  # no options: --help
    results = {}
    # The handler's logs and EMF documents, moto's and the children's output: the log, not the terminal.
    with output_to_log(HANDLER_LOG) as terminal:
        with LocalSession("bench", RUN_DIR, run_dir_option=None) as session:
            local = session.start_stack("bench", StackSettings())
            endpoint = session.endpoint
            os.environ.update(
                POWERTOOLS_METRICS_DISABLED="true",
                POWERTOOLS_METRICS_NAMESPACE="Bench",
                POWERTOOLS_LOG_LEVEL="WARNING",
            )
            print(f"[bench] producer: batches of 10 vs single sends, {ROUNDS} rounds …", file=terminal)
            results["producer"] = producer(endpoint)
            say(terminal, results["producer"])
            print(
                f"[bench] consumer: {ROUNDS} rounds of {CONSUMER_RECORDS:,} records a side, the handler"
                " (tracing off, on) vs put_item per record …",
                file=terminal,
            )
            for name, row in consumer(local).items():
                results[name] = row
                say(terminal, row)
        print("[bench] cold start: handler import vs bare dependencies …", file=terminal)
        results["cold_start"] = cold_start()
        print(f"[bench] cold start: {results['cold_start']}", file=terminal)
        results["pipeline"] = pipeline()
        print(f"[bench] pipeline: {results['pipeline']}", file=terminal)
        print(
            "[bench] emulator: per-call cost at 100, 1,000 and 10,000 waiting, stock moto vs the layer …",
            file=terminal,
        )
        results["emulator"] = emulator()
        print(f"[bench] emulator: {results['emulator']}", file=terminal)
        BENCH_FILE.parent.mkdir(parents=True, exist_ok=True)
        BENCH_FILE.write_text(json.dumps(results, indent=2))
        report_data.record_bench(results)  # REPORT.md's Benchmarks rows (report/data/bench.json)
        report.main([])
        print(f"[bench] wrote {BENCH_FILE}", file=terminal)
        print(
            f"[bench] the handler's logs and metrics, and everything else printed: {HANDLER_LOG}",
            file=terminal,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
