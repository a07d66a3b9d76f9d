"""The embedded AWS: moto_server in its own process on 127.0.0.1, and the stack's queues and table in it.

moto runs as a separate process: a threaded moto_server started inside a Locust process, before gevent's
monkey-patching, deadlocks.
`provision` creates the same queues, DLQ, redrive policy and table the Pulumi program declares, from the
same `StackSpec`, so the local run exercises the stack's real settings.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from infra.resource_spec import StackSpec
from infra.settings import PROJECT_ROOT
from loadtest.local.child_process import popen_options

LOCAL_REGION = "us-east-1"
STOP_TIMEOUT_S = 3  # moto_server stops at once on SIGTERM; a run's whole stop must fit in 10 s
# moto accepts any credentials; these only keep boto3 from looking for real ones.
LOCAL_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def _free_loopback_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def aws_environment(endpoint_url: str, region: str = LOCAL_REGION) -> dict[str, str]:
    """Environment variables that point boto3 (and so every child process) at the local endpoint."""
    return {
        **LOCAL_CREDENTIALS,
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_DEFAULT_REGION": region,
        "AWS_REGION": region,
    }


@contextlib.contextmanager
def moto_server_process(
    log_path: Path | None = None, start_timeout: float = 30.0
) -> Iterator[tuple[str, int]]:
    """Start moto_server on a free loopback port, yield (its URL, its pid), and always stop it."""
    port = _free_loopback_port()
    log = open(log_path, "wb") if log_path else subprocess.DEVNULL  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        # moto_server with SQS made to behave (and scale) as SQS does (loadtest/local/emulator/__main__.py).
        [sys.executable, "-m", "loadtest.local.emulator", "-H", "127.0.0.1", "-p", str(port)],
        cwd=PROJECT_ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, **LOCAL_CREDENTIALS},
        **popen_options(),  # out of the terminal's Ctrl-C; never outlives the run
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_answering(url, process, start_timeout)
        yield url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if log_path:
            log.close()


@contextlib.contextmanager
def moto_server(log_path: Path | None = None, start_timeout: float = 30.0) -> Iterator[str]:
    """Start moto_server on a free loopback port, yield its URL, and always stop it."""
    with moto_server_process(log_path, start_timeout) as (url, _pid):
        yield url


def _wait_until_answering(url: str, process: subprocess.Popen, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited with code {process.returncode} before answering")
        try:
            with urllib.request.urlopen(f"{url}/moto-api/data.json", timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"moto_server did not answer at {url} within {timeout} s")


@dataclasses.dataclass(frozen=True)
class LocalStack:
    """What `pulumi stack output --json` gives on AWS, for the local stack (same output names)."""

    queue_url: str
    queue_arn: str
    dlq_url: str
    dlq_arn: str
    table_name: str
    function_name: str
    region: str

    def outputs(self) -> dict[str, str]:
        return {
            "queueUrl": self.queue_url,
            "queueArn": self.queue_arn,
            "dlqUrl": self.dlq_url,
            "tableName": self.table_name,
            "functionName": self.function_name,
            "region": self.region,
        }

    def write_outputs(self, path: Path) -> Path:
        path.write_text(json.dumps(self.outputs(), indent=2))
        return path


def provision(spec: StackSpec, endpoint_url: str, region: str = LOCAL_REGION) -> LocalStack:
    """Create the stack's DLQ, queue (with redrive to the DLQ) and table in the local endpoint."""
    import boto3

    session = boto3.session.Session(
        region_name=region, aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    sqs = session.client("sqs", endpoint_url=endpoint_url)
    dlq_url = sqs.create_queue(
        QueueName=spec.dead_letter_queue.name, Attributes=spec.dead_letter_queue.sqs_attributes()
    )["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    queue_url = sqs.create_queue(QueueName=spec.queue.name, Attributes=spec.queue.sqs_attributes(dlq_arn))[
        "QueueUrl"
    ]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    dynamodb = session.client("dynamodb", endpoint_url=endpoint_url)
    dynamodb.create_table(**spec.dynamodb_create_table_args())
    dynamodb.get_waiter("table_exists").wait(TableName=spec.table_name, WaiterConfig={"Delay": 0.1})
    return LocalStack(
        queue_url=queue_url,
        queue_arn=queue_arn,
        dlq_url=dlq_url,
        dlq_arn=dlq_arn,
        table_name=spec.table_name,
        function_name=spec.function_name,
        region=region,
    )
