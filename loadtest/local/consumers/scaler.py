"""What every local consumer set shares: a controller that samples the queue each second and scales the
consumers by a rule, the counters they report, a chaos kill, and a bounded stop.

Two rules plug in: Lambda's SQS poller (`esm_runner.EsmRunner`, warm pollers switched on and off) and the
EC2 fleet's target tracking (`worker_pool.WorkerPool`, one process per instance, started cold). A subclass
says how a consumer is switched on (`_activate`) and off (`_deactivate`), how the set is torn down, and the
size it wants (`desired_pollers`).
"""

from __future__ import annotations

import abc
import dataclasses
import threading
import time
from collections.abc import Callable
from typing import Any

SAMPLE_INTERVAL_S = 1.0


@dataclasses.dataclass
class Sample:
    t_s: float
    queue_visible: int
    queue_in_flight: int
    dlq_visible: int
    pollers: int
    stored_total: int
    throttles_total: int = 0  # invokes the function's concurrency limit refused (Lambda throttles)
    write_retries_total: int = 0  # items DynamoDB returned unprocessed and the store sent again (pushback)


class ConsumerScaler(abc.ABC):
    STOP_TIMEOUT_S = 15

    def __init__(self, queue_url: str, dlq_url: str, max_concurrency: int, sqs: Any = None):
        import boto3

        self.queue_url = queue_url
        self.dlq_url = dlq_url
        self.max_concurrency = max_concurrency
        self._sqs = sqs or boto3.client("sqs")
        self._active: list[Any] = []  # consumers taking messages now, oldest first
        self._lock = threading.Lock()  # the controller and a chaos kill both change the set
        self.totals = {
            "invocations": 0,
            "records": 0,
            "stored": 0,
            "failed_records": 0,
            "failed_invocations": 0,
            "routed_to_dlq": 0,  # invalid records the handler sent to the DLQ itself
            "write_failures": 0,  # records DynamoDB did not take (throttling, injected or real)
            "timeouts": 0,  # invocations that overran the function timeout
            "unprocessed_retries": 0,  # items DynamoDB returned unprocessed (throttled) and were sent again
            "pollers_killed": 0,
        }
        self.latencies_ms: list[int] = []  # end to end, sentAt -> stored, in the order reported
        self.samples: list[Sample] = []
        self.max_pollers = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = time.monotonic()
        # Called each second with `state()` after the scaling decision (the session posts it to the emulator's
        # feed, where Locust's pipeline view reads the consumers).
        self.on_sample: Callable[[dict], None] | None = None

    # ---- what a subclass provides ------------------------------------------------------------------------
    @abc.abstractmethod
    def _activate(self) -> Any:
        """Switch one more consumer on; return its handle."""

    @abc.abstractmethod
    def _deactivate(self, consumer: Any) -> None:
        """Switch a consumer off: it finishes its in-flight batch first."""

    @abc.abstractmethod
    def _kill(self, consumer: Any) -> int:
        """SIGKILL a consumer; return its pid."""

    @abc.abstractmethod
    def _shutdown(self, deadline: float) -> None:
        """Stop every consumer by `deadline`, killing what still runs then."""

    @abc.abstractmethod
    def _collect(self) -> None:
        """Add the consumers' reported counters to `totals` (and latencies)."""

    @abc.abstractmethod
    def desired_pollers(self, visible: int, in_flight: int, now: float) -> int:
        """How many consumers the rule wants, given the queue now."""

    # ---- the set --------------------------------------------------------------------------------------
    @property
    def pollers(self) -> int:
        return len(self._active)

    mode = "consumers"  # what a watcher calls this set: "lambda" (the mapping's pollers) or "worker"

    def state(self) -> dict:
        """What a watcher shows of the consumers now."""
        return {
            "mode": self.mode,
            "consumers": self.pollers,
            "floor": getattr(self, "floor", 0),
            "maximum": self.max_concurrency,
            "throttles": self.totals.get("throttles", 0),
        }

    def start(self, initial: int) -> None:
        self._scale_to(min(initial, self.max_concurrency))
        self._thread = threading.Thread(target=self._control, name="consumer-scaler", daemon=True)
        self._thread.start()

    def _scale_to(self, desired: int) -> None:
        with self._lock:
            while self.pollers < desired:
                self._active.append(self._activate())
            while self.pollers > desired:
                self._deactivate(self._active.pop())  # newest first: the oldest keep their warm clients
            self.max_pollers = max(self.max_pollers, self.pollers)

    def kill_one_poller(self) -> int | None:
        """SIGKILL a consumer mid-batch, as a crashed host would: its messages reappear after the visibility
        timeout, and the controller switches another on if the backlog needs it."""
        with self._lock:
            if not self._active:
                return None
            consumer = self._active.pop(0)
        pid = self._kill(consumer)
        self.totals["pollers_killed"] += 1
        return pid

    def depth(self) -> tuple[int, int, int]:
        queue = self._sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        dlq = self._sqs.get_queue_attributes(
            QueueUrl=self.dlq_url, AttributeNames=["ApproximateNumberOfMessages"]
        )
        return (
            int(queue["ApproximateNumberOfMessages"]),
            int(queue["ApproximateNumberOfMessagesNotVisible"]),
            int(dlq["Attributes"]["ApproximateNumberOfMessages"]),
        )

    def wait_until_drained(self, deadline_s: float, poll_s: float = 0.5) -> float | None:
        """Seconds until the queue is empty (nothing visible or in flight), or None at the deadline."""
        started = time.monotonic()
        while time.monotonic() - started < deadline_s:
            visible, in_flight, _ = self.depth()
            if visible == 0 and in_flight == 0:
                return time.monotonic() - started
            time.sleep(poll_s)
        return None

    @abc.abstractmethod
    def seconds_to_floor(self) -> float:
        """How long the scaling rule takes from the consumers now back to the floor, once the queue is
        empty (each rule says: Lambda's one step a second after 3 quiet seconds, the fleet's slower)."""

    def wait_until_at_floor(self, deadline_s: float, poll_s: float = 0.5) -> float | None:
        """Seconds until the rule has stepped the consumers back to the floor (a sample taken there), or None
        at the deadline."""
        started = time.monotonic()
        while time.monotonic() - started < deadline_s:
            if self.pollers <= self.floor and self.samples and self.samples[-1].pollers <= self.floor:
                return time.monotonic() - started
            time.sleep(poll_s)
        return None

    def _record_latencies(self, latencies: list[int]) -> None:
        self.latencies_ms.extend(latencies)

    def forget_latencies(self) -> None:
        """Start the latency record afresh (after a phase whose waits are not the next one's)."""
        self._collect()
        self.latencies_ms = []

    def _control(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            self._collect()
            visible, in_flight, dlq = self.depth()
            self.samples.append(
                Sample(
                    round(now - self._t0, 2),
                    visible,
                    in_flight,
                    dlq,
                    self.pollers,
                    self.totals["stored"],
                    self.totals.get("throttles", 0),
                    self.totals.get("unprocessed_retries", 0),
                )
            )
            self._scale_to(self.desired_pollers(visible, in_flight, now))
            if self.on_sample is not None:
                self.on_sample(self.state())
            self._stop.wait(max(0.0, SAMPLE_INTERVAL_S - (time.monotonic() - now)))

    def reset_clock(self) -> None:
        self._t0 = time.monotonic()

    def clock(self) -> float:
        """Seconds on the samples' clock."""
        return time.monotonic() - self._t0

    def stop(self, timeout: float | None = None) -> None:
        """Stop scaling, ask every consumer to finish its batch, kill what still runs at the deadline."""
        timeout = timeout or self.STOP_TIMEOUT_S
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)
        self._shutdown(time.monotonic() + timeout)
        self._active.clear()
        self._collect()
