"""Producer Lambda (seed 000's generator): each invocation sends a number of vehicle events to the queue.

The events come from the Locust user's own factory (`producer/vehicles.py`, built on the consumer's contract)
and leave through the same `SqsProducer` (batches of 10, FIFO group and deduplication ids), so the Lambda, the
load test and the CLI produce one kind of event. The count is the invocation's `{"count": N}` or
EVENTS_PER_INVOCATION; an EventBridge schedule invokes it with no payload.
"""

from __future__ import annotations

import json
import os

from producer.sqs_producer import SQS_BATCH_LIMIT, OutgoingMessage, SqsProducer
from producer.vehicles import VehicleFactory

MAX_EVENTS_PER_INVOCATION = 10_000

_factory = VehicleFactory()  # per container: each vehicle's mileage keeps growing across invocations
_producer: SqsProducer | None = None


def _sqs_producer() -> SqsProducer:
    global _producer
    if _producer is None:
        _producer = SqsProducer(os.environ["QUEUE_URL"])
    return _producer


def lambda_handler(event: dict | None, context) -> dict:
    event = event or {}
    count = int(event["count"] if "count" in event else os.environ.get("EVENTS_PER_INVOCATION", 100))
    if not 1 <= count <= MAX_EVENTS_PER_INVOCATION:
        raise ValueError(f"count must be 1–{MAX_EVENTS_PER_INVOCATION}, got {count}")
    producer = _sqs_producer()
    sent, failed = 0, []
    for start in range(0, count, SQS_BATCH_LIMIT):
        batch = [OutgoingMessage.of(_factory.event()) for _ in range(min(SQS_BATCH_LIMIT, count - start))]
        result = producer.send(batch)
        sent += len(result.accepted)
        failed += [{"eventId": message.event_id, "code": code} for message, code, _ in result.failed]
    summary = {"requested": count, "sent": sent, "failed": len(failed)}
    print(json.dumps({"message": "events sent", **summary, "failures": failed[:10]}), flush=True)
    return summary
