"""Every metric the program alarms on, graphs or scales on exists: a documented metric of its AWS namespace
with its documented dimensions, or one the consumer itself emits through EMF with the dimensions it gives it.

CloudWatch accepts an alarm or a dashboard on any name (a typo just never gets data), so neither the mocks nor
moto could notice. The AWS side is a small table of the namespaces the program uses, each with its page; the
EMF side is read from consumer/'s source (the add_metric and single_metric calls), never imported.

    references(graph)                        # every MetricRef in alarms, the dashboard, scaling policies
    reference_findings(ref, emitted, services, emf_namespace)
    mapping_metrics_findings(graph, refs)    # an event source mapping's metric: its mapping publishes it
"""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

from infra.settings import PROJECT_ROOT
from tests.infra.conformance.dashboard_body import dashboard_metrics
from tests.infra.pulumi_harness import Graph, Resource

CONSUMER_SOURCE = PROJECT_ROOT / "consumer"
POWERTOOLS_SERVICE_DIMENSION = "service"  # Powertools adds it to every metric when a service name is set


@dataclasses.dataclass(frozen=True)
class Namespace:
    source: str
    metrics: dict[str, tuple[frozenset[str], ...]]  # metric -> the dimension sets AWS publishes it with


def _same_dimensions(
    names: list[str], *dimension_sets: frozenset[str]
) -> dict[str, tuple[frozenset[str], ...]]:
    return {name: dimension_sets for name in names}


_QUEUE = frozenset({"QueueName"})
_FUNCTION = frozenset({"FunctionName"})
_FUNCTION_ALIAS = frozenset({"FunctionName", "Resource"})
_FUNCTION_VERSION = frozenset({"FunctionName", "ExecutedVersion"})
# An event source mapping's own metrics: the console browses them "By Event Source Mapping UUID"
# (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-view.html).
_EVENT_SOURCE_MAPPING = frozenset({"EventSourceMappingUUID"})
_ACCOUNT = frozenset()
_TABLE = frozenset({"TableName"})
_TABLE_INDEX = frozenset({"TableName", "GlobalSecondaryIndexName"})
_TABLE_OPERATION = frozenset({"TableName", "Operation"})
_GROUP = frozenset({"AutoScalingGroupName"})

DOCUMENTED_METRICS = {
    "AWS/SQS": Namespace(
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/"
        "sqs-available-cloudwatch-metrics.html",
        _same_dimensions(
            [
                "ApproximateAgeOfOldestMessage",
                "ApproximateNumberOfGroupsWithInflightMessages",
                "ApproximateNumberOfMessagesDelayed",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesVisible",
                "NumberOfDeduplicatedSentMessages",
                "NumberOfEmptyReceives",
                "NumberOfMessagesDeleted",
                "NumberOfMessagesReceived",
                "NumberOfMessagesSent",
                "SentMessageSize",
            ],
            _QUEUE,
        ),
    ),
    "AWS/Lambda": Namespace(
        "https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html",
        {
            **_same_dimensions(
                [
                    "Invocations",
                    "Errors",
                    "Throttles",
                    "Duration",
                    "DeadLetterErrors",
                    "DestinationDeliveryFailures",
                    "PostRuntimeExtensionsDuration",
                    "RecursiveInvocationsDropped",
                ],
                _FUNCTION,
                _FUNCTION_ALIAS,
                _FUNCTION_VERSION,
                _ACCOUNT,
            ),
            **_same_dimensions(["ConcurrentExecutions"], _FUNCTION, _FUNCTION_ALIAS, _ACCOUNT),
            # "Event source mapping metrics" on the same page: with MetricsConfig EventCount an SQS source
            # publishes these five. DroppedEventCount and OnFailureDestinationDeliveredEventCount are in the
            # EventCount group too but "No" for Amazon SQS in the page's table (streams and Kafka only), so a
            # reference to them is a finding. ProvisionedPollers comes with provisioned mode (view with MAX).
            **_same_dimensions(
                [
                    "PolledEventCount",
                    "FilteredOutEventCount",
                    "InvokedEventCount",
                    "FailedInvokeEventCount",
                    "DeletedEventCount",
                    "ProvisionedPollers",
                ],
                _EVENT_SOURCE_MAPPING,
            ),
            **_same_dimensions(["UnreservedConcurrentExecutions", "ClaimedAccountConcurrency"], _ACCOUNT),
        },
    ),
    "AWS/DynamoDB": Namespace(
        "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/metrics-dimensions.html",
        {
            **_same_dimensions(
                [
                    "ConsumedReadCapacityUnits",
                    "ConsumedWriteCapacityUnits",
                    "ReadThrottleEvents",
                    "WriteThrottleEvents",
                    "ProvisionedReadCapacityUnits",
                    "ProvisionedWriteCapacityUnits",
                ],
                _TABLE,
                _TABLE_INDEX,
            ),
            **_same_dimensions(
                [
                    "SuccessfulRequestLatency",
                    "ThrottledRequests",
                    "SystemErrors",
                    "ReturnedItemCount",
                    "TransactionConflict",
                ],
                _TABLE_OPERATION,
            ),
            **_same_dimensions(["ConditionalCheckFailedRequests"], _TABLE),
            **_same_dimensions(["UserErrors"], _ACCOUNT),
        },
    ),
    "AWS/AutoScaling": Namespace(
        "https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-metrics.html",
        _same_dimensions(
            [
                "GroupMinSize",
                "GroupMaxSize",
                "GroupDesiredCapacity",
                "GroupInServiceInstances",
                "GroupPendingInstances",
                "GroupStandbyInstances",
                "GroupTerminatingInstances",
                "GroupTotalInstances",
                "GroupInServiceCapacity",
                "GroupPendingCapacity",
                "GroupStandbyCapacity",
                "GroupTerminatingCapacity",
                "GroupTotalCapacity",
            ],
            _GROUP,
        ),
    ),
}
# The Operation dimension's documented values (DynamoDB's metrics-dimensions page).
DYNAMODB_OPERATIONS = {
    "PutItem",
    "DeleteItem",
    "UpdateItem",
    "GetItem",
    "BatchGetItem",
    "BatchWriteItem",
    "Scan",
    "Query",
    "TransactWriteItems",
    "TransactGetItems",
    "ExecuteStatement",
    "BatchExecuteStatement",
    "ExecuteTransaction",
}


