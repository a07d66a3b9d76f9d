"""The DLQ tool: peek by reason, redrive without losing attributes or double-storing, purge with consent."""

import json

import boto3
import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.stub import Stubber

from consumer.dead_letters import DeadLetterRouter
from ops import redrive
from ops.dead_letter_queue import NO_REASON
from tests.consumer.test_handler import invoke
from tests.lambda_events import sqs_record, vehicle_body
from tests.moto_table import scan_all


@pytest.fixture
def queues(dynamodb):  # dynamodb: moto is active for the test
    sqs = boto3.client("sqs", region_name="us-east-1")
    queue = sqs.create_queue(QueueName="events")["QueueUrl"]
    dlq = sqs.create_queue(QueueName="events-dlq")["QueueUrl"]
    return sqs, queue, dlq


def visible(sqs, url) -> int:
    return int(
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"][
            "ApproximateNumberOfMessages"
        ]
    )


def fill_dlq(sqs, dlq):
    router = DeadLetterRouter(dlq, sqs=sqs)
    poison = sqs_record("garbage", "m1")
    poison["messageAttributes"] = {"origin": {"stringValue": "fleet-7", "dataType": "String"}}
    router.route(
        [(SQSRecord(poison), "not_json", "x"), (SQSRecord(sqs_record("{}", "m2")), "missing_field", "y")]
    )
    sqs.send_message(QueueUrl=dlq, MessageBody=vehicle_body("e-redriven"))  # moved by the redrive policy


def test_peek_counts_by_reason_and_leaves_messages_in_place(queues, capsys):
    sqs, _, dlq = queues
    fill_dlq(sqs, dlq)

    assert redrive.main(["--dlq-url", dlq, "peek"], sqs=sqs) == 0

    # Counts only: a DLQ may hold personal data, bodies are printed only when asked for.
    assert json.loads(capsys.readouterr().out) == {
        "total": 3,
        "byReason": {"not_json": 1, "missing_field": 1, NO_REASON: 1},
    }
    assert visible(sqs, dlq) == 3


def test_peek_prints_sample_bodies_only_when_asked(queues, capsys):
    sqs, _, dlq = queues
    fill_dlq(sqs, dlq)

    assert redrive.main(["--dlq-url", dlq, "peek", "--bodies", "1"], sqs=sqs) == 0

    assert json.loads(capsys.readouterr().out)["samples"] == {
        "not_json": ["garbage"],
        "missing_field": ["{}"],
        NO_REASON: [vehicle_body("e-redriven")],
    }


def test_copy_redrive_restores_body_and_attributes_and_empties_the_dlq(queues):
    sqs, queue, dlq = queues
    fill_dlq(sqs, dlq)
    sleeps = []

    result = redrive.copy_redrive(sqs, dlq, queue, rate=10, announced=3, sleep=sleeps.append)

    assert (result.moved, result.skipped, result.left) == (3, 0, 0)
    assert visible(sqs, dlq) == 0
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, MessageAttributeNames=["All"])[
        "Messages"
    ]
    by_body = {m["Body"]: m.get("MessageAttributes", {}) for m in messages}
    assert sorted(by_body) == sorted(["garbage", "{}", vehicle_body("e-redriven")])
    # The last failure's reason goes; the producer's own attributes and the first message's id stay.
    assert by_body["garbage"] == {
        "origin": {"StringValue": "fleet-7", "DataType": "String"},
        "sourceMessageId": {"StringValue": "m1", "DataType": "String"},
    }
    # A message the redrive policy moved keeps its id in the DLQ; the copy names it.
    dead_by_policy = by_body[vehicle_body("e-redriven")]["sourceMessageId"]["StringValue"]
    assert len(dead_by_policy) == 36
    assert len(sleeps) == 1 and 0 < sleeps[0] <= 0.3  # 3 messages at 10/s


class RoutesEverythingBack:
    """An SQS client whose every send to the source queue comes straight back to the DLQ, as a live
    consumer routes poison (keeping sourceMessageId)."""

    def __init__(self, sqs, queue, dlq):
        self._sqs, self._queue, self._dlq = sqs, queue, dlq

    def __getattr__(self, name):
        return getattr(self._sqs, name)

    def send_message_batch(self, QueueUrl, Entries):
        response = self._sqs.send_message_batch(QueueUrl=QueueUrl, Entries=Entries)
        if QueueUrl == self._queue:
            self._sqs.send_message_batch(QueueUrl=self._dlq, Entries=Entries)
        return response


