"""What a stack contains, as plain data: names, queue attributes and the table's key design.

The Pulumi components declare resources from these specs and the local pipeline creates the same queues and
table in moto from them, so both always agree. No pulumi import here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

from infra import aws_limits
from infra.settings import PROJECT, StackSettings

# Table design: keyed for a vehicle's history, one item per event and nothing else written beside it. The
# partition key is the vehicle, the sort key `<event time, 13 digits of epoch ms>#<idempotency key>`, both
# the same on every delivery of an event (consumer/stored_item.py builds them), so a redelivered event
# overwrites itself and a Query on the vehicle reads its history in time order. An event's status is looked
# up given its vehicle (ops/status.py). `eventIdIndex: true` adds a keys-only index on eventId for lookups by
# event id alone, at one more write unit per event.
TABLE_HASH_KEY = "vehicleId"
TABLE_RANGE_KEY = "eventKey"
EVENT_ID_ATTRIBUTE = "eventId"  # the idempotency key, in every item (the ledger check reads it)
EVENT_ID_INDEX = "byEventId"
EVENT_TIME_DIGITS = 13
TABLE_ATTRIBUTE_TYPES = {TABLE_HASH_KEY: "S", TABLE_RANGE_KEY: "S"}


def table_attribute_types(event_id_index: bool) -> dict[str, str]:
    """The attribute definitions CreateTable needs: the keys of the table and of its index, if any."""
    return {**TABLE_ATTRIBUTE_TYPES, **({EVENT_ID_ATTRIBUTE: "S"} if event_id_index else {})}


def event_key(time_ms: int, event_id: str) -> str:
    """An event's sort key (consumer/stored_item.event_key's rule; a test holds the two equal)."""
    return f"{time_ms:0{EVENT_TIME_DIGITS}d}#{event_id}"


def item_key(item: dict) -> dict:
    """The primary key of an item as the resource layer takes it (Key= of GetItem and DeleteItem)."""
    return {TABLE_HASH_KEY: item[TABLE_HASH_KEY], TABLE_RANGE_KEY: item[TABLE_RANGE_KEY]}


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
        """`-vehicle-history` since the table is keyed by vehicle: a new name, so a stack deployed with the
        earlier key (`-vehicle-events`, keyed by eventId) gets the new table beside the old one (README)."""
        return f"{self.prefix}-vehicle-history"

    @property
    def function_name(self) -> str:
        return f"{self.prefix}-consumer"

    @property
    def sampling_rule_name(self) -> str:
        """The consumer's X-Ray sampling rule (32 characters at most: a long stack name is shortened with a
        hash, so two stacks never share a rule)."""
        name = self.function_name
        if len(name) <= aws_limits.XRAY_SAMPLING_RULE_NAME.max_length:
            return name
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        return f"{name[: aws_limits.XRAY_SAMPLING_RULE_NAME.max_length - 9]}-{digest}"

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

    @property
    def table_indexes(self) -> list[str]:
        """The table's global secondary indexes: none, unless the stack asks for the event-id index."""
        return [EVENT_ID_INDEX] if self.settings.event_id_index else []

    def dynamodb_create_table_args(self) -> dict:
        """Arguments for boto3 `create_table`, mirroring the Pulumi EventTable component."""
        s = self.settings
        throughput = {"ReadCapacityUnits": s.read_capacity, "WriteCapacityUnits": s.write_capacity}
        args = {
            "TableName": self.table_name,
            "AttributeDefinitions": [
                {"AttributeName": name, "AttributeType": kind}
                for name, kind in table_attribute_types(s.event_id_index).items()
            ],
            "KeySchema": [
                {"AttributeName": TABLE_HASH_KEY, "KeyType": "HASH"},
                {"AttributeName": TABLE_RANGE_KEY, "KeyType": "RANGE"},
            ],
            "BillingMode": s.billing_mode,
            "SSESpecification": {"Enabled": True},
            "DeletionProtectionEnabled": s.deletion_protection,
        }
        if s.event_id_index:
            index = {
                "IndexName": EVENT_ID_INDEX,
                "KeySchema": [{"AttributeName": EVENT_ID_ATTRIBUTE, "KeyType": "HASH"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
            if s.billing_mode == "PROVISIONED":
                index["ProvisionedThroughput"] = throughput
            args["GlobalSecondaryIndexes"] = [index]
        if s.billing_mode == "PROVISIONED":
            args["ProvisionedThroughput"] = throughput
        return args
