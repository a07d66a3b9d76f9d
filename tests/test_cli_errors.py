"""Every command a user types fails clearly: one line naming the input, the value and the fix; exit 2 for a
usage error; no traceback; nothing asked of AWS before the input was checked.

GIVEN each entry point and a bad input (a flag, a variable, a stack outputs file, a stack name)
WHEN it runs
THEN stderr is exactly the expected line and the exit status is 2.

In-process rows call `main()` with every botocore API call turned into a test failure, so "validated before
any AWS call" is checked, not assumed. Subprocess rows run what a user types (`python -m`, `locust -f`,
`make`) with AWS_ENDPOINT_URL on a closed loopback port: a call there would end in a connection error, never
in the expected line.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import botocore.client
import pytest

from consumer import worker
from loadtest import produce
from loadtest.local.runs import bench, capacity, demo, drills, run_arguments, smoke
from ops import redrive, status

REPO = Path(__file__).resolve().parents[1]
AWS_QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/vehicle-events"
AWS_DLQ = "https://sqs.us-east-1.amazonaws.com/123456789012/vehicle-events-dlq"
EXPORT = "write it with `pulumi stack output --json > {file}` in the project's directory"
HELP = "(--help lists the options)"
STACKS = ", ".join(
    sorted(p.name.removeprefix("Pulumi.").removesuffix(".yaml") for p in REPO.glob("Pulumi.*.yaml"))
)

# The stack outputs files a row can name, as {name} in its arguments and its expected line.
FILES = {
    "outputs": {"queueUrl": AWS_QUEUE, "dlqUrl": AWS_DLQ, "tableName": "events", "region": "us-east-1"},
    "old_outputs": {"queueUrl": AWS_QUEUE, "tableName": "events"},  # exported before dlqUrl existed
    "dlq_only": {"dlqUrl": AWS_DLQ},
    "not_json": "Current stack outputs (2):\n    OUTPUT    VALUE\n    queueUrl  https://sqs…\n",
    "a_list": [],
    "plain_file": "not a directory",
}
NO_SUCH_FILE = "--stack-outputs {missing}: no such file; " + EXPORT.format(file="{missing}")
NO_STACK = "argument --stack: no stack 'nosuch': there is no Pulumi.nosuch.yaml; choose one of "
LOCAL_QUEUE = "http://127.0.0.1:4566/000000000000/events"
DRILL_NAMES = ", ".join(drills.DRILLS)
NO_QUEUE = (
    "no queue to send to: give --queue-url URL or --stack-outputs FILE (or set QUEUE_URL or STACK_OUTPUTS)"
)


def no_output(output: str, file: str) -> str:
    return (
        f"--stack-outputs {{{file}}}: no {output} output, which this command needs; export the stack's "
        f"outputs again with `pulumi stack output --json > {{{file}}}` (after `pulumi up` if the stack "
        "predates it)"
    )


def case(name: str, main, arguments: list[str], line: str, environment: dict | None = None):
    """One row: `main(arguments)` under `environment` prints `<prog>: line` on stderr and returns 2."""
    return pytest.param(main, arguments, environment or {}, line, id=name)


IN_PROCESS = [
    # python -m loadtest.produce
    case(
        "produce-negative-count",
        produce.main,
        ["--count", "-5", "--queue-url", AWS_QUEUE],
        f"argument --count: '-5' is not a whole number of at least 1 {HELP}",
    ),
    case(
        "produce-batch-size",
        produce.main,
        ["--batch-size", "11"],
        f"argument --batch-size: '11' is not a whole number from 1 to 10 {HELP}",
    ),
    case(
        "produce-poison-ratio",
        produce.main,
        ["--poison-ratio", "1.5"],
        f"argument --poison-ratio: '1.5' is not a number from 0 to 1 {HELP}",
    ),
    case(
        "produce-rate", produce.main, ["--rate", "0"], f"argument --rate: '0' is not a number above 0 {HELP}"
    ),
    case(
        "produce-no-queue",
        produce.main,
        [],
        NO_QUEUE,
    ),
    case("produce-missing-outputs", produce.main, ["--stack-outputs", "{missing}"], NO_SUCH_FILE),
    case("produce-outputs-from-variable", produce.main, [], NO_SUCH_FILE, {"STACK_OUTPUTS": "{missing}"}),
    case(
        "produce-outputs-not-json",
        produce.main,
        ["--stack-outputs", "{not_json}"],
        "--stack-outputs {not_json}: not JSON (Expecting value: line 1 column 1 (char 0)); "
        + EXPORT.format(file="{not_json}"),
    ),
    case(
        "produce-outputs-not-an-object",
        produce.main,
        ["--stack-outputs", "{a_list}"],
        "--stack-outputs {a_list}: not a JSON object of stack outputs; " + EXPORT.format(file="{a_list}"),
    ),
    case(
        "produce-outputs-without-queue",
        produce.main,
        ["--stack-outputs", "{dlq_only}"],
        no_output("queueUrl", "dlq_only"),
    ),
    case(
        "produce-not-a-queue-url",
        produce.main,
        ["--queue-url", "vehicle-events"],
        "--queue-url 'vehicle-events': not a queue URL; give one like "
        "https://sqs.us-east-1.amazonaws.com/123456789012/vehicle-events "
        "(the queueUrl of `pulumi stack output --json`)",
    ),
    case(
        "produce-local-queue-other-endpoint",
        produce.main,
        ["--queue-url", LOCAL_QUEUE],
        f"--queue-url {LOCAL_QUEUE} is on http://127.0.0.1:4566, but AWS_ENDPOINT_URL=http://127.0.0.1:9324: "
        "unset AWS_ENDPOINT_URL (the queue URL names its endpoint), or give a queue URL of "
        "http://127.0.0.1:9324",
        {"AWS_ENDPOINT_URL": "http://127.0.0.1:9324"},
    ),
    case(
        "produce-aws-queue-local-endpoint",
        produce.main,
        ["--queue-url", AWS_QUEUE],
        f"--queue-url {AWS_QUEUE} is a queue on AWS, but AWS_ENDPOINT_URL=http://127.0.0.1:4566 sends every "
        "call elsewhere: unset AWS_ENDPOINT_URL, or give the queue URL that endpoint returned",
        {"AWS_ENDPOINT_URL": "http://127.0.0.1:4566"},
    ),
    case(
        "produce-queue-in-another-region",
        produce.main,
        ["--queue-url", "https://sqs.eu-west-1.amazonaws.com/123456789012/events"],
        "--queue-url https://sqs.eu-west-1.amazonaws.com/123456789012/events is a queue in eu-west-1, but "
        "the configured region is us-east-1: set AWS_DEFAULT_REGION=eu-west-1, or unset it",
        {"AWS_DEFAULT_REGION": "us-east-1"},
    ),
    case(
        "produce-ledger-dir-is-a-file",
        produce.main,
        ["--queue-url", AWS_QUEUE, "--ledger-dir", "{plain_file}"],
        "--ledger-dir {plain_file}: is a file; give a directory (created if missing)",
    ),
    # python -m ops.status
    case("status-missing-outputs", status.main, ["e-1", "--stack-outputs", "{missing}"], NO_SUCH_FILE),
    case(
        "status-outputs-without-dlq",
        status.main,
        ["e-1", "--stack-outputs", "{old_outputs}"],
        no_output("dlqUrl", "old_outputs"),
    ),
    case(
        "status-no-outputs",
        status.main,
        ["e-1"],
        f"the following arguments are required: --stack-outputs {HELP}",
    ),
    case(
        "status-no-event",
        status.main,
        ["--stack-outputs", "{outputs}"],
        f"the following arguments are required: EVENT_ID {HELP}",
    ),
    case(
        "status-event-without-vehicle",
        status.main,
        ["e-1", "--stack-outputs", "{outputs}"],
        "EVENT_ID e-1 needs its vehicle: give VEHICLE_ID/e-1 or --vehicle VEHICLE_ID (the table is keyed by "
        "vehicle; a stack with eventIdIndex: true finds an event by its id alone)",
    ),
    # python -m ops.redrive
    case("redrive-missing-outputs", redrive.main, ["--stack-outputs", "{missing}", "peek"], NO_SUCH_FILE),
    case(
        "redrive-outputs-without-dlq",
        redrive.main,
        ["--stack-outputs", "{old_outputs}", "peek"],
        no_output("dlqUrl", "old_outputs"),
    ),
    case(
        "redrive-outputs-without-queue",
        redrive.main,
        ["--stack-outputs", "{dlq_only}", "redrive"],
        no_output("queueUrl", "dlq_only"),
    ),
    case(
        "redrive-no-dlq",
        redrive.main,
        ["peek"],
        "no DLQ given: pass --stack-outputs FILE or --dlq-url URL (or set DLQ_URL)",
    ),
    case(
        "redrive-no-source-queue",
        redrive.main,
        ["--dlq-url", AWS_DLQ, "redrive"],
        "redrive needs the source queue: pass --stack-outputs FILE or --queue-url URL",
    ),
    case(
        "redrive-no-command",
        redrive.main,
        ["--dlq-url", AWS_DLQ],
        "the following arguments are required: {{peek,redrive,purge}} " + HELP,
    ),
    case(
        "redrive-rate",
        redrive.main,
        ["--dlq-url", AWS_DLQ, "redrive", "--rate", "-1"],
        f"argument --rate: '-1' is not a number above 0 {HELP}",
    ),
    case(
        "redrive-queues-apart",
        redrive.main,
        ["--dlq-url", LOCAL_QUEUE, "--queue-url", AWS_QUEUE, "redrive"],
        f"--dlq-url {LOCAL_QUEUE} and --queue-url {AWS_QUEUE} are on different endpoints or regions: "
        "give two queues of the same stack",
    ),
    # python -m consumer.worker
    case(
        "worker-missing-outputs",
        worker.main,
        ["--stack-outputs", "{missing}"],
        "--stack-outputs {missing}: no such file; write it with `pulumi stack output --json > {missing}`",
    ),
    case(
        "worker-no-queue",
        worker.main,
        [],
        "no queue: set QUEUE_URL, or pass --stack-outputs FILE with a queueUrl",
    ),
    case(
        "worker-no-table",
        worker.main,
        [],
        "no table: set TABLE_NAME, or pass --stack-outputs FILE with a tableName",
        {"QUEUE_URL": AWS_QUEUE},
    ),
    case(
        "worker-wait-seconds",
        worker.main,
        [],
        "WORKER_WAIT_SECONDS='30': must be a whole number from 0 to 20; fix or unset it",
        {"QUEUE_URL": AWS_QUEUE, "TABLE_NAME": "events", "WORKER_WAIT_SECONDS": "30"},
    ),
    case(
        "worker-local-queue-without-endpoint",
        worker.main,
        [],
        f"queue URL {LOCAL_QUEUE} is on a local emulator, but AWS_ENDPOINT_URL is not set, so boto3 would "
        "call AWS: set AWS_ENDPOINT_URL=http://127.0.0.1:4566",
        {"QUEUE_URL": LOCAL_QUEUE, "TABLE_NAME": "events"},
    ),
    case("worker-unknown-flag", worker.main, ["--queue", "x"], f"unrecognized arguments: --queue x {HELP}"),
    # python -m loadtest.local.runs.demo (make demo, make chaos); the stacks: the repository's and "broken"
    case("demo-no-such-stack", demo.main, ["--stack", "nosuch"], f"{NO_STACK}broken, {STACKS}"),
    case(
        "demo-invalid-stack-file",
        demo.main,
        ["--stack", "broken"],
        "argument --stack: Pulumi.broken.yaml is invalid: vehicle-pipeline:batchSize = 'ten': must be an "
        "integer; fix the file",
    ),
    case(
        "demo-mode",
        demo.main,
        ["--mode", "fleet"],
        "argument --mode: invalid choice: 'fleet' (choose from 'lambda', 'worker')",
    ),
    case(
        "demo-faults",
        demo.main,
        ["--faults", "throttle=0.1"],
        "argument --faults: 'throttle=0.1': VEHICLE_PIPELINE_FAULTS: unknown fault 'throttle'; "
        "e.g. dynamodb_failure_ratio=0.01,overrun_ratio=0.01",
    ),
    case(
        "demo-poison-ratio",
        demo.main,
        ["--chaos", "--poison-ratio", "5"],
        f"argument --poison-ratio: '5' is not a number from 0 to 1 {HELP}",
    ),
    case(
        "demo-run-dir-is-a-file",
        demo.main,
        ["--run-dir", "{plain_file}"],
        "argument --run-dir: {plain_file} is a file; give a directory (created if missing)",
    ),
    # python -m loadtest.local.runs.capacity (make capacity)
    case("capacity-no-such-stack", capacity.main, ["--stack", "nosuch"], f"{NO_STACK}broken, {STACKS}"),
    case(
        "capacity-shares",
        capacity.main,
        ["--start-share", "0.8", "--max-share", "0.5"],
        "argument --max-share: 0.5 is below --start-share 0.8; raise it, or lower --start-share",
    ),
    case(
        "capacity-backlog",
        capacity.main,
        ["--backlog", "lots"],
        f"argument --backlog: 'lots' is not a whole number of at least 1 {HELP}",
    ),
    # python -m loadtest.local.runs.smoke (make smoke)
    case("smoke-no-such-stack", smoke.main, ["--stack", "nosuch"], f"{NO_STACK}broken, {STACKS}"),
    case(
        "smoke-count",
        smoke.main,
        ["--count", "0"],
        f"argument --count: '0' is not a whole number of at least 1 {HELP}",
    ),
    # python -m loadtest.local.runs.drills (make drills, make drill NAME=…)
    case(
        "drills-unknown",
        drills.main,
        ["outage", "flood"],
        f"unknown drill 'flood'; choose one of {DRILL_NAMES} (make drill NAME=…)",
    ),
    case(
        "drills-run-dir-is-a-file",
        drills.main,
        ["--run-dir", "{plain_file}"],
        "argument --run-dir: {plain_file} is a file; give a directory (created if missing)",
    ),
    # python -m loadtest.local.runs.bench (make bench)
    case("bench-takes-no-options", bench.main, ["--quick"], f"unrecognized arguments: --quick {HELP}"),
]

PROGS = {
    produce.main: "python -m loadtest.produce",
    status.main: "python -m ops.status",
    redrive.main: "python -m ops.redrive",
    worker.main: "python -m consumer.worker",
    demo.main: "python -m loadtest.local.runs.demo",
    capacity.main: "python -m loadtest.local.runs.capacity",
    smoke.main: "python -m loadtest.local.runs.smoke",
    drills.main: "python -m loadtest.local.runs.drills",
    bench.main: "python -m loadtest.local.runs.bench",
}

# Variables a row may set; each row starts with none of them (conftest's credentials and region stay).
INPUT_VARIABLES = (
    "QUEUE_URL",
    "STACK_OUTPUTS",
    "DLQ_URL",
    "TABLE_NAME",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_SQS",
)


@pytest.fixture
def files(tmp_path, monkeypatch) -> dict[str, str]:
    paths = {"missing": str(tmp_path / "missing-outputs.json")}
    for name, content in FILES.items():
        path = tmp_path / f"{name}.json"
        path.write_text(content if isinstance(content, str) else json.dumps(content))
        paths[name] = str(path)
    # A stack file with a bad value, beside copies of the real ones (the repository's are not touched).
    stacks = tmp_path / "stacks"
    stacks.mkdir()
    for stack in REPO.glob("Pulumi.*.yaml"):
        (stacks / stack.name).write_text(stack.read_text())
    (stacks / "Pulumi.broken.yaml").write_text("config:\n  vehicle-pipeline:batchSize: ten\n")
    monkeypatch.setattr(run_arguments, "STACKS_DIR", stacks)
    return paths


@pytest.fixture
def aws_calls(monkeypatch) -> list[str]:
    """Any botocore API call fails the test (an AssertionError is no AWS error: entry points re-raise it)."""
    calls: list[str] = []

    def refuse(client, operation_name, api_params):
        calls.append(operation_name)
        raise AssertionError(f"{operation_name} called before the input was checked")

    monkeypatch.setattr(botocore.client.BaseClient, "_make_api_call", refuse)
    return calls


@pytest.mark.parametrize(("main", "arguments", "environment", "line"), IN_PROCESS)
def test_bad_input_is_one_line_and_exit_2_before_any_aws_call(
    main, arguments, environment, line, files, aws_calls, monkeypatch, capsys
):
    for name in INPUT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value.format(**files))

    status_code = main([argument.format(**files) for argument in arguments])

    out, err = capsys.readouterr()
    assert (status_code, err, out) == (2, f"{PROGS[main]}: {line.format(**files)}\n", "")
    assert aws_calls == []


def _closed_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


NO_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": None,
    "AWS_SECRET_ACCESS_KEY": None,
    "AWS_SESSION_TOKEN": None,
    "AWS_SHARED_CREDENTIALS_FILE": "{missing}",
    "AWS_CONFIG_FILE": "{missing}",
    "AWS_EC2_METADATA_DISABLED": "true",  # never ask the instance metadata service
}
UNREACHABLE = 'Could not connect to the endpoint URL: "{endpoint}/"'
CONNECT_FIX = ": is the endpoint running, and is the URL right?"


@pytest.mark.parametrize(
    ("main", "arguments", "environment", "line"),
    [
        case(
            "produce-endpoint-down",
            produce.main,
            ["--queue-url", "{endpoint}/000000000000/events"],
            UNREACHABLE + CONNECT_FIX,
        ),
        case(
            "produce-no-credentials",
            produce.main,
            ["--queue-url", AWS_QUEUE],  # refused while signing: nothing is sent
            "Unable to locate credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY "
            "(any values for a local emulator)",
            {**NO_CREDENTIALS, "AWS_ENDPOINT_URL": None},
        ),
        # An emulator on this machine needs no credentials (cli/queue_endpoint.py): what fails is the call.
        case(
            "produce-no-credentials-local-emulator",
            produce.main,
            ["--queue-url", "{endpoint}/000000000000/events"],
            UNREACHABLE + CONNECT_FIX,
            NO_CREDENTIALS,
        ),
        case("worker-endpoint-down", worker.main, [], UNREACHABLE, {"QUEUE_URL": "{endpoint}/0/events"}),
    ],
)
def test_a_run_aws_refuses_is_one_line_and_exit_1(
    main, arguments, environment, line, monkeypatch, capsys, tmp_path
):
    names = {"endpoint": f"http://127.0.0.1:{_closed_loopback_port()}", "missing": str(tmp_path / "missing")}
    for name in INPUT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")  # a refused connection, not botocore's retries, is the point
    monkeypatch.setenv("AWS_ENDPOINT_URL", names["endpoint"])  # the worker reaches a local queue through it
    monkeypatch.setenv("TABLE_NAME", "events")
    for name, value in environment.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value.format(**names))

    status_code = main([argument.format(**names) for argument in arguments])

    assert (status_code, capsys.readouterr().err) == (1, f"{PROGS[main]}: {line.format(**names)}\n")


@pytest.fixture
def user_environment() -> dict[str, str]:
    """The test's environment, with every input variable unset and any AWS call aimed at a closed port."""
    env = {name: value for name, value in os.environ.items() if name not in INPUT_VARIABLES}
    return env | {"AWS_ENDPOINT_URL": f"http://127.0.0.1:{_closed_loopback_port()}"}


