"""DLQ tool: see what failed and why, send it back for another try, or purge it.

    python -m ops.redrive --stack-outputs build/dev-outputs.json peek [--bodies 3]
    python -m ops.redrive --stack-outputs build/dev-outputs.json redrive --rate 50
    python -m ops.redrive --stack-outputs build/dev-outputs.json purge --yes

`peek` counts the DLQ's messages by reason; bodies may hold personal data, so it prints them only when
asked (`--bodies N`: up to N per reason). Redrive and purge first show what they will touch (the DLQ's
name, account, region and message count) and ask; --yes skips the question for scripts.

A redrive moves what the DLQ held when it started, never more: a consumer that routes a poison message
straight back to the DLQ would otherwise keep a redrive busy forever. On AWS it starts SQS's own
StartMessageMoveTask, which counts the messages to move when it starts (ListMessageMoveTasks'
ApproximateNumberOfMessagesToMove), and follows it to the end. Emulators lack the move task (moto does),
so for a DLQ off AWS (its URL on another host: cli/queue_endpoint.py) the tool copies instead — receive,
send to the source queue with body and attributes intact, delete, at the given rate — at most the count it
announced, and a message it has already moved (known by its `sourceMessageId`) that comes back during the
redrive is set aside, never moved twice. Both end with one line: moved, skipped, left in the DLQ.

Redriven copies get new messageIds. The consumer keys items on the producer's eventId, or, for a body
without one, on `sourceMessageId` (consumer/stored_item.py), which the copy keeps or adds: a redriven event
that had in fact been stored overwrites its own item.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from cli.command_line import OneLineParser, UsageError, entry_point, number, whole_number
from cli.queue_endpoint import QueueEndpoint, same_endpoint
from cli.stack_outputs import load_stack_outputs
from consumer.dead_letters import (
    REASON_ATTRIBUTE,
    SOURCE_ID_ATTRIBUTE,
    SOURCE_SENT_ATTRIBUTE,
    SQS_MAX_MESSAGE_ATTRIBUTES,
)
from consumer.sqs_event import delete_messages
from ops.dead_letter_queue import SCAN_VISIBILITY_SECONDS, reason_of, release, scan

PROG = "python -m ops.redrive"


PROGRESS_SECONDS = 5.0  # a line this often while a redrive runs
MOVE_TASK_DONE = ("COMPLETED", "CANCELLED", "FAILED")


def summarize(messages: Sequence[dict], bodies: int = 0) -> dict[str, Any]:
    """Counts by reason; with `bodies`, up to that many sample bodies (200 characters) per reason."""
    by_reason = Counter(reason_of(m) for m in messages)
    summary: dict[str, Any] = {"total": len(messages), "byReason": dict(by_reason.most_common())}
    if bodies:
        summary["samples"] = {
            reason: [m["Body"][:200] for m in messages if reason_of(m) == reason][:bodies]
            for reason in by_reason
        }
    return summary


def origin_id(message: dict) -> str:
    """The id of the message the producer sent: `sourceMessageId` once the message has been through the
    consumer's routing or a copy redrive, else its own id (SQS's redrive policy keeps a message's id)."""
    source = message.get("MessageAttributes", {}).get(SOURCE_ID_ATTRIBUTE)
    return source["StringValue"] if source else message["MessageId"]


