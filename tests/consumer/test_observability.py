"""The handler's telemetry: EMF metrics on stdout, and X-Ray segments sent to the daemon address."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

from tests.consumer.test_handler import invoke
from tests.lambda_events import sqs_record, vehicle_body

REPO = Path(__file__).resolve().parents[2]


def emf_documents(stdout: str) -> list[dict]:
    documents = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
    return [doc for doc in documents if "_aws" in doc]


def test_emf_metrics_have_the_designed_names_units_and_dimensions(store, capsys):
    invoke(
        sqs_record(vehicle_body("e1", sent_at=1_790_000_000_000), "m1"),
        sqs_record("oops", "m2"),
        sqs_record(vehicle_body("e1"), "m3"),
    )

    documents = emf_documents(capsys.readouterr().out)

    definitions = {}
    for doc in documents:
        [directive] = doc["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "VehiclePipelineTest"
        for metric in directive["Metrics"]:
            definitions[metric["Name"]] = (metric["Unit"], directive["Dimensions"], doc[metric["Name"]])
    assert definitions == {
        "BatchSize": ("Count", [["service"]], [3.0]),
        "RecordsStored": ("Count", [["service"]], [2.0]),
        "RecordsFailed": ("Count", [["service"]], [1.0]),
        "RecordsRoutedToDLQ": ("Count", [["service"]], [0.0]),
        "DuplicatesSkipped": ("Count", [["service"]], [1.0]),
        "DynamoDBCalls": ("Count", [["service"]], [1.0]),
        "UnprocessedItemRetries": ("Count", [["service"]], [0.0]),
        "EndToEndLatency": ("Milliseconds", [["service"]], definitions["EndToEndLatency"][2]),
        "RecordsFailedByReason": ("Count", [["reason", "service"]], [1.0]),
    }
    [reason_doc] = [doc for doc in documents if "RecordsFailedByReason" in doc]
    assert (reason_doc["reason"], reason_doc["service"]) == ("not_json", "vehicle-consumer")
    assert len(definitions["EndToEndLatency"][2]) == 1 and definitions["EndToEndLatency"][2][0] > 0


# Runs the real handler as Lambda would (tracing on), with moto standing in for DynamoDB.
_TRACED_INVOCATION = """
import boto3
from moto import mock_aws
from infra.resource_spec import StackSpec
from infra.settings import StackSettings
from tests.lambda_events import LambdaContext, sqs_event, sqs_record, vehicle_body

spec = StackSpec("test", StackSettings())
with mock_aws():
    boto3.client("dynamodb").create_table(**spec.dynamodb_create_table_args())
    from consumer import handler
    valid = sqs_record(vehicle_body("evt-traced", vehicle_id="VH42"), "m1")
    event = sqs_event(valid, sqs_record("bad", "m2"))
    print(handler.lambda_handler(event, LambdaContext()))
"""


def _walk(segment: dict):
    yield segment
    for child in segment.get("subsegments", []):
        yield from _walk(child)


def test_xray_segments_reach_the_daemon_with_dynamodb_subsegment_and_annotations():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))
        daemon.settimeout(0.5)
        trace_id = "1-6740f3a0-0123456789abcdef01234567"
        env = {
            **os.environ,
            "LAMBDA_TASK_ROOT": str(REPO),
            "AWS_LAMBDA_FUNCTION_NAME": "consumer",
            "_X_AMZN_TRACE_ID": f"Root={trace_id};Parent=53995c3f42cd8ad8;Sampled=1",
            "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon.getsockname()[1]}",
            "TABLE_NAME": "vehicle-pipeline-test-vehicle-events",
            "PYTHONPATH": str(REPO),
        }
        env.pop("POWERTOOLS_TRACE_DISABLED", None)
        child = subprocess.run(
            [sys.executable, "-c", _TRACED_INVOCATION],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert child.returncode == 0, child.stderr
        assert "{'batchItemFailures': [{'itemIdentifier': 'm2'}]}" in child.stdout
        segments = []
        while True:  # bounded: the daemon socket times out once the child's datagrams are read
            try:
                datagram, _ = daemon.recvfrom(65536)
            except TimeoutError:
                break
            header, _, body = datagram.decode().partition("\n")
            assert json.loads(header) == {"format": "json", "version": 1}
            segments.extend(_walk(json.loads(body)))

    assert {segment["trace_id"] for segment in segments if "trace_id" in segment} == {trace_id}
    dynamodb = [s for s in segments if s.get("namespace") == "aws" and s.get("name") == "dynamodb"]
    assert [s["aws"]["operation"] for s in dynamodb] == ["BatchWriteItem"]
    # the X-Ray SDK records RequestItems' keys as the table names
    assert "vehicle-pipeline-test-vehicle-events" in dynamodb[0]["aws"]["table_names"]
    records = [s for s in segments if s.get("name") == "## consumer.handler.record_handler"]
    assert [(s["annotations"], bool(s.get("fault") or s.get("error"))) for s in records] == [
        ({"eventId": "evt-traced", "vehicleId": "VH42"}, False),
        ({"rejected": "not_json"}, True),
    ]
    [failed] = [s for s in records if s.get("fault") or s.get("error")]
    assert failed["cause"]["exceptions"][0]["type"] == "InvalidEvent"


def _traced_segments() -> list[dict]:
    """Every segment and subsegment the traced invocation above sends to a local daemon."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))
        daemon.settimeout(0.5)
        env = {
            **os.environ,
            "LAMBDA_TASK_ROOT": str(REPO),
            "AWS_LAMBDA_FUNCTION_NAME": "consumer",
            "_X_AMZN_TRACE_ID": "Root=1-6740f3a0-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1",
            "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon.getsockname()[1]}",
            "TABLE_NAME": "vehicle-pipeline-test-vehicle-events",
            "PYTHONPATH": str(REPO),
        }
        env.pop("POWERTOOLS_TRACE_DISABLED", None)
        child = subprocess.run(
            [sys.executable, "-c", _TRACED_INVOCATION], env=env, cwd=REPO, capture_output=True, timeout=60
        )
        assert child.returncode == 0, child.stderr
        segments = []
        while True:  # bounded: the daemon socket times out once the child's datagrams are read
            try:
                datagram, _ = daemon.recvfrom(65536)
            except TimeoutError:
                return segments
            segments.extend(_walk(json.loads(datagram.decode().partition("\n")[2])))


def test_record_subsegments_carry_their_annotations_not_the_stored_item():
    # The item is in DynamoDB already; as metadata it made every record's datagram ~930 bytes and cost a
    # serialization per record. An error is still recorded with its exception, as Powertools captures it.
    records = [s for s in _traced_segments() if s.get("name") == "## consumer.handler.record_handler"]
    [stored] = [s for s in records if "eventId" in s["annotations"]]
    [rejected] = [s for s in records if "rejected" in s["annotations"]]
    assert "metadata" not in stored
    assert list(rejected["metadata"]["vehicle-consumer"]) == ["consumer.handler.record_handler error"]
