"""The policies read resources in every shape the engine may hand them, not just the one prod's graph has.

GIVEN prod's graph with one shape changed: values unknown during a preview, links given as literal ARNs, a
redrive policy in a resource of its own, a second mapping, a non-SQS source, tags with or without the
provider's tagsAll, a config file asking for other tag keys
WHEN the pack runs at prod's levels
THEN each rule still finds what it looks for, and only that.
"""

from __future__ import annotations

import json

from tests.policy.crossguard import Violation, run_pack, stack_config
from tests.policy.engine_shape import REMOVED, EngineResource, EngineStack, mocked_stack

PROD = stack_config("prod")


def policies_reported(stack: EngineStack, config=PROD) -> list[tuple[str, str, str]]:
    return [(v.policy, v.level, v.resource) for v in run_pack(stack, config)]


def test_during_a_preview_the_visibility_rule_links_queue_and_function_by_property_dependencies():
    # GIVEN a first preview: the queue and the function do not exist, so their ARNs and the mapping's
    # references to them are unknown; the property dependencies say which resources they will come from
    prod = mocked_stack("prod").changed("events-queue", visibilityTimeoutSeconds=60.0)
    preview = (
        prod.unknown_in_preview("events-queue", "arn", "url", "id")
        .unknown_in_preview("consumer-function", "arn", "id")
        .unknown_in_preview("consumer-event-source", "eventSourceArn", "functionName")
    )

    # WHEN the pack runs
    violations = run_pack(preview, PROD)

    # THEN the visibility rule still compares them; the rules that must read an unknown ARN are skipped with
    # the SDK's advisory "can't run policy during preview", and nothing passes silently as compliant
    assert [v for v in violations if v.level == "mandatory"] == [
        Violation(
            "sqs-visibility-covers-function-timeout",
            "mandatory",
            "events-queue",
            "queue events-queue: visibility timeout 60 s < 182 s = 6 × 30 s (timeout of consumer-function) + "
            "2 s (batching window of consumer-event-source): a batch still running, or retried after a "
            "throttle, becomes visible again and is processed twice.",
        )
    ]
    skipped = [v for v in violations if v.level == "advisory"]
    assert sorted((v.policy, v.resource) for v in skipped) == [
        ("sqs-dead-letter-queue", ""),  # reads the source queue's ARN in the DLQ's redrive allow policy
        ("sqs-mapping-reports-batch-item-failures", "consumer-event-source"),  # reads eventSourceArn
        ("sqs-queue-tls-only", ""),  # reads the queue's ARN in its queue policy
    ]
    assert {v.message.split(" from policy pack")[0] for v in skipped} == {
        f"can't run policy '{v.policy}'" for v in skipped
    }
    assert {v.message.split("during preview: ")[1] for v in skipped} == {
        "string value at .arn can't be known during preview",
        "string value at .eventSourceArn can't be known during preview",
    }


def test_links_given_as_literal_arns_are_matched_by_value():
    # GIVEN the mapping naming its queue and function by literal ARNs (no property dependencies)
    prod = mocked_stack("prod")
    literal = prod.changed(
        "consumer-event-source",
        eventSourceArn=prod.named("events-queue").outputs["arn"],
        functionName=prod.named("consumer-function").outputs["arn"],
    )
    assert {"eventSourceArn", "functionName"}.isdisjoint(
        literal.named("consumer-event-source").property_dependencies
    )

    # WHEN / THEN it passes as it is, and the visibility rule still catches a short visibility
    assert run_pack(literal, PROD) == []
    assert policies_reported(literal.changed("events-queue", visibilityTimeoutSeconds=60.0)) == [
        ("sqs-visibility-covers-function-timeout", "mandatory", "events-queue")
    ]


