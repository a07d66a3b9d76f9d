"""IAM and queue policy documents as plain dicts: one definition for the Pulumi program and for the tests
that load the same documents into moto's IAM. Every Allow names its actions; the only `*` resources are the
X-Ray actions, which AWS does not scope to a resource. No pulumi import: callers pass resolved ARN strings.
"""

from __future__ import annotations

VERSION = "2012-10-17"

# moto authorizes SendMessageBatch as its own action; real IAM authorizes a batch as SendMessage. Naming
# both keeps the policy correct on AWS and enforceable in the local IAM proof.
PRODUCER_ACTIONS = ["sqs:SendMessage", "sqs:SendMessageBatch", "sqs:GetQueueUrl", "sqs:GetQueueAttributes"]
CONSUMER_QUEUE_ACTIONS = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
CONSUMER_TABLE_ACTIONS = ["dynamodb:BatchWriteItem", "dynamodb:PutItem"]
CONSUMER_LOG_ACTIONS = ["logs:CreateLogStream", "logs:PutLogEvents"]
XRAY_ACTIONS = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]


def _document(*statements: dict) -> dict:
    return {"Version": VERSION, "Statement": list(statements)}


def producer_policy(queue_arn: str) -> dict:
    """What a producer needs, on this queue only: the managed policy users attach to their senders."""
    return _document(
        {"Sid": "SendVehicleEvents", "Effect": "Allow", "Action": PRODUCER_ACTIONS, "Resource": queue_arn}
    )


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


def consumer_policy(queue_arn: str, table_arn: str, log_group_arn: str, dlq_arn: str | None = None) -> dict:
    """The consumer function's rights: read its queue, write its table, its own logs, X-Ray; the DLQ only
    when it routes permanent errors there (`dlq_arn` given)."""
    statements = [
        {"Sid": "ConsumeQueue", "Effect": "Allow", "Action": CONSUMER_QUEUE_ACTIONS, "Resource": queue_arn},
        {"Sid": "WriteEvents", "Effect": "Allow", "Action": CONSUMER_TABLE_ACTIONS, "Resource": table_arn},
        {
            "Sid": "OwnLogs",
            "Effect": "Allow",
            "Action": CONSUMER_LOG_ACTIONS,
            "Resource": f"{log_group_arn}:*",
        },
        # X-Ray has no resource-level permissions: AWS requires "*" for these two actions.
        {"Sid": "Tracing", "Effect": "Allow", "Action": XRAY_ACTIONS, "Resource": "*"},
    ]
    if dlq_arn is not None:
        statements.append(
            {
                "Sid": "RoutePermanentErrors",
                "Effect": "Allow",
                # Batch named for moto's IAM, as for producers (AWS authorizes a batch as SendMessage).
                "Action": ["sqs:SendMessage", "sqs:SendMessageBatch"],
                "Resource": dlq_arn,
            }
        )
    return _document(*statements)


def lambda_assume_role_policy() -> dict:
    return _document(
        {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
    )
