"""The whole resource graph of every stack file, with its security and reliability properties.

GIVEN a `Pulumi.<stack>.yaml` (every one in the repository: a new stack file is covered automatically)
WHEN the program runs under Pulumi mocks
THEN each resource is declared with the properties GUIDE §3–§4 require, computed from the same settings.
"""

from __future__ import annotations

import re
from pathlib import Path

import pulumi

from infra import policies
from infra.code_package import package_files
from infra.powertools_layer import parameter_name
from infra.resource_spec import StackSpec
from infra.settings import SQS_MAX_RETENTION_SECONDS, from_stack_file, region_of
from tests.infra.pulumi_harness import Resource, powertools_parameter, run_program, stacks

QUEUE = "aws:sqs/queue:Queue"
QUEUE_POLICY = "aws:sqs/queuePolicy:QueuePolicy"
TABLE = "aws:dynamodb/table:Table"
FUNCTION = "aws:lambda/function:Function"
MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
SAMPLING_RULE = "aws:xray/samplingRule:SamplingRule"
TLS_ONLY = {"Bool": {"aws:SecureTransport": "false"}}


def arn(resource: Resource) -> str:
    return resource.state["arn"]


def with_key(graph, key_input: str) -> dict:
    """The input naming the stack's customer-managed key, absent with AWS-managed keys (test_encryption)."""
    key = graph.outputs["kmsKeyArn"]
    return {key_input: key} if key else {}


def test_the_repository_has_the_documented_stacks():
    assert {"dev", "prod"} <= set(stacks())


def test_each_component_declares_exactly_its_resources(graph, spec):
    def children(component_type: str) -> list[tuple[str, str]]:
        component = graph.one(component_type)
        return sorted((child.type, child.name) for child in graph.children_of(component))

    assert children("vehicle-pipeline:infra:EventQueues") == [
        ("aws:iam/policy:Policy", "events-producer-policy"),
        (QUEUE, "events-dlq"),
        (QUEUE, "events-queue"),
        (QUEUE_POLICY, "events-dlq-policy"),
        (QUEUE_POLICY, "events-queue-policy"),
        ("aws:sqs/redriveAllowPolicy:RedriveAllowPolicy", "events-dlq-redrive-allow"),
    ]
    assert children("vehicle-pipeline:infra:EventTable") == [(TABLE, "vehicle-events-table")]
    sampling = [(SAMPLING_RULE, "consumer-sampling-rule")] if spec.settings.xray_sampling else []
    assert children("vehicle-pipeline:infra:ConsumerFunction") == sorted(
        [
            (LOG_GROUP, "consumer-logs"),
            (ROLE, "consumer-role"),
            (ROLE_POLICY, "consumer-role-policy"),
            (MAPPING, "consumer-event-source"),
            (FUNCTION, "consumer-function"),
            *sampling,
        ]
    )
    made_key = [("aws:kms/alias:Alias", "encryption-alias"), ("aws:kms/key:Key", "encryption-key")]
    assert children("vehicle-pipeline:infra:EncryptionKey") == (
        made_key if spec.settings.create_kms_key else []
    )


def test_the_consumer_is_sampled_by_its_stacks_rule_or_the_accounts(graph, spec):
    # dev traces a fixed share of its invocations, prod every one up to a second and a share beyond; a stack
    # without xraySampling declares no rule and X-Ray's own (by default 1 a second and 5 %) apply
    expected = {"dev": (0, 0.2), "prod": (1, 0.01)}.get(spec.stack)
    assert (tuple(spec.settings.xray_sampling) if spec.settings.xray_sampling else None) == expected
    rules = graph.of_type(SAMPLING_RULE)
    if expected is None:
        assert rules == []
        return
    [rule] = rules
    assert {key: rule.inputs[key] for key in ("reservoirSize", "fixedRate")} == {
        "reservoirSize": expected[0],
        "fixedRate": expected[1],
    }
    # matched by the function's name only: the rule is this stack's, whatever else the account runs
    assert (rule.inputs["serviceName"], rule.inputs["ruleName"]) == (
        spec.function_name,
        spec.sampling_rule_name,
    )
    assert {rule.inputs[key] for key in ("serviceType", "host", "httpMethod", "urlPath", "resourceArn")} == {
        "*"
    }
    assert (rule.inputs["priority"], rule.inputs["version"]) == (1000, 1)
    assert graph.one(FUNCTION, "consumer-function").inputs["tracingConfig"] == {"mode": "Active"}