LOCUST = [
    str(Path(sys.executable).parent / "locust"),
    "-f",
    "loadtest/locustfile.py",
    "--headless",
    "-t",
    "2s",
]
LOCUSTFILE = "locust -f loadtest/locustfile.py"

# (command, the exact stderr lines); {endpoint} is the closed port's URL, {missing} a file that is not there.
SUBPROCESSES = [
    pytest.param(
        [sys.executable, "-m", "loadtest.produce", "--count", "-5"],
        [f"python -m loadtest.produce: argument --count: '-5' is not a whole number of at least 1 {HELP}"],
        id="produce",
    ),
    pytest.param(
        LOCUST,
        [f"{LOCUSTFILE}: {NO_QUEUE}"],
        id="locust-no-queue",
    ),
    pytest.param(
        [*LOCUST, "--stack-outputs", "{missing}"],
        [f"{LOCUSTFILE}: {NO_SUCH_FILE}"],
        id="locust-missing-outputs",
    ),
    pytest.param(
        [*LOCUST, "--queue-url", "{endpoint}/123456789012/events", "--batch-size", "25"],
        [f"{LOCUSTFILE}: --batch-size: '25' is not a whole number from 1 to 10"],
        id="locust-batch-size",
    ),
    pytest.param(
        [*LOCUST, "--queue-url", "{endpoint}/123456789012/events", "--user-rate", "-2"],
        [f"{LOCUSTFILE}: --user-rate: '-2.0' is not a number above 0"],
        id="locust-user-rate",
    ),
    pytest.param(
        [*LOCUST, "--queue-url", "{endpoint}/123456789012/events", "--poison-ratio", "2"],
        [f"{LOCUSTFILE}: --poison-ratio: '2.0' is not a number from 0 to 1"],
        id="locust-poison-ratio",
    ),
    pytest.param(
        [*LOCUST, "--queue-url", "http://127.0.0.1:9/123456789012/events"],
        [
            f"{LOCUSTFILE}: --queue-url http://127.0.0.1:9/123456789012/events is on http://127.0.0.1:9, but "
            "AWS_ENDPOINT_URL={endpoint}: unset AWS_ENDPOINT_URL (the queue URL names its endpoint), "
            "or give a queue URL of {endpoint}"
        ],
        id="locust-queue-elsewhere",
    ),
]


