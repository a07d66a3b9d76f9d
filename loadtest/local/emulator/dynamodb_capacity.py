"""DynamoDB pushes back on the embedded AWS as it does on AWS: every write is charged to its table's capacity.

moto never throttles, so a pipeline whose pollers can write faster than its table absorbs looked fine here
and failed on AWS. This layer charges each write as DynamoDB does and refuses what the capacity cannot take:

- a write costs one write unit per KB of the item, rounded up, in the table, and as much for its entry in
  each global secondary index it lands in, from that index's own capacity; an index that cannot take its
  entry refuses the table write too (DynamoDB Developer Guide, "Read/write capacity mode", "Global secondary
  indexes: provisioned throughput considerations" — a throttled index throttles its table, "back pressure");
- provisioned tables and indexes: WriteCapacityUnits a second, and unused capacity kept up to 300 seconds as
  burst capacity ("DynamoDB burst and adaptive capacity"); a new table starts with one second's worth (the
  page does not say what a new table holds: assumed, so a run meets its table's real rate within a second);
- on-demand tables: a new table serves up to 4,000 write units a second at once, and DynamoDB "instantly
  accommodates up to double the previous peak" ("DynamoDB on-demand capacity mode", "Initial throughput and
  scaling properties"); the peak here is the highest second seen;
- one partition serves at most 1,000 write units a second ("burst and adaptive capacity"); one partition key's
  writes stay in one partition, so each partition key value gets that ceiling here;
- the answers: BatchWriteItem returns what it could not write as UnprocessedItems, and fails with
  ProvisionedThroughputExceededException when it could write none of them; PutItem fails with it (DynamoDB API
  Reference, "BatchWriteItem", "PutItem").

`install()` wraps moto's DynamoDB handlers in the emulator's process (loadtest/local/emulator/__main__.py).
The consumer meets the pushback as on AWS (UnprocessedItems it retries, throttled calls) and counts it.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
from typing import Any

from loadtest.local.emulator.request_counter import TableSchema, item_size

UNIT_BYTES = 1024
BURST_SECONDS = 300  # unused provisioned capacity kept this long
ON_DEMAND_NEW_TABLE_UNITS = 4_000  # write units a second a new on-demand table serves at once
PARTITION_UNITS = 1_000  # write units a second one partition serves
THROTTLED = "ProvisionedThroughputExceededException"


def write_units(size_bytes: int) -> int:
    return max(1, math.ceil(size_bytes / UNIT_BYTES))


@dataclasses.dataclass
class Budget:
    """A token bucket of write units: `rate` a second, at most `burst` kept."""

    rate: float
    burst: float
    tokens: float
    at: float

    @classmethod
    def full_second(cls, rate: float, burst_seconds: float, now: float) -> Budget:
        return cls(rate, rate * burst_seconds, rate, now)

    def refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now


@dataclasses.dataclass
class OnDemand:
    """An on-demand table or index: up to twice its previous peak (4,000 for a new one) in any second."""

    peak: float = ON_DEMAND_NEW_TABLE_UNITS / 2
    second: int = -1
    used: float = 0.0

    def room(self, now: float) -> float:
        if int(now) != self.second:
            self.peak = max(self.peak, self.used)
            self.second, self.used = int(now), 0.0
        return 2 * self.peak - self.used


class Capacity:
    """One table's or index's write capacity, by its billing mode."""

    def __init__(self, provisioned_units: int | None, now: float):
        self._budget = (
            Budget.full_second(provisioned_units, BURST_SECONDS, now) if provisioned_units else None
        )
        self._on_demand = OnDemand() if provisioned_units is None else None

    def room(self, now: float) -> float:
        if self._budget is not None:
            self._budget.refill(now)
            return self._budget.tokens
        return self._on_demand.room(now)

    def take(self, units: float) -> None:
        if self._budget is not None:
            self._budget.tokens -= units
        else:
            self._on_demand.used += units


class TableCapacity:
    """A table, its global secondary indexes and its partitions, each with its capacity."""

    def __init__(self, description: dict, now: float):
        self.schema = TableSchema(description)
        on_demand = description.get("BillingModeSummary", {}).get("BillingMode") == "PAY_PER_REQUEST"

        def units(throughput: dict | None) -> int | None:
            return None if on_demand else int((throughput or {}).get("WriteCapacityUnits") or 0) or None

        self.table = Capacity(units(description.get("ProvisionedThroughput")), now)
        self.indexes = {
            index["IndexName"]: Capacity(units(index.get("ProvisionedThroughput")), now)
            for index in description.get("GlobalSecondaryIndexes", [])
        }
        self.hash_key = self.schema.keys[0] if self.schema.keys else None
        self.partitions: dict[str, Budget] = {}
        self.throttled_items = 0
        self.consumed_units = 0.0

    def admit(self, item: dict, now: float) -> bool:
        """Charge the item's write, all or nothing; False: throttled, nothing written or charged."""
        units = write_units(item_size(item))
        charges = [(self.table, units)]
        charges += [
            (self.indexes[name], write_units(size))
            for name, size in self.schema.index_entry_sizes(item).items()
            if name in self.indexes
        ]
        partition = self._partition(item, now)
        if any(capacity.room(now) < cost for capacity, cost in charges) or (
            partition is not None and partition.tokens < units
        ):
            self.throttled_items += 1
            return False
        for capacity, cost in charges:
            capacity.take(cost)
        if partition is not None:
            partition.tokens -= units
        self.consumed_units += sum(cost for _, cost in charges)
        return True

    def _partition(self, item: dict, now: float) -> Budget | None:
        if self.hash_key is None or self.hash_key not in item:
            return None
        key = str(item[self.hash_key])
        budget = self.partitions.get(key)
        if budget is None:
            budget = self.partitions[key] = Budget.full_second(PARTITION_UNITS, 1, now)
        budget.refill(now)
        return budget


