"""Reading the DLQ without consuming it: what an operator and the ledger check both need.

A dead letter carries the consumer's `failureReason` and `sourceMessageId` attributes when the consumer routed
it (an invalid body), neither when the queue's redrive policy moved it after maxReceiveCount receives.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from consumer.dead_letters import REASON_ATTRIBUTE, SOURCE_ID_ATTRIBUTE

SCAN_VISIBILITY_SECONDS = 30  # long enough to read the whole DLQ once; messages are released right after
MAX_RECEIVES = 10_000  # every loop here is bounded
NO_REASON = "maxReceiveCount exceeded (redrive policy)"


def reason_of(message: dict) -> str:
    attribute = message.get("MessageAttributes", {}).get(REASON_ATTRIBUTE)
    return attribute["StringValue"].split(":", 1)[0] if attribute else NO_REASON


def scan(sqs: Any, dlq_url: str, limit: int = MAX_RECEIVES) -> list[dict]:
    """Read up to `limit` DLQ messages without deleting them (they become visible again at once)."""
    seen: dict[str, dict] = {}
    for _ in range(limit // 10 + 1):
        batch = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            VisibilityTimeout=SCAN_VISIBILITY_SECONDS,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch or len(seen) >= limit:
            break
        seen.update((message["MessageId"], message) for message in batch)
    release(sqs, dlq_url, list(seen.values()))
    return list(seen.values())


def release(sqs: Any, dlq_url: str, messages: Sequence[dict]) -> None:
    for start in range(0, len(messages), 10):
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for i, m in enumerate(messages[start : start + 10])
        ]
        sqs.change_message_visibility_batch(QueueUrl=dlq_url, Entries=entries)


def dead_letter_keys(message: dict) -> set[str]:
    """Every id a dead letter answers to: its messageId, the routed message's id, its body's eventId."""
    keys = {message["MessageId"]}
    source = message.get("MessageAttributes", {}).get(SOURCE_ID_ATTRIBUTE)
    if source:
        keys.add(source["StringValue"])
    try:
        body = json.loads(message["Body"])
        if isinstance(body, dict) and isinstance(body.get("eventId"), str):
            keys.add(body["eventId"])
    except ValueError:
        pass
    return keys
