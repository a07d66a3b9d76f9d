"""How a validated event becomes a DynamoDB item: pure logic, no AWS calls.

The item key (the idempotency key) is, in this order:
1. the producer's `eventId`;
2. else the `sourceMessageId` message attribute: the id of the message the producer sent, which a message
   carries once it has been through the DLQ (the consumer adds it when it routes a record there, and the
   DLQ tool's copy redrive adds or keeps it), so a redriven copy of a body without an eventId, which SQS
   gives a new messageId, overwrites the item of the first delivery instead of adding one;
3. else the SQS `messageId` (seed 004's example has no eventId; its redeliveries keep their messageId).

`eventTime` orders a vehicle's history in the byVehicle index; the processing fields tell when and after how
many receives the event was stored.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from consumer.dead_letters import SOURCE_ID_ATTRIBUTE
from consumer.vehicle_event import VehicleEvent

STATUS_STORED = "STORED"


def _int_attribute(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _source_message_id(record: SQSRecord) -> str | None:
    attribute = (record.raw_event.get("messageAttributes") or {}).get(SOURCE_ID_ATTRIBUTE) or {}
    return attribute.get("stringValue") or None


def key_and_source(event: VehicleEvent, record: SQSRecord) -> tuple[str, str]:
    """The idempotency key and which of the three it is (`eventId`, `sourceMessageId` or `messageId`)."""
    if event.event_id:
        return event.event_id, "eventId"
    if source := _source_message_id(record):
        return source, SOURCE_ID_ATTRIBUTE
    return record.message_id, "messageId"


def idempotency_key(event: VehicleEvent, record: SQSRecord) -> str:
    return key_and_source(event, record)[0]


def build_item(event: VehicleEvent, record: SQSRecord, stored_at_ms: int) -> dict[str, Any]:
    # .get, not the typed properties: those raise KeyError when SQS leaves an attribute out.
    attributes = record.raw_event.get("attributes") or {}
    sent_timestamp = _int_attribute(attributes.get("SentTimestamp"))
    key, key_source = key_and_source(event, record)
    item: dict[str, Any] = {
        "eventId": key,
        "keySource": key_source,
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
