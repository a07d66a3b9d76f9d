"""The vehicle event contract: fields, types and ranges, defined once.

The consumer validates every SQS body against it and the producers build their events with `VehicleEvent`,
so nothing else redefines the vehicle fields. Validation is a JSON Schema compiled once by fastjsonschema
(shipped in the Powertools layer) plus the checks JSON Schema cannot express (finite numbers, body size).
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import math
from typing import Any

import fastjsonschema

MAX_BODY_BYTES = 4096  # a valid event is ~250 bytes; anything far larger is garbage, rejected before parsing
YEAR_MIN = 1886  # the first production automobile
YEAR_MAX = datetime.datetime.now(datetime.UTC).year + 1  # next year's models are sold this year
MILEAGE_MAX = 5_000_000
SENT_AT_MIN = 1_000_000_000_000  # epoch ms, 2001-09-09: older clocks are wrong clocks
SENT_AT_MAX = 4_102_444_800_000  # epoch ms, 2100-01-01
TEXT_MAX = 64

_TEXT = {"type": "string", "minLength": 1, "maxLength": TEXT_MAX, "pattern": r"\S"}
SCHEMA = {
    "type": "object",
    "properties": {
        "vehicleId": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"},
        "make": _TEXT,
        "model": _TEXT,
        "year": {"type": "integer", "minimum": YEAR_MIN, "maximum": YEAR_MAX},
        "color": _TEXT,
        "mileage": {"type": "number", "minimum": 0, "maximum": MILEAGE_MAX},
        "eventId": {"type": "string", "pattern": r"^[A-Za-z0-9_.:-]{1,128}$"},
        "sentAt": {"type": "integer", "minimum": SENT_AT_MIN, "maximum": SENT_AT_MAX},
    },
    "required": ["vehicleId", "make", "model", "year", "color", "mileage"],
    "additionalProperties": False,
}
_validate = fastjsonschema.compile(SCHEMA)

# The reasons an event is rejected: a small fixed set, safe to use as a metric dimension.
REASONS = (
    "body_too_large",
    "not_json",
    "not_an_object",
    "missing_field",
    "unknown_field",
    "wrong_type",
    "out_of_range",
    "bad_format",
)
_RULE_TO_REASON = {
    "required": "missing_field",
    "additionalProperties": "unknown_field",
    "type": "wrong_type",
    "minimum": "out_of_range",
    "maximum": "out_of_range",
    "minLength": "bad_format",
    "maxLength": "bad_format",
    "pattern": "bad_format",
}


class InvalidEvent(ValueError):
    """A body that can never become a valid event: a permanent error, never worth a retry."""

    def __init__(self, reason: str, detail: str):
        self.reason = reason
        self.detail = detail
        super().__init__(f"{reason}: {detail}")


@dataclasses.dataclass(frozen=True)
class VehicleEvent:
    vehicle_id: str
    make: str
    model: str
    year: int
    color: str
    mileage: int | float
    event_id: str | None = None
    sent_at: int | None = None

    def to_message(self) -> dict[str, Any]:
        """The JSON body a producer sends (the seed's fields, plus eventId and sentAt when set)."""
        body = {
            "vehicleId": self.vehicle_id,
            "make": self.make,
            "model": self.model,
            "year": self.year,
            "color": self.color,
            "mileage": self.mileage,
        }
        if self.event_id is not None:
            body["eventId"] = self.event_id
        if self.sent_at is not None:
            body["sentAt"] = self.sent_at
        return body

    def to_json(self) -> str:
        return json.dumps(self.to_message(), separators=(",", ":"))


def _reject_constant(name: str) -> float:
    raise InvalidEvent("not_json", f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise InvalidEvent("out_of_range", f"number {text[:20]} is not finite")
    return value


# One decoder for every body: json.loads with hooks would build a new one for each (2 % of a record's CPU).
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite_float)


def parse_vehicle_event(body: str) -> VehicleEvent:
    """Validate an SQS body and return the event, or raise InvalidEvent with a reason from REASONS."""
    if len(body.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
        raise InvalidEvent("body_too_large", f"body is larger than {MAX_BODY_BYTES} bytes")
    try:
        data = _DECODER.decode(body)
    except (ValueError, RecursionError) as error:
        if isinstance(error, InvalidEvent):
            raise
        raise InvalidEvent("not_json", f"body is not JSON ({str(error)[:80]})") from None
    if not isinstance(data, dict):
        raise InvalidEvent("not_an_object", f"body is a JSON {type(data).__name__}, not an object")
    try:
        _validate(data)
    except fastjsonschema.JsonSchemaValueException as error:
        raise InvalidEvent(_RULE_TO_REASON.get(error.rule or "", "wrong_type"), error.message[:200]) from None
    return VehicleEvent(
        vehicle_id=data["vehicleId"],
        make=data["make"],
        model=data["model"],
        year=int(data["year"]),
        color=data["color"],
        mileage=data["mileage"],
        event_id=data.get("eventId"),
        sent_at=int(data["sentAt"]) if "sentAt" in data else None,
    )
