"""The embedded SQS hands out FIFO message groups as SQS does (emulator/fifo_groups.py over moto).

GIVEN a FIFO queue on the emulator
WHEN three messages of a group fail together and a long poll waits for them / two receivers poll one group
THEN they come back first-sent first, and a group is never split between two receivers.
And a long poll on a standard queue (served by the performance layer's wait) wakes up for a message sent
while it waits.
"""

import threading

import boto3
import pytest

from loadtest.local.emulator.embedded_aws import aws_environment, moto_server


@pytest.fixture
def fifo_queue(monkeypatch):
    with moto_server() as endpoint:
        for key, value in aws_environment(endpoint).items():
            monkeypatch.setenv(key, value)
        sqs = boto3.client("sqs")
        url = sqs.create_queue(QueueName="q.fifo", Attributes={"FifoQueue": "true", "VisibilityTimeout": "1"})
        yield sqs, url["QueueUrl"]


def send_group(sqs, url: str, group: str, count: int) -> None:
    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[
            {
                "Id": str(i),
                "MessageBody": f"{group}{i}",
                "MessageGroupId": group,
                "MessageDeduplicationId": f"{group}{i}",
            }
            for i in range(count)
        ],
    )


def bodies(response: dict) -> list[str]:
    return [m["Body"] for m in response.get("Messages", [])]


def test_a_groups_failed_messages_come_back_in_order(fifo_queue):
    sqs, url = fifo_queue
    send_group(sqs, url, "g", 3)
    assert bodies(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)) == ["g0", "g1", "g2"]
    # Not deleted: they fail together and become visible again microseconds apart, during this long poll.
    assert bodies(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=3)) == [
        "g0",
        "g1",
        "g2",
    ]


def test_a_group_is_never_split_between_concurrent_receivers(fifo_queue):
    sqs, url = fifo_queue
    results: list[list[str]] = []

    def receive() -> None:
        client = boto3.client("sqs")
        response = client.receive_message(
            QueueUrl=url, MaxNumberOfMessages=2, WaitTimeSeconds=2, VisibilityTimeout=30
        )
        results.append(bodies(response))

    receivers = [threading.Thread(target=receive) for _ in range(2)]
    for receiver in receivers:
        receiver.start()
    send_group(sqs, url, "g", 4)
    for receiver in receivers:
        receiver.join()
    assert sorted(results) == [[], ["g0", "g1"]]  # the other receiver waits: g is in flight


def test_a_long_poll_on_a_standard_queue_returns_a_message_sent_while_it_waits(fifo_queue):
    sqs, _ = fifo_queue
    url = sqs.create_queue(QueueName="standard")["QueueUrl"]
    sender = threading.Timer(0.5, lambda: sqs.send_message(QueueUrl=url, MessageBody="late"))
    sender.start()
    try:
        response = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=5)
    finally:
        sender.join()
    assert bodies(response) == ["late"]
