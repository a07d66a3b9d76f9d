"""The producer Lambda's handler against moto: it sends valid, well-formed vehicle events in batches.

GIVEN a standard and a FIFO queue on moto
WHEN the handler is invoked with a count, and with none (EVENTS_PER_INVOCATION)
THEN exactly that many events are in the queue, each accepted by the consumer's contract, with unique
eventIds; on the FIFO queue grouped by vehicle and deduplicated on the eventId.
"""

import json

import boto3
import pytest
from moto import mock_aws

from consumer.vehicle_event import parse_vehicle_event
from producer import handler


@pytest.fixture
def sqs(monkeypatch):
    with mock_aws():
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        monkeypatch.setattr(handler, "_producer", None)
        yield boto3.client("sqs", region_name="us-east-1")


def drain(sqs, url: str) -> list[dict]:
    messages = []
    while batch := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageSystemAttributeNames=["All"]
    ).get("Messages"):
        messages += batch
        sqs.delete_message_batch(
            QueueUrl=url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
        )
    return messages


def test_an_invocation_sends_the_requested_number_of_valid_events(sqs, monkeypatch):
    url = sqs.create_queue(QueueName="events")["QueueUrl"]
    monkeypatch.setenv("QUEUE_URL", url)

    assert handler.lambda_handler({"count": 25}, None) == {"requested": 25, "sent": 25, "failed": 0}

    messages = drain(sqs, url)
    events = [parse_vehicle_event(m["Body"]) for m in messages]  # raises on anything the consumer rejects
    assert len({e.event_id for e in events}) == 25
    assert all(e.sent_at and e.vehicle_id.startswith("VH") for e in events)


def test_a_scheduled_invocation_sends_the_configured_count_grouped_by_vehicle_on_fifo(sqs, monkeypatch):
    url = sqs.create_queue(QueueName="events.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    monkeypatch.setenv("QUEUE_URL", url)
    monkeypatch.setenv("EVENTS_PER_INVOCATION", "12")

    assert handler.lambda_handler({}, None) == {"requested": 12, "sent": 12, "failed": 0}

    for message in drain(sqs, url):
        body = json.loads(message["Body"])
        assert message["Attributes"]["MessageGroupId"] == body["vehicleId"]
        assert message["Attributes"]["MessageDeduplicationId"] == body["eventId"]


@pytest.mark.parametrize("count", [0, 10_001])
def test_a_count_out_of_bounds_is_refused(sqs, monkeypatch, count):
    monkeypatch.setenv("QUEUE_URL", "https://sqs.us-east-1.amazonaws.com/123456789012/events")
    with pytest.raises(ValueError, match="count must be 1–10000"):
        handler.lambda_handler({"count": count}, None)