@pytest.mark.parametrize(("command", "lines"), SUBPROCESSES)
def test_what_a_user_types_fails_with_one_line(command, lines, user_environment, tmp_path):
    names = {"endpoint": user_environment["AWS_ENDPOINT_URL"], "missing": str(tmp_path / "missing.json")}

    run = subprocess.run(
        [part.format(**names) for part in command],
        cwd=REPO,
        env=user_environment,
        capture_output=True,
        text=True,
        timeout=60,
    )

    # Locust logs its banner before the locustfile's init listener runs; nothing else is on stderr.
    err = [
        line
        for line in run.stderr.splitlines()
        if not re.search(r"/INFO/locust\.main: Starting Locust", line)
    ]
    assert (run.returncode, err) == (2, [line.format(**names) for line in lines])


# (target, variables, the line before make's own, what the failing recipe line runs)
MAKE_TARGETS = [
    (
        "demo",
        ["STACK=nosuch"],
        f"python -m loadtest.local.runs.demo: {NO_STACK}{STACKS}",
        "$(PY) -m loadtest.local.runs.demo",
    ),
    (
        "demo",
        ["MODE=fleet"],
        "python -m loadtest.local.runs.demo: argument --mode: invalid choice: 'fleet' "
        "(choose from 'lambda', 'worker')",
        "$(PY) -m loadtest.local.runs.demo",
    ),
    (
        "chaos",
        ["STACK=nosuch"],
        f"python -m loadtest.local.runs.demo: {NO_STACK}{STACKS}",
        "$(PY) -m loadtest.local.runs.demo",
    ),
    (
        "capacity",
        ["STACK=nosuch"],
        f"python -m loadtest.local.runs.capacity: {NO_STACK}{STACKS}",
        "$(PY) -m loadtest.local.runs.capacity",
    ),
    (
        "smoke",
        ["STACK=nosuch"],
        f"python -m loadtest.local.runs.smoke: {NO_STACK}{STACKS}",
        "$(PY) -m loadtest.local.runs.smoke",
    ),
    (
        "drill",
        ["NAME=nosuch"],
        f"python -m loadtest.local.runs.drills: unknown drill 'nosuch'; choose one of {DRILL_NAMES} "
        "(make drill NAME=…)",
        "$(PY) -m loadtest.local.runs.drills",
    ),
    (
        "drill",
        [],
        "make drill: give NAME=<drill> (python -m loadtest.local.runs.drills --help lists them); "
        "make drills runs them all",
        "test -n",
    ),
]


