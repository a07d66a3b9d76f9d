"""Helpers the local-pipeline tests share: a stack on moto_server, waiting, sending."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

from infra.resource_spec import StackSpec
from infra.settings import StackSettings
from loadtest.local.emulator.embedded_aws import LocalStack, aws_environment, moto_server, provision


@contextlib.contextmanager
def local_stack(name: str, settings: StackSettings, monkeypatch) -> Iterator[tuple[LocalStack, dict]]:
    """moto_server with the stack provisioned; boto3 in this process points at it. Yields (stack, env)."""
    with moto_server() as endpoint:
        environment = aws_environment(endpoint)
        for key, value in environment.items():
            monkeypatch.setenv(key, value)
        yield provision(StackSpec(name, settings), endpoint), environment


def wait_until(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def send(sqs, queue_url: str, bodies: list[str]) -> None:
    for start in range(0, len(bodies), 10):
        entries = [{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + 10])]
        sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
