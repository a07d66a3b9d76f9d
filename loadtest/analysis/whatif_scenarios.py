"""A stack as AWS would run it, for the what-if: its mapping in standard or provisioned mode, its function's
concurrency and memory, its queue and table, and what a batch costs at its memory.

A batch's duration on Lambda is built from what the handler measurably costs here and from AWS's rules:

- CPU: the handler's CPU per record on one core of this machine (`make bench`, tracing on, the consumer
  benchmark: `HandlerCost`), stretched by the function's share of a vCPU (memory / 1,769 MB, Lambda
  developer guide, "Configuring function memory"); one local core is taken as one Lambda vCPU (ASSUMED:
  the local core is an x86 laptop-class core, Lambda's arm64 a Graviton core);
- writes: one BatchWriteItem per 25 records, one after another (consumer/event_store.py), each
  `DYNAMODB_WRITE_SECONDS` (ASSUMED: DynamoDB promises "single-digit millisecond" latency per request,
  DYNAMODB_ON_DEMAND; 8 ms from inside Lambda with the SDK's own time);
- spread: a lognormal with the coefficient of variation of the local run's batch durations.

Modes: "standard" is the stack's mapping in standard mode (its maxConcurrency; a provisioned stack's 10 ×
maximum pollers, at most 1,000); "provisioned" is the stack's provisionedPollers, or for a standard stack the
twin `TWIN_POLLERS` (minimum 2, AWS's default; maximum 90: 900 concurrent invokes, what one function can
reserve on an account with the default 1,000, aws_runtime_rules.UNRESERVED_MINIMUM).
"""

from __future__ import annotations

import dataclasses
import math

from infra.settings import ProvisionedPollers, StackSettings, from_stack_file
from loadtest.analysis import aws_runtime_rules as rules
from loadtest.analysis.mapping_rules import INVOKES_PER_POLLER, MappingScaling
from loadtest.analysis.whatif_model import BatchTiming, Pipeline, TableSpec

MODES = ("standard", "provisioned")
TWIN_POLLERS = ProvisionedPollers(2, 90)
STANDARD_MAX_CONCURRENCY = 1_000  # ScalingConfig's maximum (infra/aws_limits.ESM_MAX_CONCURRENCY)
BATCH_WRITE_ITEMS = 25  # BatchWriteItem's limit; the consumer writes a batch in chunks of 25
DYNAMODB_WRITE_SECONDS = 0.008
RECEIVE_SECONDS = 0.02  # ASSUMED: a ReceiveMessage from the mapping's poller, before the invoke (e2e only)


@dataclasses.dataclass(frozen=True)
class HandlerCost:
    """What the handler costs, measured here: CPU per record on one full core, and how batches spread."""

    cpu_ms_per_record: float
    batch_spread: float  # coefficient of variation of a batch's duration
    message_bytes: float  # a message's body
    write_units_per_event: float  # in the table
    index_write_units_per_event: float  # in the table's global secondary indexes (0: none)
    source: str

    def batch_timing(self, memory_mb: int, batch_size: int) -> BatchTiming:
        """A batch's duration on Lambda at `memory_mb`: CPU stretched by the vCPU share, plus its writes."""
        share = rules.cpu_share(memory_mb)
        per_record = self.cpu_ms_per_record / 1000 / share
        writes = math.ceil(batch_size / BATCH_WRITE_ITEMS) * DYNAMODB_WRITE_SECONDS
        # The writes scale with the batch (a chunk of 25 at a time): per record, as the fill varies.
        return BatchTiming(0.0, per_record + writes / batch_size, self.batch_spread)


@dataclasses.dataclass(frozen=True)
class Overrides:
    """What a what-if changes in the stack (None: as the stack declares)."""

    max_concurrency: int | None = None
    pollers: ProvisionedPollers | None = None
    reserved_concurrency: int | None = None
    account_concurrency: int = rules.ACCOUNT_CONCURRENCY
    table_warm_wru: float | None = None  # on-demand: the previous peak the table already served


def mapping_for(settings: StackSettings, mode: str, overrides: Overrides) -> MappingScaling:
    if mode == "standard":
        configured = (
            settings.max_concurrency
            if settings.provisioned_pollers is None
            else min(STANDARD_MAX_CONCURRENCY, settings.mapping_max_concurrency)
        )
        return MappingScaling.standard(overrides.max_concurrency or configured)
    if mode == "provisioned":
        pollers = overrides.pollers or settings.provisioned_pollers or TWIN_POLLERS
        return MappingScaling.provisioned(pollers.minimum, pollers.maximum)
    raise ValueError(f"mode {mode!r}: choose one of {', '.join(MODES)}")


def function_limit(settings: StackSettings, scaling: MappingScaling, overrides: Overrides) -> int:
    """Concurrent executions Lambda grants: the reservation (the stack's, else its mapping's maximum, as the
    program reserves it), within what the account lets one function reserve."""
    reserved = overrides.reserved_concurrency
    if reserved is None:
        reserved = (
            settings.reserved_concurrency_override
            if settings.reserved_concurrency_override is not None
            else scaling.maximum
        )
    return rules.function_concurrency_limit(reserved, overrides.account_concurrency)


def aws_pipeline(
    stack: str,
    settings: StackSettings,
    mode: str,
    cost: HandlerCost,
    overrides: Overrides = Overrides(),
) -> Pipeline:
    scaling = mapping_for(settings, mode, overrides)
    provisioned_table = settings.billing_mode == "PROVISIONED"
    warm = overrides.table_warm_wru or rules.ON_DEMAND_NEW_TABLE_WRU / rules.ON_DEMAND_PEAK_MULTIPLIER
    return Pipeline(
        name=f"{stack} {describe(scaling)}",
        scaling=scaling,
        batch_size=settings.batch_size,
        batching_window_s=settings.batching_window_seconds,
        visibility_timeout_s=settings.queue_visibility_timeout_seconds,
        max_receive_count=settings.max_receive_count,
        function_limit=function_limit(settings, scaling, overrides),
        timing=cost.batch_timing(settings.function_memory_mb, settings.batch_size),
        receive_seconds=RECEIVE_SECONDS,
        table=TableSpec(
            provisioned_wcu=settings.write_capacity if provisioned_table else None,
            warm_wru=warm,
            indexes=1 if cost.index_write_units_per_event > 0 else 0,
            units_per_event=max(cost.write_units_per_event, cost.index_write_units_per_event),
        ),
        message_bytes=cost.message_bytes,
        send_limit=rules.queue_send_limit(settings.fifo, settings.high_throughput_fifo),
    )


def describe(scaling: MappingScaling) -> str:
    if scaling.mode == "provisioned":
        return (
            f"provisioned {scaling.floor}–{scaling.maximum // INVOKES_PER_POLLER} pollers "
            f"(≤ {scaling.maximum} concurrent)"
        )
    return f"standard (max {scaling.maximum})"


def stack_settings(stack: str) -> StackSettings:
    return from_stack_file(stack)
