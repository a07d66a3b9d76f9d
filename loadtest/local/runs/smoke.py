"""Smoke run of the whole pipeline on the embedded AWS, in seconds: `python -m loadtest.local.runs.smoke`.

Starts moto_server, creates the stack's queue, DLQ and table from its stack file, sends a few valid events
plus one invalid body, delivers them to the real handler in Lambda-shaped events (a single poller, the
way the event source mapping would), deletes what the handler did not report, and checks that every
accepted message is stored once or sits in the DLQ.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections.abc import Sequence

import boto3

from cli.command_line import OneLineParser, entry_point, whole_number
from consumer.sqs_event import delete_messages, lambda_sqs_event
from consumer.vehicle_event import VehicleEvent
from infra.resource_spec import StackSpec
from infra.settings import from_stack_file
from loadtest.local.emulator.embedded_aws import LOCAL_REGION, aws_environment, moto_server, provision
from loadtest.local.runs.run_arguments import stack_name

PROG = "python -m loadtest.local.runs.smoke"


class _Context:
    function_name = "smoke-consumer"
    memory_limit_in_mb = 256
    invoked_function_arn = f"arn:aws:lambda:{LOCAL_REGION}:123456789012:function:smoke-consumer"
    aws_request_id = "smoke"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


def run(stack: str, count: int) -> int:
    spec = StackSpec(stack, from_stack_file(stack))
    with moto_server() as endpoint:
        os.environ.update(
            aws_environment(endpoint),
            TABLE_NAME=spec.table_name,
            POWERTOOLS_METRICS_NAMESPACE=spec.settings.metrics_namespace,
            POWERTOOLS_SERVICE_NAME="vehicle-consumer",
            POWERTOOLS_METRICS_DISABLED="true",
        )
        local = provision(spec, endpoint)
        os.environ["DLQ_URL"] = local.dlq_url  # as the deployed function: invalid records go straight there
        print(
            f"[smoke] moto_server at {endpoint}; stack {stack!r} provisioned: {json.dumps(local.outputs())}"
        )
        sqs = boto3.client("sqs")
        accepted = _send(sqs, local.queue_url, count, fifo=spec.settings.fifo)
        print(f"[smoke] sent {len(accepted)} messages ({count} valid events + 1 invalid body)")
        invocations = _drain(sqs, local.queue_url, local.queue_arn)
        table = boto3.resource("dynamodb").Table(local.table_name)
        stored = {item["eventId"] for item in table.scan()["Items"]}
        dead = sqs.receive_message(
            QueueUrl=local.dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        )
        in_dlq = {m["MessageAttributes"]["sourceMessageId"]["StringValue"] for m in dead.get("Messages", [])}
    lost = [key for key in accepted.values() if key not in stored and key not in in_dlq]
    print(f"[smoke] {invocations} invocations; lost={len(lost)} in_dlq={len(in_dlq)} stored={len(stored)}")
    return 1 if lost or len(stored) != count else 0


def _send(sqs, queue_url: str, count: int, fifo: bool) -> dict[str, str]:
    """Send `count` valid events and one invalid body; return messageId -> the key it is kept under."""
    events = [
        VehicleEvent(
            f"VH{2000 + i % 5}",
            "Honda",
            "Civic",
            2020,
            "Blue",
            15000 + i,
            event_id=uuid.uuid4().hex,
            sent_at=time.time_ns() // 1_000_000,
        )
        for i in range(count)
    ]
    bodies = [(event.to_json(), event.event_id, event.vehicle_id) for event in events]
    bodies.append(('{"vehicleId": "VH2001"}', None, "VH2001"))
    accepted: dict[str, str] = {}
    for start in range(0, len(bodies), 10):
        chunk = bodies[start : start + 10]
        entries = [{"Id": str(i), "MessageBody": body} for i, (body, _, _) in enumerate(chunk)]
        if fifo:
            for entry, (_, event_id, vehicle_id) in zip(entries, chunk, strict=True):
                entry |= {
                    "MessageGroupId": vehicle_id,
                    "MessageDeduplicationId": event_id or uuid.uuid4().hex,
                }
        for ok in sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)["Successful"]:
            event_id = chunk[int(ok["Id"])][1]
            accepted[ok["MessageId"]] = event_id or ok["MessageId"]
    return accepted


def _drain(sqs, queue_url: str, queue_arn: str, deadline_s: float = 60) -> int:
    """Poll until the queue is empty (bounded by a deadline), invoking the handler per received batch."""
    from consumer.handler import lambda_handler  # imported once the environment points at moto

    invocations = 0
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            return invocations
        response = lambda_handler(lambda_sqs_event(messages, queue_arn, LOCAL_REGION), _Context())
        invocations += 1
        failed = {failure["itemIdentifier"] for failure in response["batchItemFailures"]}
        delete_messages(sqs, queue_url, [m for m in messages if m["MessageId"] not in failed])
    raise TimeoutError(f"queue not drained within {deadline_s} s")


@entry_point(PROG, aws_failures=False)  # on the embedded AWS an AWS error is a bug: it keeps its traceback
def main(argv: Sequence[str] | None = None) -> int:
    parser = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", type=stack_name, default="dev", help="Pulumi.<stack>.yaml (default dev)")
    parser.add_argument("--count", type=whole_number(1), default=25, help="valid events to send (default 25)")
    args = parser.parse_args(argv)
    try:
        return run(args.stack, args.count)
    except TimeoutError as error:
        print(f"[smoke] FAILED: {error}", flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
