"""The SQS performance layer answers exactly as stock moto does (loadtest/local/emulator/sqs_performance.py).

GIVEN a seeded random sequence of SQS calls (sends with delays, attributes, FIFO groups and deduplication
ids; receives of 1–10 with visibility timeouts and attribute names; deletes and visibility changes with
current, stale and invalid receipt handles; queue attributes; purges) on standard and FIFO queues that
redrive to a dead-letter queue after two receives, with a controlled clock advanced between calls so that
delays, visibility timeouts, retention periods and the deduplication window run out
WHEN the sequence runs on stock moto and on moto with the layer installed (FIFO: also both behind the
emulator's FIFO passes)
THEN every reply is the same, call by call: message ids, bodies, receipt handles, attributes, order, counts
and errors. And a receive reads the clock as often at 2,000 waiting as at 100.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import random
import threading
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import utils as moto_utils
from moto.moto_api._internal import mock_random
from moto.sqs import models
from moto.sqs.utils import generate_receipt_handle

from loadtest.local.emulator import fifo_groups, sqs_performance

REGION = "us-east-1"
EPOCH = datetime.datetime(1970, 1, 1)
START_NS = 1_790_000_000_123_456_789  # sub-millisecond digits on purpose: the clocks must agree on them


class SteppedClock:
    """Wall-clock time for moto, under the test's control: both of moto's clock sources read it."""

    def __init__(self, ns: int = START_NS):
        self.ns = ns

    def time_ns(self) -> int:
        return self.ns

    def utcnow(self) -> datetime.datetime:  # moto's unix_time() source, floored to the microsecond
        return EPOCH + datetime.timedelta(microseconds=self.ns // 1000)

    def advance(self, rng: random.Random) -> None:
        # Mostly whole milliseconds and seconds, so the clock often lands exactly where a delay or visibility
        # timeout ends (moto: visible once now > visible_at, undelayed once now >= delayed_until).
        roll = rng.random()
        if roll < 0.2:
            return  # the same instant
        if roll < 0.55:
            self.ns += rng.choice([1, 100, 250, 500]) * 1_000_000
        elif roll < 0.85:
            self.ns += rng.choice([1, 2, 3, 5]) * 1_000_000_000  # delays and visibility timeouts end
        elif roll < 0.95:
            self.ns += rng.randrange(1, 3_000_000_000)
        else:
            self.ns += rng.choice([10, 30, 61]) * 1_000_000_000  # retention, the purge window


@contextlib.contextmanager
def sqs_world(clock: SteppedClock, layer: bool, fifo_passes: bool, seed: int) -> Iterator[Any]:
    """A fresh in-process moto SQS on the clock: stock or with the layer, maybe behind the FIFO passes."""
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(moto_utils, "utcnow", clock.utcnow))
        stack.enter_context(mock.patch.object(sqs_performance.CLOCK, "source_ns", clock.time_ns))
        if layer:
            stack.enter_context(sqs_performance.installed())
        if fifo_passes:  # what fifo_groups.install does, undone afterwards
            stack.enter_context(mock.patch.object(models, "unix_time_millis", sqs_performance.CLOCK.millis))
            receive = fifo_groups.fifo_group_receive(models.SQSBackend.receive_message)
            stack.enter_context(mock.patch.object(models.SQSBackend, "receive_message", receive))
        stack.enter_context(mock_aws())
        mock_random.seed(seed)  # message ids, sequence numbers and receipt handles
        yield boto3.client(
            "sqs",
            region_name=REGION,
            endpoint_url=f"https://sqs.{REGION}.amazonaws.com",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )


def create_queues(sqs, fifo: bool, rng: random.Random) -> list[str]:
    """The queue under test (redrive after 2 receives), its DLQ, and for FIFO a content-deduplicated one."""
    suffix = ".fifo" if fifo else ""
    kind = {"FifoQueue": "true"} if fifo else {}
    dlq = sqs.create_queue(QueueName=f"dlq{suffix}", Attributes={**kind, "VisibilityTimeout": "2"})[
        "QueueUrl"
    ]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    attributes = {
        **kind,
        "VisibilityTimeout": "3",
        "RedrivePolicy": f'{{"deadLetterTargetArn": "{dlq_arn}", "maxReceiveCount": "2"}}',
        "MessageRetentionPeriod": str(rng.choice([60, 120, 345600])),
    }
    if not fifo:
        attributes["DelaySeconds"] = str(rng.choice([0, 0, 1]))
    urls = [sqs.create_queue(QueueName=f"main{suffix}", Attributes=attributes)["QueueUrl"], dlq]
    if fifo:
        content = {**kind, "ContentBasedDeduplication": "true", "VisibilityTimeout": "2"}
        urls.append(sqs.create_queue(QueueName="content.fifo", Attributes=content)["QueueUrl"])
    return urls


def outcome(call: Callable, *args: Any, **kwargs: Any) -> Any:
    """What the client saw: the reply without request id and HTTP headers, or the error's code and text."""
    try:
        reply = call(*args, **kwargs)
    except ClientError as error:
        return ("error", error.response["Error"]["Code"], error.response["Error"]["Message"])
    if isinstance(reply, dict):
        reply.pop("ResponseMetadata", None)
    return reply


