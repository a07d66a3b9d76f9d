"""The event contract: what is accepted, and the reason given for everything else."""

import json

import pytest

from consumer.vehicle_event import (
    MAX_BODY_BYTES,
    REASONS,
    YEAR_MAX,
    InvalidEvent,
    VehicleEvent,
    parse_vehicle_event,
)
from tests.lambda_events import SEED_EXAMPLE, vehicle_body


def test_seed_example_is_accepted_exactly_as_written():
    assert parse_vehicle_event(SEED_EXAMPLE) == VehicleEvent("VH2001", "Honda", "Civic", 2020, "Blue", 15000)


def test_producer_fields_round_trip():
    event = VehicleEvent(
        "VH1", "Ford", "Focus", 2018, "Red", 1234.5, event_id="abc-1", sent_at=1_790_000_000_000
    )
    assert parse_vehicle_event(event.to_json()) == event


@pytest.mark.parametrize(
    ("body", "reason", "detail"),
    [
        ("x" * (MAX_BODY_BYTES + 1), "body_too_large", f"body is larger than {MAX_BODY_BYTES} bytes"),
        (
            "{not json",
            "not_json",
            "body is not JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))",
        ),
        ('{"mileage": NaN}', "not_json", "NaN is not a JSON number"),
        ("[1, 2]", "not_an_object", "body is a JSON list, not an object"),
        ('"VH2001"', "not_an_object", "body is a JSON str, not an object"),
        (
            '{"vehicleId": "VH1"}',
            "missing_field",
            "data must contain ['color', 'make', 'mileage', 'model', 'year'] properties",
        ),
        (vehicle_body(owner="me"), "unknown_field", "data must not contain {'owner'} properties"),
        (vehicle_body(year="2020"), "wrong_type", "data.year must be integer"),
        (vehicle_body(year=True), "wrong_type", "data.year must be integer"),
        (vehicle_body(mileage=None), "wrong_type", "data.mileage must be number"),
        (vehicle_body(year=1885), "out_of_range", "data.year must be bigger than or equal to 1886"),
        (
            vehicle_body(year=YEAR_MAX + 1),
            "out_of_range",
            f"data.year must be smaller than or equal to {YEAR_MAX}",
        ),
        (vehicle_body(mileage=-1), "out_of_range", "data.mileage must be bigger than or equal to 0"),
        (
            '{"vehicleId":"VH1","make":"A","model":"B","year":2020,"color":"C","mileage":1e999}',
            "out_of_range",
            "number 1e999 is not finite",
        ),
        (vehicle_body(make="   "), "bad_format", "data.make must match pattern \\S"),
        (vehicle_body(make=""), "bad_format", "data.make must be longer than or equal to 1 characters"),
        (
            vehicle_body(color="c" * 65),
            "bad_format",
            "data.color must be shorter than or equal to 64 characters",
        ),
        (
            vehicle_body(vehicle_id="VH 1"),
            "bad_format",
            "data.vehicleId must match pattern ^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$",
        ),
        (
            vehicle_body(sent_at=12),
            "out_of_range",
            "data.sentAt must be bigger than or equal to 1000000000000",
        ),
    ],
)
def test_invalid_bodies_are_rejected_with_their_reason(body, reason, detail):
    with pytest.raises(InvalidEvent) as caught:
        parse_vehicle_event(body)
    assert (caught.value.reason, caught.value.detail) == (reason, detail)
    assert caught.value.reason in REASONS


def test_integral_float_year_is_normalised_to_int():
    assert parse_vehicle_event(json.dumps(json.loads(vehicle_body()) | {"year": 2020.0})).year == 2020
