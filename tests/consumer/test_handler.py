"""The real handler on moto's DynamoDB: what is stored, and exactly which records are reported failed."""

import time
from decimal import Decimal

import boto3
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from consumer import handler
from consumer.event_store import DynamoEventStore
from tests.lambda_events import SEED_EXAMPLE, LambdaContext, sqs_event, sqs_record, vehicle_body
from tests.moto_table import SPEC, scan_all


def invoke(*records):
    return handler.lambda_handler(sqs_event(*records), LambdaContext())


def test_seed_example_verbatim_is_stored_keyed_by_message_id(store, table):
    # GIVEN seed 004's example message exactly as written (no eventId, no sentAt)
    record = sqs_record(SEED_EXAMPLE, message_id="msg-seed")

    # WHEN the handler processes it
    response = invoke(record)

    # THEN nothing failed and one item holds the event, keyed by the SQS messageId
    assert response == {"batchItemFailures": []}
    [item] = scan_all(table)
    assert {
        k: item[k] for k in ("eventId", "keySource", "vehicleId", "make", "model", "year", "color", "mileage")
    } == {
        "eventId": "msg-seed",
        "keySource": "messageId",
        "vehicleId": "VH2001",
        "make": "Honda",
        "model": "Civic",
        "year": Decimal(2020),
        "color": "Blue",
        "mileage": Decimal(15000),
    }
    assert item["status"] == "STORED"
    assert item["attempts"] == 1
    assert item["eventTime"] == int(record["attributes"]["SentTimestamp"])


def test_mixed_batch_reports_exactly_the_invalid_records(store, table):
    # GIVEN valid events around three invalid bodies
    records = [
        sqs_record(vehicle_body("e1"), "m1"),
        sqs_record("not json", "m2"),
        sqs_record(vehicle_body("e3", year=1700), "m3"),
        sqs_record(vehicle_body("e4"), "m4"),
        sqs_record(vehicle_body("e5", extra="field"), "m5"),
    ]

    response = invoke(*records)

    assert response == {
        "batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m3"}, {"itemIdentifier": "m5"}]
    }
    assert sorted(item["eventId"] for item in scan_all(table)) == ["e1", "e4"]
    assert handler.processor.outcome.invalid == {"not_json": 1, "out_of_range": 1, "unknown_field": 1}


def test_all_invalid_batch_is_reported_not_raised(store, table):
    response = invoke(sqs_record("[]", "m1"), sqs_record("{}", "m2"))

    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}
    assert scan_all(table) == []


def test_redelivered_event_never_creates_a_second_item(store, table):
    # GIVEN the same event delivered twice (a retry after a lost delete, a redrive with a new messageId)
    first = sqs_record(vehicle_body("evt-1", sent_at=1_790_000_000_000), "m-first")
    again = sqs_record(vehicle_body("evt-1", sent_at=1_790_000_000_000), "m-again", receive_count=2)

    assert invoke(first) == {"batchItemFailures": []}
    assert invoke(again) == {"batchItemFailures": []}

    [item] = scan_all(table)
    assert (item["eventId"], item["messageId"], item["attempts"]) == ("evt-1", "m-again", 2)


def test_duplicate_within_one_batch_is_stored_once_and_both_succeed(store, table):
    response = invoke(sqs_record(vehicle_body("dup"), "m1"), sqs_record(vehicle_body("dup"), "m2"))

    assert response == {"batchItemFailures": []}
    assert [item["eventId"] for item in scan_all(table)] == ["dup"]
    assert handler.processor.outcome.duplicates_in_batch == 1


def history(table, vehicle_id: str) -> list[dict]:
    """A vehicle's history as a reader gets it: one Query on its partition, in sort-key (time) order."""
    return table.query(KeyConditionExpression=Key("vehicleId").eq(vehicle_id), ConsistentRead=True)["Items"]


def test_vehicle_history_is_one_query_on_the_table_in_time_order(store, table):
    sent = [1_790_000_003_000, 1_790_000_001_000, 1_790_000_002_000]
    invoke(
        *(sqs_record(vehicle_body(f"e{i}", vehicle_id="VH7", sent_at=t), f"m{i}") for i, t in enumerate(sent))
    )
    invoke(sqs_record(vehicle_body("other", vehicle_id="VH8"), "m9"))

    items = history(table, "VH7")
    assert [item["eventId"] for item in items] == ["e1", "e2", "e0"]
    assert [item["eventKey"] for item in items] == [
        "1790000001000#e1",
        "1790000002000#e2",
        "1790000003000#e0",
    ]
    assert [item["eventTime"] for item in items] == sorted(sent)


