"""The standalone worker against moto_server: the handler's logic outside Lambda, graceful and hard stops.

GIVEN the dev stack's queue, DLQ and table on moto_server
WHEN the worker drains valid and invalid events / a batch runs past the visibility timeout / the worker
process gets SIGTERM or SIGKILL mid-run
THEN valid events are stored once and deleted, invalid ones are in the DLQ with their reason, a slow batch is
never seen by another receiver, SIGTERM exits 0 after its batch, and nothing is lost either way.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import boto3
import pytest

from consumer import handler
from consumer.dead_letters import DeadLetterRouter
from consumer.event_store import DynamoEventStore
from consumer.worker import Worker, WorkerConfig
from infra.settings import PROJECT_ROOT, StackSettings
from loadtest.analysis.ledger_check import scan_table
from loadtest.local.emulator.embedded_aws import LOCAL_REGION, aws_environment
from ops.dead_letter_queue import NO_REASON, reason_of
from ops.dead_letter_queue import scan as read_queue
from producer.vehicles import VehicleFactory
from tests.lambda_events import SEED_EXAMPLE, vehicle_body
from tests.loadtest.local.local_pipeline import local_stack, send, wait_until

# A 1 s function timeout gives the queue a 6 s visibility timeout: a SIGKILLed batch is back in seconds.
SETTINGS = StackSettings(function_timeout_seconds=1)


@pytest.fixture
def local(tmp_path):
    with local_stack("worker-test", SETTINGS, tmp_path / "run") as (stack, session):
        yield stack, aws_environment(session.endpoint)


def events(count: int, seed: int) -> list:
    factory = VehicleFactory(seed=seed)
    return [factory.event() for _ in range(count)]


def stored_ids(local_stack) -> list[str]:
    return sorted(
        item["eventId"] for item in scan_table(boto3.resource("dynamodb").Table(local_stack.table_name))
    )


def test_worker_stores_valid_events_routes_invalid_ones_and_deletes_what_it_handled(local):
    stack, _ = local
    sqs = boto3.client("sqs")
    valid = events(25, seed=1)
    send(sqs, stack.queue_url, [e.to_json() for e in valid] + ["not json", '{"vehicleId": "VH1"}'])
    handler.processor.use_store(DynamoEventStore(stack.table_name))
    handler.processor.use_router(DeadLetterRouter(stack.dlq_url, sqs=sqs))
    worker = Worker(WorkerConfig(stack.queue_url, LOCAL_REGION, wait_seconds=1))
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,))
    try:
        thread.start()
        wait_until(lambda: worker.counters["received"] >= 27, 30, "the worker to take every message")
    finally:
        stop.set()
        thread.join(10)
        handler.processor.use_store(None)
        handler.processor.use_router(None)

    assert stored_ids(stack) == sorted(e.event_id for e in valid)
    counts = {k: worker.counters[k] for k in ("received", "deleted", "failed", "stored", "routed_to_dlq")}
    assert counts == {"received": 27, "deleted": 27, "failed": 0, "stored": 25, "routed_to_dlq": 2}
    attributes = sqs.get_queue_attributes(QueueUrl=stack.queue_url, AttributeNames=["All"])["Attributes"]
    assert (
        attributes["ApproximateNumberOfMessages"],
        attributes["ApproximateNumberOfMessagesNotVisible"],
    ) == (
        "0",
        "0",
    )
    dead = sqs.receive_message(QueueUrl=stack.dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    reasons = sorted(
        m["MessageAttributes"]["failureReason"]["StringValue"].split(":")[0] for m in dead["Messages"]
    )
    assert reasons == ["missing_field", "not_json"]


def test_a_batch_slower_than_the_visibility_timeout_keeps_its_messages_hidden(local):
    stack, _ = local
    sqs = boto3.client("sqs")
    send(sqs, stack.queue_url, [e.to_json() for e in events(3, seed=2)])
    seen_by_others: list[int] = []

    def slow_batch(event: dict) -> tuple[set[str], dict]:
        for _ in range(4):  # 4 s of work against a 1 s visibility timeout
            time.sleep(1)
            other = sqs.receive_message(QueueUrl=stack.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            seen_by_others.append(len(other.get("Messages", [])))
        return set(), {"stored": len(event["Records"])}

    config = WorkerConfig(stack.queue_url, LOCAL_REGION, wait_seconds=1, visibility_timeout_seconds=1)
    worker = Worker(config, process_batch=slow_batch)
    messages = sqs.receive_message(
        QueueUrl=stack.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=1, AttributeNames=["All"]
    )["Messages"]
    worker.handle(messages)

    assert seen_by_others == [0, 0, 0, 0]
    assert worker.counters["visibility_extensions"] >= 6  # every half timeout for 4 s
    assert (worker.counters["deleted"], worker.counters["stored"]) == (3, 3)


def start_worker_process(stack, environment: dict, stats_file) -> subprocess.Popen:
    env = {
        **os.environ,
        **environment,
        "QUEUE_URL": stack.queue_url,
        "TABLE_NAME": stack.table_name,
        "DLQ_URL": stack.dlq_url,
        "WORKER_WAIT_SECONDS": "1",
        "WORKER_STATS_FILE": str(stats_file),
        "POWERTOOLS_METRICS_NAMESPACE": "Test",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "consumer.worker"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def received(stats_file) -> int:
    return json.loads(stats_file.read_text())["received"] if stats_file.exists() else 0


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_a_stopped_worker_loses_nothing(local, tmp_path, stop_signal):
    stack, environment = local
    # Enough that the worker is still busy when the signal lands: it drains hundreds a second on moto now.
    sent = events(1500, seed=3)
    send(boto3.client("sqs"), stack.queue_url, [e.to_json() for e in sent])
    first = start_worker_process(stack, environment, tmp_path / "first.json")
    try:
        wait_until(lambda: received(tmp_path / "first.json") >= 20, 60, "the first worker to be mid-run")
        first.send_signal(stop_signal)
        code = first.wait(timeout=30)
    finally:
        first.kill()
    # SIGTERM: the batch in hand is finished, then exit 0. SIGKILL: it is back after the visibility timeout.
    assert code == (0 if stop_signal == signal.SIGTERM else -signal.SIGKILL)
    assert received(tmp_path / "first.json") < len(sent)  # stopped mid-run, not after the end

    second = start_worker_process(stack, environment, tmp_path / "second.json")
    try:
        wait_until(lambda: len(stored_ids(stack)) >= len(sent), 60, "the second worker to drain the queue")
    finally:
        second.send_signal(signal.SIGTERM)
        assert second.wait(timeout=30) == 0
    assert stored_ids(stack) == sorted(e.event_id for e in sent)  # every event, each once


# ---- the worker started as the README shows it, by a user with only the endpoint and credentials set -----
SEVEN_BAD_BODIES = [
    "not json at all",
    "[]",
    '{"vehicleId": "VH2001"}',
    vehicle_body(year="2020"),
    vehicle_body(mileage=-5),
    vehicle_body(unexpected=True),
    vehicle_body(vehicleId=""),
]


def users_shell(environment: dict) -> dict:
    """What a user's shell holds: PATH, the local endpoint and its credentials; none of the handler's
    variables (no POWERTOOLS_*, no TABLE_NAME), which the test process itself sets."""
    return {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **environment}


def documented_start(how: str, stack, outputs, environment: dict) -> tuple[list[str], dict]:
    command = [sys.executable, "-m", "consumer.worker"]
    if how == "--stack-outputs":
        return [*command, "--stack-outputs", str(outputs)], users_shell(environment)
    variables = {"QUEUE_URL": stack.queue_url, "TABLE_NAME": stack.table_name, "DLQ_URL": stack.dlq_url}
    return command, users_shell(environment) | variables


@pytest.mark.parametrize("how", ["--stack-outputs", "variables"])
def test_the_worker_started_as_documented_stores_the_seed_once_and_dead_letters_each_bad_body_once(
    local, tmp_path, how
):
    stack, environment = local
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=stack.queue_url, MessageBody=SEED_EXAMPLE)
    send(sqs, stack.queue_url, SEVEN_BAD_BODIES)
    command, env = documented_start(how, stack, stack.write_outputs(tmp_path / "outputs.json"), environment)
    log = tmp_path / "worker.log"

    with open(log, "w") as out:
        worker = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: _queue_empty(sqs, stack.queue_url), 30, "the worker to drain the queue")
        worker.send_signal(signal.SIGTERM)  # idle now, in a 20 s long poll
        stopping = time.monotonic()
        code = worker.wait(timeout=10)
        stop_seconds = time.monotonic() - stopping
    finally:
        worker.kill()

    lines = log.read_text().splitlines()
    assert code == 0
    assert stop_seconds < 2
    assert [line for line in lines if "batch failed" in line or line == "null"] == []
    [item] = scan_table(boto3.resource("dynamodb").Table(stack.table_name))
    assert (item["vehicleId"], item["keySource"], item["attempts"]) == ("VH2001", "messageId", 1)
    dead = read_queue(sqs, stack.dlq_url)
    assert sorted(m["Body"] for m in dead) == sorted(SEVEN_BAD_BODIES)  # each once
    assert all(reason_of(m) != NO_REASON for m in dead)
    assert json.loads(lines[-1]) | {"pid": 0} == {
        "message": "worker stopped",
        "batches": json.loads(lines[-1])["batches"],
        "received": 8,
        "deleted": 8,
        "failed": 0,
        "stored": 1,
        "routed_to_dlq": 7,
        "write_failures": 0,
        "pid": 0,
    }


def _queue_empty(sqs, queue_url: str) -> bool:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
    return (
        attributes["ApproximateNumberOfMessages"]
        == attributes["ApproximateNumberOfMessagesNotVisible"]
        == "0"
    )


def test_the_worker_refuses_a_bad_handler_variable_before_it_receives_anything(local, tmp_path):
    stack, environment = local
    sqs = boto3.client("sqs")
    send(sqs, stack.queue_url, [SEED_EXAMPLE])
    command, env = documented_start("variables", stack, None, environment)

    child = subprocess.run(
        command,
        cwd=PROJECT_ROOT,
        env=env | {"POWERTOOLS_METRICS_NAMESPACE": "AWS/Lambda"},
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert (child.returncode, child.stdout) == (2, "")
    assert child.stderr == (
        "python -m consumer.worker: POWERTOOLS_METRICS_NAMESPACE='AWS/Lambda': not a CloudWatch namespace "
        "(up to 255 letters, digits and . - _ / # :, not starting with AWS/); "
        "set the stack's metricsNamespace\n"
    )
    assert (
        sqs.get_queue_attributes(QueueUrl=stack.queue_url, AttributeNames=["All"])["Attributes"][
            "ApproximateNumberOfMessages"
        ]
        == "1"
    )  # nothing was received
