"""Dead-letter queues: every Lambda source queue has one, of its own type, keeping messages at least as long,
and accepting redrive from its source queues only.

Amazon SQS developer guide, "Using dead-letter queues"
(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html): the
DLQ of a FIFO queue must be FIFO (and of a standard queue, standard); a message's age counts from its first
enqueue, so a DLQ retaining less than its source expires what it receives. The redrive allow policy
(SetQueueAttributes, RedriveAllowPolicy) says which source queues may use the DLQ; without one, any queue may.
"""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    PolicyResource,
    ReportViolation,
    StackValidationArgs,
    StackValidationPolicy,
)

from .engine_values import items, number, shown
from .event_source import sqs_mappings
from .redrive import dead_letter_queue, redrive_allow_policy_of, redrive_policy_of
from .resource_types import QUEUE
from .stack_view import StackView

SQS_DEAD_LETTER_QUEUES = (
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html"
)
SQS_DEFAULT_RETENTION_SECONDS = 345_600  # 4 days (CreateQueue's MessageRetentionPeriod default)


def _dead_letter_queues(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = StackView(args.resources)
    for _, source in sqs_mappings(stack):
        if source is not None and redrive_policy_of(stack, source) is None:
            report(
                f"queue {source.name} feeds Lambda without a redrive policy: a message that always fails is "
                "retried until its retention expires, and is then lost.",
                source.urn,
            )
    for source in stack.of_type(QUEUE):
        redrive = redrive_policy_of(stack, source)
        if redrive is None:
            continue
        dlq = dead_letter_queue(stack, redrive)
        if dlq is None:
            report(
                f"queue {source.name} redrives to {redrive.document.get('deadLetterTargetArn')}, which this "
                "stack does not declare: its type, retention and redrive allow policy cannot be checked.",
                source.urn,
            )
            continue
        for problem in _mismatches(stack, source, dlq):
            report(f"queue {source.name} → DLQ {dlq.name}: {problem}.", dlq.urn)


def _mismatches(stack: StackView, source: PolicyResource, dlq: PolicyResource) -> list[str]:
    problems = []
    source_fifo, dlq_fifo = bool(source.props.get("fifoQueue")), bool(dlq.props.get("fifoQueue"))
    if source_fifo != dlq_fifo:
        kinds = {True: "FIFO", False: "standard"}
        problems.append(
            f"a {kinds[source_fifo]} queue needs a {kinds[source_fifo]} DLQ, not a {kinds[dlq_fifo]} one"
        )
    kept = number(source.props.get("messageRetentionSeconds"), SQS_DEFAULT_RETENTION_SECONDS)
    dlq_kept = number(dlq.props.get("messageRetentionSeconds"), SQS_DEFAULT_RETENTION_SECONDS)
    if dlq_kept < kept:
        problems.append(
            f"the DLQ keeps messages {shown(dlq_kept)} s, less than the queue's {shown(kept)} s: a message's "
            "age counts from its first enqueue, so dead letters expire early"
        )
    allow = redrive_allow_policy_of(stack, dlq)
    if allow is None:
        problems.append("no redrive allow policy: any queue of the account may dead-letter into it")
        return problems
    permission = allow.document.get("redrivePermission")
    sources = items(allow.document.get("sourceQueueArns"))
    if permission != "byQueue" or source.props.get("arn") not in sources:
        problems.append(
            f"its redrive allow policy (redrivePermission {permission}, sourceQueueArns {sources}) does not "
            "admit this queue by name"
        )
    return problems


POLICIES = [
    StackValidationPolicy(
        name="sqs-dead-letter-queue",
        description="Every Lambda source queue redrives to a DLQ of the same type that keeps messages at "
        "least as long and admits only named source queues (redrive allow policy byQueue).",
        validate=_dead_letter_queues,
        enforcement_level=EnforcementLevel.MANDATORY,
        url=SQS_DEAD_LETTER_QUEUES,
        remediation_steps="Give the source a redrivePolicy to a DLQ declared in the stack, with the same "
        "fifoQueue, messageRetentionSeconds ≥ the source's, and a RedriveAllowPolicy byQueue naming the "
        "source.",
    ),
]