def test_each_event_is_one_item_and_nothing_else_is_written(store, table):
    # GIVEN the table as the stacks declare it (no index), WHEN an event is stored, THEN one item is written
    assert "GlobalSecondaryIndexes" not in SPEC.dynamodb_create_table_args()
    invoke(sqs_record(vehicle_body("evt-1", sent_at=1_790_000_000_000), "m1"))
    assert not table.global_secondary_indexes
    assert [item["eventKey"] for item in scan_all(table)] == ["1790000000000#evt-1"]


def test_a_resend_of_an_event_without_sent_at_keeps_one_item(store, table):
    # GIVEN an eventId without sentAt in two messages (a producer's resend): each has its own SentTimestamp
    first = sqs_record(vehicle_body("evt-9"), "m1")
    again = sqs_record(vehicle_body("evt-9"), "m2")
    again["attributes"]["SentTimestamp"] = str(int(first["attributes"]["SentTimestamp"]) + 5_000)

    invoke(first)
    invoke(again)

    # THEN only the id is in the key (its time is 0): one item, first in its vehicle's history
    [item] = scan_all(table)
    assert (item["eventKey"], item["messageId"]) == ("0000000000000#evt-9", "m2")


def test_a_copy_redrive_of_a_body_without_ids_overwrites_its_first_item(store, table):
    # GIVEN seed 004's example stored once, keyed by its messageId and its SentTimestamp
    first = sqs_record(SEED_EXAMPLE, "m-first")
    invoke(first)
    # WHEN a copy comes back through the DLQ tool's redrive: a new messageId and SentTimestamp, carrying the
    # first message's id and time
    copy = sqs_record(SEED_EXAMPLE, "m-copy")
    copy["attributes"]["SentTimestamp"] = str(int(first["attributes"]["SentTimestamp"]) + 60_000)
    copy["messageAttributes"] = {
        "sourceMessageId": {"stringValue": "m-first", "dataType": "String"},
        "sourceSentTimestamp": {"stringValue": first["attributes"]["SentTimestamp"], "dataType": "Number"},
    }
    invoke(copy)

    # THEN one item: the same key, now written by the copy
    [item] = scan_all(table)
    assert item["eventKey"] == f"{first['attributes']['SentTimestamp']}#m-first"
    assert (item["eventId"], item["keySource"], item["messageId"]) == ("m-first", "sourceMessageId", "m-copy")


class FlakyDynamoDB:
    """Wraps the moto client: returns some items as UnprocessedItems, or fails whole calls."""

    def __init__(
        self, real, unprocessed_first_calls=0, fail_calls=(), code="ProvisionedThroughputExceededException"
    ):
        # The store speaks the low-level API (items as AttributeValues), so the fake wraps a plain client.
        self.real = boto3.client("dynamodb", region_name=real.meta.client.meta.region_name)
        self.calls = 0
        self.unprocessed_first_calls = unprocessed_first_calls
        self.fail_calls = set(fail_calls)
        self.code = code

    def batch_write_item(self, RequestItems):
        self.calls += 1
        if self.calls in self.fail_calls:
            raise ClientError(
                {"Error": {"Code": self.code, "Message": "slow"}},
                "BatchWriteItem",
            )
        [(table, requests)] = RequestItems.items()
        if self.calls <= self.unprocessed_first_calls:
            # DynamoDB took the first half and handed back the rest.
            half = len(requests) // 2
            if half:
                self.real.batch_write_item(RequestItems={table: requests[:half]})
            return {"UnprocessedItems": {table: requests[half:]}}
        return self.real.batch_write_item(RequestItems=RequestItems)


def test_unprocessed_items_are_retried_with_backoff_and_counted(dynamodb, table, sleeps):
    flaky = FlakyDynamoDB(dynamodb, unprocessed_first_calls=2)
    handler.processor.use_store(DynamoEventStore(SPEC.table_name, dynamodb=flaky, sleep=sleeps.append))
    try:
        response = invoke(*(sqs_record(vehicle_body(f"e{i}"), f"m{i}") for i in range(8)))
    finally:
        handler.processor.use_store(None)

    assert response == {"batchItemFailures": []}
    assert len(scan_all(table)) == 8
    outcome = handler.processor.outcome
    # 8 items: call 1 stores 4 and returns 4, call 2 stores 2 and returns 2, call 3 stores the last 2.
    assert (outcome.dynamodb_calls, outcome.unprocessed_retries, len(sleeps)) == (3, 6, 2)


def test_unprocessed_items_that_never_go_through_fail_only_their_records(dynamodb, table, sleeps):
    flaky = FlakyDynamoDB(dynamodb, unprocessed_first_calls=99)
    handler.processor.use_store(
        DynamoEventStore(SPEC.table_name, dynamodb=flaky, max_attempts=3, sleep=sleeps.append)
    )
    try:
        response = invoke(*(sqs_record(vehicle_body(f"e{i}"), f"m{i}") for i in range(4)))
    finally:
        handler.processor.use_store(None)

    # 4 -> 2 stored, 2 back; 2 -> 1 stored, 1 back; 1 -> 0 stored (half of 1), 1 back: the last one fails.
    stored = sorted(item["eventId"] for item in scan_all(table))
    assert stored == ["e0", "e1", "e2"]
    assert response == {"batchItemFailures": [{"itemIdentifier": "m3"}]}
    assert handler.processor.outcome.write_failures == {"unprocessed": 1}


