"""The README's commands, run as a user runs them.

Every shell command in the README's fenced blocks that a local stack can serve runs here, against a stack
`make up` started, exactly as written but for the stack outputs path (the test's own) and VEHICLE_ID/EVENT_ID
(an event the test sent), from a shell with no AWS_* variable. The rest are named below with why they are not
run. A command the README gains is unclassified until this file says what it is: the test fails.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from infra.settings import PROJECT_ROOT
from tests.loadtest.make_up import make_up

README = (PROJECT_ROOT / "README.md").read_text()
OUTPUTS_PATHS = ("build/local/dev-outputs.json", "build/dev-outputs.json")
WEB_UI = "http://127.0.0.1:8089"

# What only AWS (or a run of its own) can serve, by how the command starts.
NOT_RUN = {
    "make test": "it is what runs this test",
    "make demo": "a run of its own, about three minutes (its own make target, not make test)",
    "make up": "started once for the others (the fixture below runs it as written)",
    "pulumi ": "needs the Pulumi engine and an AWS account",
    ".venv/bin/python -m loadtest.analysis.report --source cloudwatch": "reads a stack's CloudWatch metrics",
    ".venv/bin/locust -f loadtest/locustfile.py --stack-outputs build/dev-outputs.json --headless "
    "--shape scale --peak-users 50 --stage-seconds 60": "an AWS-sized shape: nine minutes",
}


def readme_commands() -> list[str]:
    """Each command of the README's bash blocks, continuation lines joined, comments dropped."""
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", README, flags=re.DOTALL):
        for line in re.sub(r"\\\n\s*", " ", block).splitlines():
            command = " ".join(line.split("  #", 1)[0].split())  # comments off, continuations joined
            if command and not command.startswith("#"):
                commands.append(command)
    return commands


def kind(command: str) -> str:
    if any(command.startswith(prefix) for prefix in NOT_RUN):
        return "not run"
    if command.startswith("export "):
        return "environment"
    if command.startswith(".venv/bin/locust") and "--headless" not in command:
        return "web UI"
    return "run"


COMMANDS = readme_commands()
RUN = [c for c in COMMANDS if kind(c) == "run"]
WEB = [c for c in COMMANDS if kind(c) == "web UI"]
EXPORTS = " && ".join(c for c in COMMANDS if kind(c) == "environment")


def test_every_command_of_the_readme_is_run_here_or_named_with_why():
    expected = {
        "run": 10,  # headless Locust, produce ×2, status, peek ×3, redrive, purge, the AWS CLI
        "web UI": 3,  # Locust's web UI, from the local and the AWS sections
        "environment": 1,  # the AWS CLI's credentials
        "not run": 12,
    }
    counts = {name: sum(kind(c) == name for c in COMMANDS) for name in expected}
    assert counts == expected, COMMANDS
    assert {c.split()[0] for c in RUN} <= {".venv/bin/locust", ".venv/bin/python", "aws"}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """`make up`, as the README runs it, with the outputs written where this test says."""
    folder = tmp_path_factory.mktemp("readme")
    with make_up(folder) as up:
        yield up.outputs_file, folder
        _until_drained(up.outputs_file, 60)  # what the last commands sent is stored before the verdict
        log = up.stop()
    assert "PASSED: no message lost, pending or stored twice" in log


def users_shell(home: Path) -> dict[str, str]:
    """A user's shell: no AWS_* variable (the README exports what the AWS CLI needs)."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_", "TABLE_"))}
    return {**environment, "HOME": str(home)}


def as_written(command: str, outputs: Path, event: str = "") -> str:
    """The command with the test's outputs path, and VEHICLE_ID/EVENT_ID an event the stack stored."""
    for path in OUTPUTS_PATHS:
        command = command.replace(path, str(outputs))
    return command.replace("VEHICLE_ID/EVENT_ID", event)


def shell(command: str, home: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", command],
        cwd=PROJECT_ROOT,
        env=users_shell(home),
        stdin=subprocess.DEVNULL,  # a script's: a command that asks gets no answer
        capture_output=True,
        text=True,
        timeout=120,
    )


