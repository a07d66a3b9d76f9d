"""The pipeline's own feed on the emulator: each stored event with its end-to-end latency, and the consumers'
state, for whatever watches a local run (the Locust plugin's pipeline view, a run's status line).

The emulator is where every write lands, so it sees each stored event the moment it is stored, from any
consumer (the local event source mapping, the worker pool, a worker started by hand) without asking them.

Server side, inside moto_server (request_counter's middleware parses each DynamoDB write once and hands the
items written here):

- every item written to any table (PutItem, and BatchWriteItem minus its UnprocessedItems) with numeric
  `storedAt` and `sentAt` attributes adds (storedAt, storedAt - sentAt) to a ring of the last RING_CAPACITY
  events; the events are numbered 1, 2, 3, … as they are recorded. An item written twice (a redelivery) is
  stored twice, and counted twice: it cost the pipeline two writes.
- `GET /_pipeline/stored?after=SEQ` answers the events numbered after SEQ, oldest first and at most
  MAX_PER_ANSWER of them: `{"next": SEQ2, "stored": [[stored_at_ms, latency_ms], …], "total": N}`, where
  SEQ2 is the number of the last one returned (ask with after=SEQ2 next) and N the number of events ever
  recorded. A reader that fell behind the ring gets what is left and `"dropped": D`, the events it missed.
  Without `after` the answer is empty with next = total: a reader's way to start from now. An `after`
  beyond total (the emulator restarted) is read as total.
- `POST /_pipeline/consumers` with a JSON object (`{"mode": "lambda", "consumers": 7, "floor": 5,
  "maximum": 10}`) keeps it as the consumers' state; `GET /_pipeline/consumers` answers the last one posted
  with `"age_seconds"`, or `{}` when none was.

Client side, standard library only (the producer side imports it, and must not pull in moto):
`publish_consumers` for whoever scales the consumers, `read_stored` and `read_consumers` for whoever watches.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
import time
import urllib.parse
import urllib.request
from typing import Any

STORED_PATH = "/_pipeline/stored"
CONSUMERS_PATH = "/_pipeline/consumers"
FEED_PATHS = (STORED_PATH, CONSUMERS_PATH)
# 50,000 events are 71 s of the embedded pipeline's ceiling (~700 msgs/s): a reader polling every few
# seconds never falls behind; the ring's memory stays a few MB.
RING_CAPACITY = 50_000
MAX_PER_ANSWER = 5_000  # one answer stays well under a megabyte of JSON

logger = logging.getLogger(__name__)


# ---- server side: inside moto_server ----------------------------------------------------------------
class PipelineFeed:
    """Thread-safe (moto_server answers on many threads); recording an item costs two dict lookups."""

    def __init__(self, capacity: int = RING_CAPACITY):
        self._capacity = capacity
        self._ring: list[tuple[int | float, int | float]] = [
            (0, 0)
        ] * capacity  # event n at (n - 1) % capacity
        self._total = 0
        self._lock = threading.Lock()
        self._consumers: tuple[dict, float] | None = None  # (state, monotonic time it was posted)

    def record_written(self, written: dict[str, list[dict]]) -> None:
        """Add the events among the items written (table -> items in DynamoDB JSON)."""
        events = [event for items in written.values() for item in items if (event := _stored_event(item))]
        if not events:
            return
        with self._lock:
            for event in events:
                self._ring[self._total % self._capacity] = event
                self._total += 1

    def stored_after(self, after: int | None) -> dict[str, Any]:
        with self._lock:
            total = self._total
            if after is None or after >= total:
                return {"next": total, "stored": [], "total": total}
            oldest = max(1, total - self._capacity + 1)  # the oldest event still in the ring
            first = max(after + 1, oldest)
            last = min(total, first + MAX_PER_ANSWER - 1)
            stored = [list(self._ring[(n - 1) % self._capacity]) for n in range(first, last + 1)]
        answer: dict[str, Any] = {"next": last, "stored": stored, "total": total}
        if first > after + 1:
            answer["dropped"] = first - after - 1
        return answer

    def post_consumers(self, state: dict) -> None:
        with self._lock:
            self._consumers = (dict(state), time.monotonic())

    def consumers(self) -> dict[str, Any]:
        with self._lock:
            if self._consumers is None:
                return {}
            state, posted = self._consumers
        return {**state, "age_seconds": round(time.monotonic() - posted, 3)}

    # ---- HTTP: the middleware hands it the requests for FEED_PATHS --------------------------------------
    def answer(self, environ: dict, start_response) -> list[bytes]:
        path, method = environ.get("PATH_INFO"), environ.get("REQUEST_METHOD", "GET")
        try:
            if path == STORED_PATH and method == "GET":
                return _json(start_response, "200 OK", self.stored_after(_after(environ)))
            if path == CONSUMERS_PATH and method == "GET":
                return _json(start_response, "200 OK", self.consumers())
            if path == CONSUMERS_PATH and method == "POST":
                self.post_consumers(_json_object(environ))
                return _json(start_response, "200 OK", {"posted": True})
        except ValueError as error:
            return _json(start_response, "400 Bad Request", {"error": str(error)})
        return _json(start_response, "405 Method Not Allowed", {"error": f"{method} {path}"})


def _stored_event(item: dict) -> tuple[int | float, int | float] | None:
    """(storedAt, storedAt - sentAt) of an item that has both as numbers, else None."""
    stored_at, sent_at = item.get("storedAt"), item.get("sentAt")
    if not (isinstance(stored_at, dict) and isinstance(sent_at, dict)):
        return None
    try:
        stored, sent = _number(stored_at["N"]), _number(sent_at["N"])
    except (KeyError, ValueError):
        return None
    return stored, stored - sent


def _number(text: str) -> int | float:
    try:
        return int(text)  # the consumer writes epoch milliseconds: integers
    except ValueError:
        return float(text)


def _after(environ: dict) -> int | None:
    values = urllib.parse.parse_qs(environ.get("QUERY_STRING", "")).get("after")
    if not values:
        return None
    if not values[0].isdigit():
        raise ValueError(f"after={values[0]!r}: give the 'next' of the previous answer (0 for everything)")
    return int(values[0])


def _json_object(environ: dict) -> dict:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length else b""
    try:
        state = json.loads(body or b"null")
    except json.JSONDecodeError as error:
        raise ValueError(f"not JSON: {error}") from None
    if not isinstance(state, dict):
        raise ValueError("give the consumers' state as a JSON object")
    return state


def _json(start_response, status: str, payload: dict) -> list[bytes]:
    data = json.dumps(payload).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


# ---- client side ----------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class StoredEvents:
    next: int  # pass as `after` to the next read
    stored: list[tuple[float, float]]  # (stored_at_ms, latency_ms), oldest first
    total: int
    dropped: int = 0  # events stored after `after` that the ring no longer held


def read_stored(endpoint_url: str, after: int | None = None, timeout_s: float = 5.0) -> StoredEvents:
    """The events stored after event number `after` (None: none, only where the feed stands now)."""
    query = "" if after is None else f"?after={after}"
    answer = _get(endpoint_url, STORED_PATH + query, timeout_s)
    return StoredEvents(
        answer["next"],
        [(stored_at, latency) for stored_at, latency in answer["stored"]],
        answer["total"],
        answer.get("dropped", 0),
    )


def read_consumers(endpoint_url: str, timeout_s: float = 5.0) -> dict[str, Any]:
    """The consumers' state last posted, with its "age_seconds"; {} when nobody posted one."""
    return _get(endpoint_url, CONSUMERS_PATH, timeout_s)


_publish_failing = False  # log the first failure of a run of them, not one a second


def publish_consumers(endpoint_url: str, state: dict, timeout_s: float = 1.0) -> bool:
    """Post the consumers' state; False (logged, never raised) when the emulator does not take it: whoever
    scales the consumers goes on whether anybody watches or not."""
    global _publish_failing
    try:
        request = urllib.request.Request(
            endpoint_url.rstrip("/") + CONSUMERS_PATH,
            data=json.dumps(state).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=timeout_s):
            pass
    except (OSError, ValueError, TypeError) as error:  # URLError and timeouts are OSErrors
        level = logging.DEBUG if _publish_failing else logging.WARNING
        logger.log(level, "consumers' state not posted to %s: %s", endpoint_url, error)
        _publish_failing = True
        return False
    _publish_failing = False
    return True


def _get(endpoint_url: str, path: str, timeout_s: float) -> dict[str, Any]:
    with urllib.request.urlopen(endpoint_url.rstrip("/") + path, timeout=timeout_s) as answer:
        return json.loads(answer.read())
