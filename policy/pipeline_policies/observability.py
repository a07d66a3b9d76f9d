"""What operators see: traced functions, logs with a retention, alarms that notify someone.

X-Ray active tracing (https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html) samples every function
invocation, which is what joins the producer's AWSTraceHeader to the consumer's segments. A log group Lambda
creates itself on the first invocation keeps its logs forever and lives outside the stack
(https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html). An alarm without an action
changes state on a console nobody watches
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-actions.html).
"""

from __future__ import annotations

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from .engine_values import is_set, items, mapping
from .resource_types import ALARMS, FUNCTION, LOG_GROUP
from .stack_view import StackView

LAMBDA_XRAY = "https://docs.aws.amazon.com/lambda/latest/dg/services-xray.html"
LAMBDA_LOGS = "https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs.html"
ALARM_ACTIONS = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/alarm-actions.html"


def _tracing_active(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type != FUNCTION:
        return
    mode = mapping(args.props.get("tracingConfig")).get("mode")
    if mode != "Active":
        report(f"tracingConfig.mode is {mode or 'unset (PassThrough)'}: its invocations are not traced.")


def default_log_group(function_name: str) -> str:
    return f"/aws/lambda/{function_name}"


def _log_retention(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = StackView(args.resources)
    for group in stack.of_type(LOG_GROUP):
        days = group.props.get("retentionInDays")
        if not is_set(days) or days <= 0:
            report(
                f"log group {group.name} sets no retentionInDays: its logs are kept, and billed, forever.",
                group.urn,
            )
    for function in stack.of_type(FUNCTION):
        name = mapping(function.props.get("loggingConfig")).get("logGroup") or default_log_group(
            function.props.get("name")
        )
        if not stack.referenced(function, "loggingConfig", [LOG_GROUP], value=name):
            report(
                f"function {function.name} logs to {name}, which this stack does not declare: Lambda creates "
                "it on the first invocation, with no retention and outside the stack.",
                function.urn,
            )


def _alarm_has_action(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type not in ALARMS:
        return
    if args.props.get("actionsEnabled") is False:
        report("actionsEnabled is false: the alarm notifies nobody.")
    elif not items(args.props.get("alarmActions")):
        report("no alarmActions: the alarm changes state and notifies nobody.")


POLICIES = [
    ResourceValidationPolicy(
        name="lambda-tracing-active",
        description="Every Lambda function has X-Ray active tracing.",
        validate=_tracing_active,
        enforcement_level=EnforcementLevel.MANDATORY,
        url=LAMBDA_XRAY,
        remediation_steps='Set tracingConfig.mode="Active" and give the role xray:PutTraceSegments and '
        "xray:PutTelemetryRecords.",
    ),
    StackValidationPolicy(
        name="log-retention-set",
        description="Every log group sets a retention, and every function logs to a log group the stack "
        "declares.",
        validate=_log_retention,
        enforcement_level=EnforcementLevel.MANDATORY,
        url=LAMBDA_LOGS,
        remediation_steps="Declare each function's log group with retentionInDays, and point the function's "
        "loggingConfig.logGroup at it.",
    ),
    ResourceValidationPolicy(
        name="alarm-has-action",
        description="Every CloudWatch alarm has an alarm action, and its actions are enabled.",
        validate=_alarm_has_action,
        enforcement_level=EnforcementLevel.MANDATORY,
        url=ALARM_ACTIONS,
        remediation_steps="Set alarmActions (the stack's alarm topic).",
    ),
]
