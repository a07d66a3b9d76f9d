"""The emulator's pipeline feed (loadtest/local/emulator/pipeline_feed.py), on a real moto_server.

GIVEN the emulator started as a run starts it, with a table
WHEN items are written with PutItem and BatchWriteItem (some without storedAt or sentAt), and the consumers'
state is posted
THEN /_pipeline/stored numbers each stored event with its (storedAt, storedAt - sentAt), pages from any
point, and a reader behind the ring gets what is left with the count it missed; /_pipeline/consumers answers
the last state with its age; the client never raises when the emulator is gone.
"""

import json
import logging
import urllib.error
import urllib.request

import boto3
import pytest

from loadtest.local.emulator import pipeline_feed
from loadtest.local.emulator.embedded_aws import LOCAL_CREDENTIALS, LOCAL_REGION, moto_server
from loadtest.local.emulator.pipeline_feed import (
    PipelineFeed,
    StoredEvents,
    publish_consumers,
    read_consumers,
    read_stored,
)
from loadtest.local.emulator.request_counter import items_written

TABLE = "feed-test"  # any table: the feed records what any table stores, whatever its key design


@pytest.fixture
def emulator():
    with moto_server() as endpoint:  # a fresh one per test: the feed's numbers start at 1
        session = boto3.session.Session(
            region_name=LOCAL_REGION,
            aws_access_key_id=LOCAL_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=LOCAL_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        )
        dynamodb = session.client("dynamodb", endpoint_url=endpoint)
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "eventId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "eventId", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield endpoint, TABLE, dynamodb


@pytest.fixture(scope="module")
def shared_emulator():
    with moto_server() as endpoint:
        yield endpoint


def item(event_id: str, stored_at: int | None, sent_at: int | None) -> dict:
    fields = {"eventId": {"S": event_id}, "vehicleId": {"S": "VH2001"}}
    if stored_at is not None:
        fields["storedAt"] = {"N": str(stored_at)}
    if sent_at is not None:
        fields["sentAt"] = {"N": str(sent_at)}
    return fields


def test_each_stored_event_is_numbered_with_its_end_to_end_latency(emulator):
    endpoint, table, dynamodb = emulator
    assert read_stored(endpoint) == StoredEvents(next=0, stored=[], total=0)

    dynamodb.put_item(TableName=table, Item=item("e1", 1_700_000_000_500, 1_700_000_000_000))
    dynamodb.put_item(TableName=table, Item=item("no-sentAt", 1_700_000_000_600, None))
    dynamodb.batch_write_item(
        RequestItems={
            table: [
                {"PutRequest": {"Item": item("e2", 1_700_000_001_000, 1_700_000_000_900)}},
                {"PutRequest": {"Item": item("no-storedAt", None, 1_700_000_000_900)}},
                {"PutRequest": {"Item": item("e3", 1_700_000_001_000, 1_700_000_000_250)}},
            ]
        }
    )
    dynamodb.get_item(TableName=table, Key={"eventId": {"S": "e1"}})  # a read stores nothing

    assert read_stored(endpoint, after=0) == StoredEvents(
        next=3,
        stored=[(1_700_000_000_500, 500), (1_700_000_001_000, 100), (1_700_000_001_000, 750)],
        total=3,
    )
    assert read_stored(endpoint, after=2) == StoredEvents(next=3, stored=[(1_700_000_001_000, 750)], total=3)
    assert read_stored(endpoint, after=3) == StoredEvents(next=3, stored=[], total=3)
    # Without `after`, where the feed stands now: a reader that starts there sees only what comes next.
    assert read_stored(endpoint) == StoredEvents(next=3, stored=[], total=3)
    # A redelivered event stored again is a second write, counted again.
    dynamodb.put_item(TableName=table, Item=item("e1", 1_700_000_002_000, 1_700_000_000_000))
    assert read_stored(endpoint, after=3) == StoredEvents(next=4, stored=[(1_700_000_002_000, 2000)], total=4)


