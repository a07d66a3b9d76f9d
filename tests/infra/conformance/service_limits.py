"""Every resource of the graph within the limits AWS enforces when it is created (infra/aws_limits.py, the
same data the stack settings are validated with): names, sizes, ranges, expressions.

    limit_findings(graph)       # [] when every create call would be accepted as declared

Each resource type the program declares has a row in RULES or is listed in NO_LIMITS_SET; a new type fails
the suite until it is classified, so nothing is skipped silently. Physical names are read from the resource's
state: what the provider sends AWS, auto-named ones included (Pulumi appends 8 characters, a name prefix 26).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from infra import aws_limits as limits
from tests.infra.pulumi_harness import Graph, Resource

Rule = Callable[[Resource, Graph], list[str]]
# Attachments and settings whose create calls take no name, size or expression this program sets.
NO_LIMITS_SET = {
    "aws:sqs/queuePolicy:QueuePolicy",  # its document: iam_lint
    "aws:sns/topicSubscription:TopicSubscription",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls",
    "aws:s3/bucketVersioning:BucketVersioning",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    "aws:s3/bucketPolicy:BucketPolicy",  # its document: iam_lint
    "aws:autoscaling/policy:Policy",  # its metrics: cloudwatch_metrics
    "aws:lambda/permission:Permission",
    "aws:cloudwatch/eventTarget:EventTarget",
    "pulumi:providers:aws",  # the provider the components share: its default tags, cost_allocation.py
}
S3_OBJECT_KEY_BYTES = 1_024  # https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html
SQS_REDRIVE_SOURCE_QUEUES = 10  # limits.SQS_SET_ATTRIBUTES: RedriveAllowPolicy sourceQueueArns


def _name(resource: Resource) -> str:
    return str(resource.state["name"])


def _number(value: float) -> str:
    """A number as written in the stack (the engine hands integers over as floats)."""
    return str(int(value)) if float(value).is_integer() else str(value)


def _in_range(resource: Resource, key: str, limit: limits.Range | limits.AllowedValues) -> list[str]:
    value = resource.inputs.get(key)
    problem = None if value is None else limit.problem(value)
    return [f"{key} = {_number(value)}: {problem} ({limit.source})"] if problem else []


def _policy_chars(document: str) -> int:
    """IAM counts a policy's characters without white space."""
    return len("".join(document.split()))


def _queue(resource: Resource, _: Graph) -> list[str]:
    findings = limits.queue_name_problems(_name(resource), bool(resource.inputs.get("fifoQueue")))
    for key, limit in (
        ("visibilityTimeoutSeconds", limits.SQS_VISIBILITY_TIMEOUT),
        ("messageRetentionSeconds", limits.SQS_MESSAGE_RETENTION),
        ("delaySeconds", limits.SQS_DELAY),
        ("maxMessageSize", limits.SQS_MAX_MESSAGE_SIZE),
        ("receiveWaitTimeSeconds", limits.SQS_RECEIVE_WAIT),
        ("kmsDataKeyReusePeriodSeconds", limits.SQS_KMS_DATA_KEY_REUSE),
    ):
        findings += _in_range(resource, key, limit)
    if resource.inputs.get("redrivePolicy"):
        receives = json.loads(resource.inputs["redrivePolicy"])["maxReceiveCount"]
        if problem := limits.SQS_MAX_RECEIVE_COUNT.problem(receives):
            findings.append(f"redrive maxReceiveCount = {receives}: {problem}")
    return findings


def _redrive_allow_policy(resource: Resource, _: Graph) -> list[str]:
    sources = json.loads(resource.inputs["redriveAllowPolicy"]).get("sourceQueueArns", [])
    if len(sources) > SQS_REDRIVE_SOURCE_QUEUES:
        return [f"{len(sources)} source queues, at most {SQS_REDRIVE_SOURCE_QUEUES}"]
    return []


def _function(resource: Resource, _: Graph) -> list[str]:
    inputs = resource.inputs
    findings = limits.LAMBDA_FUNCTION_NAME.problems(_name(resource))
    findings += _in_range(resource, "timeout", limits.LAMBDA_TIMEOUT)
    findings += _in_range(resource, "memorySize", limits.LAMBDA_MEMORY)
    if inputs.get("reservedConcurrentExecutions", -1) != -1:  # -1: unreserved
        findings += _in_range(resource, "reservedConcurrentExecutions", limits.LAMBDA_RESERVED_CONCURRENCY)
    if len(inputs.get("layers") or []) > limits.LAMBDA_MAX_LAYERS:
        findings.append(f"{len(inputs['layers'])} layers, at most {limits.LAMBDA_MAX_LAYERS}")
    variables = (inputs.get("environment") or {}).get("variables") or {}
    size = sum(len(str(key).encode()) + len(str(value).encode()) for key, value in variables.items())
    if size > limits.LAMBDA_MAX_ENVIRONMENT_BYTES:
        findings.append(f"environment is {size} bytes, at most {limits.LAMBDA_MAX_ENVIRONMENT_BYTES}")
    return findings


