"""What a local run asks of AWS, counted on the emulator's side: a WSGI middleware around moto_server.

AWS bills requests, so the cost model's usage inputs are the requests the components really made, not
guesses. Every request moto_server answers is tallied by (service, operation, queue or table name): count,
request and response bytes, the largest body, moto's answer time, errors. On top of that, per operation:

- SQS: messages sent, received or deleted, and ReceiveMessage calls that returned nothing (empty receives,
  which AWS bills like any other);
- DynamoDB writes: every item's size by DynamoDB's rules, and the size of its entry in each global secondary
  index it lands in (learned from the CreateTable request that made the table), as histograms, so the
  model applies the billing rule (1 KB per write unit) itself;
- batch durations: for each DeleteMessage(Batch), the time since the last of its messages was received,
  with how many it deleted. It stands in for Lambda's billed duration, which no local run can measure.

The service comes from `X-Amz-Target` (JSON protocol) or the SigV4 credential scope (query protocol, where
the `Action` form field names the operation). `GET /_pipeline/request-counts` answers the tally as JSON
(`?summary=1`: the counts per operation alone, light enough for every second);
`POST` to the same path starts a new one. The same middleware hands the items each DynamoDB write stored to
the pipeline feed (pipeline_feed.py: stored events with their end-to-end latency, `/_pipeline/stored`, and
the consumers' state, `/_pipeline/consumers`), so a write's body is parsed once for both. `install()` wraps
the app `moto.server.main` serves.
"""

from __future__ import annotations

import base64
import datetime
import io
import json
import re
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from typing import Any

from loadtest.local.emulator.pipeline_feed import FEED_PATHS, PipelineFeed

COUNTS_PATH = "/_pipeline/request-counts"
TARGET_SERVICES = {"AmazonSQS": "sqs", "DynamoDB_20120810": "dynamodb"}
CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/(?P<service>[^/]+)/aws4_request")
RECEIPT_HANDLE_XML = re.compile(rb"<ReceiptHandle>([^<]+)</ReceiptHandle>")
MAX_BATCHES_KEPT = 200_000  # a demo run has a few thousand; the cap only bounds a runaway loop
TALLY_FIELDS = (
    "requests",
    "errors",
    "request_bytes",
    "response_bytes",
    "largest_body_bytes",
    "messages",
    "empty_receives",
    "items",
    "seconds",
    "empty_receive_seconds",  # what empty long polls waited, so a busy receive's own time can be told apart
)


# ---- DynamoDB item sizes (Developer Guide, "DynamoDB item sizes and formats") ---------------------------
def _number_size(text: str) -> int:
    """1 byte per two significant digits, plus 1; leading and trailing zeros do not count."""
    digits = text.lstrip("+-").split("e")[0].split("E")[0].replace(".", "").strip("0")
    return (len(digits) + 1) // 2 + 1


def attribute_value_size(value: dict) -> int:
    """Size of one AttributeValue (DynamoDB JSON), without its name."""
    (kind, content), *_ = value.items()
    if kind == "S":
        return len(content.encode())
    if kind == "N":
        return _number_size(content)
    if kind == "B":
        return len(base64.b64decode(content))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(s.encode()) for s in content)
    if kind == "NS":
        return sum(_number_size(n) for n in content)
    if kind == "BS":
        return sum(len(base64.b64decode(b)) for b in content)
    if kind == "L":  # 3 bytes for the list, 1 per element
        return 3 + sum(attribute_value_size(element) + 1 for element in content)
    if kind == "M":
        return 3 + sum(len(k.encode()) + attribute_value_size(v) + 1 for k, v in content.items())
    raise ValueError(f"unknown attribute type {kind}")


def item_size(item: dict) -> int:
    """The item's size: the lengths of its attribute names and values."""
    return sum(len(name.encode()) + attribute_value_size(value) for name, value in item.items())


