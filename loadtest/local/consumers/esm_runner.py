"""A local event source mapping: pollers that feed the real handler the way Lambda's SQS poller does.

Each poller is its own process (a chaos run can SIGKILL one mid-batch; its messages come back after the
visibility timeout). It long-polls the queue, gathers up to the batch size within the batching window, builds
the Lambda SQS event, invokes `consumer.handler.lambda_handler` with a Lambda-like context under the
function's timeout, and honours the response as Lambda does: a well-formed `batchItemFailures` deletes every
other record; an exception, a timeout or a malformed response deletes nothing. Failures come back after the
visibility timeout and reach the DLQ through the queue's redrive policy. On a FIFO queue a message group is
never split between two pollers and comes back in order, as SQS guarantees (moto needs
loadtest/local/emulator/fifo_groups.py for that).

Scaling follows AWS's rules for SQS event source mappings, standard or provisioned mode, with back-off,
as loadtest/analysis/mapping_rules.py states them (the models that predict AWS use the same functions):
standard mode runs five concurrent batches as soon as messages are available, adds up to 300 more per minute
while a backlog remains (never more than maxConcurrency) and steps back down once the backlog is gone;
provisioned mode keeps its minimum pollers polling, drives ten invokes per poller at once and adds up to
1,000 a minute. Every poller up to the maximum is started (and has imported boto3, Powertools and the
handler) before the load begins and parks until switched on, so a scale-out step costs a flag, not a process
start, as on AWS where the poller fleet and warm execution environments already exist. One machine runs at
most LOCAL_POLLER_LIMIT of them: a mapping allowed more (a provisioned stack's 100) is capped, and says so.

The function's concurrency is limited as Lambda limits it: its reserved concurrency is a semaphore the
pollers share. A poller that finds it full is throttled: it retries the invoke with growing pauses while its
batch's visibility timeout lasts, then lets the batch go (its messages come back, one receive nearer the
DLQ), as AWS documents for throttled SQS invocations; and the mapping backs off (services-sqs-errorhandling).
"""

from __future__ import annotations

import dataclasses
import math
import multiprocessing
import os
import signal
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from consumer.sqs_event import RECEIVE_ALL_ATTRIBUTES, delete_messages, lambda_sqs_event
from loadtest.analysis.mapping_rules import (
    MappingScaling,
    ScalingState,
    next_concurrency,
    seconds_to_scale_in,
)
from loadtest.local.child_process import die_with_parent, ignore_interrupts
from loadtest.local.consumers.fault_injection import ENV_VAR as FAULTS_VARIABLE
from loadtest.local.consumers.fault_injection import Faults, maybe_overrun, with_faults
from loadtest.local.consumers.scaler import ConsumerScaler

if TYPE_CHECKING:
    from infra.settings import StackSettings


class DeployedNames(Protocol):
    """What the function is given of its stack (the local stack's outputs): the consumers never see how the
    stack was made."""

    queue_url: str
    queue_arn: str
    region: str
    table_name: str
    function_name: str


LONG_POLL_SECONDS = 1  # short enough that a stopping poller notices within a second
WARM_START_TIMEOUT_S = 180  # every poller imported and parked (2 cores, up to maxConcurrency processes)
LOCAL_POLLER_LIMIT = 20  # poller processes one 2-core machine runs usefully (each holds a Python runtime)
THROTTLE_RETRY_S = (
    0.1,
    0.2,
    0.5,
    1.0,
)  # a throttled poller's pauses before retrying the invoke, then 1 s each


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
    visibility_timeout_seconds: int = 0  # the queue's: how long a throttled poller may retry its batch

    @classmethod
    def for_stack(
        cls, local: DeployedNames, settings: StackSettings, aws_env: dict[str, str], **extra_env: str
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
            visibility_timeout_seconds=settings.queue_visibility_timeout_seconds,
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


def run_poller(config: PollerConfig, active, stop, counters, number: int, concurrency) -> None:
    """Body of a poller process: import the handler, report ready, then poll while `active` is set and park
    while it is not. `stop` is an Event; SIGTERM sets it too: the in-flight batch finishes first.
    `concurrency`: the function's reserved concurrency, a semaphore every poller takes to invoke (None: no
    limit)."""
    die_with_parent()  # a run killed outright leaves no poller behind
    ignore_interrupts()  # Ctrl-C is the run's: it stops the pollers itself, after the load
    os.environ.update(config.environment)
    log = open(config.log_path, "a", buffering=1)  # noqa: SIM115 - the process's stdout until it exits
    sys.stdout = sys.stderr = log
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGALRM, _raise_timeout)
    import uuid

    import boto3

    from consumer import handler  # imported after the environment points at the local endpoint
    from consumer.event_store import DynamoEventStore

    faults = Faults.parse(config.environment.get(FAULTS_VARIABLE, ""))
    if faults.dynamodb_failure_ratio or faults.dynamodb_outage_flag:  # around the store, from outside
        handler.processor.use_store(with_faults(DynamoEventStore(config.environment["TABLE_NAME"]), faults))
    sqs = boto3.client("sqs")
    counters.put({"ready": number})
    while not stop.is_set():
        if not active.wait(LONG_POLL_SECONDS):
            continue  # parked: no receives, as a switched-off poller makes no calls
        messages = _gather(sqs, config, stop)
        if not messages:
            continue
        received_at = time.monotonic()
        if not _take_concurrency(concurrency, config, received_at, counters, stop):
            counters.put({"throttled_batches": 1, "records": len(messages)})
            continue  # let the batch go: its messages come back when their visibility timeout ends
        try:
            outcome = _invoke(handler, config, messages, str(uuid.uuid4()), faults)
        finally:
            if concurrency is not None:
                concurrency.release()
        failed_ids = outcome.pop("failed_ids")
        done = [m for m in messages if failed_ids is not None and m["MessageId"] not in failed_ids]
        delete_messages(sqs, config.queue_url, done)
        counters.put(
            {
                **outcome,
                "invocations": 1,
                "records": len(messages),
                "failed_records": len(messages) - len(done),
                "failed_invocations": int(failed_ids is None),
            }
        )


