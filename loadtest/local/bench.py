"""Benchmarks, each against a baseline run side by side in this same script: `make bench`.

The machine is shared and noisy, so every figure is a ratio against a baseline measured in the same run,
never an absolute time, and nothing here is asserted by a test. Writes build/bench.json (the report's
Benchmarks section reads it).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import boto3

from consumer.sqs_event import lambda_sqs_event
from infra.code_package import write_zip
from infra.resource_spec import StackSpec
from infra.settings import PROJECT_ROOT, StackSettings
from loadtest.local.embedded_aws import LOCAL_REGION, aws_environment, moto_server, provision
from loadtest.local.output_to_log import output_to_log
from ops.command_line import OneLineParser, entry_point
from producer.sqs_producer import OutgoingMessage, SqsProducer
from producer.vehicles import VehicleFactory

BENCH_FILE = PROJECT_ROOT / "build" / "bench.json"
HANDLER_LOG = PROJECT_ROOT / "build" / "bench-handler.log"
PROG = "python -m loadtest.local.bench"


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


def consumer(local, count: int = 10_000) -> dict:
    """DynamoDB calls and client CPU per record: the real handler vs a seed-style handler (put_item each)."""
    from consumer import handler

    calls = {"n": 0}
    dynamodb = boto3.resource("dynamodb")
    dynamodb.meta.client.meta.events.register(
        "before-call.dynamodb.*", lambda **_: calls.__setitem__("n", calls["n"] + 1)
    )
    table = dynamodb.Table(local.table_name)
    factory = VehicleFactory(seed=2)
    bodies = [factory.event().to_json() for _ in range(count)]
    fake = [
        {
            "MessageId": f"m{i}",
            "ReceiptHandle": "r",
            "Body": b,
            "MD5OfBody": "",
            "Attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1790000000000"},
        }
        for i, b in enumerate(bodies)
    ]
    events = [lambda_sqs_event(fake[i : i + 10], local.queue_arn, LOCAL_REGION) for i in range(0, count, 10)]

    def seed_style(event: dict) -> None:  # seed 004's usual answer: parse and put_item, one call per record
        for record in event["Records"]:
            item = json.loads(record["body"])
            table.put_item(Item={"eventId": record["messageId"] + "-seed", **item, "eventTime": 1})

    from consumer.event_store import DynamoEventStore

    handler.processor.use_store(DynamoEventStore(local.table_name, dynamodb=dynamodb))

    class Context:
        function_name, memory_limit_in_mb, aws_request_id = "bench", 256, "bench"
        invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench"

    def measure(invoke) -> tuple[float, float]:
        calls["n"] = 0
        started = time.process_time()
        for event in events:
            invoke(event)
        return calls["n"] / count, (time.process_time() - started) / count

    baseline_calls, baseline_cpu = measure(seed_style)
    calls_per_record, cpu = measure(lambda event: handler.lambda_handler(event, Context()))
    return {
        "dynamodb_calls_per_record": round(calls_per_record, 3),
        "seed_calls_per_record": round(baseline_calls, 3),
        "cpu_ms_per_record": round(cpu * 1000, 3),
        "seed_cpu_ms_per_record": round(baseline_cpu * 1000, 3),
        "ratio": round(cpu / baseline_cpu, 3),
        "goal": "≤ 0.1 calls/record and ≤ 1/3 the CPU",
        "met": calls_per_record <= 0.1 and cpu / baseline_cpu <= 1 / 3,
    }


def _import_seconds(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    env = {**os.environ, "POWERTOOLS_METRICS_NAMESPACE": "Bench", "AWS_DEFAULT_REGION": "us-east-1"}
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
    """From the last `make demo` run: stored msgs/s against the emulator's ceiling measured in that run."""
    run_file = PROJECT_ROOT / "build" / "runs" / "dev-lambda" / "run.json"
    if not run_file.exists():
        return {"note": "run `make demo` first"}
    run = json.loads(run_file.read_text())
    return {
        "stored_msgs_per_s": run["throughput"]["stored_msgs_per_s"],
        "ceiling_msgs_per_s": run["emulator_ceiling"]["send_receive_delete_msgs_per_s"],
        "ratio": run["throughput"]["stored_vs_ceiling"],
        "goal": "≥ 0.8× of the ceiling",
        "met": run["throughput"]["stored_vs_ceiling"] >= 0.8,
    }


def emulator(waiting=(100, 1_000, 10_000), rounds: int = 25) -> dict:
    """Per-call cost (ms) of the embedded SQS with 100, 1,000 and 10,000 messages waiting: stock moto vs moto
    with the performance layer (loadtest/local/sqs_performance.py), and cost@10,000 / cost@100 per call.

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

    from loadtest.local import sqs_performance

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
        with moto_server() as endpoint:
            os.environ.update(
                aws_environment(endpoint),
                POWERTOOLS_METRICS_DISABLED="true",
                POWERTOOLS_METRICS_NAMESPACE="Bench",
                POWERTOOLS_LOG_LEVEL="WARNING",
            )
            local = provision(StackSpec("bench", StackSettings()), endpoint)
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
        print(f"[bench] wrote {BENCH_FILE}", file=terminal)
        print(
            f"[bench] the handler's logs and metrics, and everything else printed: {HANDLER_LOG}",
            file=terminal,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
