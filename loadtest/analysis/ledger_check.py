"""The no-loss check: every message SQS accepted is stored exactly once or sits in the DLQ, never both.

A message neither stored nor dead-lettered but still in the queue when the run's drain deadline passed is
`pending` (the pipeline was too slow, nothing is gone); only one found nowhere is `lost`.

A stored item is found by its eventId (the SQS messageId for bodies without one); a dead letter by its
messageId, the `sourceMessageId` the consumer adds when it routes a poison message, or its body's eventId.
"""

from __future__ import annotations

import dataclasses
import itertools
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from loadtest.ledger import LedgerEntry
from ops.dead_letter_queue import dead_letter_keys


@dataclasses.dataclass(frozen=True)
class LedgerResult:
    accepted: int
    stored: int
    in_dlq: int
    lost: int
    duplicated: int
    poison_accepted: int
    # The same dead letter more than once: the consumer routed a poison message, then its invocation died
    # before the delete (a killed poller), and the redelivery was routed again. SQS sends are at-least-once;
    # nothing was stored, and a redrive stores a valid event once (its eventId), so this is not `duplicated`.
    extra_dead_letter_copies: int = 0
    pending: int = 0  # still queued at the deadline: not drained in time, not lost
    resent: int = 0  # messages that carried an event already sent (same eventId): not duplicates
    lost_ids: tuple[str, ...] = ()
    duplicated_ids: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.pending == 0

    def line(self) -> str:
        counts = ("lost", "pending", "duplicated", "in_dlq", "stored", "accepted")
        resent = f" resent={self.resent}" if self.resent else ""
        return " ".join(f"{name}={getattr(self, name)}" for name in counts) + resent

    def verdict(self) -> str:
        """One phrase: clean, or what is wrong."""
        problems = [
            f"{self.lost} lost (in no table, DLQ or queue)" if self.lost else "",
            f"{self.pending} still queued at the drain deadline" if self.pending else "",
            f"{self.duplicated} stored more than once" if self.duplicated else "",
        ]
        return "; ".join(p for p in problems if p) or "no message lost, pending or stored twice"


def check_ledger(
    entries: list[LedgerEntry],
    table_items: list[dict],
    dlq_messages: list[dict],
    queued_messages: list[dict] = (),
) -> LedgerResult:
    """`queued_messages`: what the main queue still held at the end (read without consuming)."""
    stored_counts = Counter(item["eventId"] for item in table_items)
    queued = set()
    for message in queued_messages:
        queued |= dead_letter_keys(message)  # the same ids: messageId and the body's eventId
    dead_counts: Counter[str] = Counter()
    for message in dlq_messages:
        dead_counts.update(dead_letter_keys(message))
    # A producer may send one event more than once (a resend: same eventId, new message). It is one event:
    # stored once is right, and the resends are counted apart, never as duplicates.
    messages_by_key: dict[str, list[str]] = {}
    for entry in entries:
        messages_by_key.setdefault(entry.event_id or entry.message_id, []).append(entry.message_id)
    lost, duplicated, stored, in_dlq, extra_copies, pending = [], [], 0, 0, 0, 0
    for key, message_ids in messages_by_key.items():
        times_stored = stored_counts[key]
        copies = max(dead_counts[key], *(dead_counts[m] for m in message_ids))
        extra_copies += max(0, copies - 1)
        times_dead = min(copies, 1)
        if times_stored + times_dead == 0:
            if key in queued or any(m in queued for m in message_ids):
                pending += 1
            else:
                lost.append(key)
        elif times_stored + times_dead > 1:
            duplicated.append(key)
        if times_stored:
            stored += 1
        elif times_dead:
            in_dlq += 1
    return LedgerResult(
        len(entries),
        stored,
        in_dlq,
        len(lost),
        len(duplicated),
        sum(e.poison for e in entries),
        extra_copies,
        pending,
        len(entries) - len(messages_by_key),
        tuple(lost),
        tuple(duplicated),
    )


def order_violations(items: list[dict]) -> int:
    """Pairs of consecutive events of one vehicle (by sentAt) stored in the opposite order: 0 is what a
    FIFO queue promises, when each vehicle has one sender (items without a sentAt are left out)."""
    by_vehicle: dict[str, list[tuple[int, int]]] = {}
    for item in items:
        if "sentAt" in item:
            by_vehicle.setdefault(item["vehicleId"], []).append((int(item["sentAt"]), int(item["storedAt"])))
    violations = 0
    for events in by_vehicle.values():
        stored = [stored_at for _, stored_at in sorted(events)]
        violations += sum(1 for earlier, later in itertools.pairwise(stored) if earlier > later)
    return violations


def scan_table(table: Any) -> list[dict]:
    """Every item, every attribute, as the boto3 resource gives them (what a test looks into)."""
    response = table.scan()
    items = response["Items"]
    for _ in range(100_000):  # bounded pagination
        if "LastEvaluatedKey" not in response:
            break
        response = table.scan(ExclusiveStartKey=response["LastEvaluatedKey"])
        items += response["Items"]
    return items


# What the ledger check, the FIFO order check and the report read of an item: nothing else is fetched.
LEDGER_ATTRIBUTES = ("eventId", "vehicleId", "sentAt", "storedAt")
PROGRESS_EVERY_S = 3.0


def scan_ledger_items(
    table: Any,
    expected: int | None = None,
    say: Callable[[str], None] | None = None,
    attributes: Sequence[str] = LEDGER_ATTRIBUTES,
) -> list[dict]:
    """Every item's `attributes` (strings and numbers as ints), for the final ledger check: the low-level
    client with a projection, so neither side builds what the check never reads (measured on moto_server,
    20,000 items: 9.2 s against 18.8 s for `scan_table`). `say` gets a line every few seconds:
    items read so far, of `expected` (the accepted count), and the seconds it took."""
    import boto3

    # Not the resource's own client: that one turns every attribute into Python (Decimals) as it reads.
    resource_client = table.meta.client
    client = boto3.client(
        "dynamodb",
        region_name=resource_client.meta.region_name,
        endpoint_url=resource_client.meta.endpoint_url,
    )
    name = table.name
    names = {f"#a{n}": attribute for n, attribute in enumerate(attributes)}
    request = {"TableName": name, "ProjectionExpression": ", ".join(names), "ExpressionAttributeNames": names}
    items: list[dict] = []
    started = last_said = time.monotonic()
    for _ in range(100_000):  # bounded pagination
        response = client.scan(**request)
        items += [{key: _plain(value) for key, value in item.items()} for item in response["Items"]]
        if say and time.monotonic() - last_said >= PROGRESS_EVERY_S:
            last_said = time.monotonic()
            of = f" of {expected:,} accepted" if expected else ""
            say(f"{len(items):,} items read{of} ({last_said - started:.0f} s)")
        if "LastEvaluatedKey" not in response:
            break
        request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
    return items


def _plain(value: dict) -> Any:
    """A string or number attribute as Python's str or int (float for a fraction); others as given."""
    (kind, content), *_ = value.items()
    if kind == "N":
        number = float(content)
        return (
            int(number)
            if number.is_integer() and "." not in content and "e" not in content.lower()
            else number
        )
    return content