class Caller:
    """Draws the next call from a seeded generator, makes it, and records what the client saw."""

    BODIES = [f"body-{i}" for i in range(12)]  # few, so content-based deduplication hits
    GROUPS = ["g0", "g1", "g2", "g3"]
    SYSTEM_ATTRIBUTES = [
        [],
        ["All"],
        ["ApproximateReceiveCount"],
        ["SentTimestamp", "ApproximateFirstReceiveTimestamp"],
        ["MessageGroupId", "MessageDeduplicationId", "SequenceNumber", "SenderId"],
    ]
    MESSAGE_ATTRIBUTES = [[], ["All"], ["kind"], ["k.*"], [".*"], ["missing"]]
    QUEUE_ATTRIBUTES = [
        ["All"],
        ["ApproximateNumberOfMessages"],
        ["ApproximateNumberOfMessagesNotVisible"],
        ["ApproximateNumberOfMessagesDelayed"],
        [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessages",
        ],
        ["VisibilityTimeout", "RedrivePolicy", "ApproximateNumberOfMessagesDelayed", "FifoQueue"],
        ["NoSuchAttribute"],
    ]

    def __init__(self, sqs, urls: list[str], fifo: bool, rng: random.Random):
        self.sqs, self.urls, self.fifo, self.rng = sqs, urls, fifo, rng
        self.handles: list[str] = []  # every receipt handle seen: current, stale, of deleted or redriven
        self.operations: list[tuple[float, Callable[[str], Any]]] = [
            (3, self.send),
            (4, self.send_batch),
            (6, self.receive),
            (2, self.delete),
            (2, self.delete_batch),
            (2, self.change_visibility),
            (1.5, self.change_visibility_batch),
            (3, self.queue_attributes),
            (0.4, self.purge),
        ]

    def step(self) -> tuple[str, Any]:
        url = self.rng.choices(self.urls, weights=[6, 2, 2][: len(self.urls)])[0]
        operation = self.rng.choices([op for _, op in self.operations], [w for w, _ in self.operations])[0]
        return f"{operation.__name__} {url.rsplit('/', 1)[-1]}", outcome(operation, url)

    # -- sends

    def entry(self, url: str) -> dict[str, Any]:
        rng = self.rng
        entry: dict[str, Any] = {"MessageBody": rng.choice(self.BODIES)}
        if rng.random() < 0.4:
            entry["MessageAttributes"] = {
                name: value
                for name, value in [
                    ("kind", {"DataType": "String", "StringValue": rng.choice(["a", "b"])}),
                    ("k.count", {"DataType": "Number", "StringValue": str(rng.randrange(100))}),
                    ("blob", {"DataType": "Binary", "BinaryValue": bytes([rng.randrange(256)])}),
                ]
                if rng.random() < 0.6
            }
        if self.fifo:
            if rng.random() < 0.97:
                entry["MessageGroupId"] = rng.choice(self.GROUPS)
            content_based = url.endswith("content.fifo")
            if rng.random() < (0.3 if content_based else 0.97):
                entry["MessageDeduplicationId"] = f"d{rng.randrange(40)}"
            if rng.random() < 0.03:
                entry["DelaySeconds"] = 1  # refused on FIFO queues
        elif rng.random() < 0.3:
            entry["DelaySeconds"] = rng.choice([0, 1, 2, 5])
        return entry

    def send(self, url: str) -> Any:
        return self.sqs.send_message(QueueUrl=url, **self.entry(url))

    def send_batch(self, url: str) -> Any:
        entries = [{"Id": f"e{i}", **self.entry(url)} for i in range(self.rng.randint(1, 10))]
        if self.rng.random() < 0.03:
            entries[-1]["Id"] = entries[0]["Id"]  # BatchEntryIdsNotDistinct
        return self.sqs.send_message_batch(QueueUrl=url, Entries=entries)

    # -- receives

    def receive(self, url: str) -> Any:
        rng = self.rng
        arguments: dict[str, Any] = {"QueueUrl": url, "MaxNumberOfMessages": rng.randint(1, 10)}
        if rng.random() < 0.4:
            arguments["VisibilityTimeout"] = rng.choice([0, 1, 2, 5, 10])
        names = rng.choice(self.SYSTEM_ATTRIBUTES)
        if names:
            arguments[rng.choice(["AttributeNames", "MessageSystemAttributeNames"])] = names
        if message_attributes := rng.choice(self.MESSAGE_ATTRIBUTES):
            arguments["MessageAttributeNames"] = message_attributes
        reply = self.sqs.receive_message(WaitTimeSeconds=0, **arguments)
        self.handles.extend(message["ReceiptHandle"] for message in reply.get("Messages", []))
        return reply

    # -- receipt handles

    def handle(self) -> str:
        if not self.handles or self.rng.random() < 0.05:
            return "not-a-receipt-handle"
        recent = self.handles[-30:]  # mostly recent ones, so deletes often hit
        return self.rng.choice(recent if self.rng.random() < 0.8 else self.handles)

    def distinct_handles(self) -> list[str]:  # a batch may not repeat a handle
        return list(dict.fromkeys(self.handle() for _ in range(self.rng.randint(1, 10))))

    def delete(self, url: str) -> Any:
        return self.sqs.delete_message(QueueUrl=url, ReceiptHandle=self.handle())

    def delete_batch(self, url: str) -> Any:
        entries = [{"Id": f"e{i}", "ReceiptHandle": h} for i, h in enumerate(self.distinct_handles())]
        return self.sqs.delete_message_batch(QueueUrl=url, Entries=entries)

    def visibility_timeout(self) -> int:
        return self.rng.choice([0, 0, 1, 2, 4, 10, 43_000, 43_000])  # 43,000 s passes the 12-hour total limit

    def change_visibility(self, url: str) -> Any:
        return self.sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=self.handle(), VisibilityTimeout=self.visibility_timeout()
        )

    def change_visibility_batch(self, url: str) -> Any:
        entries = [
            {"Id": f"e{i}", "ReceiptHandle": h, "VisibilityTimeout": self.visibility_timeout()}
            for i, h in enumerate(self.distinct_handles())
        ]
        return self.sqs.change_message_visibility_batch(QueueUrl=url, Entries=entries)

    # -- queue

    def queue_attributes(self, url: str) -> Any:
        return self.sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=self.rng.choice(self.QUEUE_ATTRIBUTES)
        )

    def purge(self, url: str) -> Any:
        # Twice: the second, within 60 s of the first, is refused (PurgeQueueInProgress).
        return [outcome(self.sqs.purge_queue, QueueUrl=url) for _ in range(2)]


