"""DLQ tool: see what failed and why, send it back for another try, or purge it.

    python -m ops.redrive --stack-outputs build/dev-outputs.json peek
    python -m ops.redrive --stack-outputs build/dev-outputs.json redrive --rate 50
    python -m ops.redrive --stack-outputs build/dev-outputs.json purge --yes

Redrive and purge first show what they will touch (the DLQ's name, account, region and message count) and
ask; --yes skips the question for scripts. On AWS, redrive uses SQS's own StartMessageMoveTask. Emulators
lack it (moto does), so for a DLQ off AWS (its URL on another host: ops/queue_endpoint.py) the tool copies
instead: receive, send to the source queue with body and attributes intact, delete — rate limited.
Redriven events get new messageIds; the consumer keys items on the producer's eventId, so a redriven event
that had in fact been stored overwrites its own item.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from consumer.dead_letters import REASON_ATTRIBUTE
from consumer.sqs_event import delete_messages
from ops.command_line import OneLineParser, UsageError, entry_point, number
from ops.dead_letter_queue import MAX_RECEIVES, SCAN_VISIBILITY_SECONDS, reason_of, scan
from ops.queue_endpoint import QueueEndpoint, same_endpoint
from ops.stack_outputs import load_stack_outputs

PROG = "python -m ops.redrive"


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
    """The message as its producer sent it, with the id of that first message: the last failure's reason is
    removed (a new failure gets its own), `sourceMessageId` kept (SQS's move task keeps attributes too), so a
    poison message routed again still names the message the producer's ledger knows."""
    attributes = {
        name: {
            key: value
            for key, value in attribute.items()
            if key in ("DataType", "StringValue", "BinaryValue")
        }
        for name, attribute in message.get("MessageAttributes", {}).items()
        if name != REASON_ATTRIBUTE
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


def _parser() -> OneLineParser:
    parser = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack-outputs", help="JSON of `pulumi stack output --json` (dlqUrl, queueUrl)")
    parser.add_argument("--dlq-url", default=os.environ.get("DLQ_URL"), help="or DLQ_URL")
    parser.add_argument("--queue-url", default=os.environ.get("QUEUE_URL"), help="or QUEUE_URL")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{peek,redrive,purge}")
    commands.add_parser("peek", help="count DLQ messages by reason, with sample bodies")
    redrive = commands.add_parser("redrive", help="send DLQ messages back to the source queue")
    redrive.add_argument(
        "--rate", type=number(above=0), default=50.0, help="messages per second (default 50)"
    )
    redrive.add_argument(
        "--method",
        choices=["auto", "move-task", "copy"],
        default="auto",
        help="auto: SQS move task on AWS, copy on an emulator (a queue URL off AWS)",
    )
    redrive.add_argument("--yes", action="store_true", help="do not ask for confirmation (scripts)")
    purge = commands.add_parser("purge", help="delete every DLQ message")
    purge.add_argument("--yes", action="store_true", help="do not ask for confirmation (scripts)")
    return parser


def _queues(args) -> tuple[QueueEndpoint, QueueEndpoint | None]:
    """The DLQ and, for redrive, the source queue: the flags first, then the stack outputs."""
    needs = ["dlqUrl", "queueUrl"] if args.command == "redrive" else ["dlqUrl"]
    outputs = load_stack_outputs(args.stack_outputs, needs) if args.stack_outputs else {}
    region = outputs.get("region") if isinstance(outputs.get("region"), str) else None
    origin = f"of {args.stack_outputs}"
    if args.dlq_url:
        dlq = QueueEndpoint.of(args.dlq_url, "--dlq-url", region=region)
    elif outputs:
        dlq = QueueEndpoint.of(outputs["dlqUrl"], f"dlqUrl {origin}", region=region)
    else:
        raise UsageError("no DLQ given: pass --stack-outputs FILE or --dlq-url URL (or set DLQ_URL)")
    if args.command != "redrive":
        return dlq, None
    if args.queue_url:
        queue = QueueEndpoint.of(args.queue_url, "--queue-url", region=region)
    elif outputs:
        queue = QueueEndpoint.of(outputs["queueUrl"], f"queueUrl {origin}", region=region)
    else:
        raise UsageError("redrive needs the source queue: pass --stack-outputs FILE or --queue-url URL")
    same_endpoint(dlq, queue, ("--dlq-url", "--queue-url"))
    return dlq, queue


def _consent(args, word: str, question: str, ask: Callable[[str], str]) -> bool:
    """--yes, or the operator typing `word` after reading what will be touched."""
    if args.yes:
        return True
    try:
        answer = ask(f"{question} Type '{word}' to go on: ")
    except EOFError:  # no terminal (a script, a pipe): never a yes
        print(f"\nnot done: no answer; pass {args.command} --yes to {word} without asking")
        return False
    if answer.strip() != word:
        print(f"not done: the answer was not '{word}'")
        return False
    return True


def _waiting(sqs: Any, queue: QueueEndpoint) -> str:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue.queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    in_flight = int(attributes["ApproximateNumberOfMessagesNotVisible"])
    return f"{int(attributes['ApproximateNumberOfMessages'])} messages (+{in_flight} in flight)"


@entry_point(PROG)
def main(argv: Sequence[str] | None = None, sqs: Any = None, ask: Callable[[str], str] = input) -> int:
    args = _parser().parse_args(argv)
    dlq, queue = _queues(args)
    sqs = sqs or dlq.client("sqs")
    if args.command == "peek":
        print(json.dumps(summarize(scan(sqs, dlq.queue_url)), indent=2))
        return 0
    if args.command == "redrive":
        method = args.method
        if method == "auto":
            method = "move-task" if dlq.on_aws else "copy"
        question = (
            f"Redrive {_waiting(sqs, dlq)} of the DLQ {dlq.describe()} to {queue.name} "
            f"at {args.rate:g} messages/s ({method})?"
        )
        if not _consent(args, "redrive", question, ask):
            return 1
        if method == "move-task":
            task = move_task_redrive(sqs, dlq.queue_url, queue.queue_url, args.rate)
            print(f"started message move task {task}")
        else:
            print(f"redrove {copy_redrive(sqs, dlq.queue_url, queue.queue_url, args.rate)} messages")
        return 0
    question = f"Purge the DLQ {dlq.describe()}: delete its {_waiting(sqs, dlq)} for good?"
    if not _consent(args, "purge", question, ask):
        return 1
    sqs.purge_queue(QueueUrl=dlq.queue_url)
    print(f"purged {dlq.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
