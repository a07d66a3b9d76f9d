"""Storage of validated events behind a small interface, so tests can inject their own.

DynamoEventStore writes with BatchWriteItem (25 items per call, the API's limit), retries UnprocessedItems
with capped exponential backoff and full jitter, and reports which keys could not be written so that only
their records are retried by SQS. An item is keyed by eventId: writing the same event twice overwrites one
item, which is what makes redelivery harmless.
"""

from __future__ import annotations

import dataclasses
import random
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

BATCH_WRITE_LIMIT = 25
KEY_ATTRIBUTE = "eventId"


@dataclasses.dataclass
class WriteResult:
    failed: dict[str, str] = dataclasses.field(default_factory=dict)  # key -> why it was not written
    calls: int = 0  # BatchWriteItem calls made
    unprocessed_retries: int = 0  # items re-sent because DynamoDB returned them as UnprocessedItems


class EventStore(Protocol):
    def put_events(self, items: Sequence[dict[str, Any]]) -> WriteResult: ...


class DynamoEventStore:
    def __init__(
        self,
        table_name: str,
        dynamodb: Any = None,
        max_attempts: int = 5,
        base_delay_seconds: float = 0.05,
        sleep: Callable[[float], None] = time.sleep,
    ):
        if dynamodb is None:
            import boto3  # created once per container, on first use, not at import

            dynamodb = boto3.resource("dynamodb")
        self.table_name = table_name
        self._dynamodb = dynamodb
        self._max_attempts = max_attempts
        self._base_delay = base_delay_seconds
        self._sleep = sleep

    def put_events(self, items: Sequence[dict[str, Any]]) -> WriteResult:
        """Write items (unique keys expected); return which keys failed and what it cost."""
        result = WriteResult()
        for start in range(0, len(items), BATCH_WRITE_LIMIT):
            self._write_chunk(items[start : start + BATCH_WRITE_LIMIT], result)
        return result

    def _write_chunk(self, chunk: Sequence[dict[str, Any]], result: WriteResult) -> None:
        pending = [{"PutRequest": {"Item": item}} for item in chunk]
        for attempt in range(self._max_attempts):
            try:
                result.calls += 1
                response = self._dynamodb.batch_write_item(RequestItems={self.table_name: pending})
            except ClientError as error:
                # Throttling, 5xx or a rejected request: the whole chunk is unwritten, its records retried.
                self._fail(pending, error.response.get("Error", {}).get("Code", "ClientError"), result)
                return
            except BotoCoreError as error:  # timeouts, connection errors
                self._fail(pending, type(error).__name__, result)
                return
            except Exception as error:
                # records (SQS retries, then the DLQ takes them) rather than crash the whole invocation.
                self._fail(pending, type(error).__name__, result)
                return
            pending = response.get("UnprocessedItems", {}).get(self.table_name, [])
            if not pending:
                return
            if attempt + 1 < self._max_attempts:
                result.unprocessed_retries += len(pending)
                self._sleep(random.uniform(0, self._base_delay * 2**attempt))
        self._fail(pending, "UnprocessedItems", result)

    @staticmethod
    def _fail(requests: list[dict], reason: str, result: WriteResult) -> None:
        for request in requests:
            result.failed[request["PutRequest"]["Item"][KEY_ATTRIBUTE]] = reason
