"""FIFO end to end: the real handler behind the local event source mapping on moto FIFO queues.

GIVEN the fifo example stack's queues, 72 events from 12 vehicles (interleaved), every batch
sent twice within the deduplication window, and 20% of DynamoDB writes failing (injected)
WHEN several pollers drain the queue
THEN each event is stored once, and every vehicle's events were stored in the order they were sent: a failure
held the rest of its message group back until it was retried, and no two pollers had a group at once.
"""

import dataclasses

import boto3
import pytest

from infra.settings import from_stack_file
from loadtest.analysis.ledger_check import scan_table
from producer.sqs_producer import OutgoingMessage, SqsProducer
from producer.vehicles import VehicleFactory
from tests.loadtest.local.local_pipeline import local_stack, wait_until

SETTINGS = from_stack_file("fifo")
VEHICLES, EVENTS_PER_VEHICLE = 12, 6


@pytest.fixture
def fifo_stack(tmp_path):
    # A 1 s timeout keeps the visibility timeout (6 s) and so each retry short. Records held back behind a
    # failed one of their group count receives too; 10 receives keep a busy machine's slow batches from
    # dead-lettering an event this test expects stored.
    settings = dataclasses.replace(SETTINGS, function_timeout_seconds=1, max_receive_count=10)
    with local_stack("fifo-test", settings, tmp_path) as (local, session):
        faults = "dynamodb_failure_ratio=0.2"  # enough failures that one always holds back a later record
        yield local, session.consumers(local, settings, start_pollers=3, VEHICLE_PIPELINE_FAULTS=faults)


def test_each_vehicles_events_are_stored_once_and_in_send_order_despite_failures(fifo_stack):
    local, runner = fifo_stack
    factory = VehicleFactory(seed=11, fleet_size=VEHICLES)
    sent = [factory.event() for _ in range(VEHICLES * EVENTS_PER_VEHICLE)]
    producer = SqsProducer(local.queue_url)
    for start in range(0, len(sent), 10):
        batch = [OutgoingMessage.of(event) for event in sent[start : start + 10]]
        assert len(producer.send(batch).accepted) == len(batch)
        producer.send(batch)  # again: the same eventIds as deduplication ids, within the 5-minute window

    runner.start()
    wait_until(lambda: runner.depth() == (0, 0, 0), 120, "the FIFO queue to drain")
    runner.stop()

    items = scan_table(boto3.resource("dynamodb").Table(local.table_name))
    assert sorted(item["eventId"] for item in items) == sorted(event.event_id for event in sent)
    assert (
        runner.totals["write_failures"] > 0
        and runner.totals["failed_records"] > runner.totals["write_failures"]
    )
    stored = {item["eventId"]: item for item in items}
    for vehicle_id in {event.vehicle_id for event in sent}:
        in_send_order = [stored[e.event_id] for e in sent if e.vehicle_id == vehicle_id]
        stored_at = [int(item["storedAt"]) for item in in_send_order]
        assert stored_at == sorted(stored_at), (
            vehicle_id,
            [
                (i["eventId"][:6], int(i["storedAt"]) % 100000, int(i["attempts"]), i["messageId"][:6])
                for i in in_send_order
            ],
            runner.totals,
        )
        # Each item also keeps its SequenceNumber, which orders a group on AWS; moto's are random, so the
        # proof here is the storage time.
        assert all("sequenceNumber" in item for item in in_send_order)