class TableSchema:
    """Key attributes of a table and of each global secondary index, with what each index projects."""

    def __init__(self, create_table: dict):
        self.keys = [key["AttributeName"] for key in create_table.get("KeySchema", [])]
        self.indexes: dict[str, tuple[list[str], str, list[str]]] = {}
        for index in create_table.get("GlobalSecondaryIndexes", []):
            projection = index.get("Projection", {})
            self.indexes[index["IndexName"]] = (
                [key["AttributeName"] for key in index["KeySchema"]],
                projection.get("ProjectionType", "ALL"),
                projection.get("NonKeyAttributes", []),
            )

    def index_entry_sizes(self, item: dict) -> dict[str, int]:
        """The size of the item's entry in each index it lands in (an index holds only items with all its
        key attributes): the whole item with ALL, else the keys plus the included attributes."""
        sizes = {}
        for name, (index_keys, projection, included) in self.indexes.items():
            if not all(key in item for key in index_keys):
                continue
            if projection == "ALL":
                sizes[name] = item_size(item)
            else:
                kept = {*self.keys, *index_keys, *(included if projection == "INCLUDE" else [])}
                sizes[name] = item_size({k: v for k, v in item.items() if k in kept})
        return sizes


# ---- the tally ----------------------------------------------------------------------------------------
class RequestTally:
    """Thread-safe counts since the last reset (moto_server answers on many threads)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._tables: dict[str, TableSchema] = {}  # kept across resets: tables outlive a tally
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._since = datetime.datetime.now(datetime.UTC)
            self._started = time.monotonic()
            self._operations: dict[tuple[str, str, str], Counter] = {}
            self._received_at: dict[str, float] = {}  # receipt handle -> when it was handed out
            self._batches: list[tuple[int, float]] = []
            self._item_sizes: dict[str, Counter] = {}  # table -> size -> items
            self._index_sizes: dict[str, dict[str, Counter]] = {}  # table -> index -> size -> entries
            self._unreadable = 0

    def unreadable(self) -> None:
        with self._lock:
            self._unreadable += 1

    def add(
        self, call: dict, status: int, response: bytes, written: dict[str, list[dict]] | None = None
    ) -> None:
        """Count one answered request; `written` is what `items_written` found it stored (computed here when
        not given)."""
        key = (call["service"], call["operation"], call["resource"])
        with self._lock:
            tally = self._operations.setdefault(key, Counter())
            tally["requests"] += 1
            tally["errors"] += int(status >= 400)
            tally["request_bytes"] += call["bytes"]
            tally["response_bytes"] += len(response)
            tally["largest_body_bytes"] = max(tally["largest_body_bytes"], call["bytes"], len(response))
            tally["seconds"] += call["seconds"]
            if status < 400:
                if call["service"] == "sqs":
                    self._add_sqs(call, response, tally)
                elif call["service"] == "dynamodb":
                    written = items_written(call, status, response) if written is None else written
                    self._add_dynamodb(call, written, tally)

    def _add_sqs(self, call: dict, response: bytes, tally: Counter) -> None:
        operation, body = call["operation"], call["body"]
        if operation == "ReceiveMessage":
            handles = _receipt_handles(response)
            tally["messages"] += len(handles)
            tally["empty_receives"] += int(not handles)
            tally["empty_receive_seconds"] += 0 if handles else call["seconds"]
            now = time.monotonic()
            self._received_at.update(dict.fromkeys(handles, now))
        elif operation in ("SendMessageBatch", "DeleteMessageBatch", "ChangeMessageVisibilityBatch"):
            entries = body.get("Entries", [])
            tally["messages"] += len(entries)
            if operation == "DeleteMessageBatch":
                self._end_batch([entry.get("ReceiptHandle", "") for entry in entries])
        elif operation in ("SendMessage", "DeleteMessage", "ChangeMessageVisibility"):
            tally["messages"] += 1
            if operation == "DeleteMessage":
                self._end_batch([body.get("ReceiptHandle", "")])

    def _end_batch(self, handles: list[str]) -> None:
        received = [self._received_at.pop(handle) for handle in handles if handle in self._received_at]
        if received and len(self._batches) < MAX_BATCHES_KEPT:
            self._batches.append((len(handles), round((time.monotonic() - max(received)) * 1000, 3)))

    def _add_dynamodb(self, call: dict, written: dict[str, list[dict]], tally: Counter) -> None:
        if call["operation"] == "CreateTable":
            self._tables[call["body"]["TableName"]] = TableSchema(call["body"])
            return
        for table, items in written.items():
            schema = self._tables.get(table)
            for item in items:
                tally["items"] += 1
                self._item_sizes.setdefault(table, Counter())[item_size(item)] += 1
                for index, size in (schema.index_entry_sizes(item) if schema else {}).items():
                    self._index_sizes.setdefault(table, {}).setdefault(index, Counter())[size] += 1

    def totals(self) -> dict[str, Any]:
        """The counts per operation alone (no batch durations, no item sizes): light enough to ask every
        second, as a run's live line does (`GET …?summary=1`)."""
        with self._lock:
            return {
                "since": self._since.isoformat(timespec="seconds"),
                "elapsed_seconds": round(time.monotonic() - self._started, 3),
                "operations": [
                    {"service": service, "operation": operation, "resource": resource, **tally}
                    for (service, operation, resource), tally in sorted(self._operations.items())
                ],
            }

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "since": self._since.isoformat(timespec="seconds"),
                "elapsed_seconds": round(time.monotonic() - self._started, 3),
                "unreadable_requests": self._unreadable,
                "operations": [
                    {
                        "service": service,
                        "operation": operation,
                        "resource": resource,
                        **{field: round(tally[field], 6) for field in TALLY_FIELDS},
                    }
                    for (service, operation, resource), tally in sorted(self._operations.items())
                ],
                "batches": [list(batch) for batch in self._batches],
                "item_sizes": {
                    table: {str(size): n for size, n in sorted(sizes.items())}
                    for table, sizes in self._item_sizes.items()
                },
                "index_entry_sizes": {
                    table: {
                        index: {str(size): n for size, n in sorted(sizes.items())}
                        for index, sizes in indexes.items()
                    }
                    for table, indexes in self._index_sizes.items()
                },
            }


