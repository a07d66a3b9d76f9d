"""The DynamoDB store on its own: what it sends, and what it does with a value DynamoDB cannot hold."""

from decimal import Decimal

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from consumer.event_store import DynamoEventStore
from consumer.stored_item import build_item
from consumer.vehicle_event import parse_vehicle_event
from tests.lambda_events import sqs_record, vehicle_body
from tests.moto_table import SPEC, scan_all


class RecordingClient:
    """A low-level client that takes every request and remembers it."""

    def __init__(self):
        self.requests = []

    def batch_write_item(self, RequestItems):
        self.requests.append(RequestItems)
        return {"UnprocessedItems": {}}


def stored_item(**overrides) -> dict:
    record = sqs_record(vehicle_body("e1", sent_at=1_790_000_000_000, **overrides), "m1", group="V1")
    return build_item(parse_vehicle_event(record["body"]), SQSRecord(record), stored_at_ms=1_790_000_000_123)


@pytest.mark.parametrize("mileage", [15000, 0, 5e-324, 0.1, 1234.5678, 4_999_999.9995, -0.0])
def test_items_go_out_as_typeserializer_would_write_them(mileage):
    # GIVEN an item as the handler builds it (strings, ints and the mileage Decimal, FIFO attributes too)
    item = stored_item(mileage=mileage)
    client = RecordingClient()

    # WHEN the store writes it
    DynamoEventStore("events", dynamodb=client).put_events([item])

    # THEN the request holds exactly boto3's own serialization of every attribute
    [request] = client.requests
    serializer = TypeSerializer()
    assert request == {
        "events": [{"PutRequest": {"Item": {k: serializer.serialize(v) for k, v in item.items()}}}]
    }


def test_other_python_types_still_go_through_typeserializer():
    client = RecordingClient()
    item = {"eventId": "e1", "flag": True, "tags": {"a", "b"}, "nested": {"n": Decimal("1.5")}, "none": None}

    DynamoEventStore("events", dynamodb=client).put_events([item])

    serializer = TypeSerializer()
    assert client.requests[0]["events"][0]["PutRequest"]["Item"] == {
        k: serializer.serialize(v) for k, v in item.items()
    }


def test_a_value_dynamodb_has_no_type_for_fails_only_its_chunk_without_a_call():
    client = RecordingClient()
    store = DynamoEventStore("events", dynamodb=client)

    result = store.put_events([{"eventId": "e1", "mileage": 1.5}])  # a float: TypeSerializer refuses it

    assert (result.failed, result.calls, client.requests) == ({"e1": "TypeError"}, 0, [])


def test_a_resource_is_given_a_plain_client_and_items_are_stored_as_before(dynamodb, table):
    # GIVEN the store built from a boto3 resource (whose own client would convert the values a second time)
    store = DynamoEventStore(SPEC.table_name, dynamodb=dynamodb)

    result = store.put_events([stored_item()])

    assert (result.failed, result.calls) == ({}, 1)
    [item] = scan_all(table)
    assert (item["eventId"], item["vehicleId"], item["mileage"], item["sequenceNumber"]) == (
        "e1",
        "VH2001",
        Decimal(15000),
        Decimal(1),
    )


def test_the_client_the_store_makes_leaves_validation_to_dynamodb(table):
    # GIVEN a request only botocore's client-side validation would refuse (a number given as an int)
    client = DynamoEventStore(SPEC.table_name)._client
    request = {SPEC.table_name: [{"PutRequest": {"Item": {"eventId": {"S": "e1"}, "year": {"N": 2020}}}}]}

    # WHEN the store's own client sends it, THEN DynamoDB answers (no ParamValidationError, no walk of the
    # request before it leaves: that walk was an eighth of the consumer's CPU), and refuses it
    with pytest.raises(ClientError):
        client.batch_write_item(RequestItems=request)
