"""Standalone long-polling worker: the Lambda handler's record logic and store, outside Lambda.

    QUEUE_URL=… TABLE_NAME=… [DLQ_URL=…] python -m consumer.worker
    python -m consumer.worker --stack-outputs build/dev-outputs.json     # `pulumi stack output --json`

Seeds 000 and 002 consume from EC2 this way; the worker fleet (`workerFleet`) runs it as a systemd service.

It long-polls the queue (up to 20 s, up to 10 messages), hands each batch to the same `StoringBatchProcessor`
and `record_handler` the Lambda function uses (as the same Lambda-shaped SQS event), and deletes only what
succeeded, in one DeleteMessageBatch. While a batch runs longer than half the visibility timeout, a heartbeat
extends it, so a slow batch is never handed to a second worker. Counters are logged after every batch and,
with WORKER_STATS_FILE, written there as JSON. SIGTERM or SIGINT (systemd stop, Auto Scaling scale-in) stops
receiving; the batch in hand is finished and deleted, then the process exits 0; an idle worker waiting in a
long poll leaves it at once instead of waiting out its 20 s. Anything killed harder comes back after the
visibility timeout, as with Lambda. Everything the worker and the handler need (consumer/configuration.py:
the table, the DLQ, the metrics namespace and service name, defaulted when unset) is checked before the
first receive: a bad flag, variable or outputs file exits 2 with one line naming it; AWS refusing the
worker (no such queue, no credentials) exits 1 with AWS's reason.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import signal
import sys
import threading
import urllib.parse
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from consumer.configuration import ConfigurationError, ConsumerConfiguration
from consumer.sqs_event import RECEIVE_ALL_ATTRIBUTES, delete_messages, lambda_sqs_event

SQS_MAX_WAIT_SECONDS = 20
SQS_MAX_MESSAGES = 10
SQS_MAX_VISIBILITY_SECONDS = 43_200
PROG = "python -m consumer.worker"


@dataclasses.dataclass(frozen=True)
class WorkerConfig:
    queue_url: str
    region: str
    queue_arn: str = ""  # looked up when empty (the records carry it, as Lambda's do)
    wait_seconds: int = SQS_MAX_WAIT_SECONDS
    max_messages: int = SQS_MAX_MESSAGES
    visibility_timeout_seconds: int = 0  # 0: the queue's own, read at start
    stats_file: str = ""

    @classmethod
    def from_environment(cls, env: dict[str, str], outputs: dict[str, Any] | None = None) -> WorkerConfig:
        """Environment first (systemd unit, local fleet), then the stack outputs (seed 003's config file)."""
        outputs = outputs or {}
        queue_url = env.get("QUEUE_URL") or outputs.get("queueUrl")
        if not queue_url:
            raise WorkerInputError("no queue: set QUEUE_URL, or pass --stack-outputs FILE with a queueUrl")
        if not (env.get("TABLE_NAME") or outputs.get("tableName")):
            raise WorkerInputError("no table: set TABLE_NAME, or pass --stack-outputs FILE with a tableName")
        _check_queue_url(queue_url, env)
        return cls(
            queue_url=queue_url,
            region=env.get("AWS_REGION")
            or env.get("AWS_DEFAULT_REGION")
            or outputs.get("region", "us-east-1"),
            queue_arn=env.get("QUEUE_ARN") or outputs.get("queueArn", ""),
            wait_seconds=_whole_number(
                env, "WORKER_WAIT_SECONDS", SQS_MAX_WAIT_SECONDS, 0, SQS_MAX_WAIT_SECONDS
            ),
            max_messages=_whole_number(env, "WORKER_MAX_MESSAGES", SQS_MAX_MESSAGES, 1, SQS_MAX_MESSAGES),
            visibility_timeout_seconds=_whole_number(
                env, "WORKER_VISIBILITY_TIMEOUT_SECONDS", 0, 0, SQS_MAX_VISIBILITY_SECONDS
            ),
            stats_file=env.get("WORKER_STATS_FILE", ""),
        )


class WorkerInputError(ValueError):
    """A bad flag, variable or file the worker was started with: one line naming it and the fix, exit 2."""


def _whole_number(env: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    text = env.get(name, "")
    if not text:
        return default
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise WorkerInputError(
            f"{name}={text!r}: must be a whole number from {low} to {high}; fix or unset it"
        )
    return value


def _check_queue_url(queue_url: str, env: dict[str, str]) -> None:
    """A queue URL boto3 cannot reach as given: not a URL, or a local emulator's without its endpoint.
    (The worker runs deployed with only the standard library and boto3: these are its own small checks.)"""
    parts = urllib.parse.urlsplit(queue_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WorkerInputError(
            f"queue URL {queue_url!r}: not a URL; give the queueUrl of `pulumi stack output --json`"
        )
    local = parts.hostname == "localhost" or parts.hostname.startswith("127.")
    if local and not (env.get("AWS_ENDPOINT_URL") or env.get("AWS_ENDPOINT_URL_SQS")):
        raise WorkerInputError(
            f"queue URL {queue_url} is on a local emulator, but AWS_ENDPOINT_URL is not set, so boto3 would "
            f"call AWS: set AWS_ENDPOINT_URL={parts.scheme}://{parts.netloc}"
        )


def _read_outputs(path: Path) -> dict[str, Any]:
    export = f"write it with `pulumi stack output --json > {path}`"
    try:
        outputs = json.loads(path.read_text())
    except FileNotFoundError:
        raise WorkerInputError(f"--stack-outputs {path}: no such file; {export}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WorkerInputError(
            f"--stack-outputs {path}: not a readable JSON file ({error}); {export}"
        ) from None
    if not isinstance(outputs, dict):
        raise WorkerInputError(f"--stack-outputs {path}: not a JSON object of stack outputs; {export}")
    return outputs


class _OneLineParser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise WorkerInputError(f"{message} (--help lists the options)")


@contextlib.contextmanager
def visibility_heartbeat(sqs, queue_url: str, messages: list[dict], timeout_s: int) -> Iterator[Counter]:
    """Every half visibility timeout, give the batch a fresh timeout until the block ends."""
    beats: Counter = Counter()
    done = threading.Event()

    def beat() -> None:
        while not done.wait(timeout_s / 2):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": timeout_s}
                for i, m in enumerate(messages)
            ]
            sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=entries)
            beats["visibility_extensions"] += 1

    thread = threading.Thread(target=beat, name="visibility-heartbeat", daemon=True)
    thread.start()
    try:
        yield beats
    finally:
        done.set()
        thread.join()


class Worker:
    def __init__(self, config: WorkerConfig, sqs: Any = None, process_batch=None):
        import boto3

        self.config = config
        self.sqs = sqs or boto3.client("sqs", region_name=config.region)
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=config.queue_url, AttributeNames=["QueueArn", "VisibilityTimeout"]
        )["Attributes"]
        self.queue_arn = config.queue_arn or attributes["QueueArn"]
        self.visibility_timeout = config.visibility_timeout_seconds or int(attributes["VisibilityTimeout"])
        self._process_batch = process_batch or _handler_batch
        self.counters: Counter = Counter()

    def run(
        self,
        stop: threading.Event,
        polling: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
    ) -> None:
        """Receive and process until `stop` is set; the batch in hand is always finished. `polling` wraps
        each receive (GracefulStop.polling: a stop signal during it abandons the poll)."""
        while not stop.is_set():
            try:
                with polling():
                    messages = self.sqs.receive_message(
                        QueueUrl=self.config.queue_url,
                        MaxNumberOfMessages=self.config.max_messages,
                        WaitTimeSeconds=self.config.wait_seconds,
                        **RECEIVE_ALL_ATTRIBUTES,
                    ).get("Messages", [])
            except PollAbandoned:
                return
            if messages:
                self.handle(messages)

    def handle(self, messages: list[dict]) -> None:
        event = lambda_sqs_event(messages, self.queue_arn, self.config.region)
        with visibility_heartbeat(
            self.sqs, self.config.queue_url, messages, self.visibility_timeout
        ) as beats:
            try:
                failed_ids, outcome = self._process_batch(event)
            except Exception as error:  # nothing is deleted: the whole batch comes back, as with Lambda
                print(json.dumps({"message": "batch failed as a whole", "error": repr(error)}), flush=True)
                failed_ids, outcome = {m["MessageId"] for m in messages}, {}
        done = [m for m in messages if m["MessageId"] not in failed_ids]
        delete_messages(self.sqs, self.config.queue_url, done)
        self.counters.update(
            {
                "batches": 1,
                "received": len(messages),
                "deleted": len(done),
                "failed": len(messages) - len(done),
            }
        )
        self.counters.update(outcome)
        self.counters.update(beats)
        self._report()

    def _report(self) -> None:
        line = json.dumps({"message": "worker stats", "pid": os.getpid(), **self.counters})
        print(line, flush=True)
        if self.config.stats_file:
            path = Path(self.config.stats_file)
            path.with_suffix(".tmp").write_text(json.dumps(dict(self.counters)))
            path.with_suffix(".tmp").replace(path)  # atomic: a reader never sees half a file