def test_a_long_stack_name_still_gets_a_sampling_rule_name_x_ray_takes():
    graph = run_program("provisioned", {"xraySampling": {"reservoirPerSecond": 2, "fixedRate": 0.5}})
    [rule] = graph.of_type(SAMPLING_RULE)
    assert (
        rule.inputs["ruleName"] == StackSpec("provisioned", from_stack_file("provisioned")).sampling_rule_name
    )
    assert len(rule.inputs["ruleName"]) <= 32 and rule.inputs["ruleName"].startswith(
        "vehicle-pipeline-provis"
    )


def test_queues_are_sized_and_redrive_to_a_dlq_of_the_same_type(graph, spec):
    queue, dlq = graph.one(QUEUE, "-queue"), graph.one(QUEUE, "-dlq")
    s = spec.settings
    assert (queue.inputs["name"], dlq.inputs["name"]) == (spec.queue.name, spec.dead_letter_queue.name)
    assert queue.inputs["fifoQueue"] is dlq.inputs["fifoQueue"] is s.fifo
    assert queue.inputs["visibilityTimeoutSeconds"] == s.queue_visibility_timeout_seconds
    assert queue.inputs["messageRetentionSeconds"] == s.message_retention_seconds
    assert dlq.inputs["messageRetentionSeconds"] == SQS_MAX_RETENTION_SECONDS
    assert queue.json("redrivePolicy") == {
        "deadLetterTargetArn": arn(dlq),
        "maxReceiveCount": s.max_receive_count,
    }
    assert "redrivePolicy" not in dlq.inputs


def test_only_the_main_queue_may_redrive_into_the_dlq(graph):
    queue, dlq = graph.one(QUEUE, "-queue"), graph.one(QUEUE, "-dlq")
    allow = graph.one("aws:sqs/redriveAllowPolicy:RedriveAllowPolicy")
    assert allow.inputs["queueUrl"] == dlq.state["url"]
    assert allow.json("redriveAllowPolicy") == {
        "redrivePermission": "byQueue",
        "sourceQueueArns": [arn(queue)],
    }


def test_queue_policy_denies_plain_http_and_lets_only_the_producers_send(graph, spec):
    queue = graph.one(QUEUE, "-queue")
    policy = graph.one(QUEUE_POLICY, "-queue-policy")
    principals = list(spec.settings.producer_principals) or [f"arn:aws:iam::{graph.account_id}:root"]
    assert policy.inputs["queueUrl"] == queue.state["url"]
    assert policy.json("policy")["Statement"] == [
        {
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "sqs:*",
            "Resource": arn(queue),
            "Condition": TLS_ONLY,
        },
        {
            "Sid": "AllowProducersToSend",
            "Effect": "Allow",
            "Principal": {"AWS": principals},
            "Action": policies.PRODUCER_ACTIONS,
            "Resource": arn(queue),
        },
    ]


def test_dlq_policy_is_the_dead_letter_queue_policy(graph):
    dlq = graph.one(QUEUE, "-dlq")
    policy = graph.one(QUEUE_POLICY, "-dlq-policy")
    assert policy.inputs["queueUrl"] == dlq.state["url"]
    assert policy.json("policy") == policies.dead_letter_queue_policy(arn(dlq))


def test_producer_policy_sends_to_the_queue_only(graph):
    producer = graph.one("aws:iam/policy:Policy", "-producer-policy")
    assert producer.json("policy") == policies.producer_policy(
        arn(graph.one(QUEUE, "-queue")), graph.outputs["kmsKeyArn"]
    )


