"""Encryption at rest: AWS-managed keys by default, one customer-managed key when a stack asks for it.

GIVEN every stack file, and dev with `kmsKeyArn` (a brought key) or `createKmsKey`
WHEN the program runs under Pulumi mocks
THEN the queues, the table, the log group, the alarm topic and the function environment use the stack's key
(or none of them names a key), the key is rotated and its policy scoped, and each party gets exactly the
kms actions it needs, through the service that uses the key.
"""

from __future__ import annotations

import pytest

from infra import policies
from infra.encryption import KEY_DELETION_WINDOW_DAYS
from infra.resource_spec import StackSpec
from infra.settings import from_stack_file
from tests.infra.pulumi_harness import Graph, run_program

QUEUE = "aws:sqs/queue:Queue"
KEY = "aws:kms/key:Key"
BROUGHT_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def encrypted_resources(graph: Graph) -> dict[str, object]:
    """Where each encrypted resource names its key (None: the AWS-managed default)."""
    queue, dlq = graph.one(QUEUE, "-queue"), graph.one(QUEUE, "-dlq")
    return {
        "queue": queue.inputs.get("kmsMasterKeyId"),
        "dlq": dlq.inputs.get("kmsMasterKeyId"),
        "table": graph.one("aws:dynamodb/table:Table").inputs["serverSideEncryption"].get("kmsKeyArn"),
        "alarm topic": graph.one("aws:sns/topic:Topic").inputs.get("kmsMasterKeyId"),
        **{
            f"log group {group.name}": group.inputs.get("kmsKeyId")
            for group in graph.of_type("aws:cloudwatch/logGroup:LogGroup")
        },
        **{
            f"environment of {function.name}": function.inputs.get("kmsKeyArn")
            for function in graph.of_type("aws:lambda/function:Function")
        },
    }


def key_arn_of(graph: Graph, spec: StackSpec) -> str | None:
    if spec.settings.create_kms_key:
        return graph.one(KEY).state["arn"]
    return spec.settings.kms_key_arn


def test_every_encrypted_resource_uses_the_stacks_key_or_the_aws_managed_default(graph, spec):
    key = key_arn_of(graph, spec)
    assert encrypted_resources(graph) == dict.fromkeys(encrypted_resources(graph), key)
    assert graph.outputs["kmsKeyArn"] == key
    queue, dlq = graph.one(QUEUE, "-queue"), graph.one(QUEUE, "-dlq")
    for q in (queue, dlq):
        if key is None:  # SQS-managed SSE, exclusive with a KMS key
            assert (q.inputs["sqsManagedSseEnabled"], "kmsDataKeyReusePeriodSeconds" in q.inputs) == (
                True,
                False,
            )
        else:
            assert ("sqsManagedSseEnabled" in q.inputs, q.inputs["kmsDataKeyReusePeriodSeconds"]) == (
                False,
                300,
            )


def test_prod_makes_its_own_key_and_dev_keeps_aws_managed_keys():
    assert from_stack_file("prod").create_kms_key is True
    assert from_stack_file("dev").customer_managed_key is False
    assert run_program("dev").of_type(KEY) == []


@pytest.mark.parametrize(
    ("stack", "overrides"),
    [("prod", {}), ("dev", {"createKmsKey": True}), ("fleet", {"createKmsKey": True})],
    ids=["prod", "dev+createKmsKey", "fleet+createKmsKey"],
)
def test_a_made_key_is_rotated_kept_30_days_after_deletion_aliased_and_scoped(stack, overrides):
    graph = run_program(stack, overrides)
    prefix = StackSpec(stack, from_stack_file(stack)).prefix
    key, alias = graph.one(KEY), graph.one("aws:kms/alias:Alias")
    assert key.inputs["enableKeyRotation"] is True
    assert key.inputs["deletionWindowInDays"] == KEY_DELETION_WINDOW_DAYS == 30
    assert key.inputs["keyUsage"] == "ENCRYPT_DECRYPT"
    assert (alias.inputs["name"], alias.inputs["targetKeyId"]) == (f"alias/{prefix}", key.state["keyId"])
    log_groups = sorted(group.state["arn"] for group in graph.of_type("aws:cloudwatch/logGroup:LogGroup"))
    assert key.json("policy") == policies.kms_key_policy(graph.account_id, graph.region, log_groups)
    assert set(encrypted_resources(graph).values()) == {key.state["arn"]}


