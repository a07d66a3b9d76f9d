"""The producer side's pipeline view (loadtest/pipeline_view.py): one interface, two sources.

GIVEN a queue on the embedded AWS
WHEN items land in its table and the consumers' state is posted
THEN the emulator source gives the depths, every event stored since `start` with its latency, and the
consumers; without the emulator's feed it still gives the depths.
GIVEN a queue on AWS (CloudWatch stubbed)
THEN the CloudWatch source sends the exact queries, shows each series' latest minute, and rebuilds the stored
events of each ended minute from its SampleCount and percentiles, adding what arrives late.
"""

import datetime
import json
import logging
import socket
import subprocess
import sys
import time
import urllib.request

import boto3
import pytest
from botocore.stub import ANY, Stubber

from cli.queue_endpoint import QueueEndpoint
from infra.resource_spec import StackSpec
from infra.settings import StackSettings
from loadtest import emulator_pipeline
from loadtest.cloudwatch_pipeline import CloudWatchPipeline, evenly, rebuild_minute
from loadtest.emulator_pipeline import EmulatorPipeline
from loadtest.local.emulator.embedded_aws import moto_server, provision
from loadtest.local.emulator.pipeline_feed import publish_consumers
from loadtest.pipeline_view import PipelineReading, pipeline_view
from loadtest.stack_target import StackTarget

MINUTE = 60
T0 = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.UTC)


# ---- on the embedded AWS ------------------------------------------------------------------------------
@pytest.fixture
def local_stack():
    with moto_server() as endpoint:
        yield endpoint, provision(StackSpec("dev", StackSettings()), endpoint)


def stored_item(event_id: str, stored_at_ms: int, latency_ms: int) -> dict:
    return {
        "eventId": {"S": event_id},
        "storedAt": {"N": str(stored_at_ms)},
        "sentAt": {"N": str(stored_at_ms - latency_ms)},
    }


def test_on_the_emulator_the_view_is_live(local_stack):
    endpoint, local = local_stack
    sqs, dynamodb = (
        boto3.client("sqs", endpoint_url=endpoint),
        boto3.client("dynamodb", endpoint_url=endpoint),
    )
    table = "view-test"  # the feed records what any table stores, whatever its key design
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "eventId", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "eventId", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    now_ms = int(time.time() * 1000)
    dynamodb.put_item(TableName=table, Item=stored_item("before", now_ms - 60_000, 5))
    # Only a queue URL given: the DLQ is found through the queue's redrive policy.
    view = pipeline_view(StackTarget(QueueEndpoint.of(local.queue_url), {}, ""))
    assert (type(view), view.source, view.dlq_url) == (EmulatorPipeline, "emulator", local.dlq_url)

    view.start()
    for n in range(3):
        sqs.send_message(QueueUrl=local.queue_url, MessageBody=f"m{n}")
    sqs.send_message(QueueUrl=local.dlq_url, MessageBody="dead")
    sqs.receive_message(QueueUrl=local.queue_url, MaxNumberOfMessages=1)
    late = now_ms + 10_000  # after `start`
    dynamodb.batch_write_item(
        RequestItems={
            table: [
                {"PutRequest": {"Item": stored_item("e1", late, 120)}},
                {"PutRequest": {"Item": stored_item("e2", late + 5, 80)}},
                {"PutRequest": {"Item": stored_item("stale", now_ms - 30_000, 9)}},  # stored before start
            ]
        }
    )
    publish_consumers(endpoint, {"mode": "lambda", "consumers": 7, "floor": 5, "maximum": 10})

    reading = view.read()
    again = view.read()

    assert reading == PipelineReading(
        as_of=reading.as_of,
        queue_visible=2,
        queue_in_flight=1,
        dlq_visible=1,
        consumers=7,
        consumers_floor=5,
        consumers_maximum=10,
        stored=((late, 120), (late + 5, 80)),
    )
    assert abs(reading.as_of - time.time()) < 5
    assert again.stored == ()  # each event once


