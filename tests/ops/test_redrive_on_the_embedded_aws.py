"""The runbook's redrive as an operator runs it: `python -m ops.redrive` and `python -m consumer.worker` as
subprocesses against the embedded AWS, started as the README shows.

GIVEN the dev stack on moto_server and a standalone worker routing invalid bodies to the DLQ
WHEN an operator redrives the DLQ while the worker sends the poison straight back / a seed-shaped body (no
eventId) reaches the DLQ and is redriven twice
THEN the redrive moves what it announced and stops, and the body is one item however often it came back.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import boto3
import pytest

from consumer import handler
from consumer.event_store import DynamoEventStore
from consumer.sqs_event import RECEIVE_ALL_ATTRIBUTES, lambda_sqs_event
from infra.settings import PROJECT_ROOT, StackSettings
from loadtest.analysis.ledger_check import scan_table
from loadtest.local.emulator.embedded_aws import LOCAL_REGION, aws_environment
from ops.dead_letter_queue import scan as read_queue
from tests.lambda_events import SEED_EXAMPLE, LambdaContext
from tests.loadtest.local.local_pipeline import local_stack, send, wait_until

# One receive before the DLQ and a 1 s function timeout (6 s visibility): a message dead-letters in seconds.
SETTINGS = StackSettings(function_timeout_seconds=1, max_receive_count=1)


@pytest.fixture
def local(tmp_path):
    with local_stack("redrive-test", SETTINGS, tmp_path / "run") as (stack, session):
        yield stack, aws_environment(session.endpoint), stack.write_outputs(tmp_path / "outputs.json")


def users_shell(environment: dict) -> dict:
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **environment}


def start_worker(outputs, environment, log) -> subprocess.Popen:
    with open(log, "w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "consumer.worker", "--stack-outputs", str(outputs)],
            cwd=PROJECT_ROOT,
            env=users_shell(environment),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def stop(worker: subprocess.Popen) -> None:
    worker.send_signal(signal.SIGTERM)
    try:
        assert worker.wait(timeout=10) == 0
    finally:
        worker.kill()


def redrive(outputs, environment, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ops.redrive", "--stack-outputs", str(outputs), "redrive", *extra, "--yes"],
        cwd=PROJECT_ROOT,
        env=users_shell(environment),
        capture_output=True,
        text=True,
        timeout=60,
    )


def depth(sqs, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def routed(log) -> int:
    stats = [json.loads(line) for line in log.read_text().splitlines() if '"worker stats"' in line]
    return stats[-1]["routed_to_dlq"] if stats else 0


def test_a_redrive_with_a_live_consumer_moves_what_it_announced_and_stops(local, tmp_path):
    stack, environment, outputs = local
    sqs = boto3.client("sqs")
    log = tmp_path / "worker.log"
    worker = start_worker(outputs, environment, log)
    try:
        send(sqs, stack.queue_url, [f"poison {n}" for n in range(14)])
        wait_until(lambda: depth(sqs, stack.dlq_url) == 14, 30, "the worker to route 14 poison messages")

        started = time.monotonic()
        result = redrive(outputs, environment, "--rate", "50")
        seconds = time.monotonic() - started
        # The worker routes every copy straight back: 14 more dead letters, and then nothing moves.
        wait_until(lambda: routed(log) == 28, 30, "the worker to route the redriven copies")
        time.sleep(2)
    finally:
        stop(worker)

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith("redrive: moved 14 of the 14 announced; ")
    assert seconds < 60
    assert routed(log) == 28
    dead = read_queue(sqs, stack.dlq_url)
    assert sorted(m["Body"] for m in dead) == sorted(f"poison {n}" for n in range(14))  # each once


def crash_after_storing(sqs, stack) -> None:
    """A consumer that stores the batch and dies before its delete: the message stays in the queue and, with
    maxReceiveCount 1, the next receive moves it to the DLQ."""
    [message] = sqs.receive_message(
        QueueUrl=stack.queue_url, MaxNumberOfMessages=1, **RECEIVE_ALL_ATTRIBUTES
    )["Messages"]
    handler.processor.use_store(DynamoEventStore(stack.table_name))
    try:
        response = handler.lambda_handler(
            lambda_sqs_event([message], stack.queue_arn, LOCAL_REGION), LambdaContext()
        )
    finally:
        handler.processor.use_store(None)
    assert response == {"batchItemFailures": []}
    sqs.change_message_visibility(
        QueueUrl=stack.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )
    assert sqs.receive_message(QueueUrl=stack.queue_url).get("Messages", []) == []  # moved to the DLQ
    assert depth(sqs, stack.dlq_url) == 1


def test_a_seed_shaped_body_redriven_twice_is_one_item(local, tmp_path):
    stack, environment, outputs = local
    sqs = boto3.client("sqs")
    first = sqs.send_message(QueueUrl=stack.queue_url, MessageBody=SEED_EXAMPLE)["MessageId"]
    for _ in range(2):
        crash_after_storing(sqs, stack)
        result = redrive(outputs, environment)
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[-1].startswith("redrive: moved 1 of the 1 announced; ")

    worker = start_worker(outputs, environment, tmp_path / "worker.log")
    try:
        wait_until(lambda: depth(sqs, stack.queue_url) == 0, 30, "the worker to store the second copy")
    finally:
        stop(worker)

    [item] = scan_table(boto3.resource("dynamodb").Table(stack.table_name))
    assert (item["eventId"], item["keySource"], item["vehicleId"]) == (first, "sourceMessageId", "VH2001")
    assert item["messageId"] != first  # the last copy stored it, under the first message's id