def _recipe_line(target: str, runs: str) -> int:
    """The Makefile line of the target's recipe line that runs `runs`: make names it when it fails."""
    lines = (REPO / "Makefile").read_text().splitlines()
    start = next(n for n, line in enumerate(lines, 1) if line.startswith(f"{target}:"))
    return next(n for n, line in enumerate(lines[start:], start + 1) if runs in line)


@pytest.mark.parametrize(
    ("target", "variables", "line", "runs"),
    MAKE_TARGETS,
    ids=[" ".join(["make", row[0], *row[1]]) for row in MAKE_TARGETS],
)
def test_make_targets_fail_with_the_commands_line_then_makes_own(
    target, variables, line, runs, user_environment
):
    # -o: never rebuild the venv here, even when requirements.lock is newer than it. Under `make test` this
    # runs inside make: without make's variables the inner make is top-level, as a user's ("make:" not
    # "make[1]:").
    top_level = {k: v for k, v in user_environment.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS")}
    run = subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed", target, *variables],
        cwd=REPO,
        env=top_level,
        capture_output=True,
        text=True,
        timeout=60,
    )

    # make exits 2 whenever a recipe fails, and says which one after the command's own line.
    assert (run.returncode, run.stderr.splitlines()) == (
        2,
        [line, f"make: *** [Makefile:{_recipe_line(target, runs)}: {target}] Error 2"],
    )
