"""The local event source mapping against moto_server: partial failures reach the DLQ after maxReceiveCount
through the redrive policy, successes are stored and deleted, and pollers scale out with the backlog and in
when the queue is idle."""

import boto3
import pytest

from infra.settings import StackSettings
from loadtest.analysis.ledger_check import scan_table
from loadtest.local.esm_runner import EsmRunner, PollerConfig
from producer.vehicles import VehicleFactory
from tests.loadtest.local.local_pipeline import local_stack, send, wait_until

# Short visibility (6 × a 1 s timeout) and one receive before the DLQ keep the redrive path to seconds.
SETTINGS = StackSettings(function_timeout_seconds=1, max_receive_count=1, max_concurrency=4, batch_size=10)


@pytest.fixture
def stack(tmp_path, monkeypatch):
    with local_stack("runner-test", SETTINGS, monkeypatch) as (local, aws_env):
        config = PollerConfig.for_stack(local, SETTINGS, aws_env)
        runner = EsmRunner(config, local.dlq_url, SETTINGS.max_concurrency, tmp_path / "pollers")
        try:
            yield local, runner, boto3.client("sqs")
        finally:
            runner.stop()


def test_partial_failures_reach_the_dlq_and_pollers_scale_out_and_in(stack):
    local, runner, sqs = stack
    factory = VehicleFactory(seed=5)
    valid = [factory.event() for _ in range(300)]
    send(sqs, local.queue_url, [e.to_json() for e in valid] + ['{"vehicleId": "VH1"}', "not json"])

    runner.start()
    wait_until(
        lambda: runner.depth() == (0, 0, 2), 60, "the queue to drain and both poison messages in the DLQ"
    )
    wait_until(lambda: runner.pollers == 1, 30, "scale-in once idle")
    runner.stop()

    items = scan_table(boto3.resource("dynamodb").Table(local.table_name))
    assert sorted(item["eventId"] for item in items) == sorted(e.event_id for e in valid)
    dead = sqs.receive_message(QueueUrl=local.dlq_url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in dead) == sorted(['{"vehicleId": "VH1"}', "not json"])
    timeline = [sample.pollers for sample in runner.samples]
    assert max(timeline) > 1, timeline  # scaled out under the 302-message backlog
    assert max(timeline) <= SETTINGS.max_concurrency
    assert timeline[-1] < max(timeline)  # and back in when idle
    assert runner.totals["records"] >= 302 and runner.totals["failed_records"] >= 2