def test_no_allow_statement_grants_wildcards(graph):
    allows = graph.statements("Allow")
    assert len(allows) >= 4  # producer, queue policy, consumer role policy, assume-role
    for resource, statement in allows:
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        assert statement.get("Principal") != "*", resource.name
        if statement.get("Resource") == "*" and resource.type != "aws:kms/key:Key":  # there, "*" is the key
            assert sorted(actions) == sorted(policies.XRAY_ACTIONS), resource.name


def test_table_has_the_key_design_encryption_key_and_stack_deletion_protection(graph, spec):
    # One write per event: keyed for a vehicle's history (vehicle, then time and event id), no index.
    table = graph.one(TABLE)
    s = spec.settings
    assert table.inputs["name"] == spec.table_name == f"{spec.prefix}-vehicle-history"
    assert (table.inputs["hashKey"], table.inputs["rangeKey"]) == ("vehicleId", "eventKey")
    assert table.inputs["attributes"] == [
        {"name": "vehicleId", "type": "S"},
        {"name": "eventKey", "type": "S"},
    ]
    assert not table.inputs.get("globalSecondaryIndexes")
    assert table.inputs["billingMode"] == s.billing_mode
    assert table.inputs["serverSideEncryption"] == {"enabled": True, **with_key(graph, "kmsKeyArn")}
    assert table.inputs["deletionProtectionEnabled"] is s.deletion_protection


def test_the_event_id_index_is_a_stack_option_keys_only():
    table = run_program("dev", {"eventIdIndex": True}).one(TABLE)
    assert table.inputs["attributes"] == [
        {"name": "vehicleId", "type": "S"},
        {"name": "eventKey", "type": "S"},
        {"name": "eventId", "type": "S"},
    ]
    [index] = table.inputs["globalSecondaryIndexes"]
    assert {key: index[key] for key in ("name", "keySchemas", "projectionType")} == {
        "name": "byEventId",
        "keySchemas": [{"attributeName": "eventId", "keyType": "HASH"}],
        "projectionType": "KEYS_ONLY",
    }


def test_consumer_role_has_named_actions_on_its_own_resources_only(graph):
    role, role_policy = graph.one(ROLE, "consumer-role"), graph.one(ROLE_POLICY, "consumer-role-policy")
    assert role.json("assumeRolePolicy") == policies.lambda_assume_role_policy()
    assert "managedPolicyArns" not in role.inputs
    assert graph.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment") == []
    assert role_policy.inputs["role"] == role.id
    assert role_policy.json("policy") == policies.consumer_policy(
        queue_arn=arn(graph.one(QUEUE, "-queue")),
        table_arn=arn(graph.one(TABLE)),
        log_group_arn=arn(graph.one(LOG_GROUP, "consumer-logs")),
        dlq_arn=arn(graph.one(QUEUE, "-dlq")),
        kms_key_arn=graph.outputs["kmsKeyArn"],
    )


def test_log_group_is_the_functions_and_has_a_retention(graph, spec):
    logs = graph.one(LOG_GROUP, "consumer-logs")
    assert logs.inputs == {
        "name": spec.log_group_name,
        "retentionInDays": spec.settings.log_retention_days,
        "tags": {"component": "consumer"},  # project and stack: the provider's default tags
        **with_key(graph, "kmsKeyId"),
    }


def test_function_is_layered_configured_and_waits_for_its_logs_and_rights(graph, spec):
    function, s = graph.one(FUNCTION, "consumer-function"), spec.settings
    assert {key: function.inputs[key] for key in ("name", "runtime", "architectures", "handler")} == {
        "name": spec.function_name,
        "runtime": s.python_runtime,
        "architectures": [s.architecture],
        "handler": "consumer.handler.lambda_handler",
    }
    assert (function.inputs["memorySize"], function.inputs["timeout"]) == (
        s.function_memory_mb,
        s.function_timeout_seconds,
    )
    # The locked Powertools release's public layer (tests/infra/test_deployed_as_tested.py).
    parameter = parameter_name(s.architecture, s.python_runtime)
    locked_layer = powertools_parameter(parameter, graph.region)["insecureValue"]
    assert function.inputs["layers"] == [locked_layer]
    assert function.inputs["role"] == arn(graph.one(ROLE, "consumer-role"))
    assert function.inputs["loggingConfig"] == {"logFormat": "Text", "logGroup": spec.log_group_name}
    assert function.inputs["environment"] == {
        "variables": {
            "TABLE_NAME": graph.one(TABLE).state["name"],
            "DLQ_URL": graph.one(QUEUE, "-dlq").state["url"],
            "POWERTOOLS_SERVICE_NAME": "vehicle-consumer",
            "POWERTOOLS_METRICS_NAMESPACE": s.metrics_namespace,
            "POWERTOOLS_LOG_LEVEL": s.log_level,
        }
    }
    assert graph.depends_on(function, graph.one(LOG_GROUP, "consumer-logs"))
    assert graph.depends_on(function, graph.one(ROLE_POLICY, "consumer-role-policy"))


