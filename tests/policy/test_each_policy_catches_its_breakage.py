"""Every policy of the pack, on a graph that breaks it.

GIVEN a stack in the engine's shape (prod, which passes the pack; fleet for the bucket rules)
WHEN one argument or resource is changed the way a careless edit would change it
THEN the pack reports exactly one more violation, that one, mandatory at prod's levels (so `pulumi preview`
and `pulumi up` fail), except sqs-max-receive-count, which is AWS's advice and stays advisory.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable

import pytest

from policy.pipeline_policies import POLICIES
from tests.policy.crossguard import Violation, run_pack, stack_config
from tests.policy.engine_shape import REMOVED, EngineResource, EngineStack, mocked_stack


def redrive(count: int, target: str = "") -> Callable[[EngineStack], EngineStack]:
    def change(stack: EngineStack) -> EngineStack:
        dead_letter_arn = target or stack.named("events-dlq").outputs["arn"]
        policy = json.dumps({"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": count})
        return stack.changed("events-queue", redrivePolicy=policy)

    return change


def consumer_actions(actions: list[str], key: str = "Action") -> Callable[[EngineStack], EngineStack]:
    """The consumer role policy with its first statement's actions replaced (`key`: Action or NotAction)."""

    def change(stack: EngineStack) -> EngineStack:
        document = json.loads(stack.named("consumer-role-policy").inputs["policy"])
        first = document["Statement"][0]
        del first["Action"]
        first[key] = actions
        return stack.changed("consumer-role-policy", policy=json.dumps(document))

    return change


def queue_policy_without_its_tls_deny(stack: EngineStack) -> EngineStack:
    document = json.loads(stack.named("events-queue-policy").inputs["policy"])
    allows = [statement for statement in document["Statement"] if statement["Effect"] == "Allow"]
    return stack.changed("events-queue-policy", policy=json.dumps({**document, "Statement": allows}))


LOGGING = "aws:s3/bucketLogging:BucketLogging"


def with_access_logging(stack: EngineStack) -> EngineStack:
    """The fleet stack with the BucketLogging its artifact bucket lacks (to a log bucket of the account)."""
    bucket = stack.named("workers-artifacts")
    arguments = {"bucket": bucket.outputs["id"], "targetBucket": "account-access-logs", "targetPrefix": "s3/"}
    return stack.plus(
        EngineResource(
            urn=bucket.urn.replace(
                "aws:s3/bucket:Bucket::workers-artifacts", f"{LOGGING}::workers-artifacts-logs"
            ),
            type=LOGGING,
            name="workers-artifacts-logs",
            parent=bucket.parent,
            dependencies=(bucket.urn,),
            property_dependencies={"bucket": (bucket.urn,)},
            inputs=arguments,
            outputs={**arguments, "id": bucket.outputs["id"]},
            provider=bucket.provider,
        )
    )


PROVISIONED_POLLERS = {"minimumPollers": 2.0, "maximumPollers": 10.0}
VISIBILITY_TAIL = (
    "a batch still running, or retried after a throttle, becomes visible again and is processed twice."
)
TLS_MESSAGE = (
    "no queue policy denies every SQS action when aws:SecureTransport is false, so any principal it allows "
    "may call it over plain HTTP."
)


@dataclasses.dataclass(frozen=True)
class Breakage:
    what: str
    change: Callable[[EngineStack], EngineStack]
    expected: list[Violation]
    stack: str = "prod"
    given: Callable[[EngineStack], EngineStack] = lambda stack: stack  # the stack before the breakage


