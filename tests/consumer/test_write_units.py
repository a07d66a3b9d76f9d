"""What an event costs in write units, counted on the embedded AWS (the request counter sizes every item the
handler writes, and its entry in each index, by DynamoDB's rules; loadtest/local/emulator/request_counter.py).

GIVEN the dev stack's table (no index) and one with eventIdIndex: true, provisioned on moto_server
WHEN the real handler stores the producer's events through its own writer (consumer/batch_write.py)
THEN each event is one item of under 1 KB, one write unit, and nothing else is written; the event-id index
costs one more unit an event, its keys-only entry.
"""

import math

import boto3
import pytest

from consumer import handler
from consumer.event_store import DynamoEventStore
from consumer.sqs_event import RECEIVE_ALL_ATTRIBUTES, lambda_sqs_event
from infra.resource_spec import StackSpec
from infra.settings import StackSettings, from_stack_file
from loadtest.local.emulator.embedded_aws import LOCAL_REGION, aws_environment, moto_server, provision
from loadtest.local.emulator.request_counter import fetch_counts, reset_counts
from producer.sqs_producer import OutgoingMessage, SqsProducer
from producer.vehicles import VehicleFactory

EVENTS = 30
UNIT_BYTES = 1024  # a standard write request unit writes an item of up to 1 KB (aws_prices.json)


@pytest.fixture(scope="module")
def endpoint():
    with moto_server() as url:
        yield url


def write_units(sizes: dict[str, int]) -> int:
    return sum(n * max(1, math.ceil(int(size) / UNIT_BYTES)) for size, n in sizes.items())


@pytest.mark.parametrize(("event_id_index", "units_per_event"), [(False, 1), (True, 2)])
def test_an_event_costs_one_write_unit_and_the_index_one_more(
    endpoint, monkeypatch, event_id_index, units_per_event
):
    for name, value in aws_environment(endpoint).items():
        monkeypatch.setenv(name, value)
    settings = StackSettings(**{**vars(from_stack_file("dev")), "event_id_index": event_id_index})
    stack = provision(StackSpec(f"wru-{event_id_index}".lower(), settings), endpoint)
    sqs = boto3.client("sqs")
    factory = VehicleFactory(seed=7)
    for _ in range(EVENTS // 10):
        SqsProducer(stack.queue_url, client=sqs).send(
            [OutgoingMessage(factory.event().to_json()) for _ in range(10)]
        )
    reset_counts(endpoint)
    handler.processor.use_store(DynamoEventStore(stack.table_name))
    try:
        for _ in range(EVENTS // 10):
            messages = sqs.receive_message(
                QueueUrl=stack.queue_url, MaxNumberOfMessages=10, **RECEIVE_ALL_ATTRIBUTES
            )
            event = lambda_sqs_event(messages["Messages"], stack.queue_arn, LOCAL_REGION)
            assert handler.handle_batch(event) == {"batchItemFailures": []}
    finally:
        handler.processor.use_store(None)

    counts = fetch_counts(endpoint)
    items = counts["item_sizes"][stack.table_name]
    indexes = counts["index_entry_sizes"].get(stack.table_name, {})
    assert sum(items.values()) == EVENTS and max(int(size) for size in items) < UNIT_BYTES
    table_units = write_units(items)
    index_units = sum(write_units(sizes) for sizes in indexes.values())
    assert (table_units + index_units) / EVENTS == units_per_event
    assert sorted(indexes) == (["byEventId"] if event_id_index else [])