def _event_source_mapping(resource: Resource, graph: Graph) -> list[str]:
    inputs = resource.inputs
    sources = [q for q in graph.of_type("aws:sqs/queue:Queue") if q.state["arn"] == inputs["eventSourceArn"]]
    if len(sources) != 1:
        return [f"its source {inputs['eventSourceArn']} is no queue of this stack"]
    fifo = bool(sources[0].inputs.get("fifoQueue"))
    batch, window = inputs.get("batchSize", 10), inputs.get("maximumBatchingWindowInSeconds")
    findings = _in_range(
        resource, "batchSize", limits.ESM_FIFO_BATCH_SIZE if fifo else limits.ESM_STANDARD_BATCH_SIZE
    )
    if fifo and window is not None:
        findings.append("a FIFO source takes no maximumBatchingWindowInSeconds")
    if not fifo:
        findings += _in_range(resource, "maximumBatchingWindowInSeconds", limits.ESM_BATCHING_WINDOW)
        if batch > limits.ESM_MAX_BATCH_WITHOUT_WINDOW and (window or 0) < 1:
            findings.append(
                f"batchSize {_number(batch)} > {limits.ESM_MAX_BATCH_WITHOUT_WINDOW} needs a window of ≥ 1 s"
            )
    concurrency = (inputs.get("scalingConfig") or {}).get("maximumConcurrency")
    if concurrency is not None and (problem := limits.ESM_MAX_CONCURRENCY.problem(concurrency)):
        findings.append(f"maximumConcurrency = {_number(concurrency)}: {problem}")
    return findings + _provisioned_mode(inputs, concurrency) + _mapping_metrics(inputs)


def _provisioned_mode(inputs: dict, concurrency: float | None) -> list[str]:
    """SQS event pollers within AWS's ranges, never beside a maximum concurrency (AWS refuses the pair)."""
    pollers = inputs.get("provisionedPollerConfig")
    if not pollers:
        return []
    findings = []
    if concurrency is not None:
        findings.append(
            f"provisionedPollerConfig and scalingConfig.maximumConcurrency together: AWS takes one "
            f"({limits.LAMBDA_SQS_SCALING})"
        )
    minimum, maximum = pollers.get("minimumPollers"), pollers.get("maximumPollers")
    for key, value, limit in (
        ("minimumPollers", minimum, limits.ESM_SQS_MINIMUM_POLLERS),
        ("maximumPollers", maximum, limits.ESM_SQS_MAXIMUM_POLLERS),
    ):
        if value is not None and (problem := limit.problem(value)):
            findings.append(f"{key} = {_number(value)}: {problem} ({limit.source})")
    if minimum is not None and maximum is not None and maximum < minimum:
        findings.append(f"maximumPollers {_number(maximum)} < minimumPollers {_number(minimum)}")
    if pollers.get("pollerGroupName"):
        findings.append(
            f"pollerGroupName is for Kafka sources only ({limits.LAMBDA_PROVISIONED_POLLER_CONFIG})"
        )
    return findings


def _mapping_metrics(inputs: dict) -> list[str]:
    metrics = (inputs.get("metricsConfig") or {}).get("metrics") or []
    return [
        f"metricsConfig {metric!r}: an SQS source publishes only {list(limits.ESM_SQS_METRIC_GROUPS)} "
        f"({limits.LAMBDA_ESM_METRICS_CONFIG})"
        for metric in metrics
        if metric not in limits.ESM_SQS_METRIC_GROUPS
    ]


def _role(resource: Resource, _: Graph) -> list[str]:
    findings = limits.IAM_ROLE_NAME.problems(_name(resource))
    findings += limits.IAM_DESCRIPTION.problems(resource.inputs.get("description", ""))
    trust = _policy_chars(resource.inputs["assumeRolePolicy"])
    if trust > limits.IAM_TRUST_POLICY_CHARS:
        findings.append(f"trust policy is {trust} characters, at most {limits.IAM_TRUST_POLICY_CHARS}")
    return findings


