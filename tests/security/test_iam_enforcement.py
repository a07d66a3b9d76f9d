"""The policies the program declares, enforced by moto's IAM: each principal can do its job and nothing else.

The documents come from infra/policies.py, the same builders the Pulumi components serialize. moto enforces
SQS per queue ARN; its DynamoDB resource-level checks are unreliable (GUIDE §2), so the table side is asserted
on the documents themselves.

One difference from AWS is bridged here, and only here: moto checks `sqs:SendMessageBatch` (and the other
batch calls) as IAM actions of their own, while AWS has no such actions and authorizes each batch through its
single-message action. The deployed documents name only the single-message actions (the conformance suite
lints them against AWS's action list); `for_moto` gives moto the batch alias of each, so a batch call is
judged here as AWS judges it.
"""

import json

import boto3
import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core.authorization import ActionAuthenticatorMixin

from consumer.dead_letters import DeadLetterRouter
from infra import policies
from tests.lambda_events import sqs_record

REGION = "us-east-1"
# AWS's single-message action -> the batch call moto checks under its own name (AWS authorizes the batch with
# the single-message action: "Amazon SQS batch actions", SQS developer guide).
MOTO_BATCH_ALIASES = {
    "sqs:SendMessage": "sqs:SendMessageBatch",
    "sqs:DeleteMessage": "sqs:DeleteMessageBatch",
    "sqs:ChangeMessageVisibility": "sqs:ChangeMessageVisibilityBatch",
}


def for_moto(document: dict) -> dict:
    """The deployed document with moto's batch alias next to each single-message SQS action it allows."""

    def with_aliases(statement: dict) -> dict:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        aliases = [MOTO_BATCH_ALIASES[action] for action in actions if action in MOTO_BATCH_ALIASES]
        return {**statement, "Action": [*actions, *aliases]} if aliases else statement

    return {**document, "Statement": [with_aliases(statement) for statement in document["Statement"]]}


TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/vehicle-pipeline-test-vehicle-events"
LOG_GROUP_ARN = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/vehicle-pipeline-test-consumer"


def _user_with_policy(iam, name: str, document: dict | None) -> dict:
    iam.create_user(UserName=name)
    if document is not None:
        arn = iam.create_policy(PolicyName=f"{name}-policy", PolicyDocument=json.dumps(document))["Policy"][
            "Arn"
        ]
        iam.attach_user_policy(UserName=name, PolicyArn=arn)
    keys = iam.create_access_key(UserName=name)["AccessKey"]
    return {"aws_access_key_id": keys["AccessKeyId"], "aws_secret_access_key": keys["SecretAccessKey"]}


@pytest.fixture
def principals(monkeypatch):
    """Queues and three IAM users (producer, consumer with DLQ routing, nobody); auth enforced afterwards."""
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        queue = sqs.create_queue(QueueName="events")["QueueUrl"]
        dlq = sqs.create_queue(QueueName="events-dlq")["QueueUrl"]
        arn = {
            url: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            for url in (queue, dlq)
        }
        sqs.send_message(QueueUrl=queue, MessageBody="already queued")
        iam = boto3.client("iam", region_name=REGION)
        users = {
            "producer": _user_with_policy(iam, "producer", for_moto(policies.producer_policy(arn[queue]))),
            "consumer": _user_with_policy(
                iam,
                "consumer",
                for_moto(policies.consumer_policy(arn[queue], TABLE_ARN, LOG_GROUP_ARN, dlq_arn=arn[dlq])),
            ),
            "nobody": _user_with_policy(iam, "nobody", None),
        }
        # From here on every request is authenticated and authorized against IAM.
        monkeypatch.setattr("moto.settings.INITIAL_NO_AUTH_ACTION_COUNT", 0)
        monkeypatch.setattr(ActionAuthenticatorMixin, "request_count", 0)
        clients = {name: boto3.client("sqs", region_name=REGION, **keys) for name, keys in users.items()}
        yield clients, queue, dlq


