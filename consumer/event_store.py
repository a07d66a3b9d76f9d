"""Storage of validated events behind a small interface, so tests can inject their own.

DynamoEventStore writes with BatchWriteItem (25 items per call, the API's limit), retries UnprocessedItems
with capped exponential backoff and full jitter, and reports which keys could not be written so that only
their records are retried by SQS. An item is keyed by (vehicleId, eventKey), both the same on every delivery
of an event (consumer/stored_item.py): writing the same event twice overwrites one item, which is what makes
redelivery harmless. The call itself goes out through consumer/batch_write.py.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from consumer.batch_write import BatchWriter, ClientWriter, SignedHttpWriter, Trace, uses_proxy

BATCH_WRITE_LIMIT = 25
KEY_ATTRIBUTES = ("vehicleId", "eventKey")  # the table's partition and sort keys (infra/resource_spec.py)
# What a write failure names: the idempotency key. Two items of one batch sharing one (a producer reusing an
# eventId) both count as failed when either does, and are retried: an overwrite, never a loss.
KEY_ATTRIBUTE = "eventId"
ItemKey = tuple[str, ...]
# DynamoDB's answers to a call over capacity: the store backs off and retries them itself, in its time.
THROTTLING_CODES = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)


def item_key(item: dict[str, Any]) -> ItemKey:
    """An item's primary key: what BatchWriteItem refuses twice in one request."""
    return tuple(item[name] for name in KEY_ATTRIBUTES)


@dataclasses.dataclass
class WriteResult:
    failed: dict[str, str] = dataclasses.field(default_factory=dict)  # eventId -> why it was not written
    calls: int = 0  # BatchWriteItem calls made
    unprocessed_retries: int = 0  # items re-sent because DynamoDB returned them as UnprocessedItems


class EventStore(Protocol):
    def put_events(self, items: Sequence[dict[str, Any]], deadline: float | None = None) -> WriteResult: ...