def items_written(call: dict, status: int, response: bytes) -> dict[str, list[dict]]:
    """The items a successful PutItem or BatchWriteItem stored, per table; {} for any other request."""
    if status >= 400 or call["service"] != "dynamodb":
        return {}
    if call["operation"] == "PutItem":
        return {call["body"]["TableName"]: [call["body"]["Item"]]}
    if call["operation"] == "BatchWriteItem":
        return _batch_puts_done(call["body"], json.loads(response or b"{}"))
    return {}


def _batch_puts_done(request: dict, response: dict) -> dict[str, list[dict]]:
    """The items a BatchWriteItem wrote, per table: those it returned as UnprocessedItems were not (and are
    not billed)."""
    unprocessed = response.get("UnprocessedItems", {})
    return {
        table: [
            entry["PutRequest"]["Item"]
            for entry in entries
            if "PutRequest" in entry and entry not in unprocessed.get(table, [])
        ]
        for table, entries in request.get("RequestItems", {}).items()
    }


def _receipt_handles(response: bytes) -> list[str]:
    if response.lstrip().startswith(b"<"):
        return [handle.decode() for handle in RECEIPT_HANDLE_XML.findall(response)]
    return [message["ReceiptHandle"] for message in json.loads(response or b"{}").get("Messages", [])]


# ---- reading a request --------------------------------------------------------------------------------
def _queue_name(url_or_path: str) -> str:
    return urllib.parse.urlparse(url_or_path).path.rstrip("/").rsplit("/", 1)[-1]