def test_a_redrive_policy_in_a_resource_of_its_own_is_the_queues():
    # GIVEN the queue's redrive policy moved to an aws.sqs.RedrivePolicy naming the queue by its URL
    prod = mocked_stack("prod")
    queue, dlq = prod.named("events-queue"), prod.named("events-dlq")
    arguments = {
        "queueUrl": queue.outputs["url"],
        "redrivePolicy": json.dumps({"deadLetterTargetArn": dlq.outputs["arn"], "maxReceiveCount": 3}),
    }
    separate = prod.changed("events-queue", redrivePolicy=REMOVED).plus(
        EngineResource(
            urn=queue.urn.replace(
                "aws:sqs/queue:Queue::events-queue", "aws:sqs/redrivePolicy:RedrivePolicy::rp"
            ),
            type="aws:sqs/redrivePolicy:RedrivePolicy",
            name="events-queue-redrive",
            parent=queue.parent,
            dependencies=(queue.urn, dlq.urn),
            property_dependencies={"queueUrl": (queue.urn,), "redrivePolicy": (dlq.urn,)},
            inputs=arguments,
            outputs={**arguments, "id": queue.outputs["url"]},
            provider=queue.provider,
        )
    )

    # WHEN the pack runs THEN the queue has its DLQ (no dead-letter finding), whose count is read from there
    assert policies_reported(separate) == [("sqs-max-receive-count", "advisory", "events-queue")]


def test_reserved_concurrency_covers_the_sum_of_the_functions_mappings():
    # GIVEN a second mapping (maximum concurrency 10) into the consumer, which reserves 50 for the first's 50
    prod = mocked_stack("prod")
    first = prod.named("consumer-event-source")
    second = EngineResource(
        urn=first.urn + "-second",
        type=first.type,
        name="consumer-event-source-second",
        parent=first.parent,
        dependencies=first.dependencies,
        property_dependencies=first.property_dependencies,
        inputs={**first.inputs, "scalingConfig": {"maximumConcurrency": 10.0}},
        outputs={**first.outputs, "scalingConfig": {"maximumConcurrency": 10.0}},
        provider=first.provider,
    )

    # WHEN / THEN 50 < 50 + 10
    [violation] = run_pack(prod.plus(second), PROD)
    assert (violation.policy, violation.resource) == (
        "lambda-reserved-concurrency-covers-mappings",
        "consumer-function",
    )
    assert "may start 60 (consumer-event-source: 50, consumer-event-source-second: 10)" in violation.message


def test_the_sqs_rules_leave_other_event_sources_alone():
    # GIVEN the mapping reading a Kinesis stream, without ReportBatchItemFailures or maximum concurrency
    kinesis = mocked_stack("prod").changed(
        "consumer-event-source",
        eventSourceArn="arn:aws:kinesis:eu-west-1:123456789012:stream/vehicle-events",
        functionResponseTypes=REMOVED,
        scalingConfig=REMOVED,
    )

    # WHEN / THEN no SQS rule reports it; the queue, now feeding nothing, needs no DLQ rule either
    assert run_pack(kinesis, PROD) == []


def test_without_tags_all_the_providers_default_tags_count():
    # GIVEN a provider that fills no tagsAll: the queue's own tags and the provider's defaultTags
    prod = mocked_stack("prod").changed("events-queue", tagsAll=REMOVED)

    # WHEN / THEN project and stack come from the provider, component from the queue
    assert run_pack(prod, PROD) == []
    assert [v.message for v in run_pack(prod.changed("events-queue", tags={}), PROD)] == [
        "missing cost-allocation tags ['component'] (has ['project', 'stack'])."
    ]


def test_an_auto_scaling_groups_list_of_tags_gets_no_default_tags():
    # GIVEN the fleet's group, whose tags are a list the provider's default tags never fill, without project
    fleet = mocked_stack("fleet")
    tags = fleet.named("workers-group").inputs["tags"]
    broken = fleet.changed("workers-group", tags=[tag for tag in tags if tag["key"] != "project"])

    # WHEN / THEN the provider's project tag does not count for it
    assert [v for v in run_pack(broken, PROD) if v.policy == "cost-allocation-tags"] == [
        Violation(
            "cost-allocation-tags",
            "mandatory",
            "workers-group",
            "missing cost-allocation tags ['project'] (has ['Name', 'component', 'stack']).",
        )
    ]


def test_the_required_tag_keys_come_from_the_config_file():
    config = {**PROD, "cost-allocation-tags": {"enforcementLevel": "advisory", "requiredKeys": ["owner"]}}

    violations = run_pack(mocked_stack("prod"), config)

    assert {(v.policy, v.level) for v in violations} == {("cost-allocation-tags", "advisory")}
    assert {v.message.split(" (has")[0] for v in violations} == {"missing cost-allocation tags ['owner']"}
