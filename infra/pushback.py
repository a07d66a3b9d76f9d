"""Concurrency the table cannot take: the write rate a stack's settings can demand of DynamoDB against what
the table serves, as data and pure functions (no pulumi import; infra/settings.py applies them).

What AWS documents:
- A provisioned table serves `writeCapacity` writes a second of items up to 1 KB and throttles requests
  above it (DYNAMODB_PROVISIONED); an on-demand table serves a new table's 4,000 write request units a
  second at once, then up to twice its previous peak, each partition up to 1,000 (DYNAMODB_ON_DEMAND).
- Throttled batches go back to the queue: the consumer reports the records it could not write, Lambda
  backs off (LAMBDA_SQS_ERROR_HANDLING), the messages return after the visibility timeout and, after
  `maxReceiveCount` receives, move to the DLQ. Lambda's advice is a maxReceiveCount of at least 5 "to avoid
  sending messages to the dead-letter queue due to throttling" (LAMBDA_WITH_SQS).

What this module assumes (the rules are only as good as these):
- Under a backlog every batch is full and every record is one write of one item under 1 KB (the consumer
  writes each valid record once with BatchWriteItem, consumer/event_store.py; an event is a few hundred
  bytes), and nothing else (no index, unless a stack asks for the event-id index: written alike, with the
  table's capacity, infra/table.py).
- An invocation lasts at most `functionTimeoutSeconds`. So at full concurrency the mapping writes at least
  concurrency × batchSize / timeout items a second, however slow each batch is: when even that floor
  exceeds the capacity, throttling is a certainty, not a risk. That is the "obvious" overrun refused here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the settings import this module; only their type is needed here
    from infra.settings import StackSettings

DYNAMODB_PROVISIONED = (
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/provisioned-capacity-mode.html"
)
DYNAMODB_ON_DEMAND = (
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode.html"
)
LAMBDA_SQS_ERROR_HANDLING = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html"
LAMBDA_WITH_SQS = "https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html"

ON_DEMAND_NEW_TABLE_WRITES_PER_SECOND = 4_000  # DYNAMODB_ON_DEMAND
ADVISED_MIN_RECEIVE_COUNT = 5  # LAMBDA_WITH_SQS

Finding = tuple[str, object, str]  # (config key, value, rule or note), as ConfigError lists them


def least_writes_per_second_at_full_concurrency(s: StackSettings) -> float:
    """Items a second the mapping writes at its maximum concurrency even if every batch takes the timeout."""
    return s.mapping_max_concurrency * s.batch_size / s.function_timeout_seconds


def _demand(s: StackSettings) -> str:
    return (
        f"{s.mapping_max_concurrency_name} × batchSize / functionTimeoutSeconds = "
        f"{s.mapping_max_concurrency} × {s.batch_size} / {s.function_timeout_seconds} = "
        f"{least_writes_per_second_at_full_concurrency(s):g} writes/s"
    )


def _overruns_provisioned_table(s: StackSettings) -> bool:
    return (
        s.billing_mode == "PROVISIONED" and least_writes_per_second_at_full_concurrency(s) > s.write_capacity
    )


def refusals(s: StackSettings) -> list[Finding]:
    """A provisioned table that full concurrency must throttle, with too few receives to ride it out."""
    if not _overruns_provisioned_table(s) or s.max_receive_count >= ADVISED_MIN_RECEIVE_COUNT:
        return []
    return [
        (
            "writeCapacity",
            s.write_capacity,
            f"full concurrency writes at least {_demand(s)}, so the table throttles, and with "
            f"maxReceiveCount {s.max_receive_count} (AWS advises ≥ {ADVISED_MIN_RECEIVE_COUNT}) throttled "
            "batches reach the DLQ: raise writeCapacity or maxReceiveCount, or lower the concurrency",
        )
    ]


def warnings(s: StackSettings) -> list[Finding]:
    """Overruns the retries absorb: worth knowing before a load test, not a reason to refuse the stack."""
    if _overruns_provisioned_table(s) and s.max_receive_count >= ADVISED_MIN_RECEIVE_COUNT:
        return [
            (
                "writeCapacity",
                s.write_capacity,
                f"full concurrency writes at least {_demand(s)}: the table throttles under a backlog and "
                f"batches are retried (up to maxReceiveCount {s.max_receive_count} receives each)",
            )
        ]
    if s.billing_mode != "PROVISIONED":
        floor = least_writes_per_second_at_full_concurrency(s)
        if floor > ON_DEMAND_NEW_TABLE_WRITES_PER_SECOND:
            return [
                (
                    "billingMode",
                    s.billing_mode,
                    f"full concurrency writes at least {_demand(s)}, more than the "
                    f"{ON_DEMAND_NEW_TABLE_WRITES_PER_SECOND} a new on-demand table serves at once (then "
                    "up to twice its previous peak): expect throttled batches while it scales",
                )
            ]
    return []
