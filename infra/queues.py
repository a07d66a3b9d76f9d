"""The event queue, its dead-letter queue, their policies, and the managed policy producers attach."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence

import pulumi
import pulumi_aws as aws
from pulumi import Input, Output, ResourceOptions

from infra import policies
from infra.cost_tags import component_options
from infra.resource_spec import QueueSpec, StackSpec

KMS_DATA_KEY_REUSE_SECONDS = 300


@dataclasses.dataclass(frozen=True)
class EventQueuesArgs:
    spec: StackSpec
    kms_key_arn: Input[str] | None = None  # None: SQS-managed encryption


def _queue_args(queue: QueueSpec, kms_key_arn: Input[str] | None) -> dict:
    """Arguments both queues share; the FIFO-only ones are left unset on a standard queue."""
    args = {
        "name": queue.name,
        "fifo_queue": queue.fifo,
        "visibility_timeout_seconds": queue.visibility_timeout_seconds,
        "message_retention_seconds": queue.message_retention_seconds,
    }
    if kms_key_arn is None:
        args["sqs_managed_sse_enabled"] = True
    else:  # the two are exclusive; a data key is reused for 5 minutes (the default) to bound KMS calls
        args["kms_master_key_id"] = kms_key_arn
        args["kms_data_key_reuse_period_seconds"] = KMS_DATA_KEY_REUSE_SECONDS
    if queue.fifo:
        fifo = queue.fifo_attributes()
        args["content_based_deduplication"] = fifo["ContentBasedDeduplication"] == "true"
        args["deduplication_scope"] = fifo["DeduplicationScope"]
        args["fifo_throughput_limit"] = fifo["FifoThroughputLimit"]
    return args


def _producer_principals(configured: Sequence[str]) -> Output[list[str]]:
    """The configured producer principals, or the deploying account's root when none are configured, so
    a fresh stack accepts senders from its own account (through their IAM policies) and nobody else."""
    if configured:
        return Output.from_input(list(configured))
    return aws.get_caller_identity_output().apply(
        lambda identity: [f"arn:aws:iam::{identity.account_id}:root"]
    )


class EventQueues(pulumi.ComponentResource):
    """Main queue with a redrive policy, DLQ of the same type that only the main queue may redrive into,
    TLS-only resource policies on both, and the producers' managed policy."""

    def __init__(self, name: str, args: EventQueuesArgs, opts: ResourceOptions | None = None):
        super().__init__("vehicle-pipeline:infra:EventQueues", name, None, component_options("queues", opts))
        child = ResourceOptions(parent=self)
        spec = args.spec

        self.dead_letter_queue = aws.sqs.Queue(
            f"{name}-dlq", **_queue_args(spec.dead_letter_queue, args.kms_key_arn), opts=child
        )
        self.queue = aws.sqs.Queue(
            f"{name}-queue",
            **_queue_args(spec.queue, args.kms_key_arn),
            redrive_policy=self.dead_letter_queue.arn.apply(spec.queue.redrive_policy),
            opts=child,
        )
        self._declare_queue_policies(name, spec, child)
        self.producer_policy = aws.iam.Policy(
            f"{name}-producer-policy",
            description=f"Send vehicle events to {spec.queue.name}",
            policy=Output.all(self.queue.arn, args.kms_key_arn).apply(
                lambda arns: json.dumps(policies.producer_policy(*arns))
            ),
            opts=child,
        )

        self.queue_url = self.queue.url
        self.queue_arn = self.queue.arn
        self.queue_name = self.queue.name
        self.dlq_url = self.dead_letter_queue.url
        self.dlq_arn = self.dead_letter_queue.arn
        self.dlq_name = self.dead_letter_queue.name
        self.producer_policy_arn = self.producer_policy.arn
        self.register_outputs(
            {
                "queueUrl": self.queue_url,
                "queueArn": self.queue_arn,
                "dlqUrl": self.dlq_url,
                "dlqArn": self.dlq_arn,
                "producerPolicyArn": self.producer_policy_arn,
            }
        )

    def _declare_queue_policies(self, name: str, spec: StackSpec, child: ResourceOptions) -> None:
        """Who may redrive into the DLQ (the main queue only) and who may send to each queue (TLS only)."""
        aws.sqs.RedriveAllowPolicy(
            f"{name}-dlq-redrive-allow",
            queue_url=self.dead_letter_queue.url,
            redrive_allow_policy=self.queue.arn.apply(
                lambda arn: json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [arn]})
            ),
            opts=child,
        )
        aws.sqs.QueuePolicy(
            f"{name}-queue-policy",
            queue_url=self.queue.url,
            policy=Output.all(self.queue.arn, _producer_principals(spec.settings.producer_principals)).apply(
                lambda values: json.dumps(policies.queue_policy(values[0], values[1]))
            ),
            opts=child,
        )
        aws.sqs.QueuePolicy(
            f"{name}-dlq-policy",
            queue_url=self.dead_letter_queue.url,
            policy=self.dead_letter_queue.arn.apply(
                lambda arn: json.dumps(policies.dead_letter_queue_policy(arn))
            ),
            opts=child,
        )
