"""FIFO batches: a failure holds back the rest of its message group, other groups go on."""

import boto3

from consumer import handler
from consumer.dead_letters import DeadLetterRouter
from consumer.event_store import DynamoEventStore
from tests.consumer.test_handler import invoke
from tests.lambda_events import sqs_record, vehicle_body
from tests.moto_table import SPEC, scan_all


def test_invalid_record_blocks_only_the_rest_of_its_group(store, table):
    response = invoke(
        sqs_record(vehicle_body("a", vehicle_id="V1"), "a", group="V1"),
        sqs_record(vehicle_body("d", vehicle_id="V2"), "d", group="V2"),
        sqs_record("broken", "b", group="V1"),
        sqs_record(vehicle_body("e", vehicle_id="V2"), "e", group="V2"),
        sqs_record(vehicle_body("c", vehicle_id="V1"), "c", group="V1"),
    )

    assert response == {"batchItemFailures": [{"itemIdentifier": "b"}, {"itemIdentifier": "c"}]}
    assert sorted(item["eventId"] for item in scan_all(table)) == ["a", "d", "e"]
    assert handler.processor.outcome.held_back == 1


class FailingKeys:
    """A store that refuses some keys and writes the rest through the real one."""

    def __init__(self, real, refused):
        self.real, self.refused = real, set(refused)

    def put_events(self, items, deadline=None):
        result = self.real.put_events([item for item in items if item["eventId"] not in self.refused])
        result.failed.update(
            dict.fromkeys(self.refused & {item["eventId"] for item in items}, "ThrottlingException")
        )
        return result


def test_write_failure_reports_the_rest_of_its_group_for_retry_in_order(dynamodb, table):
    real = DynamoEventStore(SPEC.table_name, dynamodb=dynamodb)
    handler.processor.use_store(FailingKeys(real, refused={"a"}))
    try:
        response = invoke(
            sqs_record(vehicle_body("a", vehicle_id="V1"), "a", group="V1"),
            sqs_record(vehicle_body("b", vehicle_id="V1"), "b", group="V1"),
            sqs_record(vehicle_body("c", vehicle_id="V2"), "c", group="V2"),
        )
    finally:
        handler.processor.use_store(None)

    # b was written in the same call as a, but is retried after a: its redelivery overwrites its own item.
    assert response == {"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "b"}]}
    assert (handler.processor.outcome.write_failures, handler.processor.outcome.held_back) == (
        {"throttled": 1},
        1,
    )


def test_routed_invalid_record_does_not_block_its_group(store, table, dynamodb):
    sqs = boto3.client("sqs", region_name="us-east-1")
    dlq = sqs.create_queue(QueueName="dlq.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    handler.processor.use_router(DeadLetterRouter(dlq, sqs=sqs))
    try:
        response = invoke(
            sqs_record(vehicle_body("a", vehicle_id="V1"), "a", group="V1"),
            sqs_record("broken", "b", group="V1"),
            sqs_record(vehicle_body("c", vehicle_id="V1"), "c", group="V1"),
        )
    finally:
        handler.processor.use_router(None)

    assert response == {"batchItemFailures": []}
    assert sorted(item["eventId"] for item in scan_all(table)) == ["a", "c"]


def test_standard_queue_records_are_never_held_back(store, table):
    response = invoke(sqs_record("broken", "b"), sqs_record(vehicle_body("c"), "c"))
    assert response == {"batchItemFailures": [{"itemIdentifier": "b"}]}
    assert [item["eventId"] for item in scan_all(table)] == ["c"]
