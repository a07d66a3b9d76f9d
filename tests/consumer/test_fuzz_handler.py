"""Bad input, fuzzed: arbitrary bodies mixed with valid events never break the handler.

Properties, whatever the batch: the handler returns a well-formed partial batch response, never raises,
never reports a valid record, always reports an invalid one (routing off), stores every valid event
(keyed by eventId) and never stores an invalid one. `make test` runs a short profile; `make fuzz` runs
10,000 examples (HYPOTHESIS_PROFILE=long).
"""

import json
import math
import os
import uuid

import boto3
import pytest
from boto3.dynamodb.conditions import Attr
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from consumer import handler
from consumer.event_store import DynamoEventStore
from consumer.vehicle_event import MILEAGE_MAX, SENT_AT_MAX, SENT_AT_MIN, TEXT_MAX, YEAR_MAX, YEAR_MIN
from tests.lambda_events import LambdaContext, sqs_event, sqs_record
from tests.moto_table import SPEC

# derandomize: make test replays the same 150 examples every run, so CI never flakes on a new draw.
settings.register_profile(
    "short", max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("long", max_examples=10_000, deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "short"))

text_field = st.text(min_size=1, max_size=TEXT_MAX).filter(lambda s: not s.isspace())
valid_event = st.fixed_dictionaries(
    {
        "vehicleId": st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", fullmatch=True),
        "make": text_field,
        "model": text_field,
        "year": st.integers(YEAR_MIN, YEAR_MAX),
        "color": text_field,
        "mileage": st.one_of(st.integers(0, MILEAGE_MAX), st.floats(0, MILEAGE_MAX, allow_nan=False)),
    },
    optional={"sentAt": st.integers(SENT_AT_MIN, SENT_AT_MAX)},
)
json_junk = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)


@st.composite
def broken_event(draw) -> str:
    """A valid event with one thing wrong, so every rule of the contract gets exercised."""
    event = draw(valid_event)
    field = draw(st.sampled_from(sorted(event)))
    breakage = draw(st.sampled_from(["drop", "junk", "extra", "huge", "out_of_range", "blank"]))
    if breakage == "drop":
        if field == "sentAt":  # optional: dropping it keeps the event valid, so break another way
            event["sentAt"] = -1
        else:
            del event[field]
    elif breakage == "junk":
        event[field] = draw(json_junk.filter(lambda v, f=field: not _acceptable(f, v)))
    elif breakage == "extra":
        event[draw(st.text(min_size=1, max_size=20).filter(lambda k: k not in _FIELDS))] = draw(json_junk)
    elif breakage == "huge":
        event["make"] = "x" * draw(st.integers(TEXT_MAX + 1, 10_000))
    elif breakage == "out_of_range":
        field = draw(st.sampled_from(sorted(_OUT_OF_RANGE)))
        event[field] = draw(st.sampled_from(_OUT_OF_RANGE[field]))
    else:
        event["color"] = draw(st.sampled_from(["", " ", "\t\n"]))
    return json.dumps(event)  # NaN/Infinity written as JSON doesn't allow them: still invalid


_OUT_OF_RANGE = {
    "year": [YEAR_MIN - 1, YEAR_MAX + 1, -1, 10**20, math.inf, math.nan],
    "mileage": [-1, -0.001, MILEAGE_MAX + 1, 10**20, math.inf, -math.inf, math.nan],
    "sentAt": [-1, SENT_AT_MIN - 1, SENT_AT_MAX + 1, math.nan],
}
_FIELDS = {"vehicleId", "make", "model", "year", "color", "mileage", "eventId", "sentAt"}


def _acceptable(field: str, value) -> bool:
    """Would this junk value happen to be valid for the field? (then it is not a breakage)"""
    if field == "year":
        return type(value) is int and YEAR_MIN <= value <= YEAR_MAX
    if field == "mileage":
        return type(value) in (int, float) and math.isfinite(value) and 0 <= value <= MILEAGE_MAX
    if field == "sentAt":
        return type(value) is int and SENT_AT_MIN <= value <= SENT_AT_MAX
    if field == "vehicleId":
        import re

        return isinstance(value, str) and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", value) is not None
    return isinstance(value, str) and 1 <= len(value) <= TEXT_MAX and not value.isspace()


invalid_body = st.one_of(
    broken_event(),
    st.text(max_size=300),
    json_junk.map(json.dumps),
    st.binary(max_size=100).map(lambda b: b.decode("latin-1")),
    st.just("x" * 5000),
)


@pytest.fixture(scope="module")
def fuzz_table():
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        dynamodb.create_table(**SPEC.dynamodb_create_table_args())
        store = DynamoEventStore(SPEC.table_name, dynamodb=dynamodb, sleep=lambda _: None)
        handler.processor.use_store(store)
        handler.processor.use_router(None)
        yield dynamodb.Table(SPEC.table_name)
        handler.processor.use_store(None)


def items_of_run(table, run: str) -> list[dict]:
    """The items this example stored (every id it made starts with its run)."""
    scan = {"FilterExpression": Attr("eventId").begins_with(run), "ConsistentRead": True}
    response = table.scan(**scan)
    items = response["Items"]
    while "LastEvaluatedKey" in response:
        response = table.scan(**scan, ExclusiveStartKey=response["LastEvaluatedKey"])
        items += response["Items"]
    return items


@given(
    batch=st.lists(st.tuples(st.booleans(), valid_event, invalid_body), min_size=1, max_size=10),
    reuse_event_id=st.booleans(),
)
def test_handler_survives_any_batch(fuzz_table, batch, reuse_event_id):
    run = uuid.uuid4().hex[:12]
    records, valid_ids, invalid_ids, event_ids = [], set(), set(), set()
    for index, (is_valid, event, junk) in enumerate(batch):
        message_id = f"{run}-m{index}"
        if is_valid:
            event_id = f"{run}-e0" if reuse_event_id else f"{run}-e{index}"  # duplicated ids in one batch
            records.append(sqs_record(json.dumps(event | {"eventId": event_id}), message_id))
            valid_ids.add(message_id)
            event_ids.add((event["vehicleId"], event_id))
        else:
            records.append(sqs_record(junk, message_id))
            invalid_ids.add(message_id)

    response = handler.lambda_handler(sqs_event(*records), LambdaContext())

    assert set(response) == {"batchItemFailures"}
    reported = [failure["itemIdentifier"] for failure in response["batchItemFailures"]]
    assert all(set(failure) == {"itemIdentifier"} for failure in response["batchItemFailures"])
    assert sorted(reported) == sorted(invalid_ids)
    stored = {(item["vehicleId"], item["eventId"]) for item in items_of_run(fuzz_table, run)}
    assert stored == event_ids
    assert not invalid_ids & {event_id for _, event_id in stored}
