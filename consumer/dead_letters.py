"""Routes permanently invalid records straight to the dead-letter queue, with the reason attached.

Retrying a body that can never validate only burns maxReceiveCount receives and delays the DLQ alarm, so
the consumer sends it to the DLQ at once (body and message attributes unchanged, plus `failureReason` and
`sourceMessageId`) and lets SQS delete the original. A record whose DLQ send fails stays a batch item
failure: SQS retries it and its redrive policy still catches it. Nothing is dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import BotoCoreError, ClientError

from consumer.sqs_event import SQS_BATCH_LIMIT

SQS_MAX_MESSAGE_ATTRIBUTES = 10
REASON_ATTRIBUTE = "failureReason"
SOURCE_ID_ATTRIBUTE = "sourceMessageId"
# The SentTimestamp of the message the producer sent, which a copy redrive adds beside sourceMessageId (the
# copy's own is the redrive's time): the time in the item's key of an event keyed by its message id.
SOURCE_SENT_ATTRIBUTE = "sourceSentTimestamp"


def _send_shape(attributes: dict[str, Any]) -> dict[str, dict]:
    """Lambda's record attribute shape (stringValue, dataType…) back to SendMessage's (StringValue…)."""
    converted = {}
    for name, value in attributes.items():
        entry = {"DataType": value["dataType"]}
        if value.get("stringValue") is not None:
            entry["StringValue"] = value["stringValue"]
        if value.get("binaryValue") is not None:
            entry["BinaryValue"] = value["binaryValue"]
        converted[name] = entry
    return converted


def dead_letter_entry(record: SQSRecord, entry_id: str, reason: str, detail: str, fifo: bool) -> dict:
    original = _send_shape(dict(record.raw_event.get("messageAttributes") or {}))
    kept = dict(list(original.items())[: SQS_MAX_MESSAGE_ATTRIBUTES - 2])  # room for the two we add
    kept[REASON_ATTRIBUTE] = {"DataType": "String", "StringValue": f"{reason}: {detail}"[:1024]}
    # A message routed before and redriven since keeps the id of the message its producer sent: that is the id
    # the producer's ledger knows, and every later dead letter of it must still answer to it.
    source = original.get(SOURCE_ID_ATTRIBUTE, {}).get("StringValue") or record.message_id
    kept[SOURCE_ID_ATTRIBUTE] = {"DataType": "String", "StringValue": source}
    entry = {"Id": entry_id, "MessageBody": record.body, "MessageAttributes": kept}
    if fifo:
        entry["MessageGroupId"] = record.attributes.message_group_id or "invalid"
        entry["MessageDeduplicationId"] = record.message_id
    return entry


class DeadLetterRouter:
    def __init__(self, queue_url: str, sqs: Any = None):
        if sqs is None:
            import boto3

            sqs = boto3.client("sqs")
        self.queue_url = queue_url
        self.fifo = queue_url.endswith(".fifo")
        self._sqs = sqs

    def route(self, rejected: Sequence[tuple[SQSRecord, str, str]]) -> set[str]:
        """Send (record, reason, detail) entries to the DLQ; return the messageIds that were accepted."""
        routed: set[str] = set()
        for start in range(0, len(rejected), SQS_BATCH_LIMIT):
            chunk = rejected[start : start + SQS_BATCH_LIMIT]
            entries = [
                dead_letter_entry(record, str(index), reason, detail, self.fifo)
                for index, (record, reason, detail) in enumerate(chunk)
            ]
            try:
                response = self._sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            except (ClientError, BotoCoreError):
                continue  # the whole chunk stays failed; SQS retries and its redrive policy still applies
            routed.update(chunk[int(ok["Id"])][0].message_id for ok in response.get("Successful", []))
        return routed
