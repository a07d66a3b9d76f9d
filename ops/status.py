"""Where is my event? `python -m ops.status VEHICLE_ID/EVENT_ID --stack-outputs build/dev-outputs.json`.

The table is keyed by vehicle (infra/resource_spec.py), so an event is looked up with its vehicle:
`VEHICLE_ID/EVENT_ID`, or `EVENT_ID` with `--vehicle VEHICLE_ID` for every bare id. A stack deployed with
`eventIdIndex: true` exports its index (`eventIdIndex` output) and finds a bare EVENT_ID alone. One Query on
the vehicle's partition (its history, read with a filter on eventId: a vehicle's events cost one read unit
per 4 KB), or one Query on the index then one GetItem.

Answers, in this order (seed 002's status updates):
- STORED: the item, with its processing status and times (sent, enqueued, first received, stored), the
  receives it took and its end-to-end latency;
- DEAD_LETTERED: found in the DLQ (by its eventId in the body, or the messageId it had), with the reason the
  consumer gave, or "maxReceiveCount reached" when SQS's redrive policy moved it;
- PENDING: neither stored nor dead-lettered while the queue still holds messages (visible or in flight): it
  is waiting or being retried. The main queue is not peeked: a receive would count against maxReceiveCount;
- UNKNOWN: nowhere and the queue is empty: never accepted, or older than the retention period.

Exit status 0 for STORED, 1 otherwise (or when AWS refused a call), so scripts can wait on it; 2 for a
usage error (a bare EVENT_ID with no vehicle and no index among them), found before any call. Reads only:
Query (and GetItem with the index), the DLQ tool's non-destructive scan, and the queue's attributes.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from boto3.dynamodb.conditions import Attr, Key

from cli.command_line import OneLineParser, UsageError, entry_point
from cli.queue_endpoint import QueueEndpoint, same_endpoint
from cli.stack_outputs import load_stack_outputs
from ops.dead_letter_queue import NO_REASON, dead_letter_keys, reason_of, scan

PROG = "python -m ops.status"

TIME_FIELDS = ("sentAt", "enqueuedAt", "receivedAt", "storedAt")
INDEX_OUTPUT = "eventIdIndex"  # the stack output naming the event-id index, when the stack has one


@dataclasses.dataclass(frozen=True)
class EventRef:
    """An event asked about: its id, and its vehicle when given (the table's partition key)."""

    event_id: str
    vehicle_id: str | None = None

    @classmethod
    def parse(cls, text: str, vehicle_id: str | None) -> EventRef:
        vehicle, slash, event_id = text.rpartition("/")
        return cls(event_id, vehicle) if slash else cls(text, vehicle_id)


def find_item(ref: EventRef, table: Any, index: str | None) -> dict | None:
    """The stored item of the event: on its vehicle's partition, else through the event-id index; the latest
    stored when a producer reused the id for several items."""
    if ref.vehicle_id is not None:
        query = {
            "KeyConditionExpression": Key("vehicleId").eq(ref.vehicle_id),
            "FilterExpression": Attr("eventId").eq(ref.event_id),
            "ConsistentRead": True,
        }
    else:  # an index answers eventually consistent reads only: the item itself is read after it
        query = {"IndexName": index, "KeyConditionExpression": Key("eventId").eq(ref.event_id)}
    found: list[dict] = []
    while True:
        page = table.query(**query)
        found += page["Items"]
        if "LastEvaluatedKey" not in page:
            break
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    if ref.vehicle_id is None:
        keys = [{"vehicleId": i["vehicleId"], "eventKey": i["eventKey"]} for i in found]
        found = [item for key in keys if (item := table.get_item(Key=key, ConsistentRead=True).get("Item"))]
    return max(found, key=lambda item: int(item.get("storedAt", 0)), default=None)


@dataclasses.dataclass(frozen=True)
class EventStatus:
    event_id: str
    state: str  # STORED, DEAD_LETTERED, PENDING, UNKNOWN
    detail: dict[str, Any]

    def line(self) -> str:
        return f"{self.event_id}: {self.state} " + json.dumps(self.detail, default=str, sort_keys=True)


def event_status(
    ref: EventRef,
    table: Any,
    sqs: Any,
    queue_url: str,
    dead_letters: Callable[[], list[dict]],
    index: str | None = None,
) -> EventStatus:
    """`dead_letters` returns the DLQ's messages; it is only called for events not in the table."""
    event_id = ref.event_id
    item = find_item(ref, table, index)
    if item:
        detail = {
            "status": item.get("status"),
            "attempts": int(item.get("attempts", 1)),
            "vehicleId": item.get("vehicleId"),
            **{name: int(item[name]) for name in TIME_FIELDS if name in item},
        }
        if "sentAt" in item:
            detail["latencyMs"] = int(item["storedAt"]) - int(item["sentAt"])
        return EventStatus(event_id, "STORED", detail)
    for message in dead_letters():
        if event_id in dead_letter_keys(message):
            reason = reason_of(message)
            receives = message.get("Attributes", {}).get("ApproximateReceiveCount")
            return EventStatus(
                event_id,
                "DEAD_LETTERED",
                {
                    "reason": "maxReceiveCount reached (moved by the redrive policy)"
                    if reason == NO_REASON
                    else reason,
                    "dlqMessageId": message["MessageId"],
                    "dlqReceives": int(receives) if receives else None,
                },
            )
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    visible = int(attributes["ApproximateNumberOfMessages"])
    in_flight = int(attributes["ApproximateNumberOfMessagesNotVisible"])
    state = "PENDING" if visible or in_flight else "UNKNOWN"
    return EventStatus(event_id, state, {"queueVisible": visible, "queueInFlight": in_flight})


def _parser() -> OneLineParser:
    parser = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "event_ids",
        nargs="+",
        metavar="EVENT_ID",
        help="VEHICLE_ID/EVENT_ID, or EVENT_ID with --vehicle (or on a stack with eventIdIndex: true)",
    )
    parser.add_argument("--vehicle", metavar="VEHICLE_ID", help="the vehicle of every bare EVENT_ID")
    parser.add_argument(
        "--stack-outputs",
        required=True,
        help="JSON of `pulumi stack output --json` (queueUrl, dlqUrl, tableName)",
    )
    return parser


