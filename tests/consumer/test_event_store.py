"""The DynamoDB store on its own: what it sends, and what it does with a value DynamoDB cannot hold."""

from decimal import Decimal

import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from consumer.batch_write import PROXY_VARIABLES, ClientWriter, SignedHttpWriter
from consumer.event_store import DynamoEventStore, _plain_client
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
    assert item["eventKey"] == "1790000000000#e1"


def test_the_client_of_the_proxy_path_leaves_validation_and_retries_to_dynamodb_and_the_store(table):
    # GIVEN the client the store sends through when a proxy is configured, and a request only botocore's
    # client-side validation would refuse (a number given as an int)
    client = _plain_client()
    request = {SPEC.table_name: [{"PutRequest": {"Item": {"vehicleId": {"S": "V"}, "year": {"N": 2020}}}}]}

    # WHEN it is sent, THEN DynamoDB answers (no ParamValidationError, no walk of the request before it
    # leaves: that walk was an eighth of the consumer's CPU), and refuses it; botocore makes one attempt, the
    # store retries within the invocation's deadline
    with pytest.raises(ClientError):
        client.batch_write_item(RequestItems=request)
    assert client.meta.config.retries == {"mode": "standard", "total_max_attempts": 1}


def test_the_store_sends_through_the_signed_writer_unless_a_proxy_is_configured(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    for name in PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert isinstance(DynamoEventStore("events")._writer, SignedHttpWriter)

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    assert isinstance(DynamoEventStore("events")._writer, ClientWriter)