def test_copy_redrive_moves_no_more_than_it_announced_when_everything_comes_back(queues):
    sqs, queue, dlq = queues
    for start in range(0, 14, 7):
        sqs.send_message_batch(
            QueueUrl=dlq, Entries=[{"Id": str(i), "MessageBody": f"poison-{start + i}"} for i in range(7)]
        )

    result = redrive.copy_redrive(
        RoutesEverythingBack(sqs, queue, dlq), dlq, queue, rate=1000, announced=14, sleep=lambda _: None
    )

    assert (result.announced, result.moved, result.skipped, result.left) == (14, 14, 0, 14)
    assert visible(sqs, queue) == 14
    assert result.line() == (
        "moved 14 of the 14 announced; skipped 0 already moved that came back to the DLQ during the "
        "redrive; 14 left in the DLQ"
    )


def test_copy_redrive_never_moves_one_message_twice(queues):
    sqs, queue, dlq = queues
    # GIVEN two dead letters of one message (routed twice: its first invocation died before the delete)
    router = DeadLetterRouter(dlq, sqs=sqs)
    for _ in range(2):
        router.route([(SQSRecord(sqs_record("garbage", "m1")), "not_json", "x")])
    sqs.send_message(QueueUrl=dlq, MessageBody=vehicle_body("e-1"))

    result = redrive.copy_redrive(sqs, dlq, queue, rate=1000, announced=3, sleep=lambda _: None)

    # THEN the message goes back once; its second copy stays in the DLQ, released for the operator
    assert (result.moved, result.skipped, result.left) == (2, 1, 1)
    assert sorted(
        m["Body"] for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    ) == [
        "garbage",
        vehicle_body("e-1"),
    ]
    assert visible(sqs, dlq) == 1


def test_redriven_event_that_was_already_stored_is_not_stored_twice(queues, store, table):
    sqs, queue, dlq = queues
    assert invoke(sqs_record(vehicle_body("e-1"), "first-delivery")) == {"batchItemFailures": []}
    sqs.send_message(QueueUrl=dlq, MessageBody=vehicle_body("e-1"))  # e.g. its delete was lost, then redriven

    redrive.copy_redrive(sqs, dlq, queue, rate=100, announced=1, sleep=lambda _: None)
    [message] = sqs.receive_message(QueueUrl=queue)["Messages"]
    assert invoke(sqs_record(message["Body"], message["MessageId"])) == {"batchItemFailures": []}

    [item] = scan_all(table)
    assert (item["eventId"], item["messageId"]) == ("e-1", message["MessageId"])


def test_on_aws_redrive_starts_a_message_move_task_and_follows_it_to_the_end(monkeypatch, capsys):
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    sqs = boto3.client("sqs", region_name="us-east-1")
    dlq, queue = (
        "https://sqs.us-east-1.amazonaws.com/1/events-dlq",
        "https://sqs.us-east-1.amazonaws.com/1/events",
    )
    questions = []
    with Stubber(sqs) as stub:
        stub.add_response(
            "get_queue_attributes",
            {
                "Attributes": {
                    "ApproximateNumberOfMessages": "3",
                    "ApproximateNumberOfMessagesNotVisible": "1",
                }
            },
            {
                "QueueUrl": dlq,
                "AttributeNames": ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            },
        )
        for url, name in ((dlq, "events-dlq"), (queue, "events")):
            stub.add_response(
                "get_queue_attributes",
                {"Attributes": {"QueueArn": f"arn:aws:sqs:us-east-1:1:{name}"}},
                {"QueueUrl": url, "AttributeNames": ["QueueArn"]},
            )
        stub.add_response(
            "start_message_move_task",
            {"TaskHandle": "task-1"},
            {
                "SourceArn": "arn:aws:sqs:us-east-1:1:events-dlq",
                "DestinationArn": "arn:aws:sqs:us-east-1:1:events",
                "MaxNumberOfMessagesPerSecond": 25,
            },
        )
        task = {"TaskHandle": "task-1", "SourceArn": "arn:aws:sqs:us-east-1:1:events-dlq"}
        for status, moved in (("RUNNING", 1), ("COMPLETED", 3)):
            stub.add_response(
                "list_message_move_tasks",
                {
                    "Results": [
                        {
                            **task,
                            "Status": status,
                            "ApproximateNumberOfMessagesMoved": moved,
                            "ApproximateNumberOfMessagesToMove": 3,
                        }
                    ]
                },
                {"SourceArn": "arn:aws:sqs:us-east-1:1:events-dlq", "MaxResults": 1},
            )
        stub.add_response(
            "get_queue_attributes",
            {
                "Attributes": {
                    "ApproximateNumberOfMessages": "0",
                    "ApproximateNumberOfMessagesNotVisible": "1",
                }
            },
            {
                "QueueUrl": dlq,
                "AttributeNames": ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            },
        )
        arguments = ["--dlq-url", dlq, "--queue-url", queue, "redrive", "--rate", "25"]
        monkeypatch.setattr(redrive.time, "sleep", lambda _: None)
        assert redrive.main(arguments, sqs=sqs, ask=lambda q: questions.append(q) or "redrive") == 0
        stub.assert_no_pending_responses()
    assert questions == [
        "Redrive the 3 messages (+1 in flight) of the DLQ events-dlq (account 1, region us-east-1, on AWS) "
        "to events at 25 messages/s (move-task)? Type 'redrive' to go on: "
    ]
    assert capsys.readouterr().out.splitlines() == [
        "redrive: started message move task task-1",
        "redrive: RUNNING, moved 1 of 3",
        "redrive: moved 3 of the 3 announced; skipped 0 already moved that came back to the DLQ during the "
        "redrive; 1 left in the DLQ",
    ]


