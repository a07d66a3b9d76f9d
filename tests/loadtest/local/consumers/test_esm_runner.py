"""The local event source mapping: AWS's scaling rule as a function, and against moto_server partial failures
reach the DLQ after maxReceiveCount through the redrive policy, successes are stored and deleted, and warm
pollers scale out with the backlog and back to the floor when the queue is idle."""

import boto3
import pytest

from infra.settings import StackSettings
from loadtest.analysis.ledger_check import scan_table
from loadtest.analysis.mapping_rules import INITIAL_CONCURRENCY, MappingScaling
from loadtest.local.consumers.esm_runner import EsmRunner, PollerConfig
from producer.vehicles import VehicleFactory
from tests.loadtest.local.local_pipeline import local_stack, send, wait_until

# Short visibility (6 × a 2 s timeout) and one receive before the DLQ keep the redrive path to seconds. With
# a 1 s timeout a batch of valid events could time out on 2 cores shared with the rest of `make test` (one
# CI run in several: the batch then reached the DLQ on its second receive), which is not what this tests.
SETTINGS = StackSettings(function_timeout_seconds=2, max_receive_count=1, max_concurrency=8, batch_size=10)


@pytest.fixture
def stack(tmp_path):
    with local_stack("runner-test", SETTINGS, tmp_path) as (local, session):
        yield local, session.consumers(local, SETTINGS), boto3.client("sqs")


def test_partial_failures_reach_the_dlq_and_pollers_scale_out_and_in(stack):
    local, runner, sqs = stack
    factory = VehicleFactory(seed=5)
    valid = [factory.event() for _ in range(300)]
    send(sqs, local.queue_url, [e.to_json() for e in valid] + ['{"vehicleId": "VH1"}', "not json"])

    runner.start()
    runner_processes = list(runner._all)
    wait_until(
        lambda: runner.depth() == (0, 0, 2),
        60,
        "the queue to drain and both poison messages in the DLQ",
        state=lambda: f"(visible, in flight, DLQ) {runner.depth()}, totals {dict(runner.totals)}",
    )
    # The last sample, not the live count: a sample is taken before the controller scales.
    wait_until(
        lambda: runner.samples[-1].pollers == INITIAL_CONCURRENCY, 30, "a sample at the floor once idle"
    )
    runner.stop()

    items = scan_table(boto3.resource("dynamodb").Table(local.table_name))
    assert sorted(item["eventId"] for item in items) == sorted(e.event_id for e in valid)
    dead = sqs.receive_message(QueueUrl=local.dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in dead) == sorted(['{"vehicleId": "VH1"}', "not json"])
    timeline = [sample.pollers for sample in runner.samples]
    assert timeline[0] == INITIAL_CONCURRENCY, timeline  # five batches as soon as messages are there
    assert max(timeline) == SETTINGS.max_concurrency, timeline  # out under the 302-message backlog
    assert timeline[-1] == INITIAL_CONCURRENCY, timeline  # and back to the floor when idle
    # Every poller was started (and warm) before the load: scaling switched them on, it spawned none.
    assert [p.number for p in runner_processes] == list(range(1, SETTINGS.max_concurrency + 1))
    assert runner.totals["records"] >= 302 and runner.totals["failed_records"] >= 2


class FakeRunner(EsmRunner):
    """The rule alone: `pollers` is whatever the test says."""

    def __init__(self, max_concurrency: int, active: int):
        config = PollerConfig("q", "arn", "us-east-1", 10, 0, "f", 1, 128, {}, "")
        super().__init__(config, "dlq", MappingScaling.standard(max_concurrency), log_dir=None, sqs=object())
        self._active = [None] * active


@pytest.mark.parametrize(
    ("maximum", "active", "visible", "expected"),
    [
        (100, 5, 51, 10),  # a backlog beyond one round: 300 a minute, 5 more each second
        (100, 10, 101, 15),
        (12, 10, 500, 12),  # never beyond maxConcurrency
        (100, 10, 100, 10),  # what the active pollers take in one round is no backlog
        (3, 3, 0, 3),  # the floor is min(5, maxConcurrency)
    ],
)
def test_scale_out_follows_aws_rule(maximum, active, visible, expected):
    assert FakeRunner(maximum, active).desired_pollers(visible, 0, now=0.0) == expected


def test_scale_in_waits_three_quiet_seconds_then_steps_one_a_second_to_the_floor():
    runner = FakeRunner(20, 8)
    steps = []
    for second in range(8):
        runner._active = [None] * runner.desired_pollers(0, 0, now=float(second))
        steps.append(runner.pollers)
    assert steps == [8, 8, 8, 7, 6, 5, 5, 5]


def test_after_a_backlog_the_pollers_step_back_to_the_floor_at_the_rules_pace():
    # GIVEN pollers at their peak of 10 and an empty queue
    runner = FakeRunner(10, 10)
    bound = runner.seconds_to_floor()
    assert bound == 3 + 5  # 3 quiet seconds, then one a second from 10 to 5

    # WHEN the rule decides second by second (as the controller does)
    timeline = []
    for second in range(10):
        runner._active = [None] * runner.desired_pollers(0, 0, now=float(second))
        timeline.append(runner.pollers)

    # THEN 5 → 10 → 5: it is back at the floor within the time the rule says it needs
    assert timeline == [10, 10, 10, 9, 8, 7, 6, 5, 5, 5]
    assert timeline.index(5) + 1 <= bound
