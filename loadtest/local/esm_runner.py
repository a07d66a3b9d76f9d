"""A local event source mapping: pollers that feed the real handler the way Lambda's SQS poller does.

Each poller is its own process (a chaos run can SIGKILL one mid-batch; its messages come back after the
visibility timeout). It long-polls the queue, gathers up to the batch size within the batching window, builds
the Lambda SQS event, invokes `consumer.handler.lambda_handler` with a Lambda-like context under the
function's timeout, and honours the response as Lambda does: a well-formed `batchItemFailures` deletes every
other record; an exception, a timeout or a malformed response deletes nothing. Failures come back after the
visibility timeout and reach the DLQ through the queue's redrive policy. On a FIFO queue a message group is
never split between two pollers and comes back in order, as SQS guarantees (moto needs
loadtest/local/emulator.py for that).

The controller scales pollers with the backlog, as the AWS poller adds concurrency while messages wait and
releases it when the queue is idle, bounded by the stack's maxConcurrency, and samples the queue every second.
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from consumer.sqs_event import RECEIVE_ALL_ATTRIBUTES, delete_messages, lambda_sqs_event

if TYPE_CHECKING:
    from infra.settings import StackSettings
    from loadtest.local.embedded_aws import LocalStack

LONG_POLL_SECONDS = 1  # short enough that a stopping poller notices within a second


@dataclasses.dataclass(frozen=True)
class PollerConfig:
    queue_url: str
    queue_arn: str
    region: str
    batch_size: int
    batching_window_seconds: int
    function_name: str
    function_timeout_seconds: int
    memory_mb: int
    environment: dict[str, str]  # TABLE_NAME, DLQ_URL, AWS endpoint…: what Lambda would give the function
    log_path: str

    @classmethod
    def for_stack(
        cls, local: LocalStack, settings: StackSettings, aws_env: dict[str, str], **extra_env: str
    ) -> PollerConfig:
        """The function as the stack declares it, on the local stack. `extra_env` adds what the Pulumi
        program sets by switch (DLQ_URL when routing) and the local-only VEHICLE_PIPELINE_FAULTS."""
        environment = {
            **aws_env,
            "TABLE_NAME": local.table_name,
            "POWERTOOLS_SERVICE_NAME": "vehicle-consumer",
            "POWERTOOLS_METRICS_NAMESPACE": settings.metrics_namespace,
            "POWERTOOLS_TRACE_DISABLED": "true",  # no X-Ray daemon locally
            **extra_env,
        }
        return cls(
            local.queue_url,
            local.queue_arn,
            local.region,
            settings.batch_size,
            settings.batching_window_seconds,
            local.function_name,
            settings.function_timeout_seconds,
            settings.function_memory_mb,
            environment,
            log_path="",
        )


class LambdaContext:
    def __init__(self, config: PollerConfig, request_id: str):
        self.function_name = config.function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = config.memory_mb
        self.invoked_function_arn = (
            f"arn:aws:lambda:{config.region}:123456789012:function:{config.function_name}"
        )
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{config.function_name}"
        self.log_stream_name = "local"
        self._deadline = time.monotonic() + config.function_timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class InvocationTimeout(Exception):
    pass


def _raise_timeout(*_):
    raise InvocationTimeout()


def run_poller(config: PollerConfig, stop, counters) -> None:
    """Body of a poller process. `stop` is an Event; SIGTERM sets it too: the in-flight batch finishes."""
    os.environ.update(config.environment)
    log = open(config.log_path, "a", buffering=1)  # noqa: SIM115 - the process's stdout until it exits
    sys.stdout = sys.stderr = log
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGALRM, _raise_timeout)
    import uuid

    import boto3

    from consumer import handler  # imported after the environment points at the local endpoint

    sqs = boto3.client("sqs")
    while not stop.is_set():
        messages = _gather(sqs, config, stop)
        if not messages:
            continue
        outcome = _invoke(handler, config, messages, str(uuid.uuid4()))
        failed_ids = outcome["failed_ids"]
        done = [m for m in messages if failed_ids is not None and m["MessageId"] not in failed_ids]
        delete_messages(sqs, config.queue_url, done)
        counters.put(
            {
                "routed_to_dlq": outcome["routed_to_dlq"],
                "write_failures": outcome["write_failures"],
                "timeouts": outcome["timeouts"],
                "invocations": 1,
                "records": len(messages),
                "stored": outcome["stored"],
                "failed_records": len(messages) - len(done),
                "failed_invocations": int(failed_ids is None),
            }
        )


def _gather(sqs, config: PollerConfig, stop) -> list[dict]:
    """Up to batch size messages, waiting at most the batching window once the first arrived."""
    messages: list[dict] = []
    window_ends = None
    while len(messages) < config.batch_size and not stop.is_set():
        wait = LONG_POLL_SECONDS if window_ends is None else max(0, min(1, window_ends - time.monotonic()))
        batch = sqs.receive_message(
            QueueUrl=config.queue_url,
            MaxNumberOfMessages=min(10, config.batch_size - len(messages)),
            WaitTimeSeconds=math.ceil(wait),
            **RECEIVE_ALL_ATTRIBUTES,
        ).get("Messages", [])
        messages += batch
        if window_ends is None:
            if not messages:
                return []
            window_ends = time.monotonic() + config.batching_window_seconds
        if not batch or time.monotonic() >= window_ends:
            break
    return messages


def _invoke(handler, config: PollerConfig, messages: list[dict], request_id: str) -> dict:
    """Call the handler as Lambda would; failed_ids None means the whole batch failed (nothing deleted)."""
    signal.alarm(config.function_timeout_seconds)
    try:
        response = handler.lambda_handler(
            lambda_sqs_event(messages, config.queue_arn, config.region), LambdaContext(config, request_id)
        )
        failures = response["batchItemFailures"]
        failed_ids = {failure["itemIdentifier"] for failure in failures}
        if not failed_ids <= {m["MessageId"] for m in messages}:
            raise ValueError("batchItemFailures names a message that was not in the batch")
        return {"failed_ids": failed_ids, **handler.processor.outcome.totals(), "timeouts": 0}
    except Exception as error:  # exception, timeout, malformed response: Lambda retries the whole batch
        print(f"invocation {request_id} failed as a whole: {type(error).__name__}: {error}", flush=True)
        timeout = int(isinstance(error, InvocationTimeout))
        return {
            "failed_ids": None,
            **dict.fromkeys(handler.processor.outcome.totals(), 0),
            "timeouts": timeout,
        }
    finally:
        signal.alarm(0)


@dataclasses.dataclass
class Sample:
    t_s: float
    queue_visible: int
    queue_in_flight: int
    dlq_visible: int
    pollers: int
    stored_total: int


class EsmRunner:
    """Starts, scales and stops poller processes; samples the queue every second."""

    STOP_TIMEOUT_S = 15

    def __init__(
        self,
        config: PollerConfig,
        dlq_url: str,
        max_concurrency: int,
        log_dir: Path,
        start_pollers: int = 1,
        sqs: Any = None,
    ):
        import boto3

        self.config = config
        self.dlq_url = dlq_url
        self.max_concurrency = max_concurrency
        self.log_dir = log_dir
        self.start_pollers = min(start_pollers, max_concurrency)
        self._sqs = sqs or boto3.client("sqs")
        self._context = multiprocessing.get_context("spawn")
        self._counters = self._context.Queue()
        self._pollers: list[tuple[Any, Any]] = []  # (process, stop event)
        self._pollers_lock = threading.Lock()  # the controller and a chaos kill both change the list
        self._retired: list[Any] = []  # scaled-in processes finishing their last batch
        self._launched = 0  # numbers each consumer's log (and stats) file
        self.totals = {
            "invocations": 0,
            "records": 0,
            "stored": 0,
            "failed_records": 0,
            "failed_invocations": 0,
            "routed_to_dlq": 0,  # invalid records the handler sent to the DLQ itself
            "write_failures": 0,  # records DynamoDB did not take (throttling, injected or real)
            "timeouts": 0,  # invocations that overran the function timeout
            "pollers_killed": 0,
        }
        self.samples: list[Sample] = []
        self.max_pollers = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = time.monotonic()
        self._idle_since: float | None = None

    @property
    def pollers(self) -> int:
        return len(self._pollers)

    def start(self) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for _ in range(self.start_pollers):
            self._add_poller()
        self._thread = threading.Thread(target=self._control, name="esm-controller", daemon=True)
        self._thread.start()

    # ---- one consumer process: how it starts, is asked to stop, is waited for (WorkerFleet overrides) ----
    def _launch(self, number: int) -> tuple[Any, Any]:
        """Start consumer number `number` (1, 2, …); return (process, stop handle)."""
        stop = self._context.Event()
        config = dataclasses.replace(self.config, log_path=str(self.log_dir / f"poller-{number}.log"))
        process = self._context.Process(target=run_poller, args=(config, stop, self._counters), daemon=True)
        process.start()
        return process, stop

    def _request_stop(self, process: Any, stop: Any) -> None:
        stop.set()  # finishes its in-flight batch, then exits

    def _wait(self, process: Any, timeout: float | None) -> bool:
        """Wait for the process to exit; True when it did."""
        process.join(timeout)
        return not process.is_alive()

    # ---- the set of them ------------------------------------------------------------------------------
    def _add_poller(self) -> None:
        self._launched += 1
        self._pollers.append(self._launch(self._launched))
        self.max_pollers = max(self.max_pollers, len(self._pollers))

    def _remove_poller(self) -> None:
        process, stop = self._pollers.pop()
        self._request_stop(process, stop)  # reaped at stop()
        self._retired.append(process)

    def kill_one_poller(self) -> int | None:
        """SIGKILL a poller mid-batch, as a crashed host would: its messages reappear after the visibility
        timeout, and the controller starts a replacement if the backlog needs one."""
        with self._pollers_lock:
            if not self._pollers:
                return None
            process, _ = self._pollers.pop(0)
        process.kill()
        self._wait(process, None)
        self.totals["pollers_killed"] += 1
        return process.pid

    def _drain_counters(self) -> None:
        while True:
            try:
                update = self._counters.get_nowait()
            except Exception:  # queue.Empty
                return
            for key, value in update.items():
                self.totals[key] += value

    def depth(self) -> tuple[int, int, int]:
        queue = self._sqs.get_queue_attributes(
            QueueUrl=self.config.queue_url,
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

    def desired_pollers(self, visible: int, in_flight: int, now: float) -> int:
        """One more poller while a backlog waits beyond what the current ones take per poll; one fewer after
        3 idle seconds. Bounded by maxConcurrency, never below one."""
        current = self.pollers
        if visible > current * self.config.batch_size:
            self._idle_since = None
            return min(self.max_concurrency, current + 1)
        if visible == 0 and in_flight == 0:
            self._idle_since = self._idle_since or now
            if now - self._idle_since >= 3:
                self._idle_since = now
                return max(1, current - 1)
        else:
            self._idle_since = None
        return current

    def _control(self) -> None:
        while not self._stop.is_set():
            now = time.monotonic()
            self._drain_counters()
            visible, in_flight, dlq = self.depth()
            self.samples.append(
                Sample(round(now - self._t0, 2), visible, in_flight, dlq, self.pollers, self.totals["stored"])
            )
            with self._pollers_lock:
                desired = self.desired_pollers(visible, in_flight, now)
                while self.pollers < desired:
                    self._add_poller()
                while self.pollers > desired:
                    self._remove_poller()
            self._stop.wait(max(0.0, 1 - (time.monotonic() - now)))

    def reset_clock(self) -> None:
        self._t0 = time.monotonic()

    def stop(self, timeout: float | None = None) -> None:
        """Stop scaling, ask every consumer to finish its batch, kill what still runs at the deadline."""
        timeout = timeout or self.STOP_TIMEOUT_S
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)
        processes = [process for process, _ in self._pollers] + self._retired
        for process, stop in self._pollers:
            self._request_stop(process, stop)
        deadline = time.monotonic() + timeout
        for process in processes:
            if not self._wait(process, max(0.1, deadline - time.monotonic())):
                process.kill()
                self._wait(process, None)
        self._pollers.clear()
        self._retired = []
        self._drain_counters()
