"""Fault injection for the chaos run, the drills and the FIFO test: transient DynamoDB failures, a DynamoDB
outage, and invocations that overrun their timeout.

Only the local event source mapping's pollers inject faults (consumers/esm_runner.py): they wrap the handler's
store and delay an invocation past its deadline from outside the handler, which is deployed without any of
this (its package does not even hold this module). The faults come in the pollers' environment as
VEHICLE_PIPELINE_FAULTS, e.g. `dynamodb_failure_ratio=0.01,overrun_ratio=0.01`,
`dynamodb_outage_flag=/tmp/outage` (every write fails while that file exists: the outage drill creates and
removes it while the pollers run), or `slow_invocation_ms=200` (every invocation holds its execution
environment that much longer: the back-off drill's slow downstream).
"""

from __future__ import annotations

import dataclasses
import os
import random
import time
from collections.abc import Sequence
from typing import Any

from consumer.event_store import KEY_ATTRIBUTE, EventStore, WriteResult

ENV_VAR = "VEHICLE_PIPELINE_FAULTS"
INJECTED_CODE = "ProvisionedThroughputExceededException"  # what DynamoDB throttling looks like to the store
OUTAGE_CODE = "ServiceUnavailable"  # what an unavailable DynamoDB looks like to the store


@dataclasses.dataclass(frozen=True)
class Faults:
    dynamodb_failure_ratio: float = 0.0  # share of items whose write fails as throttled
    overrun_ratio: float = 0.0  # share of invocations that run past their timeout
    dynamodb_outage_flag: str = ""  # a file: while it exists, every write fails
    slow_invocation_ms: float = 0.0  # every invocation takes this much longer (a slow downstream)

    @classmethod
    def parse(cls, text: str) -> Faults:
        values: dict[str, Any] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            name, _, value = part.partition("=")
            if name not in {f.name for f in dataclasses.fields(cls)}:
                raise ValueError(f"{ENV_VAR}: unknown fault {name!r}")
            if name == "dynamodb_outage_flag":
                values[name] = value
                continue
            if name == "slow_invocation_ms":
                values[name] = float(value)
                if not 0 <= values[name] <= 60_000:
                    raise ValueError(f"{ENV_VAR}: {name}={value} must be 0–60000 ms")
                continue
            ratio = float(value)
            if not 0 <= ratio <= 1:
                raise ValueError(f"{ENV_VAR}: {name}={value} must be a ratio between 0 and 1")
            values[name] = ratio
        return cls(**values)


class FaultInjectingStore:
    """Fails a random share of items as throttled, without writing them; writes the others for real."""

    def __init__(self, store: EventStore, failure_ratio: float, rng: random.Random | None = None):
        self._store = store
        self._ratio = failure_ratio
        self._rng = rng or random.Random()

    def put_events(self, items: Sequence[dict[str, Any]], deadline: float | None = None) -> WriteResult:
        doomed = {item[KEY_ATTRIBUTE] for item in items if self._rng.random() < self._ratio}
        spared = [item for item in items if item[KEY_ATTRIBUTE] not in doomed]
        result = self._store.put_events(spared, deadline) if spared else WriteResult()
        result.failed.update(dict.fromkeys(doomed, INJECTED_CODE))
        return result


class OutageStore:
    """Fails every item, without writing it, while the outage flag file exists."""

    def __init__(self, store: EventStore, flag: str):
        self._store = store
        self._flag = flag

    def put_events(self, items: Sequence[dict[str, Any]], deadline: float | None = None) -> WriteResult:
        if not os.path.exists(self._flag):
            return self._store.put_events(items, deadline)
        result = WriteResult()
        result.failed.update(dict.fromkeys((item[KEY_ATTRIBUTE] for item in items), OUTAGE_CODE))
        return result


def with_faults(store: EventStore, faults: Faults) -> EventStore:
    if faults.dynamodb_failure_ratio:
        store = FaultInjectingStore(store, faults.dynamodb_failure_ratio)
    if faults.dynamodb_outage_flag:
        store = OutageStore(store, faults.dynamodb_outage_flag)
    return store


_RNG = random.Random()


def maybe_overrun(faults: Faults, context: Any, rng: random.Random = _RNG) -> None:
    """Sleep past the invocation's deadline, as a stuck downstream call would (the runner times it out), or
    for the slow invocation's extra time."""
    if faults.overrun_ratio and rng.random() < faults.overrun_ratio:
        time.sleep(context.get_remaining_time_in_millis() / 1000 + 1)
    elif faults.slow_invocation_ms:
        time.sleep(faults.slow_invocation_ms / 1000)
