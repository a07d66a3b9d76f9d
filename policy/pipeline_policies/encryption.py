"""Encryption at rest: the queues, the table, the log groups and the alarm topic.

SQS and DynamoDB encrypt with an AWS-managed key when asked (SQS-managed SSE; DynamoDB SSE on an AWS-managed
or customer-managed KMS key). CloudWatch Logs always encrypts log data, but only a KMS key the stack names
keeps it under the stack's control; an SNS topic is encrypted only with a KMS key, and CloudWatch alarms can
publish only to a topic whose key policy admits them, which the AWS-managed aws/sns key's does not: the topic
needs a customer-managed key (https://docs.aws.amazon.com/sns/latest/dg/sns-key-management.html).
"""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from .engine_values import is_set, mapping
from .resource_types import LOG_GROUP, QUEUE, TABLE, TOPIC

SQS_SSE = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-server-side-encryption.html"
DYNAMODB_SSE = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/EncryptionAtRest.html"
LOGS_KMS = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html"
SNS_SSE = "https://docs.aws.amazon.com/sns/latest/dg/sns-server-side-encryption.html"


def _queue_encrypted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != QUEUE:
        return
    if args.props.get("sqsManagedSseEnabled") is not True and not is_set(args.props.get("kmsMasterKeyId")):
        report("neither sqsManagedSseEnabled nor kmsMasterKeyId is set: messages are stored unencrypted.")


def _table_encrypted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != TABLE:
        return
    if mapping(args.props.get("serverSideEncryption")).get("enabled") is not True:
        report(
            "serverSideEncryption.enabled is not true: the table uses an AWS-owned key, which the account "
            "can neither audit in CloudTrail nor control."
        )


def _log_group_encrypted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == LOG_GROUP and not is_set(args.props.get("kmsKeyId")):
        report("no kmsKeyId: the log data is encrypted under CloudWatch Logs' own keys, not the stack's.")


def _topic_encrypted(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == TOPIC and not is_set(args.props.get("kmsMasterKeyId")):
        report("no kmsMasterKeyId: the topic stores messages unencrypted.")


POLICIES = [
    ResourceValidationPolicy(
        name="sqs-queue-encrypted",
        description="Every SQS queue is encrypted at rest (SQS-managed SSE or a KMS key).",
        validate=_queue_encrypted,
        enforcement_level=EnforcementLevel.MANDATORY,
        url=SQS_SSE,
        remediation_steps="Set sqsManagedSseEnabled=true, or kmsMasterKeyId to a KMS key.",
    ),
    ResourceValidationPolicy(
        name="dynamodb-table-encrypted",
        description="Every DynamoDB table is encrypted with a KMS key (AWS-managed or the stack's).",
        validate=_table_encrypted,
        enforcement_level=EnforcementLevel.MANDATORY,
        url=DYNAMODB_SSE,
        remediation_steps="Set serverSideEncryption.enabled=true (and kmsKeyArn for a customer-managed key).",
    ),
    ResourceValidationPolicy(
        name="log-group-encrypted",
        description="Every CloudWatch log group is encrypted with a KMS key the stack names.",
        validate=_log_group_encrypted,
        enforcement_level=EnforcementLevel.MANDATORY,
        url=LOGS_KMS,
        remediation_steps="Set kmsKeyId to a KMS key whose policy admits CloudWatch Logs (as createKmsKey's "
        "does).",
    ),
    ResourceValidationPolicy(
        name="sns-topic-encrypted",
        description="Every SNS topic is encrypted with a KMS key.",
        validate=_topic_encrypted,
        enforcement_level=EnforcementLevel.MANDATORY,
        url=SNS_SSE,
        remediation_steps="Set kmsMasterKeyId to a customer-managed key whose policy admits CloudWatch "
        "alarms.",
    ),
]
