"""The emulator's own ceiling, measured in the same run: what moto manages with nothing else in the way.

moto gets slower as a queue grows (it scans per call), so the ceiling is taken on a scratch queue kept near
empty, in batches of 10, and the pipeline's throughput is reported as a ratio of it (absolute rates on a
shared 2-core machine say little on their own).
"""

from __future__ import annotations

import json
import time
import uuid

import boto3


def measure_pipeline_mix(endpoint_url: str, table_args: dict, messages: int = 1000) -> dict[str, float]:
    """The emulator's ceiling for the pipeline's own call mix: per 10 messages one SendMessageBatch, one
    ReceiveMessage, one BatchWriteItem (10 items) and one DeleteMessageBatch, driven flat out by one client
    with nothing else running, on a scratch queue and a scratch copy of the stack's table (`table_args`, the
    stack's create_table arguments). The capacity run reports its sustained rate against this."""
    from producer.vehicles import VehicleFactory

    sqs = boto3.client("sqs", endpoint_url=endpoint_url)
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint_url)
    scratch = f"ceiling-mix-{uuid.uuid4().hex[:8]}"
    url = sqs.create_queue(QueueName=scratch)["QueueUrl"]
    dynamodb.create_table(**{**table_args, "TableName": scratch})
    factory = VehicleFactory(seed=99, id_prefix="CEIL-VH")
    try:
        started = time.perf_counter()
        for _ in range(messages // 10):
            entries = [{"Id": str(i), "MessageBody": factory.event().to_json()} for i in range(10)]
            sqs.send_message_batch(QueueUrl=url, Entries=entries)
            received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            dynamodb.batch_write_item(
                RequestItems={scratch: [{"PutRequest": {"Item": _item(m)}} for m in received]}
            )
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)],
            )
        mix = messages / (time.perf_counter() - started)
    finally:
        sqs.delete_queue(QueueUrl=url)
        dynamodb.delete_table(TableName=scratch)
    return {"pipeline_mix_msgs_per_s": round(mix, 1)}


def _item(message: dict) -> dict:
    """An item of a stored event's size and shape."""
    body = json.loads(message["Body"])
    item = {key: {"S": str(value)} for key, value in body.items()}
    return item | {"eventId": {"S": message["MessageId"]}, "eventTime": {"N": "0"}}
