"""What a stack contains, as plain data: names, queue attributes and the table's key design.

The Pulumi components declare resources from these specs and the local pipeline creates the same queues and
table in moto from them, so both always agree. No pulumi import here.
"""

from __future__ import annotations

import dataclasses
import json

from infra.settings import PROJECT, StackSettings

# Table design: one item per event, addressed by eventId (so a redelivered event overwrites itself instead of
# adding an item), and a vehicle's history read in time order from the byVehicle index.
TABLE_HASH_KEY = "eventId"
VEHICLE_INDEX = "byVehicle"
VEHICLE_INDEX_HASH_KEY = "vehicleId"
VEHICLE_INDEX_RANGE_KEY = "eventTime"  # epoch ms: the producer's sentAt, or SQS SentTimestamp without one
TABLE_ATTRIBUTE_TYPES = {TABLE_HASH_KEY: "S", VEHICLE_INDEX_HASH_KEY: "S", VEHICLE_INDEX_RANGE_KEY: "N"}


def resource_prefix(stack: str) -> str:
    return f"{PROJECT}-{stack}"


@dataclasses.dataclass(frozen=True)
class QueueSpec:
    name: str
    fifo: bool
    visibility_timeout_seconds: int
    message_retention_seconds: int
    max_receive_count: int | None = None  # set on the main queue only: its redrive policy
    content_based_deduplication: bool = False  # FIFO: SQS hashes the body; off: producers send dedup ids
    high_throughput: bool = False  # FIFO: deduplication and throughput limits per message group

    def redrive_policy(self, dlq_arn: str) -> str:
        return json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": self.max_receive_count})

    def fifo_attributes(self) -> dict[str, str]:
        """The FIFO switches, under their SQS attribute names (the Pulumi component maps them to its args)."""
        scope, limit = (
            ("messageGroup", "perMessageGroupId") if self.high_throughput else ("queue", "perQueue")
        )
        return {
            "ContentBasedDeduplication": str(self.content_based_deduplication).lower(),
            "DeduplicationScope": scope,
            "FifoThroughputLimit": limit,
        }

    def sqs_attributes(self, dlq_arn: str | None = None) -> dict[str, str]:
        """Attributes for boto3 `create_queue`, the same values the Pulumi component declares."""
        attributes = {
            "VisibilityTimeout": str(self.visibility_timeout_seconds),
            "MessageRetentionPeriod": str(self.message_retention_seconds),
            "SqsManagedSseEnabled": "true",
        }
        if self.fifo:
            attributes |= {"FifoQueue": "true", **self.fifo_attributes()}
        if dlq_arn is not None and self.max_receive_count is not None:
            attributes["RedrivePolicy"] = self.redrive_policy(dlq_arn)
        return attributes


@dataclasses.dataclass(frozen=True)
class StackSpec:
    stack: str
    settings: StackSettings

    @property
    def prefix(self) -> str:
        return resource_prefix(self.stack)

    def _queue_name(self, base: str) -> str:
        return f"{self.prefix}-{base}" + (".fifo" if self.settings.fifo else "")

    def _queue_spec(
        self, base: str, retention_seconds: int, max_receive_count: int | None = None
    ) -> QueueSpec:
        """Both queues share type (AWS requires FIFO ↔ FIFO), visibility timeout and FIFO switches."""
        return QueueSpec(
            name=self._queue_name(base),
            fifo=self.settings.fifo,
            visibility_timeout_seconds=self.settings.queue_visibility_timeout_seconds,
            message_retention_seconds=retention_seconds,
            max_receive_count=max_receive_count,
            content_based_deduplication=self.settings.content_based_deduplication,
            high_throughput=self.settings.high_throughput_fifo,
        )

    @property
    def queue(self) -> QueueSpec:
        return self._queue_spec(
            "events", self.settings.message_retention_seconds, self.settings.max_receive_count
        )

    @property
    def dead_letter_queue(self) -> QueueSpec:
        # The longest retention: nothing in it expires before the source queue would have dropped it.
        return self._queue_spec("events-dlq", self.settings.dlq_retention_seconds)

    @property
    def table_name(self) -> str:
        return f"{self.prefix}-vehicle-events"

    @property
    def function_name(self) -> str:
        return f"{self.prefix}-consumer"

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def producer_function_name(self) -> str:
        return f"{self.prefix}-producer"

    @property
    def log_group_names(self) -> list[str]:
        """Every log group the stack declares (the producer's only when it has one)."""
        producer = [f"/aws/lambda/{self.producer_function_name}"] if self.settings.producer_function else []
        return [self.log_group_name, *producer]

    def dynamodb_create_table_args(self) -> dict:
        """Arguments for boto3 `create_table`, mirroring the Pulumi EventTable component."""
        s = self.settings
        throughput = {"ReadCapacityUnits": s.read_capacity, "WriteCapacityUnits": s.write_capacity}
        index = {
            "IndexName": VEHICLE_INDEX,
            "KeySchema": [
                {"AttributeName": VEHICLE_INDEX_HASH_KEY, "KeyType": "HASH"},
                {"AttributeName": VEHICLE_INDEX_RANGE_KEY, "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "ALL"},
        }
        args = {
            "TableName": self.table_name,
            "AttributeDefinitions": [
                {"AttributeName": name, "AttributeType": kind} for name, kind in TABLE_ATTRIBUTE_TYPES.items()
            ],
            "KeySchema": [{"AttributeName": TABLE_HASH_KEY, "KeyType": "HASH"}],
            "BillingMode": s.billing_mode,
            "GlobalSecondaryIndexes": [index],
            "SSESpecification": {"Enabled": True},
            "DeletionProtectionEnabled": s.deletion_protection,
        }
        if s.billing_mode == "PROVISIONED":
            args["ProvisionedThroughput"] = throughput
            index["ProvisionedThroughput"] = throughput
        return args
