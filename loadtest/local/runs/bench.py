"""Benchmarks, each against a baseline run side by side in this same script: `make bench`.

The machine is shared and noisy, so every figure is a ratio against a baseline measured in the same run,
never an absolute time, and nothing here is asserted by a test. Writes build/bench.json (the report's
Benchmarks section reads it).
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
from loadtest.local.runs.output_to_log import output_to_log
from loadtest.local.runs.session import LocalSession
from producer.sqs_producer import OutgoingMessage, SqsProducer
from producer.vehicles import VehicleFactory

BENCH_FILE = PROJECT_ROOT / "build" / "bench.json"
RUN_DIR = PROJECT_ROOT / "build" / "runs" / "bench"
HANDLER_LOG = PROJECT_ROOT / "build" / "bench-handler.log"
PROG = "python -m loadtest.local.runs.bench"


def producer(endpoint: str, count: int = 1000) -> dict:
    """Messages per client CPU-second: batches of 10 vs one SendMessage per message (the seeds' way)."""
    factory = VehicleFactory(seed=1)
    messages = [OutgoingMessage(factory.event().to_json()) for _ in range(count)]
    sqs = boto3.client("sqs", endpoint_url=endpoint)

    def cpu_per_message(batch: int) -> float:
        # A fresh queue per round: moto slows as a queue fills, which would penalise whichever runs second.
        client = SqsProducer(sqs.create_queue(QueueName=f"bench-producer-{batch}")["QueueUrl"], client=sqs)
        started = time.process_time()
        for start in range(0, count, batch):
            client.send(messages[start : start + batch])
        return (time.process_time() - started) / count

    single, batched = cpu_per_message(1), cpu_per_message(10)
    return {
        "batch_msgs_per_cpu_s": round(1 / batched),
        "single_msgs_per_cpu_s": round(1 / single),
        "ratio": round(single / batched, 2),
        "goal": "≥ 5×",
        "met": single / batched >= 5,
    }


CONSUMER_SIDES = ("seed", "tracing_off", "tracing_on")


def consumer(local, count: int = 10_000, rounds: int = 4) -> dict:
    """Client CPU per record of the real handler, tracing off and on, vs a seed-style handler (put_item each).

    Every side runs in fresh interpreters, `rounds` times over count/rounds records, the sides alternating
    (seed, off, on, seed, …) so that the machine's drift falls on all three alike; each figure is the sum.
    Fresh interpreters because the Tracer decides at import whether it is on, and once the X-Ray SDK has
    patched botocore every call in that process is traced: the seed runs untraced, as its authors ran it.
    The handler runs as deployed: StackSettings' log level, EMF metrics on (stdout goes to /dev/null here, to
    the log pipe on Lambda), the store and its client created by the handler itself. "Tracing on" is what
    the Lambda runtime sets up: LAMBDA_TASK_ROOT and AWS_LAMBDA_FUNCTION_NAME, a new sampled
    `_X_AMZN_TRACE_ID` before each invocation, and AWS_XRAY_DAEMON_ADDRESS on a loopback UDP socket that
    only receives (its datagram count is reported: twelve per batch of ten, one per record, one for the
    BatchWriteItem and one for the handler, proves every record's subsegment was sent).

    What the profiles showed (py-spy --gil at 400-1000 Hz, cProfile on a process-time clock, and process-time
    splits per function; 10,000 records in batches of ten; shares of the handler's own CPU, tracing on):
    - Before (the consumer of 04dba82 in this harness): tracing off 0.35 ms a record, 0.316 of the seed
      (1.11 ms); on 0.416 ms, 0.375. The BatchWriteItem call ~70 %: HTTP to moto ~20 % (moto answers
      `Connection: close`, so every call also connects: the seed pays that ten times as often), botocore's
      parameter validation of the nested AttributeValue request ~13 %, boto3's resource layer (its
      TypeSerializer walk of the whole request against the model, a deepcopy of the parameters) ~10 %, JSON
      serialization ~10 %, SigV4 ~7 %. Per record ~20 %: X-Ray's subsegment ~14 % (Powertools put the
      returned item in every subsegment as metadata, ~930-byte datagrams to build and send; the Lambda
      context re-parses `_X_AMZN_TRACE_ID` on each of ~8 entity lookups a subsegment makes), validation and
      the item ~6 %. Per batch ~8 %: EMF metrics, the summary log line, the handler's own subsegment.
    - After (low-level client, AttributeValues built once, no client-side validation, no item metadata in
      the subsegments, one JSON decoder): tracing off 0.22-0.24 ms (0.217-0.229 of a 0.99-1.03 ms seed), on
      0.28-0.30 ms (0.284-0.295); on a busier machine the seed costs 1.17-1.37 ms and on gives 0.243-0.272.
      Now the BatchWriteItem call is ~65 % (HTTP and the connect ~21 %, SigV4 ~10 %, JSON serialization ~9 %,
      X-Ray's dynamodb subsegment ~5 %), a record's subsegment ~12 %, its validation and item ~7 %, metrics
      and the log line ~6 %, Powertools' wrappers and the handler's subsegment the rest.
    - What limits it: one BatchWriteItem per batch of ten costs ~1.2 ms of botocore CPU (a trivial DynamoDB
      call ~0.9 ms: signing, HTTP, endpoint resolution), ~0.14 of the seed per record by itself; tracing as
      the X-Ray SDK does it in Lambda (a datagram per record, the header parsed on every lookup) adds ~0.065.
      Tracing on ≤ 0.25 would need tracing off ≤ ~0.185.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))
        received = {"datagrams": 0}

        def receive() -> None:  # an X-Ray daemon that only receives
            with contextlib.suppress(OSError):
                while daemon.recv(65536):
                    received["datagrams"] += 1

        threading.Thread(target=receive, daemon=True).start()
        totals = {side: {"cpu_s": 0.0, "dynamodb_calls": 0} for side in CONSUMER_SIDES}
        per_round = count // rounds
        for index in range(rounds):
            for side in CONSUMER_SIDES:
                figures = _consumer_child(local, side, per_round, index * per_round, daemon.getsockname()[1])
                for name in ("cpu_s", "dynamodb_calls"):
                    totals[side][name] += figures[name]
        time.sleep(0.2)  # the last datagrams
    records = per_round * rounds
    seed, off, on = (totals[side] for side in CONSUMER_SIDES)
    ratio_off, ratio_on = off["cpu_s"] / seed["cpu_s"], on["cpu_s"] / seed["cpu_s"]
    calls_per_record = max(off["dynamodb_calls"], on["dynamodb_calls"]) / records
    return {
        "records": records,
        "dynamodb_calls_per_record": round(calls_per_record, 3),
        "seed_calls_per_record": round(seed["dynamodb_calls"] / records, 3),
        "seed_cpu_ms_per_record": round(seed["cpu_s"] / records * 1000, 3),
        "cpu_ms_per_record_tracing_off": round(off["cpu_s"] / records * 1000, 3),
        "cpu_ms_per_record_tracing_on": round(on["cpu_s"] / records * 1000, 3),
        "ratio_tracing_off": round(ratio_off, 3),
        "ratio_tracing_on": round(ratio_on, 3),
        "xray_datagrams_tracing_on": received["datagrams"],
        "ratio": round(max(ratio_off, ratio_on), 3),
        "goal": "≤ 0.1 calls/record and ≤ 0.25 of the seed's CPU, tracing off and on",
        "met": calls_per_record <= 0.1 and max(ratio_off, ratio_on) <= 0.25,
    }


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
            table.put_item(Item={"eventId": record["messageId"] + "-seed", **item, "eventTime": 1})
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
            print("[bench] producer: batch of 10 vs single sends …", file=terminal)
            results["producer"] = producer(endpoint)
            print(f"[bench] producer: {results['producer']}", file=terminal)
            print("[bench] consumer: 10,000 records, bulk writes vs put_item per record …", file=terminal)
            results["consumer"] = consumer(local)
            print(f"[bench] consumer: {results['consumer']}", file=terminal)
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
