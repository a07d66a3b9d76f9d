"""The what-if's AWS rules, as functions with exact values, and as the simulation applies them: the mapping's
ramp in both modes, Lambda's concurrency limit and the back-off it causes, the DLQ after maxReceiveCount,
and DynamoDB's write capacity (provisioned with burst, on-demand 4,000 then twice the peak after 30 min)."""

from __future__ import annotations

import math

import pytest

from loadtest.analysis import aws_runtime_rules as rules
from loadtest.analysis.mapping_rules import MappingScaling
from loadtest.analysis.whatif_load import LoadCurve
from loadtest.analysis.whatif_model import BatchTiming, Pipeline, TableSpec, simulate

FAST = BatchTiming(0.05, 0.0, 0.0)  # a 50 ms batch, no spread


def pipeline(scaling: MappingScaling, **changes) -> Pipeline:
    values = dict(
        name="test",
        scaling=scaling,
        batch_size=10,
        batching_window_s=0,
        visibility_timeout_s=60,
        max_receive_count=5,
        function_limit=scaling.maximum,
        timing=FAST,
        receive_seconds=0.0,
        table=None,
        environments_ramp=False,
    )
    values.update(changes)
    return Pipeline(**values)


def backlog_of(n: int, seconds: float = 1.0) -> LoadCurve:
    return LoadCurve("backlog", ((seconds, n / seconds),))


# ---- the functions ----------------------------------------------------------------------------------------
def test_lambda_cpu_is_in_proportion_to_memory_up_to_one_vcpu():
    assert rules.cpu_share(1_769) == 1.0
    assert rules.cpu_share(10_240) == 1.0
    assert rules.cpu_share(256) == pytest.approx(256 / 1_769)


def test_a_function_reserves_at_most_the_account_less_one_hundred():
    assert rules.function_concurrency_limit(None) == 1_000
    assert rules.function_concurrency_limit(50) == 50
    assert rules.function_concurrency_limit(1_000) == 900
    assert rules.function_concurrency_limit(5_000, account_limit=10_000) == 5_000


def test_lambda_adds_a_thousand_environments_every_ten_seconds():
    assert rules.environments_addable(10) == 1_000
    assert rules.environments_addable(0.1) == 10


def test_a_provisioned_poller_takes_ten_polls_of_ten_messages_or_one_megabyte_a_second():
    assert rules.poller_messages_per_second(400) == 100
    assert rules.poller_messages_per_second(20_000) == 50  # 1 MB/s of 20 KB messages


def test_sqs_send_limits():
    assert rules.queue_send_limit(fifo=False, high_throughput=False) == math.inf
    assert rules.queue_send_limit(fifo=True, high_throughput=False) == 3_000
    assert rules.queue_send_limit(fifo=True, high_throughput=True) == 700_000


def test_a_message_moves_to_the_dlq_once_received_max_receive_count_times():
    assert not rules.dead_letters_now(4, 5)
    assert rules.dead_letters_now(5, 5)


def test_a_provisioned_table_serves_its_capacity_with_three_hundred_seconds_of_burst():
    table = rules.TableCapacity(provisioned_wcu=100)
    assert table.capacity_this_step(0.0, 1.0) == 30_000  # idle before: the bucket full
    table.spend(30_000, 0.0)
    assert table.capacity_this_step(1.0, 1.0) == 100  # one second's refill
    table.spend(100, 1.0)
    assert table.capacity_this_step(2.0, 0.5) == 50


def test_a_new_on_demand_table_serves_four_thousand_then_twice_its_peak_thirty_minutes_later():
    table = rules.TableCapacity(provisioned_wcu=None)
    assert table.allowance(0.0) == 4_000
    for second in range(3):
        table.capacity_this_step(float(second), 1.0)
        table.spend(4_000, float(second))
    table.capacity_this_step(3.0, 1.0)
    table.spend(0, 3.0)
    assert table.allowance(60.0) == 4_000  # the new peak is not adopted yet
    assert table.allowance(1_800.0) == 8_000  # 30 minutes after the peak second
    assert rules.TableCapacity(None, warm_wru=15_000).allowance(0.0) == 30_000
    assert rules.TableCapacity(None, warm_wru=50_000).allowance(0.0) == 40_000  # the per-table quota


