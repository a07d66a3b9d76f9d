"""How a validated event becomes a DynamoDB item: pure logic, no AWS calls.

The table is keyed for a vehicle's history: partition key `vehicleId`, sort key `eventKey` =
`<event time, 13 digits of epoch ms>#<idempotency key>`, so one Query reads a vehicle's events in time order
and each event is written once (no index to write beside it). Both parts must be the same on every delivery
of the same event, or a redelivery would add an item:

The idempotency key (kept in the item's `eventId` attribute, which the ledger check reads) is, in this order:
1. the producer's `eventId`;
2. else the `sourceMessageId` message attribute: the id of the message the producer sent, which a message
   carries once it has been through the DLQ (the consumer adds it when it routes a record there, and the
   DLQ tool's copy redrive adds or keeps it), so a redriven copy of a body without an eventId, which SQS
   gives a new messageId, overwrites the item of the first delivery instead of adding one;
3. else the SQS `messageId` (seed 004's example has no eventId; its redeliveries keep their messageId).

The event time in the key comes only from what every copy of the event carries alike:
- the producer's `sentAt`, when the body has one;
- else, for an event keyed by a message id, the SQS `SentTimestamp` of the message the producer sent: the
  message's own (a redelivery keeps it), or the `sourceSentTimestamp` attribute a copy redrive adds beside
  `sourceMessageId` (the copy's own SentTimestamp is the redrive's time);
- else 0: an `eventId` without a `sentAt` may arrive in several messages (a producer's resend), each with its
  own SentTimestamp, so only the id is stable; such events sort first in their vehicle's history.
`eventTime` holds the same time (or, without one, SentTimestamp) for readers; the processing fields tell when
and after how many receives the event was stored.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from consumer.dead_letters import SOURCE_ID_ATTRIBUTE, SOURCE_SENT_ATTRIBUTE
from consumer.vehicle_event import VehicleEvent

STATUS_STORED = "STORED"
PARTITION_KEY = "vehicleId"
SORT_KEY = "eventKey"
ID_ATTRIBUTE = "eventId"  # the idempotency key, also inside the sort key
TIME_DIGITS = 13  # epoch ms until the year 2286: the key's time sorts as text


def _int_attribute(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


def _message_attribute(record: SQSRecord, name: str) -> str | None:
    attribute = (record.raw_event.get("messageAttributes") or {}).get(name) or {}
    return attribute.get("stringValue") or None


def key_and_source(event: VehicleEvent, record: SQSRecord) -> tuple[str, str]:
    """The idempotency key and which of the three it is (`eventId`, `sourceMessageId` or `messageId`)."""
    if event.event_id:
        return event.event_id, "eventId"
    if source := _message_attribute(record, SOURCE_ID_ATTRIBUTE):
        return source, SOURCE_ID_ATTRIBUTE
    return record.message_id, "messageId"


def idempotency_key(event: VehicleEvent, record: SQSRecord) -> str:
    return key_and_source(event, record)[0]


def stable_time(event: VehicleEvent, record: SQSRecord, key_source: str) -> int:
    """The event's time as every delivery and redrive of it carries it (module docstring); 0 when none."""
    if event.sent_at:
        return event.sent_at
    if key_source == "eventId":
        return 0
    sent = _int_attribute((record.raw_event.get("attributes") or {}).get("SentTimestamp"))
    if key_source == SOURCE_ID_ATTRIBUTE:
        return _int_attribute(_message_attribute(record, SOURCE_SENT_ATTRIBUTE)) or sent or 0
    return sent or 0


def event_key(time_ms: int, key: str) -> str:
    return f"{time_ms:0{TIME_DIGITS}d}#{key}"


def build_item(event: VehicleEvent, record: SQSRecord, stored_at_ms: int) -> dict[str, Any]:
    # .get, not the typed properties: those raise KeyError when SQS leaves an attribute out.
    attributes = record.raw_event.get("attributes") or {}
    sent_timestamp = _int_attribute(attributes.get("SentTimestamp"))
    key, key_source = key_and_source(event, record)
    time_ms = stable_time(event, record, key_source)
    item: dict[str, Any] = {
        PARTITION_KEY: event.vehicle_id,
        SORT_KEY: event_key(time_ms, key),
        ID_ATTRIBUTE: key,
        "keySource": key_source,
        "make": event.make,
        "model": event.model,
        "year": event.year,
        "color": event.color,
        # Rounded: DynamoDB numbers stop at 1E-130, and a thousandth of a mile is all a reading means.
        "mileage": Decimal(str(round(event.mileage, 3))),
        "eventTime": time_ms or sent_timestamp or stored_at_ms,
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