def _resend_entry(message: dict, index: int, fifo: bool) -> dict:
    """The message as its producer sent it, carrying the id of that first message: the last failure's
    reason is removed (a new failure gets its own), `sourceMessageId` kept or added, with the first message's
    SentTimestamp as `sourceSentTimestamp` (SQS's move task keeps attributes too), so the copy, which SQS
    gives a new messageId, is still known as the same message — to the consumer's idempotency key and the
    time in its item's key, to the producer's ledger, and to this redrive if it comes back."""
    attributes = {
        name: {
            key: value
            for key, value in attribute.items()
            if key in ("DataType", "StringValue", "BinaryValue")
        }
        for name, attribute in message.get("MessageAttributes", {}).items()
        if name != REASON_ATTRIBUTE
    }
    if SOURCE_ID_ATTRIBUTE not in attributes and len(attributes) < SQS_MAX_MESSAGE_ATTRIBUTES:
        attributes[SOURCE_ID_ATTRIBUTE] = {"DataType": "String", "StringValue": message["MessageId"]}
        # The first message's time goes with its id: the consumer puts it in the item's key.
        sent = message.get("Attributes", {}).get("SentTimestamp")
        if sent and SOURCE_SENT_ATTRIBUTE not in attributes and len(attributes) < SQS_MAX_MESSAGE_ATTRIBUTES:
            attributes[SOURCE_SENT_ATTRIBUTE] = {"DataType": "Number", "StringValue": sent}
    entry: dict[str, Any] = {"Id": str(index), "MessageBody": message["Body"]}
    if attributes:
        entry["MessageAttributes"] = attributes
    if trace := message.get("Attributes", {}).get("AWSTraceHeader"):
        entry["MessageSystemAttributes"] = {"AWSTraceHeader": {"DataType": "String", "StringValue": trace}}
    if fifo:
        entry["MessageGroupId"] = message.get("Attributes", {}).get("MessageGroupId", "redrive")
        entry["MessageDeduplicationId"] = message["MessageId"]
    return entry


@dataclasses.dataclass
class RedriveResult:
    announced: int  # what the DLQ held when the redrive started: the most it moves
    moved: int = 0
    skipped: int = 0  # already moved by this redrive and back in the DLQ: left for the operator
    left: int = 0  # in the DLQ when it ended (visible and in flight)

    def line(self) -> str:
        return (
            f"moved {self.moved} of the {self.announced} announced; skipped {self.skipped} already moved "
            f"that came back to the DLQ during the redrive; {self.left} left in the DLQ"
        )