# ---- what the consumer emits -------------------------------------------------------------------------------
def _literal(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _argument(call: ast.Call, position: int, keyword: str) -> str | None:
    for item in call.keywords:
        if item.arg == keyword:
            return _literal(item.value)
    return _literal(call.args[position]) if len(call.args) > position else None


def _method(call: ast.Call) -> str | None:
    return call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", None)


def emitted_metrics(source_dir: Path = CONSUMER_SOURCE) -> dict[str, frozenset[str]]:
    """metric name -> its dimensions, from the consumer's source. `add_metric("Name", ...)` carries the
    service dimension; `with single_metric(name="Name", ...) as m: m.add_dimension("reason", ...)` carries
    that and its own."""
    emitted: dict[str, frozenset[str]] = {}
    for path in sorted(source_dir.glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        single_metric_calls = set()
        for node in ast.walk(tree):
            if not isinstance(node, ast.With):
                continue
            for item in node.items:
                call = item.context_expr
                if isinstance(call, ast.Call) and _method(call) == "single_metric":
                    single_metric_calls.add(id(call))
                    added = {
                        _argument(inner, 0, "name")
                        for inner in ast.walk(node)
                        if isinstance(inner, ast.Call) and _method(inner) == "add_dimension"
                    }
                    name = _argument(call, 0, "name")
                    if name:
                        emitted[name] = frozenset({POWERTOOLS_SERVICE_DIMENSION, *(added - {None})})
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and _method(node) == "add_metric"
                and id(node) not in single_metric_calls
            ):
                name = _argument(node, 0, "name")
                if name:
                    emitted.setdefault(name, frozenset({POWERTOOLS_SERVICE_DIMENSION}))
    return emitted


# ---- what the program refers to ----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class MetricRef:
    namespace: str
    name: str
    dimensions: dict[str, str]
    where: str

    def __str__(self) -> str:
        return f"{self.where}: {self.namespace} {self.name} {self.dimensions}"


def alarm_references(alarm: Resource) -> list[MetricRef]:
    inputs, where = alarm.inputs, f"alarm {alarm.name}"
    refs = []
    if inputs.get("metricName"):
        refs.append(
            MetricRef(inputs["namespace"], inputs["metricName"], dict(inputs.get("dimensions") or {}), where)
        )
    for query in inputs.get("metricQueries") or []:
        metric = query.get("metric")
        if metric:
            refs.append(
                MetricRef(
                    metric["namespace"], metric["metricName"], dict(metric.get("dimensions") or {}), where
                )
            )
    return refs


def scaling_policy_references(policy: Resource) -> list[MetricRef]:
    tracking = policy.inputs.get("targetTrackingConfiguration") or {}
    metrics = (tracking.get("customizedMetricSpecification") or {}).get("metrics") or []
    refs = []
    for query in metrics:
        metric = (query.get("metricStat") or {}).get("metric")
        if metric:
            dimensions = {
                dimension["name"]: dimension["value"] for dimension in metric.get("dimensions") or []
            }
            refs.append(
                MetricRef(metric["namespace"], metric["metricName"], dimensions, f"policy {policy.name}")
            )
    return refs


def references(graph: Graph) -> list[MetricRef]:
    """Every metric of the graph's alarms, dashboards and target-tracking policies."""
    refs = [
        ref
        for alarm in graph.of_type("aws:cloudwatch/metricAlarm:MetricAlarm")
        for ref in alarm_references(alarm)
    ]
    for dashboard in graph.of_type("aws:cloudwatch/dashboard:Dashboard"):
        body = json.loads(dashboard.inputs["dashboardBody"])
        refs += [
            MetricRef(namespace, name, dimensions, f"dashboard {dashboard.name} {where}")
            for namespace, name, dimensions, where in dashboard_metrics(body)
        ]
    for policy in graph.of_type("aws:autoscaling/policy:Policy"):
        refs += scaling_policy_references(policy)
    return refs


def function_services(graph: Graph) -> tuple[str | None, set[str]]:
    """(the EMF namespace, the service names) the graph's functions give Powertools in their environment."""
    namespaces, services = set(), set()
    for function in graph.of_type("aws:lambda/function:Function"):
        variables = (function.inputs.get("environment") or {}).get("variables") or {}
        if "POWERTOOLS_METRICS_NAMESPACE" in variables:
            namespaces.add(variables["POWERTOOLS_METRICS_NAMESPACE"])
            services.add(variables.get("POWERTOOLS_SERVICE_NAME"))
    if len(namespaces) > 1:
        raise AssertionError(f"functions emit EMF metrics into several namespaces: {sorted(namespaces)}")
    return next(iter(namespaces), None), services


def reference_findings(
    ref: MetricRef, emitted: dict[str, frozenset[str]], services: set[str], emf_namespace: str | None
) -> list[str]:
    dimensions = frozenset(ref.dimensions)
    documented = DOCUMENTED_METRICS.get(ref.namespace)
    if documented is not None:
        if ref.name not in documented.metrics:
            return [f"{ref}: {ref.name} is not a documented {ref.namespace} metric ({documented.source})"]
        findings = []
        if dimensions not in documented.metrics[ref.name]:
            allowed = [sorted(dimension_set) for dimension_set in documented.metrics[ref.name]]
            findings.append(f"{ref}: {ref.name} is published with dimensions {allowed} ({documented.source})")
        operation = ref.dimensions.get("Operation")
        if operation is not None and operation not in DYNAMODB_OPERATIONS:
            findings.append(f"{ref}: {operation!r} is not a DynamoDB Operation dimension value")
        return findings
    if ref.namespace == emf_namespace:
        if ref.name not in emitted:
            return [f"{ref}: the consumer emits no {ref.name} metric (it emits {sorted(emitted)})"]
        findings = []
        if dimensions != emitted[ref.name]:
            findings.append(
                f"{ref}: the consumer emits {ref.name} with dimensions {sorted(emitted[ref.name])}"
            )
        service = ref.dimensions.get(POWERTOOLS_SERVICE_DIMENSION)
        if service is not None and service not in services:
            findings.append(
                f"{ref}: no function runs as service {service!r} (they run as {sorted(services)})"
            )
        return findings
    return [
        f"{ref}: {ref.namespace} is neither a namespace in DOCUMENTED_METRICS "
        "nor the consumer's EMF namespace"
    ]


def group_metrics_findings(graph: Graph, refs: list[MetricRef]) -> list[str]:
    """An Auto Scaling group publishes its group metrics only once they are enabled on it
    (EnableMetricsCollection, Pulumi's enabled_metrics): a metric the program uses must be among them."""
    groups = {group.inputs.get("name"): group for group in graph.of_type("aws:autoscaling/group:Group")}
    findings = []
    for ref in refs:
        if ref.namespace != "AWS/AutoScaling":
            continue
        group = groups.get(ref.dimensions.get("AutoScalingGroupName"))
        if group is None:
            findings.append(f"{ref}: no Auto Scaling group of this stack has that name")
        elif ref.name not in (group.inputs.get("enabledMetrics") or []):
            findings.append(f"{ref}: group {group.name} does not enable {ref.name} (enabled_metrics)")
    return findings


# The mapping metrics an SQS source publishes only once enabled: MetricsConfig's EventCount group, or
# provisioned mode for ProvisionedPollers (monitoring-metrics-types.html, "Event source mapping metrics").
EVENT_COUNT_METRICS = {
    "PolledEventCount",
    "FilteredOutEventCount",
    "InvokedEventCount",
    "FailedInvokeEventCount",
    "DeletedEventCount",
}


def mapping_metrics_findings(graph: Graph, refs: list[MetricRef]) -> list[str]:
    """A metric of an event source mapping names a mapping of this stack that publishes it."""
    mappings = {
        mapping.state.get("uuid"): mapping
        for mapping in graph.of_type("aws:lambda/eventSourceMapping:EventSourceMapping")
    }
    findings = []
    for ref in refs:
        if "EventSourceMappingUUID" not in ref.dimensions:
            continue
        mapping = mappings.get(ref.dimensions["EventSourceMappingUUID"])
        if mapping is None:
            findings.append(f"{ref}: no event source mapping of this stack has that UUID")
        elif ref.name in EVENT_COUNT_METRICS and "EventCount" not in (
            (mapping.inputs.get("metricsConfig") or {}).get("metrics") or []
        ):
            findings.append(f"{ref}: mapping {mapping.name} does not enable MetricsConfig EventCount")
        elif ref.name == "ProvisionedPollers" and not mapping.inputs.get("provisionedPollerConfig"):
            findings.append(f"{ref}: mapping {mapping.name} is not in provisioned mode")
    return findings