def _role_policy(resource: Resource, graph: Graph) -> list[str]:
    findings = limits.IAM_ROLE_POLICY_NAME.problems(_name(resource))
    role = resource.inputs["role"]
    inline = sum(
        _policy_chars(policy.inputs["policy"])
        for policy in graph.of_type("aws:iam/rolePolicy:RolePolicy")
        if policy.inputs["role"] == role
    )
    if inline > limits.IAM_ROLE_INLINE_POLICIES_CHARS:
        findings.append(f"role {role}'s inline policies are {inline} characters together, at most 10240")
    return findings


def _managed_policy(resource: Resource, _: Graph) -> list[str]:
    findings = limits.IAM_POLICY_NAME.problems(_name(resource))
    findings += limits.IAM_DESCRIPTION.problems(resource.inputs.get("description", ""))
    size = _policy_chars(resource.inputs["policy"])
    if size > limits.IAM_MANAGED_POLICY_CHARS:
        findings.append(f"the document is {size} characters, at most {limits.IAM_MANAGED_POLICY_CHARS}")
    return findings


def _table(resource: Resource, _: Graph) -> list[str]:
    findings = limits.DYNAMODB_TABLE_NAME.problems(_name(resource))
    indexes = resource.inputs.get("globalSecondaryIndexes") or []
    for index in indexes:
        findings += limits.DYNAMODB_INDEX_NAME.problems(index["name"])
    for attribute in resource.inputs.get("attributes") or []:
        findings += limits.DYNAMODB_KEY_ATTRIBUTE_NAME.problems(attribute["name"])
    if len(indexes) > limits.DYNAMODB_MAX_GLOBAL_INDEXES:
        findings.append(
            f"{len(indexes)} global secondary indexes, at most {limits.DYNAMODB_MAX_GLOBAL_INDEXES}"
        )
    return findings


def _alarm_statistics(inputs: dict[str, Any]) -> list[tuple[float, str]]:
    """(period, statistic) of the alarm's metric, or of each metric of its metric-math queries."""
    if inputs.get("metricName"):
        return [(inputs.get("period", 0), inputs.get("statistic") or inputs.get("extendedStatistic") or "")]
    return [
        (query["metric"].get("period", 0), query["metric"].get("stat", ""))
        for query in inputs.get("metricQueries") or []
        if query.get("metric")
    ]


def _alarm(resource: Resource, _: Graph) -> list[str]:
    inputs = resource.inputs
    findings = limits.CLOUDWATCH_ALARM_NAME.problems(_name(resource))
    findings += limits.CLOUDWATCH_ALARM_DESCRIPTION.problems(inputs.get("alarmDescription", ""))
    for key in ("alarmActions", "okActions", "insufficientDataActions"):
        if len(inputs.get(key) or []) > limits.CLOUDWATCH_MAX_ALARM_ACTIONS:
            findings.append(f"{key}: at most {limits.CLOUDWATCH_MAX_ALARM_ACTIONS} actions")
    for period, statistic in _alarm_statistics(inputs):
        findings += [problem for problem in (limits.alarm_period_problem(period),) if problem]
        findings += [problem for problem in (limits.statistic_problem(statistic),) if problem]
        evaluated = period * inputs.get("evaluationPeriods", 1)
        if evaluated > limits.CLOUDWATCH_MAX_EVALUATION_SECONDS:
            findings.append(f"evaluationPeriods × period = {_number(evaluated)} s, at most one day")
    return findings


def _log_group(resource: Resource, _: Graph) -> list[str]:
    return limits.LOG_GROUP_NAME.problems(_name(resource)) + _in_range(
        resource, "retentionInDays", limits.LOG_RETENTION_DAYS
    )


def _event_rule(resource: Resource, _: Graph) -> list[str]:
    findings = limits.EVENTBRIDGE_RULE_NAME.problems(_name(resource))
    findings += limits.EVENTBRIDGE_RULE_DESCRIPTION.problems(resource.inputs.get("description", ""))
    expression = resource.inputs.get("scheduleExpression")
    if expression is not None and (problem := limits.schedule_expression_problem(expression)):
        findings.append(f"scheduleExpression {expression!r}: {problem}")
    return findings


def _bucket(resource: Resource, _: Graph) -> list[str]:
    prefix = resource.inputs.get("bucketPrefix")
    return (limits.bucket_prefix_problems(prefix) if prefix else []) + limits.bucket_name_problems(
        _name(resource)
    )


def _bucket_object(resource: Resource, _: Graph) -> list[str]:
    key = str(resource.inputs["key"])
    return [f"object key is {len(key.encode())} bytes"] if len(key.encode()) > S3_OBJECT_KEY_BYTES else []


