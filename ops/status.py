"""Where is my event? `python -m ops.status EVENT_ID --stack-outputs build/dev-outputs.json`.

Answers, in this order (seed 002's status updates):
- STORED: the item, with its processing status and times (sent, enqueued, first received, stored), the
  receives it took and its end-to-end latency;
- DEAD_LETTERED: found in the DLQ (by its eventId in the body, or the messageId it had), with the reason the
  consumer gave, or "maxReceiveCount reached" when SQS's redrive policy moved it;
- PENDING: neither stored nor dead-lettered while the queue still holds messages (visible or in flight): it
  is waiting or being retried. The main queue is not peeked: a receive would count against maxReceiveCount;
- UNKNOWN: nowhere and the queue is empty: never accepted, or older than the retention period.

Exit status 0 for STORED, 1 otherwise (or when AWS refused a call), so scripts can wait on it; 2 for a
usage error, found before any call. Reads only: GetItem, the DLQ tool's non-destructive scan, and the
queue's attributes.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from cli.command_line import OneLineParser, entry_point
from cli.queue_endpoint import QueueEndpoint, same_endpoint
from cli.stack_outputs import load_stack_outputs
from ops.dead_letter_queue import NO_REASON, dead_letter_keys, reason_of, scan

PROG = "python -m ops.status"

TIME_FIELDS = ("sentAt", "enqueuedAt", "receivedAt", "storedAt")


@dataclasses.dataclass(frozen=True)
class EventStatus:
    event_id: str
    state: str  # STORED, DEAD_LETTERED, PENDING, UNKNOWN
    detail: dict[str, Any]

    def line(self) -> str:
        return f"{self.event_id}: {self.state} " + json.dumps(self.detail, default=str, sort_keys=True)


def event_status(
    event_id: str, table: Any, sqs: Any, queue_url: str, dead_letters: Callable[[], list[dict]]
) -> EventStatus:
    """`dead_letters` returns the DLQ's messages; it is only called for events not in the table."""
    item = table.get_item(Key={"eventId": event_id}, ConsistentRead=True).get("Item")
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
    parser.add_argument("event_ids", nargs="+", metavar="EVENT_ID")
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
    region = outputs.get("region") if isinstance(outputs.get("region"), str) else None
    queue = QueueEndpoint.of(outputs["queueUrl"], f"queueUrl of {args.stack_outputs}", region=region)
    dlq = QueueEndpoint.of(outputs["dlqUrl"], f"dlqUrl of {args.stack_outputs}", region=region)
    same_endpoint(queue, dlq, (f"queueUrl of {args.stack_outputs}", "dlqUrl"))
    table = queue.resource("dynamodb").Table(outputs["tableName"])
    sqs = queue.client("sqs")
    # Read the DLQ once for every event asked about, and only if one of them is not stored.
    dead_letters = functools.cache(lambda: scan(sqs, dlq.queue_url))
    states = [event_status(e, table, sqs, queue.queue_url, dead_letters) for e in args.event_ids]
    for status in states:
        print(status.line())
    return 0 if all(status.state == "STORED" for status in states) else 1


if __name__ == "__main__":
    sys.exit(main())
