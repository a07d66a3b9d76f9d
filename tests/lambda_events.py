"""Builders of Lambda-shaped SQS events and a Lambda-like context, for handler tests."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import uuid

QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:vehicle-pipeline-test-events"
SEED_EXAMPLE = '{\n    "vehicleId": "VH2001",\n    "make": "Honda",\n    "model": "Civic",\n    "year": 2020,\n    "color": "Blue",\n    "mileage": 15000\n}'  # noqa: E501 - seed 004 verbatim


def vehicle_body(
    event_id: str | None = None, vehicle_id: str = "VH2001", sent_at: int | None = None, **overrides
):
    body = {
        "vehicleId": vehicle_id,
        "make": "Honda",
        "model": "Civic",
        "year": 2020,
        "color": "Blue",
        "mileage": 15000,
    }
    if event_id is not None:
        body["eventId"] = event_id
    if sent_at is not None:
        body["sentAt"] = sent_at
    body.update(overrides)
    return json.dumps(body)


def sqs_record(
    body: str, message_id: str | None = None, receive_count: int = 1, group: str | None = None
) -> dict:
    now = str(int(time.time() * 1000))
    record = {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": "handle-" + (message_id or "x"),
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": now,
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": now,
        },
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": QUEUE_ARN,
        "awsRegion": "us-east-1",
    }
    if group is not None:  # a FIFO queue's record
        record["attributes"] |= {
            "MessageGroupId": group,
            "MessageDeduplicationId": record["messageId"],
            "SequenceNumber": "1",
        }
    return record


def sqs_event(*records: dict) -> dict:
    return {"Records": list(records)}


@dataclasses.dataclass
class LambdaContext:
    function_name: str = "vehicle-pipeline-test-consumer"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:vehicle-pipeline-test-consumer"
    )
    aws_request_id: str = dataclasses.field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/vehicle-pipeline-test-consumer"
    log_stream_name: str = "test"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000
