"""The smoke run drives the whole local pipeline: moto_server, provisioning, the real handler, the ledger."""

import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[4]


def test_smoke_run_stores_every_valid_event_and_routes_the_invalid_one():
    # A child process, as `make smoke` runs it: the run points boto3 at its own moto_server.
    child = subprocess.run(
        [sys.executable, "-m", "loadtest.local.runs.smoke", "--stack", "dev", "--count", "12"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr
    lines = [line for line in child.stdout.splitlines() if line.startswith("[smoke]")]
    assert lines[1] == "[smoke] sent 13 messages (12 valid events + 1 invalid body)"
    assert re.fullmatch(
        r"\[smoke\] \d+ invocations; lost=0 pending=0 duplicated=0 in_dlq=1 stored=12 accepted=13", lines[2]
    )
    assert lines[3] == "[smoke] PASSED: no message lost, pending or stored twice"
