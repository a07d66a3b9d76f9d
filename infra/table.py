"""The DynamoDB table holding every vehicle event, with the key design from `resource_spec`."""

from __future__ import annotations

import dataclasses

import pulumi
import pulumi_aws as aws
from pulumi import Input, ResourceOptions

from infra.cost_tags import component_options
from infra.resource_spec import (
    TABLE_ATTRIBUTE_TYPES,
    TABLE_HASH_KEY,
    VEHICLE_INDEX,
    VEHICLE_INDEX_HASH_KEY,
    VEHICLE_INDEX_RANGE_KEY,
    StackSpec,
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


class EventTable(pulumi.ComponentResource):
    """One item per eventId (a redelivery overwrites itself); the byVehicle index reads a vehicle's history in
    time order. Point-in-time recovery and encryption are always on; deletion protection is per stack."""

    def __init__(self, name: str, args: EventTableArgs, opts: ResourceOptions | None = None):
        super().__init__("vehicle-pipeline:infra:EventTable", name, None, component_options("table", opts))
        spec = args.spec
        capacity = _capacity(spec)
        self.table = aws.dynamodb.Table(
            f"{name}-table",
            name=spec.table_name,
            billing_mode=spec.settings.billing_mode,
            hash_key=TABLE_HASH_KEY,
            attributes=[
                aws.dynamodb.TableAttributeArgs(name=attribute, type=kind)
                for attribute, kind in TABLE_ATTRIBUTE_TYPES.items()
            ],
            global_secondary_indexes=[
                aws.dynamodb.TableGlobalSecondaryIndexArgs(
                    name=VEHICLE_INDEX,
                    key_schemas=[
                        aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(
                            attribute_name=VEHICLE_INDEX_HASH_KEY, key_type="HASH"
                        ),
                        aws.dynamodb.TableGlobalSecondaryIndexKeySchemaArgs(
                            attribute_name=VEHICLE_INDEX_RANGE_KEY, key_type="RANGE"
                        ),
                    ],
                    projection_type="ALL",
                    **capacity,
                )
            ],
            point_in_time_recovery=aws.dynamodb.TablePointInTimeRecoveryArgs(enabled=True),
            server_side_encryption=aws.dynamodb.TableServerSideEncryptionArgs(
                enabled=True, kms_key_arn=args.kms_key_arn
            ),
            deletion_protection_enabled=spec.settings.deletion_protection,
            **capacity,
            opts=ResourceOptions(parent=self),
        )

        self.table_name = self.table.name
        self.table_arn = self.table.arn
        self.register_outputs({"tableName": self.table_name, "tableArn": self.table_arn})
