"""How fast a backlog drains on AWS, modelled: Lambda's SQS poller ramp against seed 000's EC2 loop.

Lambda (Lambda developer guide, "Configuring scaling behavior for SQS event source mappings",
https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html): the
event source mapping starts with 5 concurrent batches and adds up to 300 per minute, up to maxConcurrency;
each concurrent batch takes `batch_seconds`. The constants are mapping_rules.py's, which the local event
source mapping follows too. Seed 000's consumer checks the queue depth
every 60 s, sets the Auto Scaling group to one instance per `messages_per_instance` waiting (up to
`max_instances`), a new instance serves after `boot_seconds`, and each instance receives up to 10 messages per
poll and then sleeps 60 s, as the seed's loop does. Deterministic, 1-second steps, bounded horizon.
"""

from __future__ import annotations

import dataclasses
import math

from loadtest.analysis.mapping_rules import INITIAL_CONCURRENCY, SCALE_OUT_PER_MINUTE

HORIZON_S = 30 * 24 * 3600  # a month: beyond that the table says "> 30 d"


@dataclasses.dataclass(frozen=True)
class LambdaModel:
    max_concurrency: int
    batch_size: int
    batch_seconds: float = 0.1  # one invocation of a batch, measured locally ≈ 0.05–0.1 s

    def drain_seconds(self, backlog: int) -> int | None:
        done, t = 0.0, 0
        while done < backlog and t < HORIZON_S:
            concurrency = min(self.max_concurrency, INITIAL_CONCURRENCY + SCALE_OUT_PER_MINUTE * t // 60)
            done += concurrency * self.batch_size / self.batch_seconds
            t += 1
        return t if done >= backlog else None


@dataclasses.dataclass(frozen=True)
class SeedEc2Model:
    max_instances: int = 10
    messages_per_instance: int = 1000
    boot_seconds: int = 60
    check_every_s: int = 60
    messages_per_poll: int = 10
    poll_every_s: int = 60

    def drain_seconds(self, backlog: int) -> int | None:
        remaining, t, ready_at = backlog, 0, []  # ready_at: when each launched instance starts serving
        while remaining > 0 and t < HORIZON_S:
            if t % self.check_every_s == 0:
                desired = min(self.max_instances, math.ceil(remaining / self.messages_per_instance))
                ready_at += [t + self.boot_seconds] * max(0, desired - len(ready_at))
            serving = sum(1 for ready in ready_at if ready <= t and (t - ready) % self.poll_every_s == 0)
            remaining -= serving * self.messages_per_poll
            t += 1
        return t if remaining <= 0 else None


def human(seconds: int | None) -> str:
    if seconds is None:
        return "> 30 d"
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86_400:.1f} d"


def drain_table(run: dict, backlogs: tuple[int, ...] = (1_000, 10_000, 100_000, 1_000_000)) -> list[str]:
    settings = run["settings"]
    lam = LambdaModel(max_concurrency=settings["maxConcurrency"], batch_size=settings["batchSize"])
    prod = LambdaModel(max_concurrency=1000, batch_size=settings["batchSize"])
    ec2 = SeedEc2Model()
    rows = [
        "| backlog N | Lambda, this stack (max "
        f"{lam.max_concurrency}) | Lambda, max 1000 | seed 000 EC2 loop (max 10) |",
        "|---|---|---|---|",
    ]
    for n in backlogs:
        rows.append(
            f"| {n:,} | {human(lam.drain_seconds(n))} | {human(prod.drain_seconds(n))} | {human(ec2.drain_seconds(n))} |"
        )
    return rows