def _take_concurrency(concurrency, config: PollerConfig, received_at: float, counters, stop) -> bool:
    """An execution environment for the invoke, as Lambda's concurrency limit grants it. Throttled, the
    poller retries with growing pauses while the batch is still invisible (AWS retries a throttled SQS
    invoke "until the message's timestamp exceeds your queue's visibility timeout"); each refusal is a
    throttle, counted. False: the batch is let go."""
    if concurrency is None:
        return True
    deadline = received_at + max(1, config.visibility_timeout_seconds) - 0.5  # before the messages reappear
    for attempt in range(10_000):  # bounded by the deadline long before this
        if concurrency.acquire(block=False):
            return True
        counters.put({"throttles": 1})
        pause = THROTTLE_RETRY_S[min(attempt, len(THROTTLE_RETRY_S) - 1)]
        if time.monotonic() + pause >= deadline or stop.is_set():
            return False
        time.sleep(pause)
    return False


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


def _invoke(handler, config: PollerConfig, messages: list[dict], request_id: str, faults: Faults) -> dict:
    """Call the handler as Lambda would; failed_ids None means the whole batch failed (nothing deleted).
    An injected overrun holds the invocation past its deadline before the handler runs, as a stuck
    downstream call would: the timeout fails the whole batch."""
    signal.alarm(config.function_timeout_seconds)
    try:
        context = LambdaContext(config, request_id)
        maybe_overrun(faults, context)
        response = handler.lambda_handler(
            lambda_sqs_event(messages, config.queue_arn, config.region), context
        )
        failures = response["batchItemFailures"]
        failed_ids = {failure["itemIdentifier"] for failure in failures}
        if not failed_ids <= {m["MessageId"] for m in messages}:
            raise ValueError("batchItemFailures names a message that was not in the batch")
        outcome = handler.processor.outcome
        return {
            "failed_ids": failed_ids,
            **outcome.totals(),
            "unprocessed_retries": outcome.unprocessed_retries,
            "timeouts": 0,
            "latencies_ms": list(outcome.latencies_ms),
        }
    except Exception as error:  # exception, timeout, malformed response: Lambda retries the whole batch
        print(f"invocation {request_id} failed as a whole: {type(error).__name__}: {error}", flush=True)
        timeout = int(isinstance(error, InvocationTimeout))
        return {
            "failed_ids": None,
            **dict.fromkeys(handler.processor.outcome.totals(), 0),
            "unprocessed_retries": 0,
            "timeouts": timeout,
            "latencies_ms": [],
        }
    finally:
        signal.alarm(0)


@dataclasses.dataclass
class Poller:
    number: int
    process: Any
    active: Any  # multiprocessing Event: set while the poller takes messages
    stop: Any  # multiprocessing Event: set to end the process after its batch


