"""The emulator's own ceiling, measured in the same run: what moto manages with nothing else in the way.

moto gets slower as a queue grows (it scans per call), so the ceiling is taken on a scratch queue kept near
empty, in batches of 10, and the pipeline's throughput is reported as a ratio of it (absolute rates on a
shared 2-core machine say little on their own).
"""

from __future__ import annotations

import time
import uuid

import boto3

BATCH = [{"Id": str(i), "MessageBody": '{"ceiling": true}'} for i in range(10)]


def measure_ceiling(endpoint_url: str, messages: int = 600) -> dict[str, float]:
    sqs = boto3.client("sqs", endpoint_url=endpoint_url)
    url = sqs.create_queue(QueueName=f"ceiling-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    try:
        rounds = messages // 10
        started = time.perf_counter()
        for _ in range(rounds):
            sqs.send_message_batch(QueueUrl=url, Entries=BATCH)
        batch_send = messages / (time.perf_counter() - started)
        sqs.purge_queue(QueueUrl=url)
        started = time.perf_counter()
        for _ in range(rounds):  # bounded: one batch in, the same batch out
            sqs.send_message_batch(QueueUrl=url, Entries=BATCH)
            received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if received:
                sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)
                    ],
                )
        round_trip = messages / (time.perf_counter() - started)
    finally:
        sqs.delete_queue(QueueUrl=url)
    return {
        "batch_send_msgs_per_s": round(batch_send, 1),
        "send_receive_delete_msgs_per_s": round(round_trip, 1),
    }