def test_a_reader_behind_the_ring_gets_what_is_left_and_how_many_it_missed():
    feed = PipelineFeed(capacity=3)
    feed.record_written({"t": [item(f"e{n}", 1000 + n, 1000) for n in range(1, 6)]})  # events 1..5

    assert feed.stored_after(0) == {
        "next": 5,
        "stored": [[1003, 3], [1004, 4], [1005, 5]],
        "total": 5,
        "dropped": 2,
    }
    assert feed.stored_after(2) == {"next": 5, "stored": [[1003, 3], [1004, 4], [1005, 5]], "total": 5}
    assert feed.stored_after(9) == {"next": 5, "stored": [], "total": 5}  # the emulator restarted


def test_one_answer_holds_at_most_max_per_answer_events():
    feed = PipelineFeed()
    feed.record_written({"t": [item(f"e{n}", 2000, 1000) for n in range(pipeline_feed.MAX_PER_ANSWER + 7)]})

    first = feed.stored_after(0)
    rest = feed.stored_after(first["next"])

    assert (first["next"], len(first["stored"]), first["total"]) == (5000, 5000, 5007)
    assert (rest["next"], len(rest["stored"]), "dropped" in rest) == (5007, 7, False)


def test_items_written_leave_out_what_dynamodb_left_unprocessed():
    kept, unprocessed = item("e1", 2000, 1000), item("e2", 2000, 1500)
    call = {
        "service": "dynamodb",
        "operation": "BatchWriteItem",
        "body": {
            "RequestItems": {"t": [{"PutRequest": {"Item": kept}}, {"PutRequest": {"Item": unprocessed}}]}
        },
    }
    response = json.dumps({"UnprocessedItems": {"t": [{"PutRequest": {"Item": unprocessed}}]}}).encode()

    assert items_written(call, 200, response) == {"t": [kept]}
    assert items_written(call, 400, response) == {}


def test_the_consumers_state_is_the_last_posted_with_its_age(emulator):
    endpoint, _, _ = emulator
    assert read_consumers(endpoint) == {}

    assert publish_consumers(endpoint, {"mode": "lambda", "consumers": 5, "floor": 5, "maximum": 10})
    assert publish_consumers(endpoint, {"mode": "lambda", "consumers": 7, "floor": 5, "maximum": 10})

    state = read_consumers(endpoint)
    age = state.pop("age_seconds")
    assert state == {"mode": "lambda", "consumers": 7, "floor": 5, "maximum": 10}
    assert 0 <= age < 5


@pytest.mark.parametrize(
    ("path", "method", "body", "status"),
    [
        ("/_pipeline/stored?after=-1", "GET", None, 400),
        ("/_pipeline/stored?after=x", "GET", None, 400),
        ("/_pipeline/consumers", "POST", b"[1, 2]", 400),
        ("/_pipeline/consumers", "POST", b"{not json", 400),
        ("/_pipeline/stored", "POST", b"{}", 405),
    ],
)
def test_a_malformed_request_is_refused_with_its_reason(shared_emulator, path, method, body, status):
    endpoint = shared_emulator
    request = urllib.request.Request(endpoint + path, data=body, method=method)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=5)
    assert refused.value.code == status
    assert "error" in json.loads(refused.value.read())


def test_publishing_to_a_dead_endpoint_logs_once_and_goes_on(caplog, monkeypatch):
    monkeypatch.setattr(pipeline_feed, "_publish_failing", False)
    with moto_server() as endpoint:
        pass  # stopped: nothing answers on its port now
    with caplog.at_level(logging.DEBUG, logger=pipeline_feed.__name__):
        results = [publish_consumers(endpoint, {"consumers": 5}, timeout_s=0.5) for _ in range(3)]
        unserialisable = publish_consumers(endpoint, {"consumers": object()})

    assert results == [False, False, False] and unserialisable is False
    assert [r.levelno for r in caplog.records] == [
        logging.WARNING,
        logging.DEBUG,
        logging.DEBUG,
        logging.DEBUG,
    ]
