"""Copy a deployed stack's history into the table keyed by vehicle.

    python -m ops.migrate_table --from vehicle-pipeline-dev-vehicle-events --stack-outputs FILE

Before issue 25 the table (`…-vehicle-events`) was keyed by `eventId`, with a `byVehicle` index written beside
every item; the table the stack declares now (`tableName`, `…-vehicle-history`) is keyed by vehicle, then time
and event id (README, Table design). DynamoDB cannot change a key, so the program creates the new table and
this tool copies the old one's items into it, each with the key the consumer gives the same event today
(consumer/stored_item.py): `<sentAt>#<eventId>`, or for an event keyed by a message id the SentTimestamp the
item recorded (`enqueuedAt`), or `0#<eventId>` for an eventId without sentAt. Every attribute is kept.

It reads the old table (Scan, consistent) and writes the new one (BatchWriteItem, unprocessed items retried);
the old table is never written. Copying is idempotent: an item copied twice, or an event the consumer stored
in the new table meanwhile, is one item. It prints the items read and written and the new table's count:
compare, then delete the old table by hand (`aws dynamodb update-table --no-deletion-protection-enabled`, then
`delete-table`). Exit status 0 when every item read was written, 1 otherwise or when AWS refused a call, 2 for
a usage error.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Sequence
from typing import Any

from cli.command_line import OneLineParser, entry_point
from cli.queue_endpoint import QueueEndpoint
from cli.stack_outputs import load_stack_outputs
from consumer.stored_item import ID_ATTRIBUTE, PARTITION_KEY, SORT_KEY, event_key

PROG = "python -m ops.migrate_table"


def key_time(item: dict[str, Any]) -> int:
    """The time the consumer puts in the key of this event today, from what the old item recorded."""
    if "sentAt" in item:
        return int(item["sentAt"])
    if item.get("keySource", "eventId") == "eventId":
        return 0
    return int(item.get("enqueuedAt", 0))


def migrated(item: dict[str, Any]) -> dict[str, Any]:
    """The old item with the new table's sort key (its partition key, vehicleId, it has already)."""
    return {**item, SORT_KEY: event_key(key_time(item), str(item[ID_ATTRIBUTE]))}


def scan(table: Any) -> Iterator[dict[str, Any]]:
    query: dict[str, Any] = {"ConsistentRead": True}
    while True:
        page = table.scan(**query)
        yield from page["Items"]
        if "LastEvaluatedKey" not in page:
            return
        query["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def copy(old: Any, new: Any) -> tuple[int, int]:
    """Items read from `old` and written to `new` (the resource layer's batch writer: 25 a call, unprocessed
    items sent again); an old item without a vehicle cannot be placed and is skipped."""
    read = written = 0
    with new.batch_writer(overwrite_by_pkeys=[PARTITION_KEY, SORT_KEY]) as batch:
        for item in scan(old):
            read += 1
            if PARTITION_KEY in item and ID_ATTRIBUTE in item:
                batch.put_item(Item=migrated(item))
                written += 1
    return read, written


def _parser() -> OneLineParser:
    parser = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0].rstrip("."))
    parser.add_argument(
        "--from", dest="old", required=True, metavar="TABLE", help="the table of the earlier key design"
    )
    parser.add_argument(
        "--stack-outputs", required=True, help="JSON of `pulumi stack output --json` (queueUrl, tableName)"
    )
    return parser


@entry_point(PROG)
def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    outputs = load_stack_outputs(args.stack_outputs, ["queueUrl", "tableName"])
    region = outputs.get("region") if isinstance(outputs.get("region"), str) else None
    queue = QueueEndpoint.of(outputs["queueUrl"], f"queueUrl of {args.stack_outputs}", region=region)
    dynamodb = queue.resource("dynamodb")
    new = dynamodb.Table(outputs["tableName"])
    read, written = copy(dynamodb.Table(args.old), new)
    count = sum(1 for _ in scan(new))
    table = outputs["tableName"]
    print(f"read {read} items from {args.old}, wrote {written} to {table}, which holds {count}")
    return 0 if read == written else 1


if __name__ == "__main__":
    sys.exit(main())
