"""The pipeline side in Locust's own statistics (loadtest/locust_pipeline.py), as a user runs it.

GIVEN `make up` (the dev stack on the embedded AWS: warm pollers 5 → 10, the consumers' state posted, the
outputs with endpointUrl and ledgerDir) and Locust, both started from shells with no AWS_* variable
WHEN a headless run sends for a few seconds and waits for the drain
THEN its stats CSV has the entry "PIPELINE stored (sent → stored)" counting exactly the events it sent, its
_pipeline.csv the series down to an empty queue, and the stack's ledgerDir every accepted message
WHEN the web UI's /swarm starts the load and /stop ends it
THEN the Host field shows the queue, /stats/requests carries the stored entry (moving while the load runs,
exact once drained) and the Pipeline tab's rows; a queue URL typed as host is where the next swarm sends
WHEN make up gets Ctrl-C
THEN its ledger check finds every message Locust sent to the stack stored once.
"""

import csv
import json
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import boto3
import pytest

from loadtest.ledger import read_ledger
from loadtest.locust_pipeline import CSV_COLUMNS, REQUEST_TYPE, STORED
from tests.loadtest.make_up import LOCUST, REPO, bare_environment, free_port, make_up


@pytest.fixture(scope="module")
def up(tmp_path_factory):
    with make_up(tmp_path_factory.mktemp("up")) as running:
        yield running


@pytest.fixture
def stack(up):
    return up.outputs, up.outputs_file


def stats_rows(path: Path) -> dict[tuple[str, str], dict]:
    with open(path) as stats:
        return {(row["Type"], row["Name"]): row for row in csv.DictReader(stats)}


def test_a_headless_run_counts_every_event_it_sent_as_stored(stack, tmp_path):
    outputs, outputs_file = stack
    ledger_before = len(read_ledger(outputs["ledgerDir"]))

    run = subprocess.run(
        [
            LOCUST,
            *("-f", "loadtest/locustfile.py", "--stack-outputs", str(outputs_file), "--headless"),
            *("--shape", "constant", "-u", "2", "-r", "2", "-t", "3s", "--user-rate", "2"),
            *("--stop-timeout", "5", "--pipeline-drain-seconds", "30"),
            *("--csv", str(tmp_path / "run"), "--only-summary"),
        ],
        cwd=REPO,
        env=bare_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=90,
    )

    assert run.returncode == 0, run.stderr[-3000:]
    rows = stats_rows(tmp_path / "run_stats.csv")
    sends = int(rows[("SQS", "SendMessageBatch")]["Request Count"])
    stored = rows[(REQUEST_TYPE, STORED)]
    sent = len(read_ledger(outputs["ledgerDir"])) - ledger_before  # recorded in the stack's ledgerDir
    assert sends > 0 and int(rows[("SQS", "SendMessageBatch")]["Failure Count"]) == 0
    assert int(stored["Request Count"]) == sends * 10 == sent  # every event sent, stored once, counted once
    assert (int(stored["Failure Count"]), float(stored["Average Content Size"])) == (0, 0.0)
    assert 0 < float(stored["Min Response Time"]) <= float(stored["Median Response Time"])
    with open(tmp_path / "run_pipeline.csv") as series:
        samples = list(csv.DictReader(series))
    assert tuple(samples[0]) == CSV_COLUMNS
    last = samples[-1]
    assert (last["source"], last["stored_total"]) == ("emulator", str(sends * 10))
    assert (last["queue_visible"], last["queue_in_flight"], last["dlq_visible"]) == ("0", "0", "0")
    assert (last["consumers_floor"], last["consumers_maximum"]) == ("5", "10")  # dev: 5 → maxConcurrency
    assert sum(int(sample["stored"]) for sample in samples) == sends * 10


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=5) as answer:
        return answer.read()


def _post(url: str, form: dict) -> dict:
    data = urllib.parse.urlencode(form).encode()
    with urllib.request.urlopen(urllib.request.Request(url, data=data, method="POST"), timeout=5) as answer:
        return json.loads(answer.read())


def _entries(web: str) -> dict[tuple[str, str], dict]:
    report = json.loads(_get(f"{web}/stats/requests"))
    return {(entry["method"], entry["name"]): entry for entry in report["stats"]}


