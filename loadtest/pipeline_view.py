"""The pipeline as a scale tester watches it from the producer side: the backlog, what is in flight, the
consumers, the DLQ, and each event stored with its end-to-end latency (the producer's sentAt → storedAt).

One interface, two sources, chosen by where the queue is:

- an emulator (the embedded AWS of `make up`): live, from the emulator itself — GetQueueAttributes for the
  queue's and the DLQ's depth, its pipeline feed for every stored event and the consumers' state
  (emulator_pipeline.py);
- AWS: CloudWatch GetMetricData on the stack's queue, DLQ, function and the consumer's EMF metrics, a minute
  at a time and minutes late, the stored events rebuilt from each minute's latency statistics
  (cloudwatch_pipeline.py, which says how and what that loses).
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from consumer.configuration import DEFAULT_METRICS_NAMESPACE
from loadtest.cloudwatch_queries import queue_name
from loadtest.stack_target import StackTarget


@dataclasses.dataclass(frozen=True)
class PipelineReading:
    """What one read of the view found; None where its source does not know (yet)."""

    as_of: float | None  # epoch seconds the depths describe: now locally, a minute's start on CloudWatch
    queue_visible: int | None  # the backlog
    queue_in_flight: int | None
    dlq_visible: int | None
    consumers: int | None  # pollers or workers locally, the function's concurrent executions on AWS
    consumers_floor: int | None = None
    consumers_maximum: int | None = None
    oldest_message_age_s: float | None = None  # on AWS only (ApproximateAgeOfOldestMessage)
    stored: tuple[tuple[float, float], ...] = ()  # (stored_at_ms, latency_ms) stored since the last read
    dropped: int = 0  # events stored since the last read that the source could no longer give


class PipelineView(Protocol):
    source: str  # "emulator" or "CloudWatch", for the people reading the numbers

    def start(self) -> None:
        """Count from now on: later reads give only events stored after this call."""

    def read(self) -> PipelineReading:
        """Depths and consumers now, and the events stored since the last read (or `start`)."""


def pipeline_view(target: StackTarget, metrics_namespace: str = DEFAULT_METRICS_NAMESPACE) -> PipelineView:
    """The view for the queue `target` sends to: CloudWatch on AWS, the emulator's own answers otherwise."""
    if target.queue.on_aws:
        from loadtest.cloudwatch_pipeline import CloudWatchPipeline

        return CloudWatchPipeline.for_target(target, metrics_namespace)
    from loadtest.emulator_pipeline import EmulatorPipeline

    return EmulatorPipeline.for_target(target)


def dead_letter_queue_name(target: StackTarget, sqs: Any) -> str | None:
    """The DLQ of the queue sent to: the stack's `dlqUrl`, else the queue's redrive policy (a queue URL given
    alone); None when the queue has none or its attributes may not be read."""
    if isinstance(target.outputs.get("dlqUrl"), str):
        return queue_name(target.outputs["dlqUrl"])
    try:
        queue = target.queue.queue_url
        attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["RedrivePolicy"])
    except (BotoCoreError, ClientError):
        return None
    policy = attributes.get("Attributes", {}).get("RedrivePolicy")
    return queue_name(json.loads(policy)["deadLetterTargetArn"]) if policy else None