def test_function_code_is_the_consumer_package_only(graph):
    code = graph.one(FUNCTION, "consumer-function").inputs["code"]
    assert isinstance(code, pulumi.AssetArchive)
    assert "consumer/worker.py" not in code.assets  # the fleet's, not the function's
    assert {name: Path(asset.path) for name, asset in code.assets.items()} == package_files()


def test_event_source_mapping_takes_the_stacks_batching_and_scaling(graph, spec):
    mapping, s = graph.one(MAPPING), spec.settings
    assert mapping.inputs["eventSourceArn"] == arn(graph.one(QUEUE, "-queue"))
    assert mapping.inputs["functionName"] == arn(graph.one(FUNCTION, "consumer-function"))
    assert mapping.inputs["batchSize"] == s.batch_size
    assert mapping.inputs.get("maximumBatchingWindowInSeconds", 0) == s.batching_window_seconds
    if s.provisioned_pollers is None:  # standard mode: ScalingConfig only
        assert mapping.inputs["scalingConfig"] == {"maximumConcurrency": s.max_concurrency}
        assert "provisionedPollerConfig" not in mapping.inputs
    else:  # provisioned mode: the pollers only (AWS refuses both)
        assert mapping.inputs["provisionedPollerConfig"] == {
            "minimumPollers": s.provisioned_pollers.minimum,
            "maximumPollers": s.provisioned_pollers.maximum,
        }
        assert "scalingConfig" not in mapping.inputs
    assert mapping.inputs["metricsConfig"] == {"metrics": ["EventCount"]}
    assert mapping.inputs["enabled"] is True


def test_provisioned_pollers_reach_the_mapping_instead_of_its_maximum_concurrency():
    graph = run_program("dev", {"maxConcurrency": None, "provisionedPollers": {"minimum": 3, "maximum": 7}})
    mapping = graph.one(MAPPING)

    assert mapping.inputs["provisionedPollerConfig"] == {"minimumPollers": 3, "maximumPollers": 7}
    assert "scalingConfig" not in mapping.inputs
    # 10 concurrent invokes per SQS event poller: the function reserves what 7 pollers can drive.
    assert graph.one(FUNCTION, "consumer-function").inputs["reservedConcurrentExecutions"] == 70


def test_stack_outputs_name_the_deployed_resources(graph, spec):
    queue, dlq = graph.one(QUEUE, "-queue"), graph.one(QUEUE, "-dlq")
    expected = {
        "queueUrl": queue.state["url"],
        "queueArn": arn(queue),
        "dlqUrl": dlq.state["url"],
        "tableName": spec.table_name,
        "functionName": spec.function_name,
        "region": region_of(spec.stack),
        "producerPolicyArn": arn(graph.one("aws:iam/policy:Policy", "-producer-policy")),
    }
    assert {key: graph.outputs.get(key) for key in expected} == expected
    assert (
        queue.state["url"] == f"https://sqs.{graph.region}.amazonaws.com/{graph.account_id}/{spec.queue.name}"
    )


def test_every_arn_is_in_the_stacks_region(graph):
    """No hard-coded region: every regional ARN the program passes anywhere is built from the stack's."""
    text = repr([resource.inputs for resource in graph.resources])
    regions = set(re.findall(r"arn:aws:[a-z0-9-]+:([a-z0-9-]+):", text)) - {""}
    assert regions == {region_of(graph.stack)}