@entry_point(PROG)
def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    outputs = load_stack_outputs(args.stack_outputs, ["queueUrl", "dlqUrl", "tableName"])
    refs = [EventRef.parse(text, args.vehicle) for text in args.event_ids]
    index = outputs.get(INDEX_OUTPUT) if isinstance(outputs.get(INDEX_OUTPUT), str) else None
    for ref in refs:
        if ref.vehicle_id is None and index is None:
            raise UsageError(
                f"EVENT_ID {ref.event_id} needs its vehicle: give VEHICLE_ID/{ref.event_id} or --vehicle"
                " VEHICLE_ID (the table is keyed by vehicle; a stack with eventIdIndex: true finds an event"
                " by its id alone)"
            )
    region = outputs.get("region") if isinstance(outputs.get("region"), str) else None
    queue = QueueEndpoint.of(outputs["queueUrl"], f"queueUrl of {args.stack_outputs}", region=region)
    dlq = QueueEndpoint.of(outputs["dlqUrl"], f"dlqUrl of {args.stack_outputs}", region=region)
    same_endpoint(queue, dlq, (f"queueUrl of {args.stack_outputs}", "dlqUrl"))
    table = queue.resource("dynamodb").Table(outputs["tableName"])
    sqs = queue.client("sqs")
    # Read the DLQ once for every event asked about, and only if one of them is not stored.
    dead_letters = functools.cache(lambda: scan(sqs, dlq.queue_url))
    states = [event_status(ref, table, sqs, queue.queue_url, dead_letters, index) for ref in refs]
    for status in states:
        print(status.line())
    return 0 if all(status.state == "STORED" for status in states) else 1


if __name__ == "__main__":
    sys.exit(main())
