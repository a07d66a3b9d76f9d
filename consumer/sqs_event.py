"""SQS messages (as ReceiveMessage returns them) in the shape Lambda's SQS poller hands a function.

The standalone worker and the local event source mapping both build this event, so the Lambda handler's
record logic runs on exactly what it gets on AWS (attribute names and shapes included).
"""

from __future__ import annotations


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
