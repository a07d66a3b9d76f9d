"""The pack served for real: started the way the Pulumi CLI starts a Python pack, asked over gRPC.

The CLI's analyzer shim runs `python -u -m pulumi.policy <engine address> <pack folder>` in the pack's
virtualenv (pulumi's pulumi-analyzer-policy-python); `PolicyPack` then serves the analyzer on a free local
port and prints it. Here the same command runs as a child process (this venv holds the pack's pinned
requirements), and the engine's side is an AnalyzerStub on that port: what it answers is what the in-process
runner of the other tests answers, so they stand for the CLI too.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator

import grpc
import pytest
from google.protobuf import empty_pb2
from pulumi.runtime.proto import analyzer_pb2_grpc

from tests.policy.crossguard import PACK, recorded_pack, run_pack, stack_config
from tests.policy.engine_shape import REMOVED, mocked_stack

START_TIMEOUT_SECONDS = 60  # importing pulumi and grpc in a cold interpreter takes a few seconds here
UNUSED_ENGINE_ADDRESS = "127.0.0.1:0"  # the pack never calls the engine back


@pytest.fixture(scope="module")
def served_pack() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    process = subprocess.Popen(
        [sys.executable, "-u", "-m", "pulumi.policy", UNUSED_ENGINE_ADDRESS, str(PACK)],
        cwd=PACK,  # so nothing of the repository is on its sys.path, as on a deployer's machine
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(START_TIMEOUT_SECONDS, process.kill)  # a pack that never prints its port
    watchdog.start()
    try:
        port = process.stdout.readline().strip()
        watchdog.cancel()
        assert port.isdigit(), f"the pack printed {port!r} for its port; stderr: {process.stderr.read()}"
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            yield analyzer_pb2_grpc.AnalyzerStub(channel)
    finally:
        watchdog.cancel()
        process.terminate()
        process.wait(timeout=10)


def test_the_served_pack_describes_the_policies_at_their_prod_levels(served_pack):
    info = served_pack.GetAnalyzerInfo(empty_pb2.Empty(), timeout=30)

    assert (info.name, info.supportsConfig) == ("vehicle-pipeline", True)
    assert [policy.name for policy in info.policies] == [policy.name for policy in recorded_pack().policies]


def test_the_served_pack_judges_a_stack_as_the_in_process_runner_does(served_pack):
    # GIVEN prod with a DLQ of the other type and a mapping without ReportBatchItemFailures
    broken = (
        mocked_stack("prod")
        .changed("events-dlq", fifoQueue=True)
        .changed("consumer-event-source", functionResponseTypes=REMOVED)
    )

    # WHEN the served pack and the in-process analyzer judge it at prod's levels
    served = run_pack(broken, stack_config("prod"), analyzer=served_pack)

    # THEN they agree, and both find the two breakages
    assert served == run_pack(broken, stack_config("prod"))
    assert [(v.policy, v.level, v.resource) for v in served] == [
        ("sqs-mapping-reports-batch-item-failures", "mandatory", "consumer-event-source"),
        ("sqs-dead-letter-queue", "mandatory", "events-dlq"),
    ]