def test_consumers_nobody_posts_for_a_while_are_unknown(local_stack, monkeypatch):
    endpoint, local = local_stack
    view = EmulatorPipeline.for_target(StackTarget(QueueEndpoint.of(local.queue_url), local.outputs(), ""))
    view.start()
    publish_consumers(endpoint, {"mode": "lambda", "consumers": 5, "floor": 5, "maximum": 10})
    monkeypatch.setattr(emulator_pipeline, "STALE_S", 0.0)

    assert view.read().consumers is None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_emulator_without_the_feed_still_gives_the_depths(caplog):
    port = _free_port()
    stock = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):  # bounded: moto answers within a second or two
            try:
                urllib.request.urlopen(f"{endpoint}/moto-api/data.json", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        sqs = boto3.client("sqs", endpoint_url=endpoint)
        queue_url = sqs.create_queue(QueueName="plain")["QueueUrl"]
        sqs.send_message(QueueUrl=queue_url, MessageBody="m")
        view = pipeline_view(StackTarget(QueueEndpoint.of(queue_url), {}, ""))
        with caplog.at_level(logging.WARNING):
            view.start()
            readings = [view.read(), view.read()]
    finally:
        stock.terminate()
        stock.wait(5)

    assert [(r.queue_visible, r.dlq_visible, r.consumers, r.stored) for r in readings] == [
        (1, None, None, ())
    ] * 2
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == [f"{endpoint} has no pipeline feed"]


# ---- on AWS: CloudWatch -------------------------------------------------------------------------------
def test_a_minute_is_rebuilt_with_its_quantiles():
    statistics = {"min": 100.0, "p50": 200.0, "p90": 400.0, "p99": 900.0, "max": 1000.0}

    assert rebuild_minute(10, statistics) == pytest.approx(
        [110, 130, 150, 170, 190, 225, 275, 325, 375, 400 + 500 * 0.05 / 0.09]
    )
    assert rebuild_minute(1, statistics) == [200.0]
    assert rebuild_minute(2, {"p50": 50.0, "max": 90.0}) == [50.0, 70.0]  # left of p50: held at p50
    assert rebuild_minute(0, statistics) == [] and rebuild_minute(3, {}) == []
    assert evenly(2, 10) == [2, 7] and evenly(3, 3) == [0, 1, 2]


AWS_QUEUE = "https://sqs.eu-west-1.amazonaws.com/123456789012/vp-prod-events"
NAMES = {"queue": "vp-prod-events", "dlq": "vp-prod-events-dlq", "function": "vp-prod-consumer"}


def expected_queries() -> list[dict]:
    def query(query_id, namespace, metric, dimensions, stat):
        return {
            "Id": query_id,
            "ReturnData": True,
            "MetricStat": {
                "Metric": {
                    "Namespace": namespace,
                    "MetricName": metric,
                    "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
                },
                "Period": 60,
                "Stat": stat,
            },
        }

    queue, dlq, function = (
        {"QueueName": "vp-prod-events"},
        {"QueueName": "vp-prod-events-dlq"},
        NAMES["function"],
    )
    latency = {"service": "vehicle-consumer"}
    return [
        query("queue_visible", "AWS/SQS", "ApproximateNumberOfMessagesVisible", queue, "Maximum"),
        query("queue_in_flight", "AWS/SQS", "ApproximateNumberOfMessagesNotVisible", queue, "Maximum"),
        query("oldest_age", "AWS/SQS", "ApproximateAgeOfOldestMessage", queue, "Maximum"),
        query("dlq_visible", "AWS/SQS", "ApproximateNumberOfMessagesVisible", dlq, "Maximum"),
        query("concurrency", "AWS/Lambda", "ConcurrentExecutions", {"FunctionName": function}, "Maximum"),
        *(
            query(f"latency_{suffix}", "MyPipeline", "EndToEndLatency", latency, stat)
            for suffix, stat in [
                ("count", "SampleCount"),
                ("min", "Minimum"),
                ("p50", "p50"),
                ("p90", "p90"),
                ("p99", "p99"),
                ("max", "Maximum"),
            ]
        ),
    ]


def results(points: dict[str, dict[int, float]]) -> dict:
    """GetMetricData's answer: query id -> {minutes after T0: value}."""
    return {
        "MetricDataResults": [
            {
                "Id": query_id,
                "Timestamps": [T0 + datetime.timedelta(minutes=m) for m in values],
                "Values": list(values.values()),
            }
            for query_id, values in points.items()
        ]
    }


LATENCY = {
    "latency_min": 100.0,
    "latency_p50": 200.0,
    "latency_p90": 400.0,
    "latency_p99": 900.0,
    "latency_max": 1000.0,
}


def test_on_aws_the_view_reads_cloudwatch_a_minute_at_a_time():
    cloudwatch = boto3.client("cloudwatch", region_name="eu-west-1")
    clock = [T0.timestamp() + 30]  # the test starts half way through minute 0
    view = CloudWatchPipeline(cloudwatch, NAMES, "MyPipeline", clock=lambda: clock[0])
    assert view.queries() == expected_queries()
    view.start()
    first = {
        "queue_visible": {1: 40.0, 2: 55.0},
        "queue_in_flight": {2: 10.0},
        "oldest_age": {2: 12.0},
        "dlq_visible": {2: 0.0},
        "concurrency": {1: 5.0, 2: 7.0},
        # minute -1 is before the test; minute 2 has not ended at 12:02:50
        "latency_count": {-1: 4.0, 0: 2.0, 1: 10.0, 2: 3.0},
        **{query_id: {-1: v, 0: v, 1: v, 2: v} for query_id, v in LATENCY.items()},
    }
    late = {**first, "latency_count": {0: 2.0, 1: 12.0, 2: 6.0}}  # minute 1 grew: data that came late
    with Stubber(cloudwatch) as stub:
        for answer in (first, late):
            stub.add_response(
                "get_metric_data",
                results(answer),
                {"MetricDataQueries": expected_queries(), "StartTime": ANY, "EndTime": ANY},
            )
        clock[0] = T0.timestamp() + 2 * MINUTE + 50
        reading = view.read()
        clock[0] += 29  # within REFRESH_S: CloudWatch is not asked again
        cached = view.read()
        clock[0] += 1
        topped_up = view.read()
        stub.assert_no_pending_responses()

    minute_0, minute_1, minute_2 = (T0.timestamp() + m * MINUTE for m in range(3))
    assert reading == PipelineReading(
        as_of=minute_0 + 2 * MINUTE,
        queue_visible=55,
        queue_in_flight=10,
        dlq_visible=0,
        consumers=7,
        oldest_message_age_s=12.0,
        stored=(
            *[((minute_0 + 60 * (k + 0.5) / 2) * 1000, v) for k, v in enumerate(rebuild_minute(2, stats()))],
            *[
                ((minute_1 + 60 * (k + 0.5) / 10) * 1000, v)
                for k, v in enumerate(rebuild_minute(10, stats()))
            ],
        ),
    )
    assert cached == PipelineReading(minute_0 + 2 * MINUTE, 55, 10, 0, 7, oldest_message_age_s=12.0)
    twelve = rebuild_minute(12, stats())
    # Minute 1's two late latencies, taken evenly from its rebuilt twelve; minute 2 has ended now: all six.
    assert topped_up.stored == (
        *[((minute_1 + 60 * (k + 0.5) / 12) * 1000, twelve[k]) for k in (3, 9)],
        *[((minute_2 + 60 * (k + 0.5) / 6) * 1000, v) for k, v in enumerate(rebuild_minute(6, stats()))],
    )


def stats() -> dict[str, float]:
    return {name.removeprefix("latency_"): value for name, value in LATENCY.items()}


def test_on_aws_the_view_is_cloudwatch_with_the_stacks_names():
    outputs = {
        "queueUrl": AWS_QUEUE,
        "dlqUrl": AWS_QUEUE + "-dlq",
        "functionName": "vp-prod-consumer",
    }
    view = pipeline_view(
        StackTarget(QueueEndpoint.of(AWS_QUEUE, region="eu-west-1"), outputs, ""), "MyPipeline"
    )

    assert (type(view), view.source, view.names) == (CloudWatchPipeline, "CloudWatch", NAMES)
    assert view.cloudwatch.meta.endpoint_url == "https://monitoring.eu-west-1.amazonaws.com"
    assert json.loads(json.dumps(view.queries())) == expected_queries()
