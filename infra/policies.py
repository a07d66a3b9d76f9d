"""IAM and queue policy documents as plain dicts: one definition for the Pulumi program and for the tests
that load the same documents into moto's IAM. Every Allow names its actions; the only `*` resources are the
X-Ray actions, which AWS does not scope to a resource. No pulumi import: callers pass resolved ARN strings.
"""

from __future__ import annotations

VERSION = "2012-10-17"

# Only real IAM actions. SQS authorizes SendMessageBatch, DeleteMessageBatch and
# ChangeMessageVisibilityBatch through SendMessage, DeleteMessage and ChangeMessageVisibility and has no IAM
# action of their names: a policy naming one is refused or dead text ("Amazon SQS batch actions", SQS
# developer guide). moto's IAM checks the batch names as actions of their own; the moto tests add them there
# (tests/security/test_iam_enforcement.py).
PRODUCER_ACTIONS = ["sqs:SendMessage", "sqs:GetQueueUrl", "sqs:GetQueueAttributes"]
CONSUMER_QUEUE_ACTIONS = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
# The worker extends the visibility of a slow batch itself (Lambda's poller needs no such right).
WORKER_QUEUE_ACTIONS = [*CONSUMER_QUEUE_ACTIONS, "sqs:ChangeMessageVisibility"]
CONSUMER_TABLE_ACTIONS = ["dynamodb:BatchWriteItem", "dynamodb:PutItem"]
CONSUMER_LOG_ACTIONS = ["logs:CreateLogStream", "logs:PutLogEvents"]
XRAY_ACTIONS = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]

# Customer-managed key: what each party needs, reached only through the service that uses the key
# (kms:ViaService), so none of these rights decrypts anything directly. SQS: a sender needs GenerateDataKey
# and Decrypt (for the data key it reuses), a receiver Decrypt. DynamoDB: a writer Encrypt, Decrypt and
# GenerateDataKey, the set the CDK grants a table's writers.
KMS_SENDER_ACTIONS = ["kms:GenerateDataKey", "kms:Decrypt"]
KMS_RECEIVER_ACTIONS = ["kms:Decrypt"]
KMS_TABLE_WRITER_ACTIONS = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"]
# The account administers the key (never uses it directly): named actions, none of them a decrypt.
KMS_ADMIN_ACTIONS = [
    "kms:DescribeKey",
    "kms:GetKeyPolicy",
    "kms:PutKeyPolicy",
    "kms:GetKeyRotationStatus",
    "kms:EnableKeyRotation",
    "kms:ListResourceTags",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:UpdateKeyDescription",
    "kms:ListGrants",
    "kms:RevokeGrant",
    "kms:EnableKey",
    "kms:DisableKey",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:CreateAlias",
    "kms:UpdateAlias",
    "kms:DeleteAlias",
]
# What the account's IAM policies may grant on the key, through the services below only. CreateGrant lets
# DynamoDB and Lambda (environment variables) hold the key for the table and the function.
KMS_DELEGATED_ACTIONS = [
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:DescribeKey",
    "kms:CreateGrant",
]
KMS_SERVICES = ("sqs", "dynamodb", "lambda", "s3")  # s3: the worker fleet's code artifact
KMS_LOGS_ACTIONS = [
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:GenerateDataKeyWithoutPlaintext",
    "kms:DescribeKey",
]
KMS_ALARM_PUBLISHER_ACTIONS = ["kms:GenerateDataKey", "kms:Decrypt"]


def _document(*statements: dict) -> dict:
    return {"Version": VERSION, "Statement": list(statements)}


def _region(arn: str) -> str:
    return arn.split(":")[3]


def _via(service: str, region: str) -> dict:
    return {"StringEquals": {"kms:ViaService": f"{service}.{region}.amazonaws.com"}}


def _key_use(sid: str, actions: list[str], key_arn: str, service: str, region: str) -> dict:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": actions,
        "Resource": key_arn,
        "Condition": _via(service, region),
    }


