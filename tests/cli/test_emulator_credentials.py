"""A local stack needs no credentials step (cli/queue_endpoint.py), as a user's shell runs the commands.

GIVEN the embedded AWS with the dev stack, its outputs written as `make up` writes them
WHEN `python -m loadtest.produce` and `python -m ops.status` run as child processes whose environment has no
AWS_* variable at all (and a HOME without ~/.aws)
THEN they send, record and read as with credentials: no NoCredentialsError, no setup step. A local stack's
`ledgerDir` output is where produce records when no --ledger-dir is given.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

from infra.resource_spec import StackSpec
from infra.settings import StackSettings
from loadtest.ledger import read_ledger
from loadtest.local.emulator.embedded_aws import moto_server, provision

REPO = Path(__file__).resolve().parents[2]


def run_bare(tmp_path: Path, *command: str) -> subprocess.CompletedProcess:
    """`python -m …` with no AWS_* variable and a HOME of its own, as a fresh shell on a new machine."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    environment["HOME"] = str(tmp_path / "home")
    return subprocess.run(
        [sys.executable, "-m", *command],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_produce_and_status_reach_a_local_stack_without_credentials(tmp_path):
    with moto_server() as endpoint:
        local = provision(StackSpec("dev", StackSettings()), endpoint)
        stack_ledger = tmp_path / "stack-ledger"
        outputs = tmp_path / "dev-outputs.json"
        outputs.write_text(
            json.dumps({**local.outputs(), "endpointUrl": endpoint, "ledgerDir": str(stack_ledger)})
        )

        sent = run_bare(tmp_path, "loadtest.produce", "--stack-outputs", str(outputs), "--count", "12")
        ledger = read_ledger(stack_ledger)
        asked = f"{ledger[0].vehicle_id}/{ledger[0].event_id}"  # VEHICLE_ID/EVENT_ID: the table's key
        status = run_bare(tmp_path, "ops.status", asked, "--stack-outputs", str(outputs))

    assert sent.returncode == 0, sent.stderr
    assert "sent=12 accepted=12 failed=0" in sent.stdout
    assert sent.stdout.rstrip().endswith(f"recorded in {stack_ledger}")
    assert len(ledger) == 12  # the local stack's ledgerDir, as no --ledger-dir was given
    # Nothing consumes this stack: the event waits in the queue, and status says so (exit 1: not stored).
    assert (status.returncode, status.stdout.split()[1], status.stderr) == (1, "PENDING", "")


def test_a_ledger_dir_given_wins_and_another_queue_never_records_in_the_stacks(tmp_path):
    with moto_server() as endpoint:
        local = provision(StackSpec("dev", StackSettings()), endpoint)
        outputs = tmp_path / "dev-outputs.json"
        outputs.write_text(json.dumps({**local.outputs(), "ledgerDir": str(tmp_path / "stack-ledger")}))

        given = run_bare(
            tmp_path,
            *("loadtest.produce", "--stack-outputs", str(outputs), "--count", "3"),
            *("--ledger-dir", str(tmp_path / "mine")),
        )
        elsewhere = run_bare(
            tmp_path,
            *("loadtest.produce", "--stack-outputs", str(outputs), "--count", "2"),
            *("--queue-url", local.dlq_url),  # not the stack's queue: its ledger would count these as lost
        )

    assert (given.returncode, elsewhere.returncode) == (0, 0), given.stderr + elsewhere.stderr
    assert (len(read_ledger(tmp_path / "mine")), read_ledger(tmp_path / "stack-ledger")) == (3, [])
    assert "recorded in" not in elsewhere.stdout