def denied(call) -> bool:
    try:
        call()
    except ClientError as error:
        # moto answers the JSON-protocol SQS client in XML: botocore keeps the status, not the code.
        status = error.response["ResponseMetadata"]["HTTPStatusCode"]
        return status == 403 and "<Code>AccessDenied<" in str(error)
    return False


def test_producer_can_send_to_the_queue_and_nothing_else(principals):
    clients, queue, dlq = principals
    producer = clients["producer"]

    assert producer.send_message(QueueUrl=queue, MessageBody="{}")["MessageId"]
    entries = [{"Id": "1", "MessageBody": "{}"}]
    assert [
        ok["Id"] for ok in producer.send_message_batch(QueueUrl=queue, Entries=entries)["Successful"]
    ] == ["1"]
    assert denied(lambda: producer.receive_message(QueueUrl=queue))
    assert denied(lambda: producer.delete_message(QueueUrl=queue, ReceiptHandle="x"))
    assert denied(lambda: producer.purge_queue(QueueUrl=queue))
    assert denied(lambda: producer.send_message(QueueUrl=dlq, MessageBody="{}"))


def test_consumer_can_receive_delete_and_route_to_dlq_but_not_send_or_purge(principals):
    clients, queue, dlq = principals
    consumer = clients["consumer"]

    [message] = consumer.receive_message(QueueUrl=queue, MaxNumberOfMessages=1)["Messages"]
    consumer.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
    poison = SQSRecord(sqs_record("poison", "m-poison"))
    assert DeadLetterRouter(dlq, sqs=consumer).route([(poison, "not_json", "x")]) == {"m-poison"}
    assert denied(lambda: consumer.send_message(QueueUrl=queue, MessageBody="{}"))
    assert denied(lambda: consumer.purge_queue(QueueUrl=queue))
    assert denied(lambda: consumer.receive_message(QueueUrl=dlq))


def test_principal_without_either_policy_is_denied(principals):
    clients, queue, _ = principals
    nobody = clients["nobody"]

    assert denied(lambda: nobody.send_message(QueueUrl=queue, MessageBody="{}"))
    assert denied(lambda: nobody.receive_message(QueueUrl=queue))


def _allowed(document: dict) -> dict[str, set[str]]:
    """action -> resources it is allowed on."""
    allowed: dict[str, set[str]] = {}
    for statement in document["Statement"]:
        if statement["Effect"] == "Allow":
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            for action in actions:
                allowed.setdefault(action, set()).add(statement["Resource"])
    return allowed


def test_table_rights_are_named_writes_on_the_table_only():
    consumer = _allowed(policies.consumer_policy("arn:q", TABLE_ARN, LOG_GROUP_ARN))
    producer = _allowed(policies.producer_policy("arn:q"))

    assert {a: r for a, r in consumer.items() if a.startswith("dynamodb:")} == {
        "dynamodb:BatchWriteItem": {TABLE_ARN},
        "dynamodb:PutItem": {TABLE_ARN},
    }
    assert not any(action.startswith("dynamodb:") for action in producer)
    assert [a for a in consumer if a.startswith("sqs:SendMessage")] == []  # no routing: no DLQ send right


def test_deployed_documents_name_no_batch_action_and_moto_gets_the_alias_only_here():
    deployed = [
        policies.producer_policy("arn:q"),
        policies.consumer_policy("arn:q", TABLE_ARN, LOG_GROUP_ARN, dlq_arn="arn:dlq"),
        policies.worker_policy("arn:q", TABLE_ARN, "arn:aws:s3:::b/k", dlq_arn="arn:dlq"),
        policies.queue_policy("arn:q", ["arn:aws:iam::123456789012:root"]),
    ]
    actions = {action for document in deployed for action in _allowed(document)}

    assert not {action for action in actions if action.endswith("Batch")}
    assert _allowed(for_moto(policies.producer_policy("arn:q")))["sqs:SendMessageBatch"] == {"arn:q"}
