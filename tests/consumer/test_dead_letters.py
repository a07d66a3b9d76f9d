"""Permanent errors go to the DLQ at once, with their reason; a failed DLQ send never drops a record."""

import boto3
import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import ClientError

from consumer import handler
from consumer.dead_letters import DeadLetterRouter
from tests.consumer.test_handler import invoke
from tests.lambda_events import sqs_record, vehicle_body
from tests.moto_table import scan_all


@pytest.fixture
def dlq(dynamodb):  # dynamodb: moto is active for the test
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="test-dlq")["QueueUrl"]
    return sqs, url


@pytest.fixture
def routing(store, dlq):
    sqs, url = dlq
    handler.processor.use_router(DeadLetterRouter(url, sqs=sqs))
    yield sqs, url
    handler.processor.use_router(None)


def dead_letters(sqs, url) -> list[dict]:
    response = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    return response.get("Messages", [])


def test_invalid_records_are_routed_with_reason_and_not_reported(routing, table):
    sqs, url = routing
    poison = sqs_record('{"vehicleId": "VH1"}', "m-poison")
    poison["messageAttributes"] = {"origin": {"stringValue": "fleet-7", "dataType": "String"}}

    response = invoke(sqs_record(vehicle_body("e1"), "m1"), poison, sqs_record("garbage", "m-garbage"))

    assert response == {"batchItemFailures": []}
    assert [item["eventId"] for item in scan_all(table)] == ["e1"]
    letters = {m["MessageAttributes"]["sourceMessageId"]["StringValue"]: m for m in dead_letters(sqs, url)}
    assert sorted(letters) == ["m-garbage", "m-poison"]
    assert letters["m-poison"]["Body"] == '{"vehicleId": "VH1"}'
    assert letters["m-poison"]["MessageAttributes"]["origin"] == {
        "StringValue": "fleet-7",
        "DataType": "String",
    }
    assert letters["m-poison"]["MessageAttributes"]["failureReason"]["StringValue"] == (
        "missing_field: data must contain ['color', 'make', 'mileage', 'model', 'year'] properties"
    )
    assert letters["m-garbage"]["MessageAttributes"]["failureReason"]["StringValue"].startswith("not_json: ")
    assert handler.processor.outcome.routed_to_dlq == {"missing_field": 1, "not_json": 1}
    assert handler.processor.outcome.failed == 0


class BrokenSqs:
    def send_message_batch(self, **_):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "SendMessageBatch")


def test_failed_dlq_send_falls_back_to_reporting_the_record(store, table):
    handler.processor.use_router(DeadLetterRouter("https://sqs.example/123/dlq", sqs=BrokenSqs()))
    try:
        response = invoke(sqs_record(vehicle_body("e1"), "m1"), sqs_record("garbage", "m2"))
    finally:
        handler.processor.use_router(None)

    assert response == {"batchItemFailures": [{"itemIdentifier": "m2"}]}
    assert handler.processor.outcome.routed_to_dlq == {}
    assert [item["eventId"] for item in scan_all(table)] == ["e1"]


def test_fifo_dead_letters_keep_the_message_group(dlq):
    sqs, _ = dlq
    url = sqs.create_queue(QueueName="test-dlq.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    record = sqs_record("garbage", "m1")
    record["attributes"]["MessageGroupId"] = "VH9"

    assert DeadLetterRouter(url, sqs=sqs).route([(SQSRecord(record), "not_json", "x")]) == {"m1"}
    [letter] = sqs.receive_message(QueueUrl=url, AttributeNames=["All"])["Messages"]
    assert letter["Attributes"]["MessageGroupId"] == "VH9"