class PollAbandoned(BaseException):
    """Raised by the stop signal's handler inside an empty long poll: nothing is in hand yet, so the worker
    leaves now. (A BaseException, so no `except Exception` in botocore's retry path swallows it.)"""


class GracefulStop:
    """SIGTERM and SIGINT: stop receiving and finish the batch in hand, but never wait out a long poll.

    If the signal lands in the instant a poll returns messages, they stay invisible until their visibility
    timeout ends and are delivered again, as from a worker that was killed: nothing is lost."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self._polling = False

    def install(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._on_signal)

    def _on_signal(self, *_) -> None:
        self.requested.set()
        if self._polling:
            raise PollAbandoned()

    @contextlib.contextmanager
    def polling(self) -> Iterator[None]:
        self._polling = True
        try:
            yield
        finally:
            self._polling = False


def _handler_batch(event: dict) -> tuple[set[str], dict]:
    """The Lambda handler's batch work, without the Lambda-only decorators (it flushes its own metrics)."""
    from consumer import handler

    response = handler.handle_batch(event)
    failed = {failure["itemIdentifier"] for failure in response["batchItemFailures"]}
    return failed, handler.processor.outcome.totals()


def main(argv: Sequence[str] | None = None) -> int:
    """Exit 2 for a bad input and 1 when AWS refuses the worker, each as one line on stderr."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return _run(argv)
    except WorkerInputError as error:
        print(f"{PROG}: {error}", file=sys.stderr, flush=True)
        return 2
    except (BotoCoreError, ClientError) as error:
        print(f"{PROG}: {' '.join(str(error).split())}", file=sys.stderr, flush=True)
        return 1


def _run(argv: Sequence[str] | None) -> int:
    parser = _OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack-outputs", type=Path, help="JSON of `pulumi stack output --json`")
    args = parser.parse_args(argv)
    outputs = _read_outputs(args.stack_outputs) if args.stack_outputs else {}
    config = WorkerConfig.from_environment(dict(os.environ), outputs)
    # The handler reads these at import (the first batch); the stack outputs fill in what is unset, and
    # the handler's own check runs now, so a bad value stops the worker before it receives anything.
    os.environ.setdefault("TABLE_NAME", outputs.get("tableName", ""))
    if outputs.get("dlqUrl"):
        os.environ.setdefault("DLQ_URL", outputs["dlqUrl"])
    os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")  # no X-Ray daemon on a plain instance
    try:
        ConsumerConfiguration.from_environment().export()
    except ConfigurationError as error:
        raise WorkerInputError(str(error)) from None
    stop = GracefulStop()
    stop.install()
    worker = Worker(config)  # the first AWS call: a refusal ends the run here, before anything is changed
    print(
        json.dumps({"message": "worker started", "queueUrl": config.queue_url, "pid": os.getpid()}),
        flush=True,
    )
    worker.run(stop.requested, stop.polling)
    print(json.dumps({"message": "worker stopped", **worker.counters}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
