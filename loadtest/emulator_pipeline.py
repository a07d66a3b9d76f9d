"""The pipeline view on an emulator (pipeline_view.py): everything live, from the emulator itself.

- depths: GetQueueAttributes on the queue (ApproximateNumberOfMessages visible, …NotVisible in flight) and on
  its DLQ, as any SQS client asks them;
- stored events: the emulator's pipeline feed (loadtest/local/emulator/pipeline_feed.py), read on from where
  it stood at `start`: every event stored since then, with its end-to-end latency, none from before;
- consumers: the state the local event source mapping (or the worker pool) posts to the feed each second.
  A state older than STALE_S means nobody scales the consumers any more (the stack is stopping): unknown.

An emulator without the feed (LocalStack, ElasticMQ, moto_server without the project's layers) still gives
the depths; the stored events then stay unknown, which is logged once.
"""

from __future__ import annotations

import logging
import time
import urllib.error
from collections.abc import Callable
from typing import Any

from loadtest.local.emulator.pipeline_feed import read_consumers, read_stored
from loadtest.pipeline_view import PipelineReading, dead_letter_queue_name
from loadtest.stack_target import StackTarget

STALE_S = 10.0
# Pages one read may take from the feed (5,000 events each): a reader two seconds apart needs one at the
# emulator's ~700 msgs/s ceiling; more only after a pause, and never past the feed's 50,000-event ring.
MAX_PAGES_PER_READ = 10

logger = logging.getLogger(__name__)


class EmulatorPipeline:
    source = "emulator"

    def __init__(
        self,
        queue_url: str,
        dlq_url: str | None,
        endpoint_url: str,
        sqs: Any,
        clock: Callable[[], float] = time.time,
    ):
        self.queue_url, self.dlq_url, self.endpoint_url = queue_url, dlq_url, endpoint_url
        self._sqs = sqs
        self._clock = clock
        self._since_ms = 0.0
        self._after: int | None = None  # the feed's number of the last event read
        self._has_feed = True

    @classmethod
    def for_target(cls, target: StackTarget) -> EmulatorPipeline:
        sqs = target.queue.client("sqs")
        dlq_url = target.outputs.get("dlqUrl")
        if not isinstance(dlq_url, str) and (name := dead_letter_queue_name(target, sqs)):
            dlq_url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        return cls(target.queue.queue_url, dlq_url, target.queue.endpoint_url or "", sqs)

    def start(self) -> None:
        self._since_ms = self._clock() * 1000
        self._after = self._feed_position()

    def read(self) -> PipelineReading:
        queue = self._depth(
            self.queue_url, "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"
        )
        dlq = self._depth(self.dlq_url, "ApproximateNumberOfMessages") if self.dlq_url else None
        stored, dropped = self._stored()
        consumers = self._consumers()
        return PipelineReading(
            as_of=self._clock(),
            queue_visible=queue[0],
            queue_in_flight=queue[1],
            dlq_visible=dlq[0] if dlq else None,
            consumers=consumers.get("consumers"),
            consumers_floor=consumers.get("floor"),
            consumers_maximum=consumers.get("maximum"),
            stored=stored,
            dropped=dropped,
        )

    def _depth(self, queue_url: str, *attributes: str) -> list[int]:
        answer = self._sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=list(attributes))
        return [int(answer["Attributes"][name]) for name in attributes]

    def _stored(self) -> tuple[tuple[tuple[float, float], ...], int]:
        if self._after is None:  # read before start, or the feed was not there: count from now
            self._after = self._feed_position()
            return (), 0
        events: list[tuple[float, float]] = []
        dropped = 0
        for _ in range(MAX_PAGES_PER_READ):
            page = read_stored(self.endpoint_url, self._after)
            # Events written in the instant before `start` can land after the feed's position was taken.
            events.extend(event for event in page.stored if event[0] >= self._since_ms)
            dropped += page.dropped
            self._after = page.next
            if page.next >= page.total:
                break
        return tuple(events), dropped

    def _feed_position(self) -> int | None:
        if not self._has_feed:
            return None
        try:
            return read_stored(self.endpoint_url).next
        except urllib.error.HTTPError as error:  # answered, but not by the project's emulator
            self._has_feed = False
            logger.warning(
                "%s has no pipeline feed (%s): stored events are not shown; the depths are",
                self.endpoint_url,
                error,
            )
            return None

    def _consumers(self) -> dict[str, Any]:
        if not self._has_feed:
            return {}
        state = read_consumers(self.endpoint_url)
        return state if state and state.get("age_seconds", STALE_S) < STALE_S else {}
