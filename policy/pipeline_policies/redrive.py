"""Where a queue's redrive policy and its DLQ's redrive allow policy are declared.

Each can sit on the queue itself (the Queue's `redrivePolicy` / `redriveAllowPolicy` argument) or in a
resource of its own (aws.sqs.RedrivePolicy / aws.sqs.RedriveAllowPolicy, naming the queue by `queueUrl`); both
hold the JSON document SQS's SetQueueAttributes takes.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from pulumi_policy import PolicyResource

from .engine_values import json_value
from .resource_types import QUEUE, REDRIVE_ALLOW_POLICY, REDRIVE_POLICY
from .stack_view import StackView


@dataclasses.dataclass(frozen=True)
class QueueDocument:
    document: Mapping[str, Any]
    holder: PolicyResource  # the queue, or the separate policy resource
    argument: str  # the holder's argument that carries it


def redrive_policy_of(stack: StackView, queue: PolicyResource) -> QueueDocument | None:
    return _document_of(stack, queue, REDRIVE_POLICY, "redrivePolicy")


def redrive_allow_policy_of(stack: StackView, queue: PolicyResource) -> QueueDocument | None:
    return _document_of(stack, queue, REDRIVE_ALLOW_POLICY, "redriveAllowPolicy")


def dead_letter_queue(stack: StackView, redrive: QueueDocument) -> PolicyResource | None:
    """The DLQ a redrive policy targets, when this stack declares it."""
    target = redrive.document.get("deadLetterTargetArn")
    found = stack.referenced(redrive.holder, redrive.argument, [QUEUE], value=target)
    return found[0] if found else None


def _document_of(
    stack: StackView, queue: PolicyResource, separate: str, argument: str
) -> QueueDocument | None:
    holders = [queue, *stack.referring(queue, [separate], "queueUrl")]
    for holder in holders:
        document = json_value(holder.props.get(argument))
        if isinstance(document, Mapping):
            return QueueDocument(document, holder, argument)
    return None