def copy_redrive(
    sqs: Any,
    dlq_url: str,
    queue_url: str,
    rate: float,
    announced: int,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[str], None] = print,
) -> RedriveResult:
    """Move at most `announced` messages by receive/send/delete, at most `rate` per second; deletes only
    what was re-sent. Messages that came back after being moved stay in hand (invisible) until the end, so
    each receive brings new ones, then are released."""
    result = RedriveResult(announced)
    fifo = queue_url.endswith(".fifo")
    moved: set[str] = set()
    set_aside: dict[str, dict] = {}
    last_line = time.monotonic()
    # Bounded: every receive either moves messages or sets aside ones moved before (each at most once,
    # as they stay in hand), and an empty receive ends the loop.
    for _ in range(2 * (announced // 10 + 1)):
        if result.moved >= announced:
            break
        started = time.monotonic()
        batch = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=min(10, announced - result.moved),
            WaitTimeSeconds=0,
            VisibilityTimeout=SCAN_VISIBILITY_SECONDS,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            break
        fresh, origins = [], set()
        for message in batch:  # one copy of each message moves; others of it wait in hand
            if origin_id(message) in moved or origin_id(message) in origins:
                set_aside[message["MessageId"]] = message
            else:
                fresh.append(message)
                origins.add(origin_id(message))
        if fresh:
            sent = sqs.send_message_batch(
                QueueUrl=queue_url, Entries=[_resend_entry(m, i, fifo) for i, m in enumerate(fresh)]
            )
            done = [fresh[int(ok["Id"])] for ok in sent.get("Successful", [])]
            delete_messages(sqs, dlq_url, done)
            moved.update(origin_id(m) for m in done)
            result.moved += len(done)
        if time.monotonic() - last_line >= PROGRESS_SECONDS:
            progress(f"redrive: moved {result.moved} of {announced}, {len(set_aside)} came back")
            last_line = time.monotonic()
        sleep(max(0.0, len(fresh) / rate - (time.monotonic() - started)))
    release(sqs, dlq_url, list(set_aside.values()))
    result.skipped = len(set_aside)
    result.left = _dlq_count(sqs, dlq_url)
    return result


def move_task_redrive(
    sqs: Any,
    dlq_url: str,
    queue_url: str,
    rate: float,
    sleep: Callable[[float], None] = time.sleep,
    progress: Callable[[str], None] = print,
    max_wait_s: float | None = None,
) -> RedriveResult:
    """SQS's move task, followed until it ends (ListMessageMoveTasks) or `max_wait_s` passes; it moves the
    messages the DLQ held when it started, as SQS counts them."""
    arns = [
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        for url in (dlq_url, queue_url)
    ]
    handle = sqs.start_message_move_task(
        SourceArn=arns[0], DestinationArn=arns[1], MaxNumberOfMessagesPerSecond=int(rate)
    )["TaskHandle"]
    progress(f"redrive: started message move task {handle}")
    task: dict = {}
    waited = 0.0
    while True:
        task = sqs.list_message_move_tasks(SourceArn=arns[0], MaxResults=1)["Results"][0]
        to_move = task.get("ApproximateNumberOfMessagesToMove", 0)
        if task["Status"] in MOVE_TASK_DONE:
            break
        limit = max_wait_s if max_wait_s is not None else to_move / rate + 60
        if waited >= limit:
            progress(f"redrive: still {task['Status']} after {waited:.0f} s; it goes on in SQS ({handle})")
            break
        progress(
            f"redrive: {task['Status']}, moved {task.get('ApproximateNumberOfMessagesMoved', 0)} of {to_move}"
        )
        sleep(PROGRESS_SECONDS)
        waited += PROGRESS_SECONDS
    if task.get("FailureReason"):
        progress(f"redrive: the move task failed: {task['FailureReason']}")
    return RedriveResult(
        announced=task.get("ApproximateNumberOfMessagesToMove", 0),
        moved=task.get("ApproximateNumberOfMessagesMoved", 0),
        left=_dlq_count(sqs, dlq_url),
    )


def _dlq_count(sqs: Any, dlq_url: str) -> int:
    visible, in_flight = _depth(sqs, dlq_url)
    return visible + in_flight


def _parser() -> OneLineParser:
    parser = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack-outputs", help="JSON of `pulumi stack output --json` (dlqUrl, queueUrl)")
    parser.add_argument("--dlq-url", default=os.environ.get("DLQ_URL"), help="or DLQ_URL")
    parser.add_argument("--queue-url", default=os.environ.get("QUEUE_URL"), help="or QUEUE_URL")
    commands = parser.add_subparsers(dest="command", required=True, metavar="{peek,redrive,purge}")
    peek = commands.add_parser("peek", help="count DLQ messages by reason")
    peek.add_argument(
        "--bodies",
        type=whole_number(0),
        default=0,
        help="also print up to this many bodies per reason (they may hold personal data; default 0)",
    )
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


def _depth(sqs: Any, queue_url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def _waiting(visible: int, in_flight: int) -> str:
    return f"{visible} messages (+{in_flight} in flight)"


@entry_point(PROG)
def main(argv: Sequence[str] | None = None, sqs: Any = None, ask: Callable[[str], str] = input) -> int:
    args = _parser().parse_args(argv)
    dlq, queue = _queues(args)
    sqs = sqs or dlq.client("sqs")
    if args.command == "peek":
        print(json.dumps(summarize(scan(sqs, dlq.queue_url), args.bodies), indent=2))
        return 0
    visible, in_flight = _depth(sqs, dlq.queue_url)
    if args.command == "redrive":
        method = args.method
        if method == "auto":
            method = "move-task" if dlq.on_aws else "copy"
        question = (
            f"Redrive the {_waiting(visible, in_flight)} of the DLQ {dlq.describe()} to {queue.name} "
            f"at {args.rate:g} messages/s ({method})?"
        )
        if not _consent(args, "redrive", question, ask):
            return 1
        if method == "move-task":
            result = move_task_redrive(sqs, dlq.queue_url, queue.queue_url, args.rate)
        else:  # the visible ones: in-flight messages are someone else's until their timeout ends
            result = copy_redrive(sqs, dlq.queue_url, queue.queue_url, args.rate, announced=visible)
        print(f"redrive: {result.line()}")
        return 0
    question = f"Purge the DLQ {dlq.describe()}: delete its {_waiting(visible, in_flight)} for good?"
    if not _consent(args, "purge", question, ask):
        return 1
    sqs.purge_queue(QueueUrl=dlq.queue_url)
    print(f"purged {dlq.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