def test_the_key_policy_lets_nobody_use_the_key_directly():
    document = policies.kms_key_policy("123456789012", "eu-west-1", ["arn:aws:logs:eu-west-1:1:log-group:g"])
    by_sid = {statement["Sid"]: statement for statement in document["Statement"]}
    administration = by_sid["AccountAdministersTheKey"]
    assert not {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:CreateGrant"} & set(
        administration["Action"]
    )
    use = by_sid["AccountUsesTheKeyThroughItsServicesOnly"]
    assert use["Condition"] == {
        "StringEquals": {
            "kms:ViaService": [
                "sqs.eu-west-1.amazonaws.com",
                "dynamodb.eu-west-1.amazonaws.com",
                "lambda.eu-west-1.amazonaws.com",
                "s3.eu-west-1.amazonaws.com",
            ],
            "kms:CallerAccount": "123456789012",
        }
    }
    assert by_sid["CloudWatchLogsEncryptsThisStacksLogGroups"]["Condition"] == {
        "ArnEquals": {"kms:EncryptionContext:aws:logs:arn": ["arn:aws:logs:eu-west-1:1:log-group:g"]}
    }
    assert by_sid["CloudWatchAlarmsPublishToTheEncryptedTopic"]["Condition"] == {
        "StringEquals": {"aws:SourceAccount": "123456789012"}
    }
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        assert statement["Principal"] != "*" and statement["Principal"] != {"AWS": "*"}
        assert all(action.startswith("kms:") and "*" not in action for action in statement["Action"])


def kms_statements(document: dict) -> dict[str, tuple[list[str], dict]]:
    return {
        s["Sid"]: (s["Action"], s["Condition"])
        for s in document["Statement"]
        if any(action.startswith("kms:") for action in s["Action"])
    }


def test_producer_and_consumer_get_exactly_their_kms_actions_through_their_services(graph, spec):
    key = key_arn_of(graph, spec)
    producer = graph.one("aws:iam/policy:Policy", "-producer-policy").json("policy")
    consumer = graph.one("aws:iam/rolePolicy:RolePolicy", "consumer-role-policy").json("policy")
    if key is None:
        assert (kms_statements(producer), kms_statements(consumer)) == ({}, {})
        return
    via_sqs = {"StringEquals": {"kms:ViaService": f"sqs.{graph.region}.amazonaws.com"}}
    via_dynamodb = {"StringEquals": {"kms:ViaService": f"dynamodb.{graph.region}.amazonaws.com"}}
    assert kms_statements(producer) == {"EncryptMessages": (["kms:GenerateDataKey", "kms:Decrypt"], via_sqs)}
    assert kms_statements(consumer) == {
        "DecryptEvents": (["kms:Decrypt"], via_sqs),
        "UseTableKey": (["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"], via_dynamodb),
        "EncryptDeadLetters": (["kms:GenerateDataKey"], via_sqs),
    }
    assert {s["Resource"] for s in producer["Statement"] + consumer["Statement"] if "Condition" in s} == {key}


def test_a_brought_key_is_used_everywhere_and_no_key_is_made():
    graph = run_program("dev", {"kmsKeyArn": BROUGHT_KEY})
    assert graph.of_type(KEY) == []
    assert set(encrypted_resources(graph).values()) == {BROUGHT_KEY}
    assert graph.outputs["kmsKeyArn"] == BROUGHT_KEY


def test_without_dlq_routing_the_consumer_cannot_encrypt_for_the_dlq():
    graph = run_program("dev", {"createKmsKey": True, "routePermanentErrorsToDlq": False})
    consumer = graph.one("aws:iam/rolePolicy:RolePolicy", "consumer-role-policy").json("policy")
    assert sorted(kms_statements(consumer)) == ["DecryptEvents", "UseTableKey"]
    assert set(encrypted_resources(graph).values()) == {graph.one(KEY).state["arn"]}
