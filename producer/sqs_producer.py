"""A thin SQS client for producers: batch or single sends, FIFO group/dedup ids, optional X-Ray header.

The endpoint comes from boto3's standard AWS_ENDPOINT_URL, so the same code sends to moto or to AWS.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import time
from typing import Any

from consumer.sqs_event import SQS_BATCH_LIMIT


def xray_trace_header() -> str:
    """A new sampled X-Ray trace, in the AWSTraceHeader format Lambda continues across SQS."""
    root = f"1-{int(time.time()):08x}-{os.urandom(12).hex()}"
    return f"Root={root};Parent={os.urandom(8).hex()};Sampled=1"


@dataclasses.dataclass(frozen=True)
class OutgoingMessage:
    body: str
    event_id: str | None = None
    vehicle_id: str | None = None
    sent_at: int | None = None
    poison: bool = False

    @classmethod
    def of(cls, event: Any) -> OutgoingMessage:
        """A valid vehicle event (`consumer.vehicle_event.VehicleEvent`) with the ids the ledger keys on."""
        return cls(event.to_json(), event.event_id, event.vehicle_id, event.sent_at)


@dataclasses.dataclass
class SendResult:
    accepted: list[tuple[OutgoingMessage, str]] = dataclasses.field(
        default_factory=list
    )  # (message, MessageId)
    failed: list[tuple[OutgoingMessage, str, str]] = dataclasses.field(
        default_factory=list
    )  # (message, code, why)
    bytes_sent: int = 0


class SqsProducer:
    def __init__(self, queue_url: str, client: Any = None, xray: bool = False):
        if client is None:
            import boto3

            client = boto3.client("sqs")
        self.queue_url = queue_url
        self.fifo = queue_url.endswith(".fifo")
        self.xray = xray
        self._sqs = client

    def _entry(self, index: int, message: OutgoingMessage) -> dict:
        entry: dict[str, Any] = {"Id": str(index), "MessageBody": message.body}
        if self.fifo:  # order per vehicle; dedup on the producer's id so a resend is dropped by SQS
            entry["MessageGroupId"] = message.vehicle_id or "unkeyed"
            entry["MessageDeduplicationId"] = (
                message.event_id or hashlib.sha256(message.body.encode()).hexdigest()
            )
        if self.xray:
            header = {"DataType": "String", "StringValue": xray_trace_header()}
            entry["MessageSystemAttributes"] = {"AWSTraceHeader": header}
        return entry

    def send(self, messages: list[OutgoingMessage]) -> SendResult:
        """One SendMessageBatch call (or SendMessage for a single message); partial failures reported."""
        if not 1 <= len(messages) <= SQS_BATCH_LIMIT:
            raise ValueError(f"send takes 1–{SQS_BATCH_LIMIT} messages, got {len(messages)}")
        result = SendResult(bytes_sent=sum(len(m.body.encode()) for m in messages))
        entries = [self._entry(i, m) for i, m in enumerate(messages)]
        if len(messages) == 1:
            single = {k: v for k, v in entries[0].items() if k != "Id"}
            response = self._sqs.send_message(QueueUrl=self.queue_url, **single)
            result.accepted.append((messages[0], response["MessageId"]))
            return result
        response = self._sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
        result.accepted = [
            (messages[int(ok["Id"])], ok["MessageId"]) for ok in response.get("Successful", [])
        ]
        result.failed = [
            (messages[int(bad["Id"])], bad["Code"], bad.get("Message", ""))
            for bad in response.get("Failed", [])
        ]
        return result
