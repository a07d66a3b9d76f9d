"""How an SQS event source mapping sizes its concurrency, by AWS's documented rules: one definition for the
local event source mapping (loadtest/local/consumers/esm_runner.py) and for the models that predict AWS.

Standard mode (Lambda developer guide, "Configuring scaling behavior for SQS event source mappings",
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html): "When messages are available,
Lambda starts processing five batches at a time with five concurrent invocations", and "if messages are
still available, Lambda increases the number of processes that are reading batches by up to 300 more
instances per minute", up to 1,250 per mapping (1,000 on older pages) and never above ScalingConfig's
maximum concurrency (2-1,000); "when traffic is low, Lambda scales back the processing to five concurrent
batches" (to as few as 2 only without maximum concurrency, which every stack here sets).

Provisioned mode (same page, "provisioned mode"; AWS News Blog, November 2025): a minimum of event pollers
stays ready, each poller drives up to 10 concurrent invokes, and the mapping scales by up to 1,000
concurrent invokes per minute, up to its maximum pollers (× 10). Idle, only the minimum pollers poll.

Back-off (Lambda developer guide, "Handling errors for an SQS event source in Lambda",
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html): when an invocation fails
because of throttling, "Lambda gradually backs off retries by reducing the amount of concurrency allocated
to your Amazon SQS event source mapping", and "continues to retry the message until the message's timestamp
exceeds your queue's visibility timeout"; when the function code fails, Lambda also "gradually backs off";
with ReportBatchItemFailures (every mapping here) it does not scale down polling for failed invocations.
AWS documents neither pace. Assumed here, and used the same way by the local mapping and the models:
- a second in which an invocation was throttled or failed as a whole takes one concurrent batch away
  (the same pace as scale-in) and adds none, down to the mode's floor; reported item failures count for
  nothing, as AWS says for ReportBatchItemFailures;
- scale-in starts after SCALE_IN_QUIET_SECONDS without a backlog and removes one concurrent batch a second.
- "a backlog": more messages visible than the active concurrency takes in one round (concurrency × batch).
"""

from __future__ import annotations

import dataclasses
import math

# Standard mode.
INITIAL_CONCURRENCY = 5  # concurrent batches as soon as messages are available (and the idle floor)
SCALE_OUT_PER_MINUTE = 300  # more concurrency per minute while messages remain
STANDARD_MAPPING_LIMIT = 1_250  # concurrent invokes per mapping at most
# Provisioned mode.
INVOKES_PER_POLLER = 10  # each event poller drives up to 10 concurrent invokes
PROVISIONED_SCALE_OUT_PER_MINUTE = 1_000  # concurrent invokes added per minute at most
# Local choices, stated: the pace of scale-in and of back-off (AWS says "gradually" and no more).
SCALE_IN_QUIET_SECONDS = 3  # no backlog for this long before concurrency steps down
STEP_DOWN_PER_SECOND = 1  # scale-in and back-off: one concurrent batch a second


@dataclasses.dataclass(frozen=True)
class MappingScaling:
    """A mapping's concurrency bounds and pace, in concurrent batches (invocations)."""

    mode: str  # "standard" or "provisioned"
    floor: int  # concurrent batches polling when idle
    burst: int  # concurrent batches at once when messages appear
    maximum: int  # concurrent batches at most
    scale_out_per_minute: int

    @classmethod
    def standard(cls, max_concurrency: int) -> MappingScaling:
        maximum = min(max_concurrency, STANDARD_MAPPING_LIMIT)
        start = min(INITIAL_CONCURRENCY, maximum)
        return cls("standard", start, start, maximum, SCALE_OUT_PER_MINUTE)

    @classmethod
    def provisioned(cls, minimum_pollers: int, maximum_pollers: int) -> MappingScaling:
        """The minimum pollers poll when idle; as soon as messages appear they drive their invokes (10 each);
        beyond that, up to +1,000 concurrency a minute, up to the maximum pollers' invokes."""
        return cls(
            "provisioned",
            minimum_pollers,
            minimum_pollers * INVOKES_PER_POLLER,
            maximum_pollers * INVOKES_PER_POLLER,
            PROVISIONED_SCALE_OUT_PER_MINUTE,
        )

    @classmethod
    def for_stack(cls, settings) -> MappingScaling:
        """The mapping a stack declares (infra/settings.StackSettings)."""
        pollers = getattr(settings, "provisioned_pollers", None)
        if pollers is None:
            return cls.standard(settings.max_concurrency)
        return cls.provisioned(pollers.minimum, pollers.maximum)

    @property
    def scale_out_per_second(self) -> float:
        """Concurrency added a second while a backlog remains (16⅔ when provisioned: fractions carry)."""
        return self.scale_out_per_minute / 60

    def capped(self, local_limit: int) -> MappingScaling:
        """The same rule with at most `local_limit` concurrent batches (what one machine can run)."""
        limit = max(1, local_limit)
        return dataclasses.replace(
            self,
            floor=min(self.floor, limit),
            burst=min(self.burst, limit),
            maximum=min(self.maximum, limit),
        )


@dataclasses.dataclass
class ScalingState:
    """What the rule remembers from one second to the next."""

    quiet_since: float | None = None
    carry: float = 0.0  # the fraction of a concurrent batch scale-out owes (1,000 a minute is 16⅔ a second)


def next_concurrency(
    rule: MappingScaling,
    state: ScalingState,
    current: int,
    visible: int,
    batch_size: int,
    now: float,
    pushed_back: bool = False,
) -> int:
    """The concurrency for the next second, given the queue now. `pushed_back`: an invocation was throttled
    or failed as a whole since the last decision (AWS backs off then)."""
    if pushed_back:
        state.quiet_since = None
        return max(rule.floor, current - STEP_DOWN_PER_SECOND)
    backlog = visible > current * batch_size
    if backlog:
        state.quiet_since = None
        if current < rule.burst:
            return rule.burst  # messages appeared: the burst at once
        owed = rule.scale_out_per_second + state.carry
        state.carry = owed - math.floor(owed)
        return min(rule.maximum, current + math.floor(owed))
    if visible and current < rule.burst:
        state.quiet_since = None
        return min(rule.burst, max(current, math.ceil(visible / batch_size)))
    if current <= rule.floor:
        state.quiet_since = None
        return rule.floor
    if state.quiet_since is None:
        state.quiet_since = now
    if now - state.quiet_since >= SCALE_IN_QUIET_SECONDS:
        return current - STEP_DOWN_PER_SECOND
    return current


def seconds_to_scale_in(rule: MappingScaling, peak: int) -> float:
    """How long the rule takes from `peak` back to the floor once the backlog is gone."""
    return SCALE_IN_QUIET_SECONDS + max(0, peak - rule.floor) / STEP_DOWN_PER_SECOND