STEPS = 200  # per seed: two seeds per queue type, one more behind the FIFO passes


@functools.cache  # each sequence runs once per session; the coverage test reads the differential tests' runs
def transcript(seed: int, fifo: bool, layer: bool, fifo_passes: bool = False) -> tuple:
    rng, clock = random.Random(seed), SteppedClock()
    with sqs_world(clock, layer, fifo_passes, seed) as sqs:
        caller = Caller(sqs, create_queues(sqs, fifo, rng), fifo, rng)
        record = []
        for _ in range(STEPS):
            clock.advance(rng)
            record.append(caller.step())
        every = [
            sqs.get_queue_attributes(QueueUrl=u, AttributeNames=["All"])["Attributes"] for u in caller.urls
        ]
        record.append(("final attributes", every))
        return tuple(record)


def assert_same(stock: tuple, layered: tuple) -> None:
    for number, (expected, actual) in enumerate(zip(stock, layered, strict=True)):
        assert actual == expected, (
            f"step {number} ({expected[0]}) differs:\nstock: {expected}\nlayer: {actual}"
        )


@pytest.mark.parametrize("seed", [1, 2])
def test_standard_queue_calls_answer_as_stock_moto(seed):
    assert_same(transcript(seed, fifo=False, layer=False), transcript(seed, fifo=False, layer=True))


@pytest.mark.parametrize("seed", [1, 2])
def test_fifo_queue_calls_answer_as_stock_moto(seed):
    assert_same(transcript(seed, fifo=True, layer=False), transcript(seed, fifo=True, layer=True))


def test_fifo_calls_behind_the_emulators_fifo_passes_answer_as_without_the_layer():
    stock = transcript(3, fifo=True, layer=False, fifo_passes=True)
    assert_same(stock, transcript(3, fifo=True, layer=True, fifo_passes=True))