def stored_event(outputs: Path) -> str:
    """VEHICLE_ID/EVENT_ID of an event the project's producers sent and the stack stored (the produce line
    ran first)."""
    ledger = Path(json.loads(outputs.read_text())["ledgerDir"])
    entries = [
        json.loads(line) for path in ledger.glob("ledger-*.jsonl") for line in path.read_text().splitlines()
    ]
    return next(f"{entry['vehicleId']}/{entry['eventId']}" for entry in entries if not entry["poison"])


def expected(command: str) -> tuple[int, str]:
    """The exit status and a piece of output that says the command did its job."""
    if "locust" in command:
        return 0, "stored (sent → stored)"
    if "loadtest.produce" in command:
        return 0, "accepted=100 failed=0"
    if "ops.status" in command:
        return 0, ": STORED {"
    if " peek" in command:
        return 0, '"total":'
    if " redrive --rate" in command:
        return 1, "not done: no answer; pass redrive --yes to redrive without asking"
    if " purge" in command:
        return 1, "not done: no answer; pass purge --yes to purge without asking"
    if command.startswith("aws "):
        return 0, '"QueueArn": "arn:aws:sqs:us-east-1:123456789012:vehicle-pipeline-dev-events"'
    raise AssertionError(f"no expectation for {command!r}")


def order(command: str) -> int:
    """Producers first, so that the commands that look for an event find one."""
    return 0 if "loadtest.produce" in command else 1


@pytest.mark.parametrize("command", sorted(RUN, key=order), ids=lambda c: c[:90])
def test_the_readme_command_works_against_a_local_stack(stack, command):
    outputs, home = stack
    line = as_written(command, outputs, stored_event(outputs) if "VEHICLE_ID/EVENT_ID" in command else "")
    if line.startswith("aws "):
        line = f"{EXPORTS} && {line}"

    done = shell(line, home)

    status, evidence = expected(command)
    assert done.returncode == status, done.stdout + done.stderr
    assert evidence in done.stdout + done.stderr


@pytest.mark.parametrize("command", WEB, ids=lambda c: c[:90])
def test_the_readme_web_ui_shows_the_pipeline_once_a_swarm_starts(stack, command):
    outputs, home = stack
    locust = subprocess.Popen(
        ["bash", "-c", f"exec {as_written(command, outputs)}"],
        cwd=PROJECT_ROOT,
        env=users_shell(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert _answers(f"{WEB_UI}/", 60), "the web UI never answered"
        form = b"user_count=2&spawn_rate=2"
        urllib.request.urlopen(urllib.request.Request(f"{WEB_UI}/swarm", data=form), timeout=10).close()
        stored = _until_stored(60)
    finally:
        locust.send_signal(signal.SIGINT)
        locust.wait(20)

    assert stored["num_requests"] > 0 and stored["method"] == "PIPELINE"


def _answers(url: str, within_s: float) -> bool:
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return True
        except OSError:
            time.sleep(0.5)
    return False


def _until_stored(within_s: float) -> dict:
    """The pipeline's stored entry in /stats/requests, once it counts something."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{WEB_UI}/stats/requests", timeout=5) as answer:
            stats = json.loads(answer.read())["stats"]
        entry = next((s for s in stats if s["name"] == "stored (sent → stored)"), None)
        if entry and entry["num_requests"] > 0:
            return entry
        time.sleep(1)
    raise AssertionError(f"no stored event in /stats/requests within {within_s} s: {stats}")


def _until_drained(outputs: Path, within_s: float) -> None:
    import boto3

    stack = json.loads(outputs.read_text())
    sqs = boto3.client(
        "sqs",
        endpoint_url=stack["endpointUrl"],
        region_name=stack["region"],
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        attributes = sqs.get_queue_attributes(QueueUrl=stack["queueUrl"], AttributeNames=["All"])[
            "Attributes"
        ]
        if (
            attributes["ApproximateNumberOfMessages"]
            == attributes["ApproximateNumberOfMessagesNotVisible"]
            == "0"
        ):
            return
        time.sleep(1)
