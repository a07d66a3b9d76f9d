"""The emulator's ceiling: the most messages a second it serves for the pipeline's call mix, measured under
the pipeline's own concurrency, so that no run of the pipeline can beat it.

The pipeline's calls per 10 messages are one SendMessageBatch, one ReceiveMessage, one BatchWriteItem (10
items) and one DeleteMessageBatch. The ceiling drives exactly that mix, without the handler's work, from as
many client processes as the pipeline runs against the emulator (the producer's and every poller's), each
flat out, for `seconds`, as the best of `repetitions` rounds, on a scratch queue kept near empty and a
scratch copy of the stack's table. The pipeline makes the same calls from as many processes and does the
handler's work on top, on the same cores: it cannot store faster than this. (One client for 1.5 s, the
earlier measure, could not drive moto_server as hard as ten pollers and a producer do; the pipeline beat that
"ceiling" by 36%.)
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import statistics
import time
import uuid
from typing import Any

from loadtest.local.child_process import die_with_parent, ignore_interrupts

READY_TIMEOUT_S = 120  # every client imported boto3 and made its clients (2 cores, a dozen processes)


@dataclasses.dataclass(frozen=True)
class Ceiling:
    clients: int
    seconds: float
    rounds_msgs_per_s: tuple[float, ...]

    @property
    def msgs_per_s(self) -> float:
        """The ceiling: the best round (a busy machine lowers a round, nothing raises one)."""
        return max(self.rounds_msgs_per_s)

    @property
    def spread(self) -> tuple[float, float]:
        return min(self.rounds_msgs_per_s), max(self.rounds_msgs_per_s)

    def as_dict(self) -> dict[str, Any]:
        low, high = self.spread
        return {
            "msgs_per_s": round(self.msgs_per_s, 1),
            "clients": self.clients,
            "seconds_per_round": self.seconds,
            "rounds_msgs_per_s": [round(r, 1) for r in self.rounds_msgs_per_s],
            "median_msgs_per_s": round(statistics.median(self.rounds_msgs_per_s), 1),
            "min_msgs_per_s": round(low, 1),
            "max_msgs_per_s": round(high, 1),
        }

    def line(self) -> str:
        low, high = self.spread
        rounds = len(self.rounds_msgs_per_s)
        return (
            f"{self.msgs_per_s:,.0f} msgs/s (best of {rounds} rounds of {self.seconds:g} s, "
            f"{low:,.0f}–{high:,.0f}, {self.clients} clients)"
        )


def measure_ceiling(
    endpoint_url: str, table_args: dict, clients: int, seconds: float = 10.0, repetitions: int = 3
) -> Ceiling:
    """`clients` processes drive the call mix at once for `seconds`, `repetitions` times; all of them start
    each round together (after importing boto3), and a round counts the messages deleted in it."""
    import boto3

    sqs = boto3.client("sqs", endpoint_url=endpoint_url)
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint_url)
    scratch = f"ceiling-mix-{uuid.uuid4().hex[:8]}"
    queue_url = sqs.create_queue(QueueName=scratch)["QueueUrl"]
    dynamodb.create_table(**{**table_args, "TableName": scratch})
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(clients + 1, timeout=READY_TIMEOUT_S)
    counts = context.Queue()
    workers = [
        context.Process(
            target=drive_mix,
            args=(endpoint_url, queue_url, scratch, table_args, seconds, repetitions, start, counts, n),
            daemon=True,
        )
        for n in range(clients)
    ]
    try:
        for worker in workers:
            worker.start()
        rounds = []
        for _ in range(repetitions):
            start.wait()  # every client ready: the round begins for all at once
            done = sum(counts.get(timeout=seconds + READY_TIMEOUT_S) for _ in workers)
            rounds.append(done / seconds)
    finally:
        for worker in (w for w in workers if w.pid is not None):  # started
            worker.join(5)
            if worker.is_alive():
                worker.kill()
        sqs.delete_queue(QueueUrl=queue_url)
        dynamodb.delete_table(TableName=scratch)
    return Ceiling(clients, seconds, tuple(rounds))


def drive_mix(
    endpoint_url, queue_url, table, table_args, seconds, repetitions, start, counts, number
) -> None:
    """One client: each round, the call mix flat out for `seconds`; reports the messages it deleted."""
    die_with_parent()
    ignore_interrupts()
    import boto3

    sqs = boto3.client("sqs", endpoint_url=endpoint_url)
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint_url)
    from producer.vehicles import VehicleFactory

    factory = VehicleFactory(seed=number, id_prefix=f"CEIL{number}-VH")
    for _ in range(repetitions):
        start.wait()
        deleted, ends = 0, time.monotonic() + seconds
        while time.monotonic() < ends:
            entries = [{"Id": str(i), "MessageBody": factory.event().to_json()} for i in range(10)]
            sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
            received = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not received:
                continue
            items = [{"PutRequest": {"Item": scratch_item(m, table_args)}} for m in received]
            dynamodb.batch_write_item(RequestItems={table: items})
            sqs.delete_message_batch(
                QueueUrl=queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)],
            )
            deleted += len(received)
        counts.put(deleted)


def scratch_item(message: dict, table_args: dict) -> dict:
    """An item of a stored event's size and shape: the body's fields, and every attribute the table declares
    (whatever its key design), from the body when it holds it, else unique to the message."""
    body = json.loads(message["Body"])
    item = {key: {"S": str(value)} for key, value in body.items()}
    for definition in table_args.get("AttributeDefinitions", []):
        name, kind = definition["AttributeName"], definition["AttributeType"]
        if kind == "N":
            item[name] = {"N": str(time.time_ns())}
        else:
            item[name] = {kind: str(body[name]) if name in body else message["MessageId"]}
    return item
