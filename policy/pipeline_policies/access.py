"""Who may do what: queues refuse plain HTTP, and no policy allows wildcard actions.

TLS only: Amazon SQS security best practices, "Enforce encryption of data in transit"
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-security-best-practices.html).
Least privilege: IAM best practices, "Apply least-privilege permissions"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from .engine_values import items, json_value, mapping, policy_documents, statements
from .resource_types import QUEUE, QUEUE_POLICY
from .stack_view import StackView

SQS_SECURITY = "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-security-best-practices.html"
IAM_LEAST_PRIVILEGE = (
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/best-practices.html#grant-least-privilege"
)
IAM_WILDCARDS = ("*", "?")  # IAM matches both in action names


# ---- TLS only --------------------------------------------------------------------------------------------
def _queue_tls_only(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = StackView(args.resources)
    for queue in stack.of_type(QUEUE):
        documents = [queue.props.get("policy")] + [
            policy.props.get("policy") for policy in stack.referring(queue, [QUEUE_POLICY], "queueUrl")
        ]
        parsed = [document for document in map(json_value, documents) if isinstance(document, Mapping)]
        if not any(_denies_plain_http(statement, queue) for doc in parsed for statement in statements(doc)):
            report(
                f"queue {queue.name}: no queue policy denies every SQS action when aws:SecureTransport is "
                "false, so any principal it allows may call it over plain HTTP.",
                queue.urn,
            )


def _denies_plain_http(statement: Mapping[str, Any], queue: PolicyResource) -> bool:
    principal = statement.get("Principal")
    everyone = principal == "*" or items(mapping(principal).get("AWS")) == ["*"]
    all_actions = bool({"*", "sqs:*"} & {str(action).lower() for action in items(statement.get("Action"))})
    on_queue = bool({"*", queue.props.get("arn")} & set(items(statement.get("Resource"))))
    return (
        statement.get("Effect") == "Deny"
        and everyone
        and all_actions
        and on_queue
        and _insecure_transport_condition(mapping(statement.get("Condition")))
    )


def _insecure_transport_condition(condition: Mapping[str, Any]) -> bool:
    """Bool (or BoolIfExists) aws:SecureTransport = false; condition keys are case-insensitive."""
    for operator in ("Bool", "BoolIfExists"):
        for key, value in mapping(condition.get(operator)).items():
            if key.lower() == "aws:securetransport" and [str(v).lower() for v in items(value)] == ["false"]:
                return True
    return False


# ---- no wildcard actions ---------------------------------------------------------------------------------
def _no_wildcard_actions(args: ResourceValidationArgs, report: ReportViolation) -> None:
    for path, document in policy_documents(args.props):
        for statement in statements(document):
            if statement.get("Effect") != "Allow":
                continue  # a wildcard in a Deny takes rights away
            name = statement.get("Sid") or "(no Sid)"
            if "NotAction" in statement:
                report(
                    f"{path}: statement {name} allows with NotAction, which grants every action it does not "
                    "list."
                )
            wildcards = [a for a in items(statement.get("Action")) if any(w in str(a) for w in IAM_WILDCARDS)]
            if wildcards:
                report(f"{path}: statement {name} allows wildcard actions {wildcards}: name each action.")


POLICIES = [
    StackValidationPolicy(
        name="sqs-queue-tls-only",
        description="Every SQS queue's policy denies all SQS actions to everyone when aws:SecureTransport is "
        "false.",
        validate=_queue_tls_only,
        enforcement_level=EnforcementLevel.MANDATORY,
        url=SQS_SECURITY,
        remediation_steps='Add a QueuePolicy statement: Deny, Principal "*", Action "sqs:*", Resource the '
        'queue ARN, Condition {"Bool": {"aws:SecureTransport": "false"}}.',
    ),
    ResourceValidationPolicy(
        name="iam-no-wildcard-actions",
        description="No IAM or resource policy allows wildcard actions (`*`, `service:*`, `service:Get*`) or "
        "uses NotAction in an Allow.",
        validate=_no_wildcard_actions,
        enforcement_level=EnforcementLevel.MANDATORY,
        url=IAM_LEAST_PRIVILEGE,
        remediation_steps="List the actions the code calls, by name.",
    ),
]
