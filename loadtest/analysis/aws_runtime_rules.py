"""What AWS does to a running pipeline beyond the event source mapping's scaling, as data and small functions,
each with the page it comes from: Lambda's concurrency limits and CPU, SQS's redelivery, dead-lettering and
quotas, DynamoDB's write capacity. The mapping's own scaling (standard or provisioned mode, back-off) is
loadtest/analysis/mapping_rules.py, shared with the local event source mapping; the what-if
(loadtest/analysis/whatif_model.py) applies both.

What a page says is quoted or paraphrased beside its constant; what no page says is marked ASSUMED, with the
reason for the value chosen.
"""

from __future__ import annotations

import dataclasses
import math

# ---- the pages -----------------------------------------------------------------------------------------
LAMBDA_CONCURRENCY = "https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html"
LAMBDA_RESERVED_CONCURRENCY = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html"
LAMBDA_SCALING_BEHAVIOR = "https://docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html"
LAMBDA_MEMORY = "https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html"
LAMBDA_INVOCATION_ESM = "https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html"
LAMBDA_SQS_ERROR_HANDLING = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html"
LAMBDA_PRICING = "https://aws.amazon.com/lambda/pricing/"
SQS_VISIBILITY_TIMEOUT = (
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html"
)
SQS_DEAD_LETTER_QUEUES = (
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html"
)
SQS_STANDARD_QUOTAS = (
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-queues.html"
)
SQS_MESSAGE_QUOTAS = (
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/quotas-messages.html"
)
DYNAMODB_PROVISIONED = (
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/provisioned-capacity-mode.html"
)
DYNAMODB_ON_DEMAND = (
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode.html"
)
DYNAMODB_BURST_ADAPTIVE = (
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/burst-adaptive-capacity.html"
)
DYNAMODB_QUOTAS = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html"
DYNAMODB_ON_DEMAND_THROTTLING = "https://repost.aws/knowledge-center/on-demand-table-throttling-dynamodb"

# ---- Lambda ------------------------------------------------------------------------------------------------
# LAMBDA_CONCURRENCY: "By default, Lambda provides your account with a total concurrency limit of 1,000
# concurrent executions across all functions in an AWS Region."
ACCOUNT_CONCURRENCY = 1_000
# LAMBDA_RESERVED_CONCURRENCY: Lambda keeps 100 units unreserved for the functions without a reservation, so
# one function reserves at most the account's limit minus 100.
UNRESERVED_MINIMUM = 100
# LAMBDA_SCALING_BEHAVIOR: "for each function, your concurrency scaling rate is 1,000 execution environment
# instances every 10 seconds", refilled continuously ("a best attempt to refill ... continuously").
ENVIRONMENTS_PER_10_SECONDS = 1_000
# LAMBDA_MEMORY: "At 1,769 MB, a function has the equivalent of one vCPU"; CPU is allocated in proportion to
# memory. The handler is single-threaded Python, so more than one vCPU buys it nothing.
MEMORY_MB_PER_VCPU = 1_769


def cpu_share(memory_mb: int) -> float:
    """The share of one vCPU a function of `memory_mb` runs on (1.0 from 1,769 MB up, for one thread)."""
    return min(1.0, memory_mb / MEMORY_MB_PER_VCPU)


def function_concurrency_limit(reserved: int | None, account_limit: int = ACCOUNT_CONCURRENCY) -> int:
    """Concurrent executions the function can have: its reservation, else what the account leaves it (here:
    the whole unreserved pool, no other function running)."""
    if reserved is not None:
        return min(reserved, account_limit - UNRESERVED_MINIMUM)
    return account_limit


def environments_addable(seconds: float) -> float:
    """New execution environments Lambda can give one function in `seconds` (LAMBDA_SCALING_BEHAVIOR)."""
    return ENVIRONMENTS_PER_10_SECONDS * seconds / 10


# ---- provisioned-mode event pollers (a throughput cap the mapping rules' concurrency does not carry) ------
# LAMBDA_INVOCATION_ESM: "For Amazon SQS: up to 1 MB/sec of throughput or up to 10 concurrent invokes or up
# to 10 SQS polling API calls per second" per event poller; a ReceiveMessage returns at most 10 messages
# (SQS_MESSAGE_QUOTAS).
POLLER_POLLS_PER_SECOND = 10
POLLER_BYTES_PER_SECOND = 1_000_000
MESSAGES_PER_RECEIVE = 10


def poller_messages_per_second(message_bytes: float) -> float:
    """Messages a second one provisioned event poller can take: its polls × 10 messages, or its 1 MB/s."""
    return min(
        POLLER_POLLS_PER_SECOND * MESSAGES_PER_RECEIVE, POLLER_BYTES_PER_SECOND / max(1.0, message_bytes)
    )


# LAMBDA_PRICING: provisioned mode bills Event Poller Units; for SQS one EPU carries up to 20 pollers, so a
# poller-hour costs $0.185 / 20 = $0.00925 in us-east-1 (the figure Pulumi.provisioned.yaml quotes).
SQS_POLLER_HOUR_USD = 0.00925

# ---- Lambda's handling of failed and throttled batches (the pace is mapping_rules' back-off) ------------
# LAMBDA_SQS_ERROR_HANDLING: a throttled invoke is retried "until the message's timestamp exceeds your
# queue's visibility timeout", then the batch is let go (its messages reappear, one receive nearer the DLQ);
# with ReportBatchItemFailures "Lambda doesn't scale down message polling when function invocations fail"
# because of reported items: records the table throttled come back after the visibility timeout, with no
# back-off. ASSUMED: a throttled batch is retried once a second (the local mapping's steady pause), each
# retry one Throttles count.
THROTTLE_RETRIES_PER_SECOND = 1.0