class EsmRunner(ConsumerScaler):
    """Lambda's SQS poller for one function: a warm pool of poller processes, one per concurrent batch the
    mapping may run, switched on and off by AWS's scaling rules (`scaling`, standard or provisioned), under
    the function's reserved concurrency (`reserved_concurrency`; None: no limit)."""

    mode = "lambda"

    def __init__(
        self,
        config: PollerConfig,
        dlq_url: str,
        scaling: MappingScaling,
        log_dir: Path,
        reserved_concurrency: int | None = None,
        sqs: Any = None,
        local_limit: int = LOCAL_POLLER_LIMIT,
    ):
        self.rule = scaling.capped(local_limit)
        self.declared_maximum = scaling.maximum  # what AWS would allow; the pool may be capped below it
        super().__init__(config.queue_url, dlq_url, self.rule.maximum, sqs)
        self.config = config
        self.log_dir = log_dir
        self.floor = self.rule.floor
        self.reserved_concurrency = reserved_concurrency
        self._context = multiprocessing.get_context("spawn")
        self._counters = self._context.Queue()
        limited = reserved_concurrency is not None and reserved_concurrency < self.rule.maximum
        self._concurrency = self._context.BoundedSemaphore(reserved_concurrency) if limited else None
        self._parked: list[Poller] = []
        self._all: list[Poller] = []
        self._ready: set[int] = set()
        self._spawned = 0
        self._scaling_state = ScalingState()
        self._pushback_seen = 0  # throttles and whole-batch failures already answered by a back-off
        self.totals.update(throttles=0, throttled_batches=0)
        self.warm_start_seconds = 0.0

    def _spawn(self) -> Poller:
        self._spawned += 1
        number = self._spawned  # numbers its log file; a roll-out's pollers get new ones
        config = dataclasses.replace(self.config, log_path=str(self.log_dir / f"poller-{number}.log"))
        active, stop = self._context.Event(), self._context.Event()
        process = self._context.Process(
            target=run_poller,
            args=(config, active, stop, self._counters, number, self._concurrency),
            daemon=True,
        )
        process.start()
        poller = Poller(number, process, active, stop)
        self._all.append(poller)
        return poller

    def warm(self) -> None:
        """Start every poller and wait until each has imported the handler; they stay parked."""
        if self._all:
            return
        self.log_dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        self._parked = [self._spawn() for _ in range(self.max_concurrency)]
        deadline = started + WARM_START_TIMEOUT_S
        while len(self._ready) < self.max_concurrency and time.monotonic() < deadline:
            self._collect(block=0.2)
            if any(not p.process.is_alive() for p in self._all):
                raise RuntimeError(f"a poller died while starting: see {self.log_dir}")
        if len(self._ready) < self.max_concurrency:
            missing = self.max_concurrency - len(self._ready)
            raise TimeoutError(
                f"{missing} pollers not warm after {WARM_START_TIMEOUT_S} s: see {self.log_dir}"
            )
        self.warm_start_seconds = round(time.monotonic() - started, 2)

    def start(self, initial: int | None = None) -> None:
        """Warm every poller (if not yet), then switch the floor on and start scaling."""
        self.warm()
        super().start(self.floor if initial is None else initial)

    def roll_out(self) -> None:
        """A new function version under load: every poller is replaced. New processes start cold (a new
        version's execution environments import everything afresh) and take over as many slots as were
        active; the old ones finish their in-flight batch and exit."""
        with self._lock:
            old = list(self._all)
            active = len(self._active)
            self._all, self._parked = [], []
            fresh = [self._spawn() for _ in range(self.max_concurrency)]
            for poller in fresh[:active]:
                poller.active.set()  # polls as soon as its imports are done
            self._active, self._parked = fresh[:active], fresh[active:]
            for poller in old:
                poller.stop.set()
        for poller in old:
            poller.process.join(self.STOP_TIMEOUT_S)
            if poller.process.is_alive():
                poller.process.kill()
                poller.process.join()

    def pids(self) -> list[int]:
        return [poller.process.pid for poller in self._all]

    def _activate(self) -> Poller:
        poller = self._parked.pop() if self._parked else self._spawn()  # a killed one's replacement is cold
        poller.active.set()
        return poller

    def _deactivate(self, poller: Poller) -> None:
        poller.active.clear()  # finishes its in-flight batch, then parks
        self._parked.append(poller)

    def _kill(self, poller: Poller) -> int:
        poller.process.kill()
        poller.process.join()
        self._all.remove(poller)
        return poller.process.pid

    def _shutdown(self, deadline: float) -> None:
        for poller in self._all:
            poller.stop.set()
        for poller in self._all:
            poller.process.join(max(0.1, deadline - time.monotonic()))
            if poller.process.is_alive():
                poller.process.kill()
                poller.process.join()
        self._all, self._parked = [], []

    def _collect(self, block: float = 0.0) -> None:
        import queue

        while True:
            try:
                update = self._counters.get(timeout=block) if block else self._counters.get_nowait()
            except queue.Empty:
                return
            block = 0.0
            if "ready" in update:
                self._ready.add(update["ready"])
                continue
            self._record_latencies(update.pop("latencies_ms", []))
            for key, value in update.items():
                self.totals[key] += value

    def seconds_to_floor(self) -> float:
        return seconds_to_scale_in(self.rule, self.pollers)

    def desired_pollers(self, visible: int, in_flight: int, now: float) -> int:
        """AWS's rule for the mapping's mode (loadtest/analysis/mapping_rules.py): out while a backlog
        remains, back down once it is gone, and one step down in a second with throttles or whole-batch
        failures (the back-off)."""
        pushback = self.totals["throttles"] + self.totals["failed_invocations"]
        pushed_back, self._pushback_seen = pushback > self._pushback_seen, pushback
        return next_concurrency(
            self.rule, self._scaling_state, self.pollers, visible, self.config.batch_size, now, pushed_back
        )