# ---- variants of a stack through config overrides ------------------------------------------------------
def test_fifo_stack_declares_fifo_queue_and_dlq_without_a_batching_window():
    graph = run_program("dev", {"fifo": True})
    queue, dlq = graph.one(QUEUE, "-queue"), graph.one(QUEUE, "-dlq")
    assert (queue.inputs["name"], dlq.inputs["name"]) == (
        "vehicle-pipeline-dev-events.fifo",
        "vehicle-pipeline-dev-events-dlq.fifo",
    )
    for fifo_queue in (queue, dlq):
        assert fifo_queue.inputs["fifoQueue"] is True
        assert fifo_queue.inputs["contentBasedDeduplication"] is False
        assert (fifo_queue.inputs["deduplicationScope"], fifo_queue.inputs["fifoThroughputLimit"]) == (
            "queue",
            "perQueue",
        )
    assert queue.json("redrivePolicy")["deadLetterTargetArn"].endswith("events-dlq.fifo")
    assert "maximumBatchingWindowInSeconds" not in graph.one(MAPPING).inputs
    assert graph.outputs["queueUrl"].endswith("/vehicle-pipeline-dev-events.fifo")


def test_fifo_example_stack_is_high_throughput_and_deduplicates_on_the_producers_id():
    graph = run_program("fifo")
    for fifo_queue in (graph.one(QUEUE, "-queue"), graph.one(QUEUE, "-dlq")):
        assert {
            key: fifo_queue.inputs[key]
            for key in ("fifoQueue", "contentBasedDeduplication", "deduplicationScope", "fifoThroughputLimit")
        } == {
            "fifoQueue": True,
            "contentBasedDeduplication": False,
            "deduplicationScope": "messageGroup",
            "fifoThroughputLimit": "perMessageGroupId",
        }
    assert graph.one(MAPPING).inputs["batchSize"] == 10


def test_configured_producer_principals_replace_the_account_root():
    producer = "arn:aws:iam::111122223333:role/vehicle-producer"
    graph = run_program("dev", {"producerPrincipals": [producer]})
    allow = graph.one(QUEUE_POLICY, "-queue-policy").json("policy")["Statement"][1]
    assert allow["Principal"] == {"AWS": [producer]}


def test_provisioned_table_declares_capacity_on_the_table_and_its_index():
    graph = run_program(
        "dev", {"billingMode": "PROVISIONED", "readCapacity": 7, "writeCapacity": 3, "eventIdIndex": True}
    )
    table = graph.one(TABLE)
    [index] = table.inputs["globalSecondaryIndexes"]
    assert (table.inputs["readCapacity"], table.inputs["writeCapacity"]) == (7, 3)
    assert (index["readCapacity"], index["writeCapacity"]) == (7, 3)


def test_on_demand_table_declares_no_capacity():
    table = run_program("dev", {"billingMode": "PAY_PER_REQUEST"}).one(TABLE)
    assert table.inputs["billingMode"] == "PAY_PER_REQUEST"
    assert "readCapacity" not in table.inputs
    assert "writeCapacity" not in table.inputs
    assert not table.inputs.get("globalSecondaryIndexes")


def test_function_reserves_the_configured_concurrency(graph, spec):
    function = graph.one(FUNCTION, "consumer-function")
    assert function.inputs["reservedConcurrentExecutions"] == spec.settings.reserved_concurrency


def test_without_dlq_routing_the_role_cannot_send_to_the_dlq_and_the_function_has_no_dlq_url():
    routed = run_program("dev")
    unrouted = run_program("dev", {"routePermanentErrorsToDlq": False})

    def dlq_senders(graph):
        dlq_arn = graph.one(QUEUE, "-dlq").state["arn"]
        return [s["Sid"] for _, s in graph.statements("Allow") if s.get("Resource") == dlq_arn]

    assert dlq_senders(routed) == ["RoutePermanentErrors"]
    assert dlq_senders(unrouted) == []
    assert "DLQ_URL" in routed.one(FUNCTION).inputs["environment"]["variables"]
    assert "DLQ_URL" not in unrouted.one(FUNCTION).inputs["environment"]["variables"]