def test_purge_needs_confirmation(queues):
    sqs, _, dlq = queues
    fill_dlq(sqs, dlq)

    questions = []

    assert redrive.main(["--dlq-url", dlq, "purge"], sqs=sqs, ask=lambda q: questions.append(q) or "no") == 1
    assert visible(sqs, dlq) == 3
    assert questions == [
        "Purge the DLQ events-dlq (account 123456789012, region us-east-1, on AWS): delete its 3 messages "
        "(+0 in flight) for good? Type 'purge' to go on: "
    ]
    assert redrive.main(["--dlq-url", dlq, "purge"], sqs=sqs, ask=lambda _: "purge") == 0
    assert visible(sqs, dlq) == 0


def test_purge_and_redrive_without_a_terminal_do_nothing_unless_told_yes(queues, capsys):
    sqs, queue, dlq = queues
    fill_dlq(sqs, dlq)

    def no_terminal(_question: str) -> str:
        raise EOFError

    assert redrive.main(["--dlq-url", dlq, "purge"], sqs=sqs, ask=no_terminal) == 1
    copy = ["--dlq-url", dlq, "--queue-url", queue, "redrive", "--method", "copy"]
    assert redrive.main(copy, sqs=sqs, ask=no_terminal) == 1
    assert visible(sqs, dlq) == 3
    assert capsys.readouterr().out.splitlines()[-3:] == [
        "not done: no answer; pass purge --yes to purge without asking",
        "",
        "not done: no answer; pass redrive --yes to redrive without asking",
    ]
    assert redrive.main([*copy, "--rate", "1000", "--yes"], sqs=sqs, ask=no_terminal) == 0
    assert (visible(sqs, dlq), visible(sqs, queue)) == (0, 3)


def test_a_poison_message_routed_redriven_and_routed_again_still_names_the_first_message(queues, store):
    sqs, queue, dlq = queues
    fill_dlq(sqs, dlq)
    redrive.copy_redrive(sqs, dlq, queue, rate=100, announced=3, sleep=lambda _: None)
    redriven = sqs.receive_message(
        QueueUrl=queue, MaxNumberOfMessages=10, MessageAttributeNames=["All"], AttributeNames=["All"]
    )["Messages"]
    garbage = next(m for m in redriven if m["Body"] == "garbage")
    record = sqs_record("garbage", garbage["MessageId"])  # the redriven copy has a new messageId
    record["messageAttributes"] = {
        name: {"stringValue": value["StringValue"], "dataType": value["DataType"]}
        for name, value in garbage["MessageAttributes"].items()
    }

    DeadLetterRouter(dlq, sqs=sqs).route([(SQSRecord(record), "not_json", "again")])

    letter = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, MessageAttributeNames=["All"])[
        "Messages"
    ]
    assert [m["MessageAttributes"]["sourceMessageId"]["StringValue"] for m in letter] == ["m1"]
    assert letter[0]["MessageAttributes"]["failureReason"]["StringValue"] == "not_json: again"