# ---- as the simulation applies them -----------------------------------------------------------------------
def test_standard_mode_adds_three_hundred_concurrent_batches_a_minute():
    run = simulate(pipeline(MappingScaling.standard(1_000)), backlog_of(2_000_000), seed=None, horizon_s=61)
    concurrency = [s.concurrency for s in run.seconds]
    assert concurrency[0] == 10  # 5 at once, then +5 at the first second's decision
    assert concurrency[60] - concurrency[0] == 300


def test_provisioned_mode_adds_a_thousand_a_minute():
    scaling = MappingScaling.provisioned(2, 2_000)
    run = simulate(pipeline(scaling, function_limit=20_000), backlog_of(5_000_000), seed=None, horizon_s=61)
    concurrency = [s.concurrency for s in run.seconds]
    # mapping_rules adds 16⅔ a second, the fractions carried: exactly 1,000 in a minute.
    assert concurrency[60] - concurrency[0] == 1_000


def test_provisioned_pollers_cap_the_receives():
    scaling = MappingScaling.provisioned(2, 2)  # 2 pollers, 20 concurrent invokes at most
    run = simulate(pipeline(scaling), backlog_of(10_000), seed=None, horizon_s=10)
    assert max(s.stored_msgs_per_s for s in run.seconds) == pytest.approx(200)  # 2 × 10 polls × 10


def test_reserved_concurrency_below_the_mapping_throttles_and_backs_off():
    """Lambda throttles what its reservation cannot run; the mapping backs off one batch a second."""
    run = simulate(
        pipeline(MappingScaling.standard(20), function_limit=5), backlog_of(50_000), seed=None, horizon_s=120
    )
    assert run.throttles > 0
    concurrency = [s.concurrency for s in run.seconds]
    assert max(concurrency) <= 10  # 5, +5, then a throttled second takes one away
    assert max(s.running for s in run.seconds) == pytest.approx(5, rel=0.02)
    assert run.stored + run.dead_letters == pytest.approx(50_000)


def test_throttled_batches_reach_the_dlq_with_a_low_max_receive_count():
    """One execution for a mapping of five, batches of 4 s: a throttled batch waits longer than the
    visibility timeout, is let go, and with maxReceiveCount 1 its messages go to the DLQ."""
    slow = BatchTiming(4.0, 0.0, 0.0)
    run = simulate(
        pipeline(
            MappingScaling.standard(20),
            function_limit=1,
            max_receive_count=1,
            visibility_timeout_s=5,
            timing=slow,
        ),
        backlog_of(2_000),
        seed=None,
        horizon_s=1_200,
    )
    assert run.dead_letters > 0
    assert run.stored > 0
    assert run.stored + run.dead_letters == pytest.approx(2_000)


def test_records_the_table_refuses_come_back_and_die_after_max_receive_count():
    """A table that takes nothing: every record fails, returns after the visibility timeout, and after its
    maxReceiveCount-th receive moves to the DLQ; no back-off (the failures are reported items)."""
    closed = TableSpec(provisioned_wcu=1e-9, indexes=0)
    run = simulate(
        pipeline(MappingScaling.standard(10), table=closed, visibility_timeout_s=10, max_receive_count=3),
        backlog_of(1_000),
        seed=None,
        horizon_s=120,
    )
    assert run.stored == pytest.approx(0, abs=1)
    assert run.dead_letters == pytest.approx(1_000)
    assert run.deliveries == pytest.approx(3_000)
    first_dead = next(s.t_s for s in run.seconds if s.dead_letters_total > 0)
    assert 3 * 10 <= first_dead <= 3 * 10 + 2  # three receives, each followed by a visibility timeout
    assert run.throttles == 0


def test_an_on_demand_table_limits_what_is_stored_to_its_capacity():
    run = simulate(
        pipeline(MappingScaling.standard(1_000), table=TableSpec(indexes=1)),
        backlog_of(400_000),
        seed=None,
        horizon_s=60,
    )
    stored = [s.stored_msgs_per_s for s in run.seconds[10:60]]
    assert sum(stored) / len(stored) == pytest.approx(4_000, rel=0.02)  # a new table's 4,000 a second
    assert run.write_throttled > 0