def received(record: list, queue: str) -> list[dict]:
    return [
        message
        for name, reply in record
        if name == f"receive {queue}" and isinstance(reply, dict)
        for message in reply.get("Messages", [])
    ]


@pytest.mark.parametrize("fifo", [False, True], ids=["standard", "fifo"])
def test_the_sequences_reach_expiries_redrives_stale_handles_and_refusals(fifo):
    suffix = ".fifo" if fifo else ""
    record = [entry for seed in (1, 2) for entry in transcript(seed, fifo=fifo, layer=True)]
    counts = [
        m.get("Attributes", {}).get("ApproximateReceiveCount") for m in received(record, f"main{suffix}")
    ]
    assert "2" in counts, "no message came back after its visibility timeout"
    assert received(record, f"dlq{suffix}"), "no message was redriven to the dead-letter queue"
    text = repr(record)
    for code in ("ReceiptHandleIsInvalid", "PurgeQueueInProgress", "InvalidParameterValue", "'Failed': [{"):
        assert code in text, code
    if fifo:
        assert "MissingParameter" in text and received(record, "content.fifo")
    else:
        attributes = [
            reply["Attributes"] for _, reply in record if isinstance(reply, dict) and "Attributes" in reply
        ]
        delayed = [a for a in attributes if a.get("ApproximateNumberOfMessagesDelayed", "0") != "0"]
        assert delayed, "no delayed message was ever counted"


def test_the_clock_gives_motos_values_bit_for_bit():
    rng = random.Random(7)
    for _ in range(20_000):
        ns = rng.randrange(0, 4_000_000_000 * 10**9)
        clock = sqs_performance.EpochClock(lambda ns=ns: ns)
        moment = EPOCH + datetime.timedelta(microseconds=ns // 1000)
        assert clock.seconds() == moto_utils.unix_time(moment)
        assert clock.millis() == moto_utils.unix_time_millis(moment)
    before, now, after = moto_utils.unix_time(), sqs_performance.CLOCK.seconds(), moto_utils.unix_time()
    assert before <= now <= after  # and it reads the same system clock


def test_receipt_handles_are_motos_own_draws():
    mock_random.seed(11)
    handles = [generate_receipt_handle() for _ in range(200)]
    after = mock_random.random()
    mock_random.seed(11)
    assert [sqs_performance._receipt_handle() for _ in range(200)] == handles
    assert mock_random.random() == after  # and the generator is left where moto leaves it


def test_a_frozen_clock_holds_for_its_thread_only():
    clock = sqs_performance.EpochClock(iter(range(100, 10**6, 1000)).__next__)
    seen_elsewhere = []
    with clock.frozen():
        first = clock.now_ns()
        thread = threading.Thread(target=lambda: seen_elsewhere.extend([clock.now_ns(), clock.now_ns()]))
        thread.start()
        thread.join()
        assert clock.now_ns() == first
    assert seen_elsewhere[0] != seen_elsewhere[1]
    assert clock.now_ns() != first


def test_uninstall_restores_moto_and_hands_queues_back_their_messages():
    originals = {name: vars(models.Queue).get(name) for name in ("messages", "attributes", "add_message")}
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION, endpoint_url=f"https://sqs.{REGION}.amazonaws.com")
        url = sqs.create_queue(QueueName="q")["QueueUrl"]
        with sqs_performance.installed():
            assert vars(models.Queue)["attributes"] is not originals["attributes"]
            sqs.send_message_batch(
                QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": str(i)} for i in range(3)]
            )
        assert {name: vars(models.Queue).get(name) for name in originals} == originals
        assert "_messages" not in vars(models.Queue) and models.unix_time is moto_utils.unix_time
        assert models.generate_receipt_handle is generate_receipt_handle
        received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        assert [m["Body"] for m in received] == ["0", "1", "2"]


def receive_clock_readings(waiting: int) -> int:
    backend = models.sqs_backends["123456789012"][REGION]
    queue = backend.create_queue(f"count-{waiting}")
    for number in range(waiting):
        backend.send_message(queue.name, f"m{number}")
    readings = []
    source = sqs_performance.CLOCK.source_ns
    with mock.patch.object(sqs_performance.CLOCK, "source_ns", lambda: readings.append(1) or source()):
        backend.receive_message(queue.name, 10, 0, 30)
        backend.get_queue_attributes(queue.name, ["ApproximateNumberOfMessages"])
    return len(readings)


def test_a_receive_reads_the_clock_as_often_at_2000_waiting_as_at_100():
    with mock_aws(), sqs_performance.installed():
        assert receive_clock_readings(2000) == receive_clock_readings(100) < 100