def test_dynamodb_error_fails_only_the_records_of_that_call(dynamodb, table, sleeps):
    # GIVEN 30 valid records (two BatchWriteItem calls: 25 + 5) and a first call DynamoDB fails (a 5xx)
    flaky = FlakyDynamoDB(dynamodb, fail_calls={1}, code="InternalServerError")
    handler.processor.use_store(DynamoEventStore(SPEC.table_name, dynamodb=flaky, sleep=sleeps.append))
    try:
        response = invoke(*(sqs_record(vehicle_body(f"e{i:02d}"), f"m{i:02d}") for i in range(30)))
    finally:
        handler.processor.use_store(None)

    # THEN exactly the first 25 are reported for retry and the last 5 are stored
    assert response == {"batchItemFailures": [{"itemIdentifier": f"m{i:02d}"} for i in range(25)]}
    assert sorted(item["eventId"] for item in scan_all(table)) == [f"e{i:02d}" for i in range(25, 30)]
    assert handler.processor.outcome.write_failures == {"dynamodb_error": 25}


def test_a_throttled_call_is_retried_after_a_pause(dynamodb, table, sleeps):
    flaky = FlakyDynamoDB(dynamodb, fail_calls={1})  # ProvisionedThroughputExceededException once
    handler.processor.use_store(DynamoEventStore(SPEC.table_name, dynamodb=flaky, sleep=sleeps.append))
    try:
        response = invoke(*(sqs_record(vehicle_body(f"e{i}"), f"m{i}") for i in range(3)))
    finally:
        handler.processor.use_store(None)

    assert response == {"batchItemFailures": []}
    assert len(scan_all(table)) == 3
    assert (handler.processor.outcome.dynamodb_calls, handler.processor.outcome.unprocessed_retries) == (2, 3)
    assert len(sleeps) == 1


class EndingContext(LambdaContext):
    """An invocation with `seconds` left."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds

    def get_remaining_time_in_millis(self) -> int:
        return int(self.seconds * 1000)


def test_retries_stop_before_the_invocation_ends_and_report_what_is_unwritten(dynamodb, table):
    # GIVEN a table that throttles every call and an invocation with 40 ms left: no pause fits its deadline
    flaky = FlakyDynamoDB(dynamodb, fail_calls=set(range(1, 100)))
    handler.processor.use_store(
        DynamoEventStore(SPEC.table_name, dynamodb=flaky, base_delay_seconds=10.0, sleep=time.sleep)
    )
    started = time.monotonic()
    try:
        response = handler.lambda_handler(
            sqs_event(sqs_record(vehicle_body("e1"), "m1"), sqs_record(vehicle_body("e2"), "m2")),
            EndingContext(0.04),
        )
    finally:
        handler.processor.use_store(None)

    # THEN the handler answers at once, both records reported for SQS to retry, none stored
    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}
    assert time.monotonic() - started < 5  # not the 10 s pause the backoff would have taken
    assert (flaky.calls, scan_all(table)) == (1, [])
    assert handler.processor.outcome.write_failures == {"throttled": 2}


class ExplodingDynamoDB:
    def batch_write_item(self, RequestItems):
        raise ValueError("cannot serialize")


def test_any_store_exception_fails_those_records_instead_of_the_invocation(store, sleeps):
    handler.processor.use_store(DynamoEventStore(SPEC.table_name, dynamodb=ExplodingDynamoDB()))
    try:
        response = invoke(sqs_record(vehicle_body("e1"), "m1"), sqs_record("bad", "m2"))
    finally:
        handler.processor.use_store(None)

    assert response == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}]}
    assert handler.processor.outcome.write_failures == {"dynamodb_error": 1}


def test_tiny_float_mileage_is_stored_rounded(store, table):
    assert invoke(sqs_record(vehicle_body("e1", mileage=5e-324), "m1")) == {"batchItemFailures": []}
    assert scan_all(table)[0]["mileage"] == Decimal("0.0")


def test_records_missing_optional_sqs_attributes_are_still_stored(store, table):
    record = sqs_record(vehicle_body("e1", sent_at=1_790_000_000_000), "m1")
    record["attributes"] = {"SentTimestamp": "1790000000100"}  # no receive count or first-receive time

    assert invoke(record) == {"batchItemFailures": []}
    [item] = scan_all(table)
    assert (item["attempts"], "receivedAt" in item, item["enqueuedAt"]) == (1, False, 1_790_000_000_100)
