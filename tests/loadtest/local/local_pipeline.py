"""Helpers the local-pipeline tests share: a stack on the embedded AWS through the runs' own session, waiting,
sending."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

from infra.settings import StackSettings
from loadtest.local.emulator.embedded_aws import LocalStack
from loadtest.local.runs.session import LocalSession


@contextlib.contextmanager
def local_stack(
    name: str, settings: StackSettings, run_dir: Path
) -> Iterator[tuple[LocalStack, LocalSession]]:
    """moto_server with the stack provisioned, as every run starts it; boto3 in this process points at it
    until the block ends. Yields (stack, session): `session.consumers(...)` starts what consumes it, and
    everything is stopped with the session."""
    with LocalSession(f"test-{name}", run_dir) as session:
        yield session.start_stack(name, settings), session


def wait_until(condition, timeout_s: float, what: str, state=None) -> None:
    """Bounded wait; on timeout the message says what `state()` (when given) last read."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}" + (f": {state()}" if state else ""))


def send(sqs, queue_url: str, bodies: list[str]) -> None:
    for start in range(0, len(bodies), 10):
        entries = [{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + 10])]
        sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
