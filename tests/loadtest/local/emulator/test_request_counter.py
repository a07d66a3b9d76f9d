"""The emulator counts what each component asks of AWS (loadtest/local/emulator/request_counter.py).

GIVEN moto_server started as a run starts it (the emulator, with the counter installed) and the dev stack
provisioned in it, the tally then reset
WHEN a producer sends, a poller receives (once with messages, once on an empty queue) and deletes, and a
consumer writes items to the table
THEN the tally holds each (service, operation, queue or table) with its exact requests, messages and empty
receives, one batch duration per delete, and each item's size by DynamoDB's rules, in the table and in the
event-id index (a stack with eventIdIndex: true) for the items that carry the index's key; a reset empties it.
"""

import json

import boto3
import pytest

from infra.resource_spec import StackSpec
from infra.settings import StackSettings
from loadtest.local.emulator.embedded_aws import LOCAL_CREDENTIALS, LOCAL_REGION, moto_server, provision
from loadtest.local.emulator.request_counter import (
    attribute_value_size,
    fetch_counts,
    item_size,
    reset_counts,
)

SEED_EXAMPLE = json.dumps(
    {
        "vehicleId": "VH2001",
        "make": "Honda",
        "model": "Civic",
        "year": 2020,
        "color": "Blue",
        "mileage": 15000,
    }
)
# vehicleId "VH2001" (9 + 6), eventKey "1700000000000#e1" (8 + 16), eventId "e1" (7 + 2), eventTime
# 1700000000000 (9 + 2: "17" once zeros go)
INDEXED_ITEM = {
    "vehicleId": {"S": "VH2001"},
    "eventKey": {"S": "1700000000000#e1"},
    "eventId": {"S": "e1"},
    "eventTime": {"N": "1700000000000"},
}
INDEXED_ITEM_BYTES = 15 + 24 + 9 + 11
INDEX_ENTRY_BYTES = 15 + 24 + 9  # KEYS_ONLY: the table's keys and the index's
# No eventId: the item is not in byEventId (an index holds only items with all its key attributes).
UNINDEXED_ITEM = {"vehicleId": {"S": "VH2002"}, "eventKey": {"S": "0000000000000#e2"}}
UNINDEXED_ITEM_BYTES = 15 + 24


@pytest.fixture(scope="module")
def pipeline():
    with moto_server() as endpoint:
        session = boto3.session.Session(
            region_name=LOCAL_REGION,
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )
        stack = provision(StackSpec("dev", StackSettings(event_id_index=True)), endpoint)
        yield (
            endpoint,
            stack,
            session.client("sqs", endpoint_url=endpoint),
            session.client("dynamodb", endpoint_url=endpoint),
        )


def operations(counts: dict) -> dict[tuple[str, str, str], dict]:
    return {(o["service"], o["operation"], o["resource"]): o for o in counts["operations"]}


def test_each_component_request_is_counted_by_operation_and_resource(pipeline):
    endpoint, stack, sqs, dynamodb = pipeline
    queue = stack.queue_url.rsplit("/", 1)[-1]
    reset_counts(endpoint)

    sqs.send_message_batch(
        QueueUrl=stack.queue_url,
        Entries=[{"Id": str(i), "MessageBody": SEED_EXAMPLE} for i in range(10)],
    )
    sqs.send_message(QueueUrl=stack.dlq_url, MessageBody=SEED_EXAMPLE)
    received = sqs.receive_message(QueueUrl=stack.queue_url, MaxNumberOfMessages=10)["Messages"]
    sqs.delete_message_batch(
        QueueUrl=stack.queue_url,
        Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)],
    )
    assert sqs.receive_message(QueueUrl=stack.queue_url, WaitTimeSeconds=0).get("Messages") is None
    dynamodb.batch_write_item(
        RequestItems={
            stack.table_name: [
                {"PutRequest": {"Item": INDEXED_ITEM}},
                {"PutRequest": {"Item": UNINDEXED_ITEM}},
            ]
        }
    )
    counts = fetch_counts(endpoint)

    by_key = operations(counts)
    assert set(by_key) == {
        ("sqs", "SendMessageBatch", queue),
        ("sqs", "SendMessage", stack.dlq_url.rsplit("/", 1)[-1]),
        ("sqs", "ReceiveMessage", queue),
        ("sqs", "DeleteMessageBatch", queue),
        ("dynamodb", "BatchWriteItem", stack.table_name),
    }
    assert by_key["sqs", "SendMessageBatch", queue]["requests"] == 1
    assert by_key["sqs", "SendMessageBatch", queue]["messages"] == 10
    receives = by_key["sqs", "ReceiveMessage", queue]
    assert (receives["requests"], receives["messages"], receives["empty_receives"]) == (2, 10, 1)
    assert 0 <= receives["empty_receive_seconds"] <= receives["seconds"]
    assert by_key["sqs", "DeleteMessageBatch", queue]["messages"] == 10
    writes = by_key["dynamodb", "BatchWriteItem", stack.table_name]
    assert (writes["requests"], writes["items"], writes["errors"]) == (1, 2, 0)
    assert all(o["request_bytes"] > 0 and o["response_bytes"] > 0 for o in counts["operations"])
    assert [batch[0] for batch in counts["batches"]] == [10]
    assert counts["batches"][0][1] >= 0
    assert counts["item_sizes"] == {
        stack.table_name: {str(UNINDEXED_ITEM_BYTES): 1, str(INDEXED_ITEM_BYTES): 1}
    }
    assert counts["index_entry_sizes"] == {stack.table_name: {"byEventId": {str(INDEX_ENTRY_BYTES): 1}}}
    assert counts["unreadable_requests"] == 0


def test_a_reset_starts_an_empty_tally(pipeline):
    endpoint, stack, sqs, _ = pipeline
    sqs.get_queue_attributes(QueueUrl=stack.queue_url, AttributeNames=["QueueArn"])
    reset_counts(endpoint)
    counts = fetch_counts(endpoint)
    assert (counts["operations"], counts["batches"], counts["item_sizes"]) == ([], [], {})


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ({"S": "Civic"}, 5),
        ({"S": "é"}, 2),  # UTF-8 bytes, not characters
        ({"N": "15000"}, 2),  # "15": one byte per two significant digits, plus one
        ({"N": "-0.00123400"}, 3),  # "1234"
        ({"N": "2020"}, 3),  # "202"
        ({"BOOL": True}, 1),
        ({"NULL": True}, 1),
        ({"B": "AAEC"}, 3),  # raw bytes, not base64 characters
        ({"L": [{"S": "ab"}, {"N": "1"}]}, 3 + (2 + 1) + (2 + 1)),
        ({"M": {"k": {"S": "ab"}}}, 3 + (1 + 2 + 1)),
    ],
)
def test_attribute_sizes_follow_dynamodbs_rules(value, size):
    assert attribute_value_size(value) == size


def test_an_item_is_its_names_and_values():
    assert item_size(INDEXED_ITEM) == INDEXED_ITEM_BYTES
