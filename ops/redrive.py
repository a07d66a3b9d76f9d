"""DLQ tool: see what failed and why, send it back for another try, or purge it.

    python -m ops.redrive --stack-outputs build/dev-outputs.json peek
    python -m ops.redrive --stack-outputs build/dev-outputs.json redrive --rate 50
    python -m ops.redrive --stack-outputs build/dev-outputs.json purge --yes

On AWS, redrive uses SQS's own StartMessageMoveTask. Emulators lack it (moto does), so with a custom
endpoint (AWS_ENDPOINT_URL) the tool copies instead: receive, send to the source queue with body and
attributes intact, delete — rate limited. Redriven events get new messageIds; the consumer keys items on the
producer's eventId, so a redriven event that had in fact been stored overwrites its own item.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from consumer.dead_letters import REASON_ATTRIBUTE, SOURCE_ID_ATTRIBUTE
from consumer.sqs_event import delete_messages
from ops.dead_letter_queue import MAX_RECEIVES, SCAN_VISIBILITY_SECONDS, reason_of, scan


def summarize(messages: Sequence[dict], samples: int = 3) -> dict[str, Any]:
    by_reason = Counter(reason_of(m) for m in messages)
    return {
        "total": len(messages),
        "byReason": dict(by_reason.most_common()),
        "samples": {
            reason: [m["Body"][:200] for m in messages if reason_of(m) == reason][:samples]
            for reason in by_reason
        },
    }


def _resend_entry(message: dict, index: int, fifo: bool) -> dict:
    """The message as its producer sent it: our routing attributes removed, everything else kept."""
    attributes = {
        name: {
            key: value
            for key, value in attribute.items()
            if key in ("DataType", "StringValue", "BinaryValue")
        }
        for name, attribute in message.get("MessageAttributes", {}).items()
        if name not in (REASON_ATTRIBUTE, SOURCE_ID_ATTRIBUTE)
    }
    entry: dict[str, Any] = {"Id": str(index), "MessageBody": message["Body"]}
    if attributes:
        entry["MessageAttributes"] = attributes
    if trace := message.get("Attributes", {}).get("AWSTraceHeader"):
        entry["MessageSystemAttributes"] = {"AWSTraceHeader": {"DataType": "String", "StringValue": trace}}
    if fifo:
        entry["MessageGroupId"] = message.get("Attributes", {}).get("MessageGroupId", "redrive")
        entry["MessageDeduplicationId"] = message["MessageId"]
    return entry


def copy_redrive(
    sqs: Any,
    dlq_url: str,
    queue_url: str,
    rate: float,
    limit: int = MAX_RECEIVES,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Move messages by receive/send/delete at most `rate` per second; deletes only what was re-sent."""
    moved = 0
    fifo = queue_url.endswith(".fifo")
    for _ in range(limit // 10 + 1):
        started = time.monotonic()
        batch = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=min(10, limit - moved),
            WaitTimeSeconds=0,
            VisibilityTimeout=SCAN_VISIBILITY_SECONDS,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            break
        sent = sqs.send_message_batch(
            QueueUrl=queue_url, Entries=[_resend_entry(m, i, fifo) for i, m in enumerate(batch)]
        )
        done = [batch[int(ok["Id"])] for ok in sent.get("Successful", [])]
        delete_messages(sqs, dlq_url, done)
        moved += len(done)
        if moved >= limit:
            break
        sleep(max(0.0, len(batch) / rate - (time.monotonic() - started)))
    return moved


def move_task_redrive(sqs: Any, dlq_url: str, queue_url: str, rate: float) -> str:
    arns = [
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for url in (dlq_url, queue_url)
    ]
    return sqs.start_message_move_task(
        SourceArn=arns[0], DestinationArn=arns[1], MaxNumberOfMessagesPerSecond=int(rate)
    )["TaskHandle"]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ops.redrive", description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack-outputs", help="JSON of `pulumi stack output --json` (dlqUrl, queueUrl)")
    parser.add_argument("--dlq-url", default=os.environ.get("DLQ_URL"))
    parser.add_argument("--queue-url", default=os.environ.get("QUEUE_URL"))
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("peek", help="count DLQ messages by reason, with sample bodies")
    redrive = commands.add_parser("redrive", help="send DLQ messages back to the source queue")
    redrive.add_argument("--rate", type=float, default=50.0, help="messages per second (default 50)")
    redrive.add_argument(
        "--method",
        choices=["auto", "move-task", "copy"],
        default="auto",
        help="auto: SQS move task on AWS, copy against a custom endpoint (emulators)",
    )
    purge = commands.add_parser("purge", help="delete every DLQ message")
    purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    return parser


def main(argv: Sequence[str] | None = None, sqs: Any = None, ask: Callable[[str], str] = input) -> int:
    args = _parser().parse_args(argv)
    if args.stack_outputs:
        with open(args.stack_outputs) as outputs_file:
            outputs = json.load(outputs_file)
        args.dlq_url = args.dlq_url or outputs["dlqUrl"]
        args.queue_url = args.queue_url or outputs["queueUrl"]
    if not args.dlq_url:
        print("error: give --stack-outputs or --dlq-url (or set DLQ_URL)", file=sys.stderr)
        return 2
    if sqs is None:
        import boto3

        sqs = boto3.client("sqs")
    if args.command == "peek":
        print(json.dumps(summarize(scan(sqs, args.dlq_url)), indent=2))
    elif args.command == "redrive":
        if not args.queue_url:
            print("error: redrive needs --queue-url or --stack-outputs", file=sys.stderr)
            return 2
        method = args.method
        if method == "auto":
            method = "copy" if os.environ.get("AWS_ENDPOINT_URL") else "move-task"
        if method == "move-task":
            print(
                f"started message move task {move_task_redrive(sqs, args.dlq_url, args.queue_url, args.rate)}"
            )
        else:
            print(f"redrove {copy_redrive(sqs, args.dlq_url, args.queue_url, args.rate)} messages")
    elif args.yes or ask(f"purge every message of {args.dlq_url}? type 'purge': ").strip() == "purge":
        sqs.purge_queue(QueueUrl=args.dlq_url)
        print("purged")
    else:
        print("not purged")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
