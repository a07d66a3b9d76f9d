"""The stack's customer-managed KMS key: made here (`createKmsKey`), brought (`kmsKeyArn`), or none
(AWS-managed encryption everywhere, the dev default)."""

from __future__ import annotations

import dataclasses
import json

import pulumi
import pulumi_aws as aws
from pulumi import Output, ResourceOptions

from infra import policies
from infra.cost_tags import component_options
from infra.resource_spec import StackSpec

KEY_DELETION_WINDOW_DAYS = 30  # the longest: a key scheduled for deletion by mistake can still be saved


@dataclasses.dataclass(frozen=True)
class EncryptionKeyArgs:
    spec: StackSpec
    region: str


class EncryptionKey(pulumi.ComponentResource):
    """`key_arn` is the key the queues, the table, the log group, the alarm topic and the function's
    environment use, or None when the stack keeps AWS-managed keys."""

    def __init__(self, name: str, args: EncryptionKeyArgs, opts: ResourceOptions | None = None):
        super().__init__(
            "vehicle-pipeline:infra:EncryptionKey", name, None, component_options("encryption", opts)
        )
        spec, settings = args.spec, args.spec.settings
        self.key_arn: Output[str] | None = None
        if settings.kms_key_arn is not None:
            self.key_arn = Output.from_input(settings.kms_key_arn)
        elif settings.create_kms_key:
            self.key_arn = self._create(name, spec, args.region)
        self.register_outputs({"keyArn": self.key_arn})

    def _create(self, name: str, spec: StackSpec, region: str) -> Output[str]:
        child = ResourceOptions(parent=self)
        account_id = aws.get_caller_identity_output().account_id
        # The log group's ARN is built from its name, so the key (which the log group needs first) does not
        # wait for the log group.
        key = aws.kms.Key(
            f"{name}-key",
            description=f"Encrypts the {spec.prefix} vehicle events: queues, table, logs, alarm topic",
            key_usage="ENCRYPT_DECRYPT",
            enable_key_rotation=True,
            deletion_window_in_days=KEY_DELETION_WINDOW_DAYS,
            policy=account_id.apply(
                lambda account: json.dumps(
                    policies.kms_key_policy(
                        account,
                        region,
                        [
                            f"arn:aws:logs:{region}:{account}:log-group:{name}"
                            for name in spec.log_group_names
                        ],
                    )
                )
            ),
            opts=child,
        )
        aws.kms.Alias(f"{name}-alias", name=f"alias/{spec.prefix}", target_key_id=key.key_id, opts=child)
        return key.arn