class CapacityBook:
    """Every table's capacity in the emulator, created from the table's own description on first write."""

    def __init__(self):
        self.lock = threading.Lock()
        self._tables: dict[str, TableCapacity] = {}

    def table(self, backend: Any, name: str, now: float) -> TableCapacity:
        capacity = self._tables.get(name)
        if capacity is None:
            description = backend.describe_table(name)["Table"]
            capacity = self._tables[name] = TableCapacity(description, now)
        return capacity

    def forget(self, name: str) -> None:
        self._tables.pop(name, None)


BOOK = CapacityBook()


def _throttled() -> Exception:
    from moto.dynamodb.exceptions import DynamodbException

    error = DynamodbException(
        "com.amazonaws.dynamodb.v20120810#" + THROTTLED,
        "The level of configured provisioned throughput for the table was exceeded. Consider increasing your"
        " provisioning level with the UpdateTable API.",
    )
    return error


def charged_batch_write_item(original):
    def batch_write_item(self):
        now = time.monotonic()
        admitted: dict[str, list] = {}
        unprocessed: dict[str, list] = {}
        with BOOK.lock:
            for name, entries in self.body.get("RequestItems", {}).items():
                table = BOOK.table(self.dynamodb_backend, name, now)
                for entry in entries:
                    item = (
                        entry["PutRequest"]["Item"]
                        if "PutRequest" in entry
                        else entry["DeleteRequest"]["Key"]
                    )
                    target = admitted if table.admit(item, now) else unprocessed
                    target.setdefault(name, []).append(entry)
        if unprocessed and not admitted:
            raise _throttled()
        self.body["RequestItems"] = admitted
        result = original(self)
        result.result["UnprocessedItems"] = unprocessed
        return result

    return batch_write_item


def charged_put_item(original):
    def put_item(self):
        now = time.monotonic()
        with BOOK.lock:
            admitted = BOOK.table(self.dynamodb_backend, self.body["TableName"], now).admit(
                self.body["Item"], now
            )
        if not admitted:
            raise _throttled()
        return original(self)

    return put_item


def forgetting_delete_table(original):
    def delete_table(self):
        with BOOK.lock:
            BOOK.forget(self.body.get("TableName", ""))
        return original(self)

    return delete_table


def install() -> None:
    from moto.dynamodb.responses import DynamoHandler

    DynamoHandler.batch_write_item = charged_batch_write_item(DynamoHandler.batch_write_item)
    DynamoHandler.put_item = charged_put_item(DynamoHandler.put_item)
    DynamoHandler.delete_table = forgetting_delete_table(DynamoHandler.delete_table)