def producer_policy(queue_arn: str, kms_key_arn: str | None = None) -> dict:
    """What a producer needs, on this queue only: the managed policy users attach to their senders; with a
    customer-managed key, that key's data keys through SQS."""
    statements = [
        {"Sid": "SendVehicleEvents", "Effect": "Allow", "Action": PRODUCER_ACTIONS, "Resource": queue_arn}
    ]
    if kms_key_arn is not None:
        statements.append(
            _key_use("EncryptMessages", KMS_SENDER_ACTIONS, kms_key_arn, "sqs", _region(queue_arn))
        )
    return _document(*statements)


def queue_policy(queue_arn: str, producer_principals: list[str]) -> dict:
    """Resource policy of the main queue: TLS only, and only the named producer principals may send."""
    deny_plain_http = {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "sqs:*",  # a Deny: wildcards here only take rights away
        "Resource": queue_arn,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
    allow_producers = {
        "Sid": "AllowProducersToSend",
        "Effect": "Allow",
        "Principal": {"AWS": list(producer_principals)},
        "Action": PRODUCER_ACTIONS,
        "Resource": queue_arn,
    }
    return _document(deny_plain_http, allow_producers)


def dead_letter_queue_policy(dlq_arn: str) -> dict:
    """The DLQ accepts no plain-HTTP request either; senders are only SQS redrive and the consumer's role."""
    return _document(
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sqs:*",
            "Resource": dlq_arn,
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )


def consumer_policy(
    queue_arn: str,
    table_arn: str,
    log_group_arn: str,
    dlq_arn: str | None = None,
    kms_key_arn: str | None = None,
) -> dict:
    """The consumer function's rights: read its queue, write its table, its own logs, X-Ray; the DLQ only
    when it routes permanent errors there (`dlq_arn` given); with a customer-managed key, that key through
    SQS (the event source mapping receives with this role) and DynamoDB only."""
    logs_and_tracing = [
        {
            "Sid": "OwnLogs",
            "Effect": "Allow",
            "Action": CONSUMER_LOG_ACTIONS,
            "Resource": f"{log_group_arn}:*",
        },
        # X-Ray has no resource-level permissions: AWS requires "*" for these two actions.
        {"Sid": "Tracing", "Effect": "Allow", "Action": XRAY_ACTIONS, "Resource": "*"},
    ]
    statements = _consume_and_store(CONSUMER_QUEUE_ACTIONS, queue_arn, table_arn, dlq_arn, kms_key_arn)
    return _document(*statements[:2], *logs_and_tracing, *statements[2:])


def producer_function_policy(queue_arn: str, log_group_arn: str, kms_key_arn: str | None = None) -> dict:
    """The producer Lambda: exactly what the producers' managed policy grants, plus its own logs."""
    statements = producer_policy(queue_arn, kms_key_arn)["Statement"]
    own_logs = {
        "Sid": "OwnLogs",
        "Effect": "Allow",
        "Action": CONSUMER_LOG_ACTIONS,
        "Resource": f"{log_group_arn}:*",
    }
    return _document(*statements, own_logs)


def worker_policy(
    queue_arn: str,
    table_arn: str,
    artifact_object_arn: str,
    dlq_arn: str | None = None,
    kms_key_arn: str | None = None,
) -> dict:
    """The EC2 worker's instance role: the consumer's queue and table rights, plus extending a slow batch's
    visibility and reading its own code artifact (through S3 with the key, when the bucket uses it)."""
    statements = _consume_and_store(WORKER_QUEUE_ACTIONS, queue_arn, table_arn, dlq_arn, kms_key_arn)
    statements.append(
        {
            "Sid": "ReadWorkerArtifact",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": artifact_object_arn,
        }
    )
    if kms_key_arn is not None:
        statements.append(_key_use("DecryptArtifact", ["kms:Decrypt"], kms_key_arn, "s3", _region(queue_arn)))
    return _document(*statements)


def _consume_and_store(
    queue_actions: list[str], queue_arn: str, table_arn: str, dlq_arn: str | None, kms_key_arn: str | None
) -> list[dict]:
    """Receive from the queue and store in the table; the DLQ and key statements when they apply."""
    statements = [
        {"Sid": "ConsumeQueue", "Effect": "Allow", "Action": queue_actions, "Resource": queue_arn},
        {"Sid": "WriteEvents", "Effect": "Allow", "Action": CONSUMER_TABLE_ACTIONS, "Resource": table_arn},
    ]
    if dlq_arn is not None:
        statements.append(
            {
                "Sid": "RoutePermanentErrors",
                "Effect": "Allow",
                "Action": ["sqs:SendMessage"],  # which also authorizes SendMessageBatch
                "Resource": dlq_arn,
            }
        )
    if kms_key_arn is not None:
        region = _region(queue_arn)
        statements.append(_key_use("DecryptEvents", KMS_RECEIVER_ACTIONS, kms_key_arn, "sqs", region))
        statements.append(_key_use("UseTableKey", KMS_TABLE_WRITER_ACTIONS, kms_key_arn, "dynamodb", region))
        if dlq_arn is not None:
            statements.append(
                _key_use("EncryptDeadLetters", ["kms:GenerateDataKey"], kms_key_arn, "sqs", region)
            )
    return statements


def kms_key_policy(account_id: str, region: str, log_group_arns: list[str]) -> dict:
    """Key policy of the key `createKmsKey` makes. In a key policy `"Resource": "*"` means this key.

    The account administers the key and may grant its use to IAM principals only through SQS, DynamoDB and
    Lambda; CloudWatch Logs may use it for this stack's log groups only; CloudWatch alarms of this account
    may publish to the encrypted alarm topic. Nobody else, and no direct decrypt for anyone.
    """
    root = {"AWS": f"arn:aws:iam::{account_id}:root"}
    return _document(
        {
            "Sid": "AccountAdministersTheKey",
            "Effect": "Allow",
            "Principal": root,
            "Action": KMS_ADMIN_ACTIONS,
            "Resource": "*",
        },
        {
            "Sid": "AccountUsesTheKeyThroughItsServicesOnly",
            "Effect": "Allow",
            "Principal": root,
            "Action": KMS_DELEGATED_ACTIONS,
            "Resource": "*",
            "Condition": {
                "StringEquals": {
                    "kms:ViaService": [f"{service}.{region}.amazonaws.com" for service in KMS_SERVICES],
                    "kms:CallerAccount": account_id,
                }
            },
        },
        {
            "Sid": "CloudWatchLogsEncryptsThisStacksLogGroups",
            "Effect": "Allow",
            "Principal": {"Service": f"logs.{region}.amazonaws.com"},
            "Action": KMS_LOGS_ACTIONS,
            "Resource": "*",
            "Condition": {"ArnEquals": {"kms:EncryptionContext:aws:logs:arn": list(log_group_arns)}},
        },
        {
            "Sid": "CloudWatchAlarmsPublishToTheEncryptedTopic",
            "Effect": "Allow",
            "Principal": {"Service": "cloudwatch.amazonaws.com"},
            "Action": KMS_ALARM_PUBLISHER_ACTIONS,
            "Resource": "*",
            "Condition": {"StringEquals": {"aws:SourceAccount": account_id}},
        },
        {
            "Sid": "DynamoDbDescribesTheKey",
            "Effect": "Allow",
            "Principal": {"Service": "dynamodb.amazonaws.com"},
            "Action": ["kms:DescribeKey"],
            "Resource": "*",
        },
    )


def assume_role_policy(service: str) -> dict:
    """Trust policy letting one AWS service (lambda, ec2) assume the role."""
    return _document(
        {"Effect": "Allow", "Principal": {"Service": f"{service}.amazonaws.com"}, "Action": "sts:AssumeRole"}
    )


def lambda_assume_role_policy() -> dict:
    return assume_role_policy("lambda")


def deny_insecure_transport(resource_arns: list[str], service: str) -> dict:
    """Deny any request without TLS on these resources (a Deny: its wildcard only takes rights away)."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": f"{service}:*",
        "Resource": resource_arns,
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
