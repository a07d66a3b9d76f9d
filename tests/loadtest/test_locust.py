"""The Locust producer: shape math exact, and a short headless run against moto_server in a subprocess."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import boto3

from infra.resource_spec import StackSpec
from infra.settings import from_stack_file
from loadtest.ledger import read_ledger
from loadtest.local.emulator.embedded_aws import aws_environment, moto_server, provision
from loadtest.shapes import Stage, scale_stages, total_seconds, users_at

REPO = Path(__file__).resolve().parents[2]


def test_scale_shape_steps_out_holds_steps_in_and_idles():
    stages = scale_stages(peak_users=8, stage_seconds=10)
    assert [(s.duration_s, s.users) for s in stages] == [
        (10, 2),
        (10, 4),
        (10, 6),
        (10, 8),
        (20, 8),
        (10, 6),
        (10, 4),
        (10, 2),
        (10, 0),
    ]
    assert {s.spawn_rate for s in stages} == {8.0}
    assert total_seconds(stages) == 100
    assert users_at(stages, 0) == (2, 8.0)
    assert users_at(stages, 45) == (8, 8.0)
    assert users_at(stages, 99.9) == (0, 8.0)
    assert users_at(stages, 100) is None
    assert scale_stages(1, 5)[0] == Stage(5, 1, 1.0)


def run_locust(endpoint: str, *options: str) -> subprocess.CompletedProcess:
    """`locust -f loadtest/locustfile.py OPTIONS` against the moto_server at `endpoint`."""
    return subprocess.run(
        [str(Path(sys.executable).parent / "locust"), "-f", "loadtest/locustfile.py", *options],
        cwd=REPO,
        env={**os.environ, **aws_environment(endpoint)},
        capture_output=True,
        text=True,
        timeout=90,
    )


def test_headless_run_records_every_accepted_message_in_the_ledger(tmp_path):
    with moto_server() as endpoint:
        local = provision(StackSpec("dev", from_stack_file("dev")), endpoint)
        run = run_locust(
            endpoint,
            "--headless",
            "--shape",
            "constant",
            "-u",
            "2",
            "-r",
            "2",
            "-t",
            "4s",
            "--stop-timeout",
            "5",
            "--user-rate",
            "2",
            "--queue-url",
            local.queue_url,
            "--poison-ratio",
            "0.1",
            "--ledger-dir",
            str(tmp_path / "ledger"),
            "--csv",
            str(tmp_path / "locust"),
            "--only-summary",
        )
        assert run.returncode == 0, run.stderr[-2000:]
        sqs = boto3.client("sqs", **_client_args(endpoint))
        queued = sqs.get_queue_attributes(
            QueueUrl=local.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
        )

    ledger = read_ledger(tmp_path / "ledger")
    assert len(ledger) == int(queued["Attributes"]["ApproximateNumberOfMessages"]) > 0
    assert len({entry.message_id for entry in ledger}) == len(ledger)
    assert any(entry.poison for entry in ledger) and all(
        entry.event_id for entry in ledger if not entry.poison
    )
    with open(tmp_path / "locust_stats.csv") as stats:
        rows = {row["Name"]: row for row in csv.DictReader(stats)}
    assert int(rows["SendMessageBatch"]["Failure Count"]) == 0
    # The CSV is written when the run time ends; calls ending in the stop timeout still reach the ledger.
    assert 0 < int(rows["SendMessageBatch"]["Request Count"]) * 10 <= len(ledger)


def _client_args(endpoint: str) -> dict:
    env = aws_environment(endpoint)
    return {
        "endpoint_url": endpoint,
        "region_name": env["AWS_DEFAULT_REGION"],
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
    }


def test_scale_shape_honours_locusts_own_users_and_run_time(tmp_path):
    """-u sets the scale shape's peak and -t ends the run: Locust's options are read, not ignored."""
    with moto_server() as endpoint:
        local = provision(StackSpec("dev", from_stack_file("dev")), endpoint)
        run = run_locust(
            endpoint,
            *("--headless", "--shape", "scale", "-u", "8", "-t", "3s", "--stage-seconds", "60"),
            *("--user-rate", "1", "--queue-url", local.queue_url),
            *("--csv", str(tmp_path / "locust"), "--csv-full-history"),
        )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "will be ignored" not in run.stderr
    with open(tmp_path / "locust_stats_history.csv") as history:
        users = {int(row["User Count"]) for row in csv.DictReader(history)}
    # A 60 s first stage at a quarter of -u 8, ended by -t 3s long before the second stage.
    assert max(users) == 2
