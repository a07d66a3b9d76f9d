"""`python -m ops.status`: where an event is, read from the stack's table, DLQ and queue on moto_server.

GIVEN one event stored by the consumer, one rejected into the DLQ with its reason, one moved there by the
redrive policy (no reason), one still queued, and one never sent
WHEN the status CLI is asked about each
THEN it answers STORED (with status, attempts and times), DEAD_LETTERED (with the reason), PENDING, UNKNOWN.
"""

import json

import boto3
import pytest

from consumer import handler
from consumer.dead_letters import DeadLetterRouter
from consumer.event_store import DynamoEventStore
from consumer.sqs_event import lambda_sqs_event
from consumer.worker import Worker, WorkerConfig
from infra.settings import StackSettings
from loadtest.local.emulator.embedded_aws import LOCAL_REGION
from ops import status
from producer.vehicles import VehicleFactory
from tests.loadtest.local.local_pipeline import local_stack


@pytest.fixture
def local(tmp_path):
    with local_stack("status-test", StackSettings(), tmp_path / "run") as (stack, _):
        yield stack, stack.write_outputs(tmp_path / "outputs.json")


def ask(capsys, outputs, *event_ids) -> tuple[int, list[tuple[str, str, dict]]]:
    capsys.readouterr()  # the consumer's own log lines before this
    code = status.main([*event_ids, "--stack-outputs", str(outputs)])
    lines = capsys.readouterr().out.splitlines()
    parsed = []
    for line in lines:
        event_id, rest = line.split(": ", 1)
        state, detail = rest.split(" ", 1)
        parsed.append((event_id, state, json.loads(detail)))
    return code, parsed


def test_status_tells_stored_dead_lettered_pending_and_unknown(local, capsys):
    stack, outputs = local
    sqs = boto3.client("sqs")
    factory = VehicleFactory(seed=9)
    stored, rejected, queued = factory.event(), factory.event(), factory.event()
    rejected_body = json.dumps(rejected.to_message() | {"year": "2020"})
    for body in (stored.to_json(), rejected_body):
        sqs.send_message(QueueUrl=stack.queue_url, MessageBody=body)
    handler.processor.use_store(DynamoEventStore(stack.table_name))
    handler.processor.use_router(DeadLetterRouter(stack.dlq_url, sqs=sqs))
    try:
        messages = sqs.receive_message(
            QueueUrl=stack.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
        )
        Worker(WorkerConfig(stack.queue_url, LOCAL_REGION, wait_seconds=0)).handle(messages["Messages"])
    finally:
        handler.processor.use_store(None)
        handler.processor.use_router(None)
    exhausted = factory.event()  # as SQS's redrive policy moves it: body intact, no reason attribute
    sqs.send_message(QueueUrl=stack.dlq_url, MessageBody=exhausted.to_json())

    code, answers = ask(
        capsys,
        outputs,
        f"{stored.vehicle_id}/{stored.event_id}",
        f"{rejected.vehicle_id}/{rejected.event_id}",
        f"{exhausted.vehicle_id}/{exhausted.event_id}",
        "VH-none/never-sent",
    )
    assert code == 1
    (_, state, detail), *others = answers
    assert state == "STORED"
    assert (detail["status"], detail["attempts"], detail["vehicleId"]) == ("STORED", 1, stored.vehicle_id)
    assert (
        detail["sentAt"]
        == stored.sent_at
        <= detail["enqueuedAt"]
        <= detail["receivedAt"]
        <= detail["storedAt"]
    )
    assert detail["latencyMs"] == detail["storedAt"] - detail["sentAt"]
    assert [(event_id, state, detail.get("reason")) for event_id, state, detail in others] == [
        (rejected.event_id, "DEAD_LETTERED", "wrong_type"),
        (exhausted.event_id, "DEAD_LETTERED", "maxReceiveCount reached (moved by the redrive policy)"),
        ("never-sent", "UNKNOWN", None),
    ]

    sqs.send_message(QueueUrl=stack.queue_url, MessageBody=queued.to_json())
    assert ask(capsys, outputs, queued.event_id, "--vehicle", queued.vehicle_id)[1] == [
        (queued.event_id, "PENDING", {"queueInFlight": 0, "queueVisible": 1})
    ]
    assert ask(capsys, outputs, f"{stored.vehicle_id}/{stored.event_id}")[0] == 0


@pytest.fixture
def indexed(tmp_path):
    """A stack deployed with eventIdIndex: true, its outputs naming the index as the program exports it."""
    with local_stack("status-index", StackSettings(event_id_index=True), tmp_path / "run") as (stack, _):
        outputs = stack.write_outputs(tmp_path / "outputs.json")
        outputs.write_text(json.dumps(json.loads(outputs.read_text()) | {"eventIdIndex": "byEventId"}))
        yield stack, outputs


def test_a_stack_with_the_event_id_index_finds_an_event_by_its_id_alone(indexed, capsys):
    # GIVEN an event stored twice under its id (a redelivery) on a stack with the event-id index
    stack, outputs = indexed
    event = VehicleFactory(seed=11).event()
    handler.processor.use_store(DynamoEventStore(stack.table_name))
    try:
        for delivery in (1, 2):
            record = {
                "MessageId": f"m{delivery}",
                "ReceiptHandle": "r",
                "Body": event.to_json(),
                "MD5OfBody": "",
                "Attributes": {"ApproximateReceiveCount": str(delivery), "SentTimestamp": "1790000000000"},
            }
            handler.handle_batch(lambda_sqs_event([record], stack.queue_arn, LOCAL_REGION))
    finally:
        handler.processor.use_store(None)

    # WHEN asked with the bare event id, THEN it is STORED, as the one item its key makes
    code, [(event_id, state, detail)] = ask(capsys, outputs, event.event_id)
    assert (code, event_id, state, detail["vehicleId"], detail["attempts"]) == (
        0,
        event.event_id,
        "STORED",
        event.vehicle_id,
        2,
    )
