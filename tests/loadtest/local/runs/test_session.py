"""The session that owns a local run's life, proven on the commands a user runs: `make up` stopped with
Ctrl-C, and two runs sharing one run directory.

GIVEN `make up` started as the README shows it (a process group of its own, as a terminal's job is)
WHEN Ctrl-C reaches the whole group, as a terminal sends it
THEN it stops within 10 s, says what it stopped and the ledger's verdict, exits 130 with no traceback, and no
process it started is left; and a second run in a directory that is in use refuses in one line.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infra.settings import PROJECT_ROOT
from loadtest.local.runs.session import LocalSession, RunDirectoryBusy
from tests.loadtest.make_up import make_up

STOP_BUDGET_S = 10


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (children in sessions of their own included: they keep their parent)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        children = {child for child, parent in parents.items() if parent in frontier}
        frontier = children - found
        found |= children
    return found


def alive(pids: set[int]) -> set[int]:
    def running(pid: int) -> bool:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return False
        return state != "Z"

    return {pid for pid in pids if running(pid)}


def until_none_alive(pids: set[int], within_s: float) -> set[int]:
    deadline = time.monotonic() + within_s
    while alive(pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return alive(pids)


def test_ctrl_c_on_make_up_stops_everything_within_ten_seconds(tmp_path):
    with make_up(tmp_path) as up:
        started = descendants(up.process.pid)
        assert up.outputs["queueUrl"].startswith("http://127.0.0.1:")
        stopping = time.monotonic()
        log = up.stop()  # Ctrl-C to the whole group, as a terminal sends it
        seconds = time.monotonic() - stopping
        code = up.process.returncode

    lines = log.splitlines()
    assert code == -signal.SIGINT  # make waits for the run, then dies of the signal as a shell expects
    assert seconds < STOP_BUDGET_S
    assert "Traceback" not in log
    assert lines[-5:-2] == [
        "[up] lost=0 pending=0 duplicated=0 in_dlq=0 stored=0 accepted=0",
        "[up] PASSED: no message lost, pending or stored twice",
        lines[-3],
    ]
    assert lines[-3].startswith(
        "[up] SIGINT: stopped the event source mapping's pollers, the emulator in "
    ), lines[-3]
    assert lines[-2] == "python -m loadtest.local.runs.up: interrupted"
    assert lines[-1].startswith("make: *** [Makefile:") and lines[-1].endswith(": up] Error 130")
    assert len(started) >= 12  # make, the run, moto_server and ten pollers
    # multiprocessing's resource tracker leaves when the run's pipe to it closes, a moment after the run.
    assert until_none_alive(started, within_s=2) == set()
    assert not up.outputs_file.exists()  # it named an endpoint that is gone


def test_a_second_run_in_a_directory_in_use_refuses_in_one_line(tmp_path):
    with LocalSession("first", tmp_path):
        child = subprocess.run(
            [sys.executable, "-m", "loadtest.local.runs.smoke", "--run-dir", str(tmp_path)],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )

    assert (child.returncode, child.stdout) == (2, "")
    [line] = child.stderr.splitlines()
    assert line.startswith(f"python -m loadtest.local.runs.smoke: {tmp_path} is in use by another run (")
    assert line.endswith(
        "; wait for it to end, or give this run a directory of its own with --run-dir DIR (make: RUN_DIR=DIR)"
    )
    assert f"pid {os.getpid()}" in line


def test_the_directory_is_free_again_once_the_run_ended(tmp_path):
    with LocalSession("first", tmp_path):
        pass
    with LocalSession("second", tmp_path) as session:
        assert session.run_dir == tmp_path


def test_a_session_restores_the_environment_it_pointed_at_the_emulator(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://before")
    with LocalSession("env", tmp_path) as session:
        endpoint = session.start_emulator()
        assert os.environ["AWS_ENDPOINT_URL"] == endpoint

    assert os.environ["AWS_ENDPOINT_URL"] == "http://before"


def test_busy_is_a_usage_error_the_command_line_reports_in_one_line():
    assert issubclass(RunDirectoryBusy, Exception)
    with pytest.raises(RunDirectoryBusy), LocalSession("a", PROJECT_ROOT / "build" / "test-busy"):
        LocalSession("b", PROJECT_ROOT / "build" / "test-busy").__enter__()