BREAKAGES = [
    Breakage(
        "visibility one second short",
        lambda s: s.changed("events-queue", visibilityTimeoutSeconds=181.0),
        [
            Violation(
                "sqs-visibility-covers-function-timeout",
                "mandatory",
                "events-queue",
                "queue events-queue: visibility timeout 181 s < 182 s = 6 × 30 s (timeout of "
                f"consumer-function) + 2 s (batching window of consumer-event-source): {VISIBILITY_TAIL}",
            )
        ],
    ),
    Breakage(
        "function timeout raised past the visibility",
        lambda s: s.changed("consumer-function", timeout=31.0),
        [
            Violation(
                "sqs-visibility-covers-function-timeout",
                "mandatory",
                "events-queue",
                "queue events-queue: visibility timeout 182 s < 188 s = 6 × 31 s (timeout of "
                f"consumer-function) + 2 s (batching window of consumer-event-source): {VISIBILITY_TAIL}",
            )
        ],
    ),
    Breakage(
        "mapping without ReportBatchItemFailures",
        lambda s: s.changed("consumer-event-source", functionResponseTypes=REMOVED),
        [
            Violation(
                "sqs-mapping-reports-batch-item-failures",
                "mandatory",
                "consumer-event-source",
                "functionResponseTypes is []: without ReportBatchItemFailures one failed record returns its "
                "whole batch to the queue, and the records that succeeded are processed again.",
            )
        ],
    ),
    Breakage(
        "reserved concurrency below the mapping's maximum",
        lambda s: s.changed("consumer-function", reservedConcurrentExecutions=49.0),
        [
            Violation(
                "lambda-reserved-concurrency-covers-mappings",
                "mandatory",
                "consumer-function",
                "function consumer-function reserves 49 concurrent executions, its SQS mappings may start 50 "
                "(consumer-event-source: 50): Lambda throttles the rest, and throttled batches return to the "
                "queue and count towards maxReceiveCount.",
            )
        ],
    ),
    Breakage(
        "provisioned mode whose pollers outgrow the reservation",
        lambda s: s.changed(
            "consumer-event-source", scalingConfig=REMOVED, provisionedPollerConfig=PROVISIONED_POLLERS
        ),
        [
            Violation(
                "lambda-reserved-concurrency-covers-mappings",
                "mandatory",
                "consumer-function",
                "function consumer-function reserves 50 concurrent executions, its SQS mappings may "
                "start 100 (consumer-event-source: 100): Lambda throttles the rest, and throttled batches "
                "return to the queue and count towards maxReceiveCount.",
            )
        ],
    ),
    Breakage(
        "provisioned pollers beside maximum concurrency",
        lambda s: s.changed("consumer-event-source", provisionedPollerConfig=PROVISIONED_POLLERS),
        [
            Violation(
                "sqs-mapping-provisioned-or-maximum-concurrency",
                "mandatory",
                "consumer-event-source",
                "provisionedPollerConfig and scalingConfig.maximumConcurrency (50) are both set: AWS takes "
                "one or the other (the pollers bound the concurrency in provisioned mode).",
            )
        ],
    ),
    Breakage(
        "four receives before the DLQ",
        redrive(4),
        [
            Violation(
                "sqs-max-receive-count",
                "advisory",
                "events-queue",
                "queue events-queue: maxReceiveCount 4 < 5: a message Lambda received but could not invoke "
                "(throttled) may reach the DLQ unprocessed.",
            )
        ],
    ),
    Breakage(
        "source queue without a DLQ",
        lambda s: s.changed("events-queue", redrivePolicy=REMOVED),
        [
            Violation(
                "sqs-dead-letter-queue",
                "mandatory",
                "events-queue",
                "queue events-queue feeds Lambda without a redrive policy: a message that always fails is "
                "retried until its retention expires, and is then lost.",
            )
        ],
    ),
    Breakage(
        "DLQ outside the stack",
        redrive(5, "arn:aws:sqs:eu-west-1:210987654321:shared-dlq"),
        [
            Violation(
                "sqs-dead-letter-queue",
                "mandatory",
                "events-queue",
                "queue events-queue redrives to arn:aws:sqs:eu-west-1:210987654321:shared-dlq, which this "
                "stack does not declare: its type, retention and redrive allow policy cannot be checked.",
            )
        ],
    ),
    Breakage(
        "FIFO DLQ for a standard queue",
        lambda s: s.changed("events-dlq", fifoQueue=True),
        [
            Violation(
                "sqs-dead-letter-queue",
                "mandatory",
                "events-dlq",
                "queue events-queue → DLQ events-dlq: a standard queue needs a standard DLQ, not a FIFO one.",
            )
        ],
    ),
    Breakage(
        "DLQ keeping messages a day, the queue 13",
        lambda s: s.changed("events-dlq", messageRetentionSeconds=86_400.0),
        [
            Violation(
                "sqs-dead-letter-queue",
                "mandatory",
                "events-dlq",
                "queue events-queue → DLQ events-dlq: the DLQ keeps messages 86400 s, less than the queue's "
                "1123200 s: a message's age counts from its first enqueue, so dead letters expire early.",
            )
        ],
    ),
    Breakage(
        "DLQ without a redrive allow policy",
        lambda s: s.without("events-dlq-redrive-allow"),
        [
            Violation(
                "sqs-dead-letter-queue",
                "mandatory",
                "events-dlq",
                "queue events-queue → DLQ events-dlq: no redrive allow policy: any queue of the account may "
                "dead-letter into it.",
            )
        ],
    ),
    Breakage(
        "DLQ allowing every source queue",
        lambda s: s.changed(
            "events-dlq-redrive-allow", redriveAllowPolicy='{"redrivePermission": "allowAll"}'
        ),
        [
            Violation(
                "sqs-dead-letter-queue",
                "mandatory",
                "events-dlq",
                "queue events-queue → DLQ events-dlq: its redrive allow policy (redrivePermission allowAll, "
                "sourceQueueArns []) does not admit this queue by name.",
            )
        ],
    ),
    Breakage(
        "DLQ without encryption",
        lambda s: s.changed("events-dlq", kmsMasterKeyId=REMOVED, kmsDataKeyReusePeriodSeconds=REMOVED),
        [
            Violation(
                "sqs-queue-encrypted",
                "mandatory",
                "events-dlq",
                "neither sqsManagedSseEnabled nor kmsMasterKeyId is set: messages are stored unencrypted.",
            )
        ],
    ),
    Breakage(
        "table on the AWS-owned key",
        lambda s: s.changed("vehicle-events-table", serverSideEncryption={"enabled": False}),
        [
            Violation(
                "dynamodb-table-encrypted",
                "mandatory",
                "vehicle-events-table",
                "serverSideEncryption.enabled is not true: the table uses an AWS-owned key, which the "
                "account can neither audit in CloudTrail nor control.",
            )
        ],
    ),
    Breakage(
        "log group without the stack's key",
        lambda s: s.changed("consumer-logs", kmsKeyId=REMOVED),
        [
            Violation(
                "log-group-encrypted",
                "mandatory",
                "consumer-logs",
                "no kmsKeyId: the log data is encrypted under CloudWatch Logs' own keys, not the stack's.",
            )
        ],
    ),
    Breakage(
        "alarm topic unencrypted",
        lambda s: s.changed("monitoring-alarms", kmsMasterKeyId=REMOVED),
        [
            Violation(
                "sns-topic-encrypted",
                "mandatory",
                "monitoring-alarms",
                "no kmsMasterKeyId: the topic stores messages unencrypted.",
            )
        ],
    ),
    Breakage(
        "queue policy without its TLS deny",
        queue_policy_without_its_tls_deny,
        [Violation("sqs-queue-tls-only", "mandatory", "events-queue", f"queue events-queue: {TLS_MESSAGE}")],
    ),
    Breakage(
        "DLQ without a queue policy",
        lambda s: s.without("events-dlq-policy"),
        [Violation("sqs-queue-tls-only", "mandatory", "events-dlq", f"queue events-dlq: {TLS_MESSAGE}")],
    ),
    Breakage(
        "role policy allowing dynamodb:*",
        consumer_actions(["dynamodb:*"]),
        [
            Violation(
                "iam-no-wildcard-actions",
                "mandatory",
                "consumer-role-policy",
                "policy: statement ConsumeQueue allows wildcard actions ['dynamodb:*']: name each action.",
            )
        ],
    ),
    Breakage(
        "role policy allowing sqs:Get*",
        consumer_actions(["sqs:Get*", "sqs:ReceiveMessage"]),
        [
            Violation(
                "iam-no-wildcard-actions",
                "mandatory",
                "consumer-role-policy",
                "policy: statement ConsumeQueue allows wildcard actions ['sqs:Get*']: name each action.",
            )
        ],
    ),
    Breakage(
        "role policy allowing with NotAction",
        consumer_actions(["sqs:DeleteQueue"], key="NotAction"),
        [
            Violation(
                "iam-no-wildcard-actions",
                "mandatory",
                "consumer-role-policy",
                "policy: statement ConsumeQueue allows with NotAction, which grants every action it does not "
                "list.",
            )
        ],
    ),
    Breakage(
        "table without point-in-time recovery",
        lambda s: s.changed("vehicle-events-table", pointInTimeRecovery={"enabled": False}),
        [
            Violation(
                "dynamodb-point-in-time-recovery",
                "mandatory",
                "vehicle-events-table",
                "pointInTimeRecovery.enabled is not true: a bad write or delete cannot be rolled back.",
            )
        ],
    ),
    Breakage(
        "prod table without deletion protection",
        lambda s: s.changed("vehicle-events-table", deletionProtectionEnabled=False),
        [
            Violation(
                "dynamodb-deletion-protection",
                "mandatory",
                "vehicle-events-table",
                "deletionProtectionEnabled is not true: a destroy or a replacement deletes the table and its "
                "data.",
            )
        ],
    ),
    Breakage(
        "function passing traces through",
        lambda s: s.changed("consumer-function", tracingConfig={"mode": "PassThrough"}),
        [
            Violation(
                "lambda-tracing-active",
                "mandatory",
                "consumer-function",
                "tracingConfig.mode is PassThrough: its invocations are not traced.",
            )
        ],
    ),
    Breakage(
        "log group without retention",
        lambda s: s.changed("consumer-logs", retentionInDays=REMOVED),
        [
            Violation(
                "log-retention-set",
                "mandatory",
                "consumer-logs",
                "log group consumer-logs sets no retentionInDays: its logs are kept, and billed, forever.",
            )
        ],
    ),
    Breakage(
        "function whose log group the stack no longer declares",
        lambda s: s.without("consumer-logs"),
        [
            Violation(
                "log-retention-set",
                "mandatory",
                "consumer-function",
                "function consumer-function logs to /aws/lambda/vehicle-pipeline-prod-consumer, which this "
                "stack does not declare: Lambda creates it on the first invocation, with no retention and "
                "outside the stack.",
            )
        ],
    ),
    Breakage(
        "alarm without an action",
        lambda s: s.changed("monitoring-dlq-not-empty", alarmActions=[]),
        [
            Violation(
                "alarm-has-action",
                "mandatory",
                "monitoring-dlq-not-empty",
                "no alarmActions: the alarm changes state and notifies nobody.",
            )
        ],
    ),
    Breakage(
        "alarm with its actions disabled",
        lambda s: s.changed("monitoring-dlq-not-empty", actionsEnabled=False),
        [
            Violation(
                "alarm-has-action",
                "mandatory",
                "monitoring-dlq-not-empty",
                "actionsEnabled is false: the alarm notifies nobody.",
            )
        ],
    ),
    Breakage(
        "artifact bucket without a public access block",
        lambda s: s.without("workers-artifacts-private"),
        [
            Violation(
                "s3-bucket-public-access-blocked",
                "mandatory",
                "workers-artifacts",
                "bucket workers-artifacts has no BucketPublicAccessBlock.",
            )
        ],
        stack="fleet",
    ),
    Breakage(
        "artifact bucket's public access block leaving one setting off",
        lambda s: s.changed("workers-artifacts-private", restrictPublicBuckets=False),
        [
            Violation(
                "s3-bucket-public-access-blocked",
                "mandatory",
                "workers-artifacts",
                "bucket workers-artifacts: workers-artifacts-private leaves ['restrictPublicBuckets'] off.",
            )
        ],
        stack="fleet",
    ),
    Breakage(
        "artifact bucket's access logging removed (as the fleet stack has it today)",
        lambda s: s.without("workers-artifacts-logs"),
        [
            Violation(
                "s3-bucket-access-logged",
                "mandatory",
                "workers-artifacts",
                "bucket workers-artifacts has no server access logging (no BucketLogging).",
            )
        ],
        stack="fleet",
        given=with_access_logging,
    ),
    Breakage(
        "queue missing its stack tag",
        lambda s: s.changed("events-queue", tagsAll={"project": "vehicle-pipeline", "component": "queues"}),
        [
            Violation(
                "cost-allocation-tags",
                "mandatory",
                "events-queue",
                "missing cost-allocation tags ['stack'] (has ['component', 'project']).",
            )
        ],
    ),
]


def added_by(breakage: Breakage) -> list[Violation]:
    """What the pack reports on the broken stack and not before, at prod's levels (the fleet stack's own
    findings at prod's levels, such as its producer's tracing, are in both)."""
    stack = breakage.given(mocked_stack(breakage.stack))
    before = run_pack(stack, stack_config("prod"))
    return [v for v in run_pack(breakage.change(stack), stack_config("prod")) if v not in before]


@pytest.mark.parametrize("breakage", BREAKAGES, ids=lambda b: b.what)
def test_the_pack_reports_exactly_the_breakage(breakage):
    assert added_by(breakage) == breakage.expected


def test_prod_as_it_is_passes_so_each_breakage_is_the_only_finding():
    assert run_pack(mocked_stack("prod"), stack_config("prod")) == []


def test_every_policy_has_a_breakage_and_all_but_the_advice_fail_the_pack():
    caught = {violation.policy: violation.level for b in BREAKAGES for violation in b.expected}
    assert sorted(caught) == sorted(policy.name for policy in POLICIES)
    assert {name for name, level in caught.items() if level != "mandatory"} == {"sqs-max-receive-count"}
