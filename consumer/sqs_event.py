"""What Lambda's SQS poller does around a function, for the consumers that do it themselves.

The standalone worker and the local event source mapping both receive with every attribute, build the
Lambda-shaped event (so the handler's record logic runs on exactly what it gets on AWS, attribute names and
shapes included), and delete what succeeded.
"""

from __future__ import annotations

from typing import Any

SQS_BATCH_LIMIT = 10  # entries per SendMessageBatch, DeleteMessageBatch and ChangeMessageVisibilityBatch
# Everything a Lambda record carries: system attributes (MessageGroupId, ApproximateReceiveCount, …) too.
RECEIVE_ALL_ATTRIBUTES = {
    "AttributeNames": ["All"],
    "MessageSystemAttributeNames": ["All"],
    "MessageAttributeNames": ["All"],
}


def delete_messages(sqs: Any, queue_url: str, messages: list[dict]) -> None:
    """DeleteMessageBatch in chunks of ten: the successes of a batch, never the failures."""
    for start in range(0, len(messages), SQS_BATCH_LIMIT):
        chunk = messages[start : start + SQS_BATCH_LIMIT]
        sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
        )


def lambda_sqs_event(messages: list[dict], queue_arn: str, region: str) -> dict:
    records = []
    for message in messages:
        attributes = {
            name: {
                "stringValue": value.get("StringValue"),
                "binaryValue": value.get("BinaryValue"),
                "stringListValues": [],
                "binaryListValues": [],
                "dataType": value["DataType"],
            }
            for name, value in message.get("MessageAttributes", {}).items()
        }
        records.append(
            {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": message.get("Attributes", {}),
                "messageAttributes": attributes,
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
        )
    return {"Records": records}
