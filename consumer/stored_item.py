"""How a validated event becomes a DynamoDB item: pure logic, no AWS calls.

The item key is the producer's eventId, or the SQS messageId when the producer sent none (the seed's example
has no eventId). `eventTime` orders a vehicle's history in the byVehicle index; the processing fields tell
when and after how many receives the event was stored.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from consumer.vehicle_event import VehicleEvent

STATUS_STORED = "STORED"


def _int_attribute(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def idempotency_key(event: VehicleEvent, record: SQSRecord) -> str:
    return event.event_id or record.message_id


def build_item(event: VehicleEvent, record: SQSRecord, stored_at_ms: int) -> dict[str, Any]:
    # .get, not the typed properties: those raise KeyError when SQS leaves an attribute out.
    attributes = record.raw_event.get("attributes") or {}
    sent_timestamp = _int_attribute(attributes.get("SentTimestamp"))
    item: dict[str, Any] = {
        "eventId": idempotency_key(event, record),
        "keySource": "eventId" if event.event_id else "messageId",
        "vehicleId": event.vehicle_id,
        "make": event.make,
        "model": event.model,
        "year": event.year,
        "color": event.color,
        # Rounded: DynamoDB numbers stop at 1E-130, and a thousandth of a mile is all a reading means.
        "mileage": Decimal(str(round(event.mileage, 3))),
        "eventTime": event.sent_at or sent_timestamp or stored_at_ms,
        "messageId": record.message_id,
        "status": STATUS_STORED,
        "storedAt": stored_at_ms,
        "attempts": _int_attribute(attributes.get("ApproximateReceiveCount")) or 1,
    }
    optional = {
        "sentAt": event.sent_at,
        "enqueuedAt": sent_timestamp,
        "receivedAt": _int_attribute(attributes.get("ApproximateFirstReceiveTimestamp")),
        # FIFO: the queue's order within the vehicle's message group, to check storage kept it.
        "sequenceNumber": _int_attribute(attributes.get("SequenceNumber")),
    }
    item.update({name: value for name, value in optional.items() if value is not None})
    return item