# ---- SQS ---------------------------------------------------------------------------------------------------
# SQS_STANDARD_QUOTAS: "approximately 120,000" in-flight messages per standard queue (received, not yet
# deleted); beyond it ReceiveMessage returns OverLimit, so a consumer cannot take more.
STANDARD_IN_FLIGHT_LIMIT = 120_000
# SQS_MESSAGE_QUOTAS: standard queues take "a nearly unlimited number of API calls per second"; FIFO queues
# 300 per second per action without batching, 3,000 messages a second with batches of 10; high-throughput
# FIFO far more (per region; 70,000 calls a second without batching in the largest regions).
FIFO_CALLS_PER_SECOND = 300
HIGH_THROUGHPUT_FIFO_CALLS_PER_SECOND = 70_000
SQS_BATCH = 10


def queue_send_limit(fifo: bool, high_throughput: bool) -> float:
    """Messages a second the queue accepts from batching producers (math.inf: no documented limit)."""
    if not fifo:
        return math.inf
    calls = HIGH_THROUGHPUT_FIFO_CALLS_PER_SECOND if high_throughput else FIFO_CALLS_PER_SECOND
    return calls * SQS_BATCH


def dead_letters_now(receive_count: int, max_receive_count: int) -> bool:
    """SQS_DEAD_LETTER_QUEUES: a message whose ReceiveCount reached maxReceiveCount is moved to the DLQ
    instead of being delivered again (it was processed maxReceiveCount times, none succeeded)."""
    return receive_count >= max_receive_count


# ---- DynamoDB writes ---------------------------------------------------------------------------------------
# DYNAMODB_PROVISIONED: a provisioned table serves writeCapacity write units a second and throttles above.
# DYNAMODB_BURST_ADAPTIVE: "DynamoDB currently retains up to five minutes (300 seconds) of unused read and
# write capacity", spent in bursts above the provisioned rate (best effort: taken here as available).
BURST_SECONDS = 300
# DYNAMODB_ON_DEMAND: a new on-demand table sustains "up to 4,000 writes per second"; on-demand
# "instantly accommodates up to double the previous peak traffic", and "throttling can occur if you exceed
# double your previous peak within 30 minutes" (DYNAMODB_ON_DEMAND_THROTTLING: spread growth over 30 min).
ON_DEMAND_NEW_TABLE_WRU = 4_000
ON_DEMAND_PEAK_MULTIPLIER = 2
ON_DEMAND_PEAK_WINDOW_S = 30 * 60
# DYNAMODB_QUOTAS: 40,000 write request units a second per on-demand table by default (a quota, raisable);
# each partition serves up to 1,000 WCU a second. The table's key is the eventId and the index's the
# vehicleId over the producer's fleet: writes spread over partitions, so only the table-level limits bind
# (a vehicle would need 1,000 events a second to heat its index partition).
ON_DEMAND_TABLE_WRU_QUOTA = 40_000
PARTITION_WRU = 1_000


@dataclasses.dataclass
class TableCapacity:
    """Write units a table (or one of its indexes: each has its own capacity) admits, step by step, as a
    bucket of write units refilled at the table's rate.

    Provisioned: `provisioned_wcu` a second; the bucket keeps up to 300 s of unused capacity (burst), full
    when the load starts (a deployed table idle before it). On-demand: twice the previous peak (`warm_wru`,
    what the table already sustained; a new table 4,000), a new peak becoming the base only 30 minutes later,
    at most the per-table quota; the bucket holds one second's worth (a rate is per second, so the writes of
    one second may come in any part of it)."""

    provisioned_wcu: float | None  # None: on-demand
    warm_wru: float = ON_DEMAND_NEW_TABLE_WRU / ON_DEMAND_PEAK_MULTIPLIER
    quota_wru: float = ON_DEMAND_TABLE_WRU_QUOTA
    _tokens: float = dataclasses.field(init=False, default=0.0)
    _peaks: list[tuple[float, float]] = dataclasses.field(init=False, default_factory=list)  # (t, wru/s)
    _second: int = dataclasses.field(init=False, default=0)
    _used_this_second: float = dataclasses.field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self._tokens = self._bucket(0.0)

    def allowance(self, now: float) -> float:
        """Write units a second the table serves at `now`."""
        if self.provisioned_wcu is not None:
            return self.provisioned_wcu
        adopted = max((wru for t, wru in self._peaks if t <= now - ON_DEMAND_PEAK_WINDOW_S), default=0.0)
        return min(self.quota_wru, ON_DEMAND_PEAK_MULTIPLIER * max(self.warm_wru, adopted))

    def _bucket(self, now: float) -> float:
        seconds = BURST_SECONDS if self.provisioned_wcu is not None else 1.0
        return self.allowance(now) * seconds

    def capacity_this_step(self, now: float, dt: float) -> float:
        """Write units the step [now, now + dt) can take: the bucket, refilled for the step."""
        self._tokens = min(self._bucket(now), self._tokens + self.allowance(now) * dt)
        return self._tokens

    def spend(self, units: float, now: float) -> None:
        """Charge `units` (at most `capacity_this_step`); a second's total that beats the peak starts its 30
        minutes (on-demand)."""
        self._tokens -= units
        second = int(now)
        if second != self._second:
            if self._used_this_second > (self._peaks[-1][1] if self._peaks else 0.0):
                self._peaks.append((float(self._second), self._used_this_second))
            self._second, self._used_this_second = second, 0.0
        self._used_this_second += units
