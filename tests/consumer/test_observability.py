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
        sqs_record(vehicle_body("e1", sent_at=1_790_000_000_000), "m3"),
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
    # one latency per record stored (the duplicate's delivery too)
    latencies = definitions["EndToEndLatency"][2]
    assert len(latencies) == 2 and min(latencies) > 0


# Runs the real handler as Lambda would (tracing on), with moto_server standing in for DynamoDB: the store
# sends over HTTP (consumer/batch_write.py), which moto's in-process mock would not see.
_TRACED_INVOCATION = """
import os, sys
import boto3
from moto.server import ThreadedMotoServer
from infra.resource_spec import StackSpec
from infra.settings import StackSettings
from tests.lambda_events import LambdaContext, sqs_event, sqs_record, vehicle_body

server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
host, port = server.get_host_and_port()
os.environ.update(AWS_ENDPOINT_URL=f"http://{host}:{port}", AWS_ACCESS_KEY_ID="testing",
                  AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
spec = StackSpec("test", StackSettings())
boto3.client("dynamodb").create_table(**spec.dynamodb_create_table_args())
from consumer import handler
count = int(sys.argv[1])
records = [sqs_record(vehicle_body(f"evt-{i:03d}", vehicle_id="VH42"), f"m{i}") for i in range(count)]
event = sqs_event(*records, sqs_record("bad", "m-bad"))
print(handler.lambda_handler(event, LambdaContext()))
server.stop()
"""
TABLE = "vehicle-pipeline-test-vehicle-history"


def _walk(segment: dict):
    yield segment
    for child in segment.get("subsegments", []):
        yield from _walk(child)


def traced_segments(records: int) -> tuple[str, list[dict]]:
    """The child's stdout, and every segment and subsegment it sent to a local daemon (its datagrams)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as daemon:
        daemon.bind(("127.0.0.1", 0))
        daemon.settimeout(0.5)
        env = {
            **os.environ,
            "LAMBDA_TASK_ROOT": str(REPO),
            "AWS_LAMBDA_FUNCTION_NAME": "consumer",
            "_X_AMZN_TRACE_ID": f"Root={TRACE_ID};Parent=53995c3f42cd8ad8;Sampled=1",
            "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon.getsockname()[1]}",
            "TABLE_NAME": TABLE,
            "PYTHONPATH": str(REPO),
        }
        env.pop("POWERTOOLS_TRACE_DISABLED", None)
        child = subprocess.run(
            [sys.executable, "-c", _TRACED_INVOCATION, str(records)],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert child.returncode == 0, child.stderr
        segments = []
        while True:  # bounded: the daemon socket times out once the child's datagrams are read
            try:
                datagram, _ = daemon.recvfrom(65536)
            except TimeoutError:
                return child.stdout, segments
            header, _, body = datagram.decode().partition("\n")
            assert json.loads(header) == {"format": "json", "version": 1}
            segments.extend(_walk(json.loads(body)))


TRACE_ID = "1-6740f3a0-0123456789abcdef01234567"


def test_a_batch_is_traced_once_its_ids_annotated_its_write_a_dynamodb_subsegment():
    # GIVEN a batch of one valid event and one invalid body, WHEN the handler runs as Lambda with tracing on
    stdout, segments = traced_segments(1)

    assert "{'batchItemFailures': [{'itemIdentifier': 'm-bad'}]}" in stdout
    assert {segment["trace_id"] for segment in segments if "trace_id" in segment} == {TRACE_ID}
    # THEN the handler's subsegment holds the batch's event ids, no record has a subsegment of its own
    [handler_segment] = [s for s in segments if s.get("name") == "## lambda_handler"]
    assert handler_segment["annotations"]["eventId"] == "evt-000"
    assert not [s for s in segments if "record_handler" in s.get("name", "")]
    # the store's BatchWriteItem is one dynamodb subsegment, as the X-Ray SDK's botocore patch records it,
    # and http.client adds none of its own
    [dynamodb] = [s for s in segments if s.get("namespace") == "aws" and s.get("name") == "dynamodb"]
    assert (dynamodb["aws"]["operation"], dynamodb["aws"]["table_names"]) == ("BatchWriteItem", [TABLE])
    assert dynamodb["http"]["response"]["status"] == 200 and dynamodb["aws"]["request_id"]
    assert not [s for s in segments if s.get("namespace") == "remote"]
    # the invalid body is recorded apart, as an error with its reason
    [rejected] = [s for s in segments if s.get("name") == "## rejected records"]
    assert (rejected["annotations"], rejected.get("error")) == ({"rejected": "not_json"}, True)
    assert rejected["metadata"]["vehicle-consumer"]["records"] == [
        {"messageId": "m-bad", "reason": "not_json"}
    ]


def test_a_large_batch_keeps_every_id_searchable_within_x_rays_annotation_limits():
    # GIVEN 100 events (prod's batch size), WHEN traced
    _, segments = traced_segments(100)

    # THEN every id is in an eventId annotation of at most 1,000 characters, and the trace holds at most
    # the 50 annotations X-Ray indexes
    annotations = [a for s in segments for a in s.get("annotations", {}).items()]
    ids = [a for a in annotations if a[0] == "eventId" or a[0].startswith("eventId_")]
    assert all(len(value) <= 1000 for _, value in ids)
    assert sorted(" ".join(value for _, value in ids).split()) == [f"evt-{i:03d}" for i in range(100)]
    assert len(annotations) <= 50
