"""The SQS → Lambda event source mapping: the queue, the function and the mapping have to agree.

AWS Lambda developer guide: "Creating and configuring an Amazon SQS event source mapping" (SQS_CONFIGURE),
"Handling errors for an SQS event source" (SQS_ERROR_HANDLING) and "Configuring scaling behavior for SQS event
source mappings" (SQS_SCALING).
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

from .engine_values import is_set, items, mapping, number, shown
from .redrive import redrive_policy_of
from .resource_types import EVENT_SOURCE_MAPPING, FUNCTION, QUEUE
from .stack_view import StackView

SQS_CONFIGURE = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html"
SQS_ERROR_HANDLING = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html"
SQS_SCALING = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html"

# Defaults AWS applies to what a program leaves unset (SQS CreateQueue, Lambda CreateFunction and
# CreateEventSourceMapping API references).
SQS_DEFAULT_VISIBILITY_SECONDS = 30
LAMBDA_DEFAULT_TIMEOUT_SECONDS = 3
VISIBILITY_TIMEOUTS_PER_FUNCTION_TIMEOUT = 6  # SQS_CONFIGURE: room for Lambda's retries after a throttle
MIN_RECEIVES_BEFORE_DEAD_LETTER = 5  # SQS_CONFIGURE: fewer may dead-letter a message that was only throttled
INVOKES_PER_PROVISIONED_POLLER = 10  # SQS_SCALING: an SQS event poller drives up to 10 concurrent invokes


def is_sqs_arn(arn: Any) -> bool:
    """arn:<partition>:sqs:<region>:<account>:<queue name>"""
    return isinstance(arn, str) and arn.startswith("arn:") and arn.split(":")[2:3] == ["sqs"]


def sqs_mappings(stack: StackView) -> list[tuple[PolicyResource, PolicyResource | None]]:
    """(mapping, its source queue in this stack or None) for every mapping whose source is an SQS queue."""
    found = []
    for mapping_resource in stack.of_type(EVENT_SOURCE_MAPPING):
        queues = stack.referenced(mapping_resource, "eventSourceArn", [QUEUE])
        if queues or is_sqs_arn(mapping_resource.props.get("eventSourceArn")):
            found.append((mapping_resource, queues[0] if queues else None))
    return found


def _provisioned(mapping_props: Mapping[str, Any]) -> bool:
    pollers = mapping(mapping_props.get("provisionedPollerConfig"))
    return is_set(pollers.get("minimumPollers")) or is_set(pollers.get("maximumPollers"))


def concurrency_ceiling(mapping_props: Mapping[str, Any]) -> float | None:
    """The most concurrent invokes the mapping starts: its maximum concurrency, or in provisioned mode 10 per
    event poller at the maximum; None when neither bounds it (standard mode scales to 1,250)."""
    maximum = mapping(mapping_props.get("scalingConfig")).get("maximumConcurrency")
    if is_set(maximum):
        return float(maximum)
    maximum_pollers = mapping(mapping_props.get("provisionedPollerConfig")).get("maximumPollers")
    if is_set(maximum_pollers):
        return INVOKES_PER_PROVISIONED_POLLER * float(maximum_pollers)
    return None


# ---- one resource ------------------------------------------------------------------------------------------
def _reports_batch_item_failures(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != EVENT_SOURCE_MAPPING or not is_sqs_arn(args.props.get("eventSourceArn")):
        return
    types = items(args.props.get("functionResponseTypes"))
    if "ReportBatchItemFailures" not in types:
        report(
            f"functionResponseTypes is {types}: without ReportBatchItemFailures one failed record returns "
            "its whole batch to the queue, and the records that succeeded are processed again."
        )


def _provisioned_or_maximum_concurrency(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != EVENT_SOURCE_MAPPING:
        return
    maximum = mapping(args.props.get("scalingConfig")).get("maximumConcurrency")
    if _provisioned(args.props) and is_set(maximum):
        report(
            f"provisionedPollerConfig and scalingConfig.maximumConcurrency ({shown(maximum)}) are both set: "
            "AWS takes one or the other (the pollers bound the concurrency in provisioned mode)."
        )


# ---- across the stack --------------------------------------------------------------------------------------
def _visibility_covers_function_timeout(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = StackView(args.resources)
    for mapping_resource, queue in sqs_mappings(stack):
        functions = stack.referenced(mapping_resource, "functionName", [FUNCTION])
        if queue is None or not functions:
            continue  # the queue or the function is another stack's: nothing here to compare
        visibility = number(queue.props.get("visibilityTimeoutSeconds"), SQS_DEFAULT_VISIBILITY_SECONDS)
        timeout = number(functions[0].props.get("timeout"), LAMBDA_DEFAULT_TIMEOUT_SECONDS)
        window = number(mapping_resource.props.get("maximumBatchingWindowInSeconds"), 0)
        needed = VISIBILITY_TIMEOUTS_PER_FUNCTION_TIMEOUT * timeout + window
        if visibility < needed:
            report(
                f"queue {queue.name}: visibility timeout {shown(visibility)} s < {shown(needed)} s = "
                f"{VISIBILITY_TIMEOUTS_PER_FUNCTION_TIMEOUT} × {shown(timeout)} s (timeout of "
                f"{functions[0].name}) + {shown(window)} s (batching window of {mapping_resource.name}): "
                "a batch still running, or retried after a throttle, becomes visible again and is processed "
                "twice.",
                queue.urn,
            )


def _reserved_concurrency_covers_mappings(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = StackView(args.resources)
    ceilings: dict[str, list[tuple[PolicyResource, float]]] = {}
    for mapping_resource, _ in sqs_mappings(stack):
        ceiling = concurrency_ceiling(mapping_resource.props)
        for function in stack.referenced(mapping_resource, "functionName", [FUNCTION]):
            if ceiling is not None:
                ceilings.setdefault(function.urn, []).append((mapping_resource, ceiling))
    for function in stack.of_type(FUNCTION):
        reserved = function.props.get("reservedConcurrentExecutions")
        mappings = ceilings.get(function.urn, [])
        if reserved is None or reserved < 0 or not mappings:  # -1: no reservation (the provider's default)
            continue
        total = sum(ceiling for _, ceiling in mappings)
        if reserved < total:
            each = ", ".join(f"{m.name}: {shown(c)}" for m, c in mappings)
            report(
                f"function {function.name} reserves {shown(reserved)} concurrent executions, its SQS "
                f"mappings may start {shown(total)} ({each}): Lambda throttles the rest, and throttled "
                "batches return to the queue and count towards maxReceiveCount.",
                function.urn,
            )


def _max_receive_count(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = StackView(args.resources)
    for _, queue in sqs_mappings(stack):
        redrive = redrive_policy_of(stack, queue) if queue is not None else None
        if redrive is None:
            continue  # no DLQ at all: sqs-dead-letter-queue reports it
        count = redrive.document.get("maxReceiveCount")
        if isinstance(count, int | float) and count < MIN_RECEIVES_BEFORE_DEAD_LETTER:
            report(
                f"queue {queue.name}: maxReceiveCount {shown(count)} < {MIN_RECEIVES_BEFORE_DEAD_LETTER}: a "
                "message Lambda received but could not invoke (throttled) may reach the DLQ unprocessed.",
                queue.urn,
            )


POLICIES = [
    StackValidationPolicy(
        name="sqs-visibility-covers-function-timeout",
        description="An SQS source queue's visibility timeout is at least 6 × its function's timeout + the "
        "mapping's batching window.",
        validate=_visibility_covers_function_timeout,
        enforcement_level=EnforcementLevel.MANDATORY,
        url=SQS_CONFIGURE,
        remediation_steps="Raise the queue's visibilityTimeoutSeconds (or lower the function's timeout).",
    ),
    ResourceValidationPolicy(
        name="sqs-mapping-reports-batch-item-failures",
        description="Every SQS event source mapping reports partial batch failures "
        "(ReportBatchItemFailures).",
        validate=_reports_batch_item_failures,
        enforcement_level=EnforcementLevel.MANDATORY,
        url=SQS_ERROR_HANDLING,
        remediation_steps='Set functionResponseTypes=["ReportBatchItemFailures"]; the handler returns '
        "batchItemFailures.",
    ),
    StackValidationPolicy(
        name="lambda-reserved-concurrency-covers-mappings",
        description="A function with reserved concurrency reserves at least what its SQS mappings may start "
        "(maximum concurrency, or 10 × maximum pollers in provisioned mode).",
        validate=_reserved_concurrency_covers_mappings,
        enforcement_level=EnforcementLevel.MANDATORY,
        url=SQS_SCALING,
        remediation_steps="Raise reservedConcurrentExecutions, or lower the mapping's maximum concurrency.",
    ),
    ResourceValidationPolicy(
        name="sqs-mapping-provisioned-or-maximum-concurrency",
        description="An event source mapping sets provisioned pollers or maximum concurrency, never both.",
        validate=_provisioned_or_maximum_concurrency,
        enforcement_level=EnforcementLevel.MANDATORY,
        url=SQS_SCALING,
        remediation_steps="Remove scalingConfig (provisioned mode) or provisionedPollerConfig (standard "
        "mode).",
    ),
    StackValidationPolicy(
        name="sqs-max-receive-count",
        description="A Lambda source queue's redrive policy allows at least 5 receives (AWS's advice).",
        validate=_max_receive_count,
        enforcement_level=EnforcementLevel.ADVISORY,
        url=SQS_CONFIGURE,
        remediation_steps="Set maxReceiveCount ≥ 5 in the queue's redrive policy.",
    ),
]