class DynamoEventStore:
    """Items are turned into AttributeValues once, here, and sent as they are: the resource layer would walk
    the whole request against the service model and deep-copy it on every call to do the same conversion,
    which profiling showed to be a tenth of the consumer's CPU.

    `dynamodb`: None sends through `SignedHttpWriter` with the default session (traced with `trace`, when
    given); a boto3 DynamoDB client or any object with `batch_write_item` goes through `ClientWriter`; a
    resource (tests pass moto's) too, through a plain client made with its region, endpoint and
    configuration (its own client converts Python values itself); a `BatchWriter` is used as it is.
    """

    def __init__(
        self,
        table_name: str,
        dynamodb: Any = None,
        max_attempts: int = 5,
        base_delay_seconds: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
        trace: Trace | None = None,
    ):
        # Imported on first use, not at import: boto3 is most of a cold start (created once per container).
        from boto3.dynamodb.types import TypeSerializer

        self.table_name = table_name
        self._writer = _writer(dynamodb, trace)
        self._serialize = TypeSerializer().serialize
        self._max_attempts = max_attempts
        self._base_delay = base_delay_seconds
        self._sleep = sleep

    def put_events(self, items: Sequence[dict[str, Any]], deadline: float | None = None) -> WriteResult:
        """Write items (unique keys expected); return which keys failed and what it cost. `deadline` (a
        time.monotonic() value): no retry starts that would end after it — what is unwritten then is reported
        failed, so the invocation returns its partial response before its timeout. Without that, a throttled
        table made a batch outlive its invocation: killed at the timeout, nothing was deleted, and events it
        had stored reached the DLQ after maxReceiveCount although they were in the table."""
        result = WriteResult()
        for start in range(0, len(items), BATCH_WRITE_LIMIT):
            self._write_chunk(items[start : start + BATCH_WRITE_LIMIT], result, deadline)
        return result

    def _retry_allowed(self, attempt: int, deadline: float | None) -> float | None:
        """The pause before the next attempt (capped exponential backoff with full jitter), or None when no
        attempt is left or the pause would end past the deadline."""
        if attempt + 1 >= self._max_attempts:
            return None
        pause = random.uniform(0, self._base_delay * 2**attempt)
        if deadline is not None and time.monotonic() + pause >= deadline:
            return None
        return pause

    def _write_chunk(
        self, chunk: Sequence[dict[str, Any]], result: WriteResult, deadline: float | None = None
    ) -> None:
        try:
            pending = [{"PutRequest": {"Item": self._attribute_values(item)}} for item in chunk]
        except Exception as error:  # a value DynamoDB has no type for: those records fail, SQS retries them
            self._fail([item[KEY_ATTRIBUTE] for item in chunk], type(error).__name__, result)
            return
        for attempt in range(self._max_attempts):
            try:
                result.calls += 1
                response = self._writer.batch_write(self.table_name, pending)
            except ClientError as error:
                code = error.response.get("Error", {}).get("Code", "ClientError")
                pause = self._retry_allowed(attempt, deadline) if code in THROTTLING_CODES else None
                if pause is not None:  # the whole call throttled: back off and try the same items again
                    result.unprocessed_retries += len(pending)
                    self._sleep(pause)
                    continue
                # 5xx, a rejected request, or no time left: the chunk is unwritten, SQS retries its records.
                self._fail(_keys(pending), code, result)
                return
            except BotoCoreError as error:  # timeouts, connection errors
                self._fail(_keys(pending), type(error).__name__, result)
                return
            except Exception as error:
                # Anything else the client raises fails only these records too (SQS retries them, then the
                # DLQ takes them) rather than crash the whole invocation.
                self._fail(_keys(pending), type(error).__name__, result)
                return
            pending = response.get("UnprocessedItems", {}).get(self.table_name, [])
            if not pending:
                return
            pause = self._retry_allowed(attempt, deadline)
            if pause is None:
                break
            result.unprocessed_retries += len(pending)
            self._sleep(pause)
        self._fail(_keys(pending), "UnprocessedItems", result)

    def _attribute_values(self, item: dict[str, Any]) -> dict[str, dict]:
        """The item as DynamoDB AttributeValues. Its strings and numbers (all a stored event holds) are
        written as TypeSerializer writes them, without its chain of type checks and its decimal context
        (5 % of a record's CPU, for fifteen attributes); anything else goes through it."""
        values = {}
        for name, value in item.items():
            kind = type(value)
            if kind is str:
                values[name] = {"S": value}
            elif kind is int or kind is Decimal:
                values[name] = {"N": str(value)}
            else:
                values[name] = self._serialize(value)
        return values

    @staticmethod
    def _fail(keys: list[str], reason: str, result: WriteResult) -> None:
        for key in keys:
            result.failed[key] = reason


def _keys(requests: list[dict]) -> list[str]:
    """The eventIds of low-level PutRequests (a string attribute: {"S": eventId})."""
    return [request["PutRequest"]["Item"][KEY_ATTRIBUTE]["S"] for request in requests]


def _writer(dynamodb: Any, trace: Trace | None) -> BatchWriter:
    if dynamodb is None:
        import boto3

        session = boto3.session.Session()
        client = _plain_client(session=session)
        if uses_proxy(client):
            return ClientWriter(client)
        return SignedHttpWriter.for_client(client, session.get_credentials(), trace=trace)
    if hasattr(dynamodb, "batch_write"):
        return dynamodb
    return ClientWriter(_plain_client(dynamodb) if hasattr(dynamodb, "Table") else dynamodb)


def _plain_client(resource: Any = None, session: Any = None) -> Any:
    import boto3
    from botocore.config import Config

    if resource is None:
        # No client-side parameter validation: the request is built here from validated events with fixed
        # types, DynamoDB validates it again anyway, and botocore's walk of every AttributeValue in it was
        # an eighth of the consumer's CPU. A request DynamoDB refuses still fails only its own records.
        # No SDK retries either: botocore's DynamoDB retries (10 attempts, exponential) ignore the
        # invocation's deadline; the store retries throttles itself, within it.
        config = Config(parameter_validation=False, retries={"mode": "standard", "total_max_attempts": 1})
        return (session or boto3).client("dynamodb", config=config)
    meta = resource.meta.client.meta
    return boto3.client(
        "dynamodb", region_name=meta.region_name, endpoint_url=meta.endpoint_url, config=meta.config
    )