def describe_request(environ: dict, body: bytes) -> dict:
    """(service, operation, resource) of one request, with its parsed body for the operations counted."""
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        prefix, _, operation = target.partition(".")
        service = TARGET_SERVICES.get(prefix, prefix)
        parsed = json.loads(body or b"{}")
    else:
        parsed = {k: v[0] for k, v in urllib.parse.parse_qs(body.decode(errors="replace")).items()}
        parsed.update({k: v[0] for k, v in urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).items()})
        operation = parsed.get("Action", environ.get("PATH_INFO", ""))
        scope = CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        service = scope["service"] if scope else "other"
        if service == "sqs":  # the query protocol numbers batch entries: <Entry>.N.Id, <Entry>.N.Receipt…
            parsed["Entries"] = [
                {"ReceiptHandle": parsed.get(key[: -len("Id")] + "ReceiptHandle", "")}
                for key in parsed
                if key.endswith(".Id")
            ]
    resource = ""
    if service == "sqs":
        queue = parsed.get("QueueUrl") or parsed.get("QueueName") or environ.get("PATH_INFO", "")
        resource = _queue_name(queue) if "/" in queue else queue
    elif service == "dynamodb":
        resource = parsed.get("TableName") or ",".join(parsed.get("RequestItems", {}))
    return {
        "service": service,
        "operation": operation,
        "resource": resource,
        "body": parsed,
        "bytes": len(body),
    }


def _read_body(environ: dict) -> bytes:
    stream = environ["wsgi.input"]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        return stream.read(length)
    return stream.read() if environ.get("wsgi.input_terminated") else b""


class RequestCounter:
    """WSGI middleware: tallies each request and feeds the pipeline feed what it stored, then answers it with
    the wrapped application."""

    def __init__(self, application, tally: RequestTally | None = None, feed: PipelineFeed | None = None):
        self.application = application
        self.tally = tally or RequestTally()
        self.feed = feed or PipelineFeed()

    def __call__(self, environ: dict, start_response):
        path = environ.get("PATH_INFO")
        if path == COUNTS_PATH:
            return self._counts(environ, start_response)
        if path in FEED_PATHS:
            return self.feed.answer(environ, start_response)
        body = _read_body(environ)
        environ["wsgi.input"] = io.BytesIO(body)  # moto reads the body again
        status: list[int] = []

        def recording_start_response(status_line, headers, exc_info=None):
            status.append(int(status_line.split(" ", 1)[0]))
            return start_response(status_line, headers, exc_info)

        started = time.monotonic()
        answer = self.application(environ, recording_start_response)
        try:
            chunks = list(answer)
        finally:
            if hasattr(answer, "close"):
                answer.close()
        response = b"".join(chunks)
        seconds = time.monotonic() - started
        # A request the counter cannot read is still answered, and counted as such (never silently).
        try:
            call = {**describe_request(environ, body), "seconds": seconds}
            code = status[0] if status else 500
            written = items_written(call, code, response)  # parsed once, for the tally and the feed
            self.tally.add(call, code, response, written)
            self.feed.record_written(written)
        except (ValueError, KeyError, TypeError):
            self.tally.unreadable()
        return [response]

    def _counts(self, environ: dict, start_response):
        if environ.get("REQUEST_METHOD") == "POST":
            self.tally.reset()
            payload = {"reset": True}
        elif "summary=1" in environ.get("QUERY_STRING", ""):
            payload = self.tally.totals()
        else:
            payload = self.tally.snapshot()
        data = json.dumps(payload).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        return [data]


def install() -> None:
    """Make `moto.server.main` serve its application through the counter."""
    from moto import server

    serve = server.run_simple

    def run_counted(host, port, application, **options):
        return serve(host, port, RequestCounter(application), **options)

    server.run_simple = run_counted


# ---- the client side: what a run calls at its end -----------------------------------------------------
def fetch_counts(endpoint_url: str, timeout_s: float = 10, summary: bool = False) -> dict[str, Any]:
    """The emulator's tally since the last reset (see `RequestTally.snapshot` for its shape); `summary`: the
    counts per operation alone (`RequestTally.totals`)."""
    query = "?summary=1" if summary else ""
    with urllib.request.urlopen(endpoint_url.rstrip("/") + COUNTS_PATH + query, timeout=timeout_s) as answer:
        return json.loads(answer.read())


def reset_counts(endpoint_url: str, timeout_s: float = 10) -> None:
    """Start a new tally: what came before (provisioning, the ceiling measurement) is not the pipeline's."""
    request = urllib.request.Request(endpoint_url.rstrip("/") + COUNTS_PATH, data=b"", method="POST")
    with urllib.request.urlopen(request, timeout=timeout_s):
        pass
