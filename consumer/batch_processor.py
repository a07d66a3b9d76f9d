"""Powertools' BatchProcessor, with the valid records of a batch stored in bulk.

The record handler only validates and builds the item (one record at a time, as Powertools runs it); this
processor then writes all items of the batch with BatchWriteItem and turns records whose write failed into
batch item failures. Per-record writes would cost one DynamoDB call per record; this costs one per 25.

Records from a FIFO queue (they carry a MessageGroupId) keep their group's order the way Powertools'
SqsFifoPartialProcessor(skip_group_on_error=True) does: once a record of a group fails, every later record
of that group in the batch is reported failed too, and other groups go on.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType

from consumer.dead_letters import DeadLetterRouter
from consumer.event_store import KEY_ATTRIBUTE, THROTTLING_CODES, EventStore, ItemKey, item_key
from consumer.vehicle_event import InvalidEvent

# Lambda's deadline minus this share of the time left (at most DEADLINE_MARGIN_S): what the store may spend
# retrying, so the partial batch response always gets back before the function's timeout.
DEADLINE_SHARE = 0.25
DEADLINE_MARGIN_S = 1.0


def write_failure_reason(code: str) -> str:
    if code == "UnprocessedItems":
        return "unprocessed"
    return "throttled" if code in THROTTLING_CODES else "dynamodb_error"


class MessageGroupBlocked(RuntimeError):
    """An earlier record of this FIFO message group failed: this one waits, so the group stays in order."""


class StoreWriteError(RuntimeError):
    """The record was valid but DynamoDB did not take it: transient, SQS retries it."""


@dataclasses.dataclass
class BatchOutcome:
    records: int = 0
    stored: int = 0
    duplicates_in_batch: int = 0
    invalid: Counter = dataclasses.field(default_factory=Counter)  # reason -> count
    routed_to_dlq: Counter = dataclasses.field(default_factory=Counter)  # reason -> count sent to the DLQ
    write_failures: Counter = dataclasses.field(default_factory=Counter)  # write_failure_reason -> count
    unexpected_errors: int = 0
    held_back: int = 0  # FIFO records reported failed because an earlier record of their group failed
    dynamodb_calls: int = 0
    unprocessed_retries: int = 0
    latencies_ms: list[int] = dataclasses.field(default_factory=list)  # sentAt -> stored, per stored event
    # What the trace records once per batch (handler.py): the events it held, and what it rejected.
    event_ids: list[str] = dataclasses.field(default_factory=list)  # idempotency keys of the valid records
    rejected: list[tuple[str, str]] = dataclasses.field(default_factory=list)  # (messageId, reason)

    def totals(self) -> dict[str, int]:
        """The counts the local runners add up across invocations (Lambda's poller and the worker)."""
        return {
            "stored": self.stored,
            "routed_to_dlq": sum(self.routed_to_dlq.values()),
            "write_failures": sum(self.write_failures.values()),
        }

    @property
    def failed(self) -> int:
        """Records reported in batchItemFailures (SQS will deliver them again)."""
        rejected_in_place = sum(self.invalid.values()) - sum(self.routed_to_dlq.values())
        return rejected_in_place + sum(self.write_failures.values()) + self.unexpected_errors + self.held_back


class StoringBatchProcessor(BatchProcessor):
    def __init__(
        self,
        store_factory: Callable[[], EventStore],
        router_factory: Callable[[], DeadLetterRouter | None] = lambda: None,
        logger: Any = None,
    ):
        # Never raise on an all-failed batch: the response lists every failure, so SQS retries exactly those
        # and an invalid message can never take the whole batch (or the invocation) down.
        super().__init__(EventType.SQS, raise_on_entire_batch_failure=False, logger=logger)
        self._store_factory = store_factory
        self._store: EventStore | None = None
        self._router_factory = router_factory
        self._router: DeadLetterRouter | None = None
        self._router_resolved = False
        self.outcome = BatchOutcome()

    @property
    def store(self) -> EventStore:
        if self._store is None:
            self._store = self._store_factory()
        return self._store

    @property
    def router(self) -> DeadLetterRouter | None:
        if not self._router_resolved:
            self._router, self._router_resolved = self._router_factory(), True
        return self._router

    def use_router(self, router: DeadLetterRouter | None) -> None:
        """Inject a DLQ router, or None to report invalid records as failures instead of routing them."""
        self._router, self._router_resolved = router, True

    def use_store(self, store: EventStore | None) -> None:
        """Inject a store (tests, the local runner); None goes back to the factory on next use."""
        self._store = store

    def __call__(self, records: list[dict], handler: Callable, lambda_context: Any = None):
        self._context = lambda_context  # this batch's: Powertools keeps the last one it was given
        return super().__call__(records, handler, lambda_context)

    def _write_deadline(self) -> float | None:
        """When the store must stop retrying: the invocation's end less a margin (None outside Lambda)."""
        context = getattr(self, "_context", None)
        if context is None or not hasattr(context, "get_remaining_time_in_millis"):
            return None
        remaining = context.get_remaining_time_in_millis() / 1000
        return time.monotonic() + remaining - min(DEADLINE_MARGIN_S, remaining * DEADLINE_SHARE)

    def process(self) -> list[tuple]:
        self.outcome = BatchOutcome(records=len(self.records))
        results = super().process()  # validation: success results carry the item to store
        for record, (_, exc, _) in zip(self.fail_messages, self.exceptions, strict=True):
            if isinstance(exc, InvalidEvent):
                self.outcome.invalid[exc.reason] += 1
                self.outcome.rejected.append((record.message_id, exc.reason))
            else:
                self.outcome.unexpected_errors += 1
        valid = [(raw, item) for status, item, raw in results if status == "success"]
        self.outcome.event_ids = [item[KEY_ATTRIBUTE] for _, item in valid]
        self._route_permanent_failures()
        stored = self._store_items(self._hold_back_blocked_groups(valid))
        self._hold_back_blocked_groups(stored)  # a write failure blocks the rest of its group too
        self._report_failures_in_batch_order()
        return results

    def _hold_back_blocked_groups(self, candidates: list[tuple[dict, dict]]) -> list[tuple[dict, dict]]:
        """Fail the candidates that follow a failed record of their FIFO message group; return the others."""
        if not self.fail_messages:
            return candidates  # nothing failed, nothing waits (the usual batch: no pass over its records)
        failed = {record.message_id for record in self.fail_messages}
        blocked_groups: set[str] = set()
        blocked: set[str] = set()
        for raw in self.records:
            group = raw.get("attributes", {}).get("MessageGroupId")
            if group in blocked_groups:
                blocked.add(raw["messageId"])
            elif group is not None and raw["messageId"] in failed:
                blocked_groups.add(group)
        kept = []
        for raw, item in candidates:
            if raw["messageId"] in blocked:
                self.outcome.held_back += 1
                self._fail_success(raw, MessageGroupBlocked("an earlier record of this message group failed"))
            else:
                kept.append((raw, item))
        return kept

    def _report_failures_in_batch_order(self) -> None:
        if not self.fail_messages:
            return
        position = {record["messageId"]: index for index, record in enumerate(self.records)}
        failures = sorted(
            zip(self.fail_messages, self.exceptions, strict=True), key=lambda f: position[f[0].message_id]
        )
        self.fail_messages[:] = [record for record, _ in failures]
        self.exceptions[:] = [info for _, info in failures]

    def _route_permanent_failures(self) -> None:
        """Invalid records go to the DLQ now and count as handled; retrying them could never succeed."""
        rejected = [
            (record, exc)
            for record, (_, exc, _) in zip(self.fail_messages, self.exceptions, strict=True)
            if isinstance(exc, InvalidEvent)
        ]
        if not rejected or self.router is None:
            return
        routed = self.router.route([(record, exc.reason, exc.detail) for record, exc in rejected])
        still_failed = [
            (record, info)
            for record, info in zip(self.fail_messages, self.exceptions, strict=True)
            if record.message_id not in routed
        ]
        self.fail_messages[:] = [record for record, _ in still_failed]
        self.exceptions[:] = [info for _, info in still_failed]
        for record, exc in rejected:
            if record.message_id in routed:
                self.success_messages.append(record.raw_event)
                self.outcome.routed_to_dlq[exc.reason] += 1

    def _store_items(self, valid: list[tuple[dict, dict]]) -> list[tuple[dict, dict]]:
        """Write the valid items; fail the records whose write failed; return the stored (record, item)s."""
        unique: dict[ItemKey, dict] = {}
        for _, item in valid:
            if item_key(item) in unique:
                self.outcome.duplicates_in_batch += 1  # same event twice in one batch: stored once
            else:
                unique[item_key(item)] = item
        if not unique:
            return []
        written = self.store.put_events(list(unique.values()), deadline=self._write_deadline())
        self.outcome.dynamodb_calls += written.calls
        self.outcome.unprocessed_retries += written.unprocessed_retries
        stored = []
        for raw, item in valid:
            reason = written.failed.get(item[KEY_ATTRIBUTE])
            if reason is None:
                stored.append((raw, item))
                self.outcome.stored += 1
                if "sentAt" in item:
                    self.outcome.latencies_ms.append(item["storedAt"] - item["sentAt"])
            else:
                self.outcome.write_failures[write_failure_reason(reason)] += 1
                self._fail_success(raw, StoreWriteError(f"DynamoDB did not store the item: {reason}"))
        return stored

    def _fail_success(self, raw: dict, error: Exception) -> None:
        """Turn a record that had passed validation into a batch item failure."""
        self.success_messages.remove(raw)
        self.failure_handler(
            record=self._to_batch_type(raw, self.event_type), exception=(type(error), error, None)
        )


def now_ms() -> int:
    return time.time_ns() // 1_000_000
