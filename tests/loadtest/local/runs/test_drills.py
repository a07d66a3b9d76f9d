"""The drills' core assertions, fast (make drills runs them at full length):

- outage: with every write failing, an event reaches the DLQ through the redrive policy (no reason attached);
  after the store is back, the runbook's redrive command sends it back and it is stored once;
- deploy: a roll-out replaces every poller mid-stream and loses nothing;
- a drill whose ledger is broken (a stored item deleted behind the pipeline's back) exits non-zero.
"""

import subprocess
import sys

import boto3
import pytest

from infra.settings import StackSettings
from loadtest.analysis.ledger_check import scan_table
from loadtest.local.emulator.embedded_aws import aws_environment
from loadtest.local.runs import drills
from ops.dead_letter_queue import NO_REASON, reason_of
from ops.dead_letter_queue import scan as read_queue
from producer.vehicles import VehicleFactory
from tests.loadtest.local.local_pipeline import local_stack, send, wait_until

# A 1 s timeout (6 s visibility) and one receive before the DLQ keep the redrive path to seconds.
SETTINGS = StackSettings(function_timeout_seconds=1, max_receive_count=1, max_concurrency=5)


def test_an_outage_dead_letters_through_the_redrive_policy_and_the_runbook_redrive_stores_once(tmp_path):
    flag = tmp_path / "outage"
    flag.touch()
    with local_stack("outage-test", SETTINGS, tmp_path) as (local, session):
        runner = session.consumers(local, SETTINGS, VEHICLE_PIPELINE_FAULTS=f"dynamodb_outage_flag={flag}")
        sqs = boto3.client("sqs")
        events = [VehicleFactory(seed=8).event() for _ in range(3)]
        send(sqs, local.queue_url, [e.to_json() for e in events])
        try:
            runner.start()
            wait_until(lambda: runner.depth() == (0, 0, 3), 60, "the outage to dead-letter all three")
            dead = read_queue(sqs, local.dlq_url)
            flag.unlink()  # the store is back
            outputs = local.write_outputs(tmp_path / "outputs.json")
            redrive = subprocess.run(
                [sys.executable, "-m", "ops.redrive", "--stack-outputs", str(outputs), "redrive", "--yes"],
                capture_output=True,
                text=True,
                timeout=60,
            )
            wait_until(lambda: runner.depth() == (0, 0, 0), 60, "the redriven events to be stored")
        finally:
            runner.stop()
        items = scan_table(boto3.resource("dynamodb").Table(local.table_name))

    assert [reason_of(m) for m in dead] == [NO_REASON] * 3  # the redrive policy's, not the consumer's routing
    assert redrive.returncode == 0, redrive.stderr
    assert sorted(item["eventId"] for item in items) == sorted(e.event_id for e in events)


def test_a_roll_out_replaces_every_poller_and_loses_nothing(tmp_path):
    with local_stack("deploy-test", SETTINGS, tmp_path) as (local, session):
        runner = session.consumers(local, SETTINGS)
        events = [VehicleFactory(seed=9).event() for _ in range(200)]
        send(boto3.client("sqs"), local.queue_url, [e.to_json() for e in events])
        try:
            runner.start()
            old = set(runner.pids())
            runner.roll_out()
            new = set(runner.pids())
            wait_until(lambda: runner.depth() == (0, 0, 0), 60, "the queue to drain after the roll-out")
        finally:
            runner.stop()
        items = scan_table(boto3.resource("dynamodb").Table(local.table_name))

    assert old.isdisjoint(new) and len(new) == SETTINGS.max_concurrency
    assert sorted(item["eventId"] for item in items) == sorted(e.event_id for e in events)


@pytest.mark.parametrize("inject_loss", [False, True], ids=["clean", "a-lost-message"])
def test_a_drill_exits_non_zero_when_its_ledger_is_broken(tmp_path, monkeypatch, inject_loss):
    for key in aws_environment("http://127.0.0.1:1"):  # the drill points this process at its moto_server
        monkeypatch.setenv(key, "restored after the test")
    argv = ["duplicates", "--quick", "--no-report", "--run-dir", str(tmp_path)]
    assert drills.main(argv + (["--inject-loss"] if inject_loss else [])) == (1 if inject_loss else 0)
