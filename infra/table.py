"""The DynamoDB table holding every vehicle event, with the key design from `resource_spec`."""

from __future__ import annotations

import dataclasses

import pulumi
import pulumi_aws as aws
from pulumi import Input, ResourceOptions

from infra.cost_tags import component_options
from infra.resource_spec import (
    EVENT_ID_ATTRIBUTE,
    EVENT_ID_INDEX,
    TABLE_HASH_KEY,
    TABLE_RANGE_KEY,
    StackSpec,
    table_attribute_types,
)


@dataclasses.dataclass(frozen=True)
class EventTableArgs:
    spec: StackSpec
    kms_key_arn: Input[str] | None = None  # None: the AWS-owned key


def _capacity(spec: StackSpec) -> dict:
    """Capacity units only mean something on a PROVISIONED table; on-demand rejects them."""
    s = spec.settings
    if s.billing_mode != "PROVISIONED":
        return {}
    return {"read_capacity": s.read_capacity, "write_capacity": s.write_capacity}


def _event_id_index(spec: StackSpec) -> list[aws.dynamodb.TableGlobalSecondaryIndexArgs]:
    """The optional index for lookups by event id alone: keys only, so each entry is one write unit."""
    if not spec.settings.event_id_index:
        return []
    return [
        aws.dynamodb.TableGlobalSecondaryIndexArgs(
            name=EVENT_ID_INDEX,
            key_schemas=[
                aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(
                    attribute_name=EVENT_ID_ATTRIBUTE, key_type="HASH"
                )
            ],
            projection_type="KEYS_ONLY",
            **_capacity(spec),
        )
    ]


class EventTable(pulumi.ComponentResource):
    """A vehicle's history, one item per event: partition key vehicleId, sort key eventKey (time, then the
    idempotency key), so a redelivery overwrites itself and one Query reads a vehicle's events in time order
    (infra/resource_spec.py). Point-in-time recovery and encryption are always on; deletion protection is
    per stack, and a protected table is also retained when Pulumi replaces or removes it (README, "Table
    design": how a stack deployed with the earlier key moves to this one)."""

    def __init__(self, name: str, args: EventTableArgs, opts: ResourceOptions | None = None):
        super().__init__("vehicle-pipeline:infra:EventTable", name, None, component_options("table", opts))
        spec = args.spec
        self.table = aws.dynamodb.Table(
            f"{name}-table",
            name=spec.table_name,
            billing_mode=spec.settings.billing_mode,
            hash_key=TABLE_HASH_KEY,
            range_key=TABLE_RANGE_KEY,
            attributes=[
                aws.dynamodb.TableAttributeArgs(name=attribute, type=kind)
                for attribute, kind in table_attribute_types(spec.settings.event_id_index).items()
            ],
            global_secondary_indexes=_event_id_index(spec),
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(
                enabled=True, kms_key_arn=args.kms_key_arn
            ),
            deletion_protection_enabled=spec.settings.deletion_protection,
            **_capacity(spec),
            opts=ResourceOptions(parent=self, retain_on_delete=spec.settings.deletion_protection),
        )

        self.table_name = self.table.name
        self.table_arn = self.table.arn
        self.register_outputs({"tableName": self.table_name, "tableArn": self.table_arn})