def _kms_key(resource: Resource, _: Graph) -> list[str]:
    findings = limits.KMS_KEY_DESCRIPTION.problems(resource.inputs.get("description", ""))
    findings += _in_range(resource, "deletionWindowInDays", limits.KMS_DELETION_WINDOW_DAYS)
    size = len(resource.inputs.get("policy", "").encode())
    if size > limits.KMS_KEY_POLICY_BYTES:
        findings.append(f"key policy is {size} bytes, at most {limits.KMS_KEY_POLICY_BYTES}")
    return findings


def _auto_scaling_group(resource: Resource, _: Graph) -> list[str]:
    findings = limits.AUTOSCALING_GROUP_NAME.problems(_name(resource))
    if resource.inputs["minSize"] > resource.inputs["maxSize"]:
        findings.append("minSize exceeds maxSize")
    return findings


def _launch_template(resource: Resource, _: Graph) -> list[str]:
    prefix = resource.inputs.get("namePrefix")
    findings = limits.EC2_LAUNCH_TEMPLATE_NAME.problems(_name(resource))
    longest = limits.EC2_LAUNCH_TEMPLATE_NAME.max_length - limits.PROVIDER_UNIQUE_SUFFIX_LENGTH
    if prefix is not None and len(prefix) > longest:
        findings.append(f"namePrefix {prefix!r} is {len(prefix)} characters, at most {longest}")
    return findings


def _sampling_rule(resource: Resource, _: Graph) -> list[str]:
    inputs = resource.inputs
    findings = limits.XRAY_SAMPLING_RULE_NAME.problems(inputs.get("ruleName", ""))
    findings += _in_range(resource, "priority", limits.XRAY_SAMPLING_PRIORITY)
    findings += _in_range(resource, "reservoirSize", limits.XRAY_RESERVOIR_SIZE)
    if not 0 <= inputs.get("fixedRate", -1) <= 1:
        findings.append(f"fixedRate {inputs.get('fixedRate')} must be 0–1")
    for key in ("serviceName", "serviceType"):
        if len(inputs.get(key, "")) > limits.XRAY_SERVICE_NAME_MAX:
            findings.append(f"{key} is over {limits.XRAY_SERVICE_NAME_MAX} characters")
    if inputs.get("version") != 1:
        findings.append("version must be 1 (the only sampling rule version)")
    return findings


def _named(rule: limits.NameRule) -> Rule:
    return lambda resource, _: rule.problems(_name(resource))


RULES: dict[str, Rule] = {
    "aws:sqs/queue:Queue": _queue,
    "aws:sqs/redriveAllowPolicy:RedriveAllowPolicy": _redrive_allow_policy,
    "aws:lambda/function:Function": _function,
    "aws:lambda/eventSourceMapping:EventSourceMapping": _event_source_mapping,
    "aws:iam/role:Role": _role,
    "aws:iam/rolePolicy:RolePolicy": _role_policy,
    "aws:iam/policy:Policy": _managed_policy,
    "aws:iam/instanceProfile:InstanceProfile": _named(limits.IAM_INSTANCE_PROFILE_NAME),
    "aws:dynamodb/table:Table": _table,
    "aws:cloudwatch/metricAlarm:MetricAlarm": _alarm,
    "aws:cloudwatch/logGroup:LogGroup": _log_group,
    "aws:cloudwatch/dashboard:Dashboard": _named(limits.CLOUDWATCH_DASHBOARD_NAME),
    "aws:cloudwatch/queryDefinition:QueryDefinition": _named(limits.LOGS_QUERY_DEFINITION_NAME),
    "aws:cloudwatch/eventRule:EventRule": _event_rule,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:s3/bucketObjectv2:BucketObjectv2": _bucket_object,
    "aws:kms/key:Key": _kms_key,
    "aws:kms/alias:Alias": _named(limits.KMS_ALIAS_NAME),
    "aws:sns/topic:Topic": _named(limits.SNS_TOPIC_NAME),
    "aws:autoscaling/group:Group": _auto_scaling_group,
    "aws:ec2/launchTemplate:LaunchTemplate": _launch_template,
    "aws:xray/samplingRule:SamplingRule": _sampling_rule,
    "aws:ec2/securityGroup:SecurityGroup": lambda resource, _: limits.EC2_SECURITY_GROUP_DESCRIPTION.problems(
        resource.inputs.get("description", "")
    ),
}


def limit_findings(graph: Graph) -> list[str]:
    findings = []
    for resource in graph.resources:
        if not resource.custom:
            continue
        rule = RULES.get(resource.type)
        if rule is not None:
            findings += [f"{resource.type} {resource.name}: {problem}" for problem in rule(resource, graph)]
        elif resource.type not in NO_LIMITS_SET:
            findings.append(f"{resource.type} {resource.name}: no rule in RULES and not in NO_LIMITS_SET")
    return findings