def _wait_for(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:  # bounded
        if found := condition():
            return found
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _count(entries: dict, key: tuple[str, str]) -> int:
    return entries[key]["num_requests"] if key in entries else 0


def test_the_web_ui_shows_the_pipeline_and_sends_where_the_host_field_says(stack, tmp_path):
    outputs, outputs_file = stack
    web = f"http://127.0.0.1:{free_port()}"
    with open(tmp_path / "locust.log", "wb") as log:
        locust = subprocess.Popen(
            [
                LOCUST,
                *(
                    "-f",
                    "loadtest/locustfile.py",
                    "--stack-outputs",
                    str(outputs_file),
                    "--shape",
                    "constant",
                ),
                *("--user-rate", "2", "--web-host", "127.0.0.1", "--web-port", web.rsplit(":", 1)[1]),
            ],
            cwd=REPO,
            env=bare_environment(tmp_path),
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        page = _wait_for(lambda: _answer(f"{web}/"), 30, "the web UI")
        assert f'"host": "{outputs["queueUrl"]}"' in page and '"missing_host_warning": false' in page
        assert '"extended_tabs": [{"key": "pipeline", "title": "Pipeline"}]' in page

        swarm = _post(f"{web}/swarm", {"user_count": "2", "spawn_rate": "2", "host": outputs["queueUrl"]})
        assert swarm["success"], swarm
        stored_key, sends_key = (REQUEST_TYPE, STORED), ("SQS", "SendMessageBatch")
        moving = _wait_for(
            lambda: _count(_entries(web), stored_key) >= 20 and _entries(web), 30, "stored events"
        )
        assert moving[stored_key]["num_failures"] == 0 and moving[stored_key]["median_response_time"] > 0
        assert _post(f"{web}/stop", {})["success"]

        # The pollers finish the backlog after the stop; the entry keeps counting until it has it all.
        def drained():
            entries = _entries(web)
            return entries if _count(entries, stored_key) == _count(entries, sends_key) * 10 else None

        final = _wait_for(drained, 30, "every event sent counted as stored")
        report = json.loads(_get(f"{web}/stats/requests"))
        (pipeline,) = report["extended_stats"]
        assert pipeline["key"] == "pipeline"
        assert set(pipeline["data"][0]) == {
            "time",
            "backlog",
            "in_flight",
            "consumers",
            "dlq",
            "oldest_age",
            "stored_per_s",
            "latency",
            "as_of",
        }
        assert pipeline["data"][0]["consumers"].endswith(" (5–10)")
        assert _get(f"{web}/pipeline/csv").decode().splitlines()[0] == ",".join(CSV_COLUMNS)

        # A queue URL typed in the Host field: the next swarm sends there, and never into the stack's ledger.
        ledger = len(read_ledger(outputs["ledgerDir"]))
        sqs = boto3.client("sqs", endpoint_url=outputs["endpointUrl"])
        assert _post(f"{web}/swarm", {"user_count": "1", "spawn_rate": "1", "host": outputs["dlqUrl"]})[
            "success"
        ]
        _wait_for(lambda: _depth(sqs, outputs["dlqUrl"]) > 0, 20, "messages in the queue typed as host")
        assert _post(f"{web}/stop", {})["success"]
        assert len(read_ledger(outputs["ledgerDir"])) == ledger
        assert final[sends_key]["num_failures"] == 0
    finally:
        locust.send_signal(signal.SIGINT)
        try:
            locust.wait(15)
        except subprocess.TimeoutExpired:
            locust.kill()
            locust.wait()


def _answer(url: str) -> str | None:
    try:
        return _get(url).decode()
    except OSError:
        return None


def _depth(sqs, queue_url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_at_ctrl_c_make_up_finds_every_message_sent_to_it_stored_once(up):
    sent = len(read_ledger(up.outputs["ledgerDir"]))  # what the runs above sent to the stack's queue

    printed = up.stop()

    assert f"[up] lost=0 pending=0 duplicated=0 in_dlq=0 stored={sent} accepted={sent}" in printed
    assert "[up] PASSED: no message lost, pending or stored twice" in printed
