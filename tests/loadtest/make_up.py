"""`make up` as a user runs it, for every test that needs a local stack up and for the README's screenshots:
`make up` in a process group of its own (a terminal's job), from a shell with no AWS_* variable, its
outputs file (with endpointUrl and ledgerDir) awaited, and Ctrl-C at the end, sent to the whole group as a
terminal sends it, which prints the ledger verdict for everything the project's producers sent while it was
up.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LOCUST = str(Path(sys.executable).parent / "locust")
START_TIMEOUT_S = 90  # the emulator, the stack and every warm poller importing the handler, on 2 busy cores
STOP_TIMEOUT_S = 15  # up stops everything within 10 s of Ctrl-C


def bare_environment(home: Path) -> dict[str, str]:
    """A user's shell: no AWS_* variable at all (a local stack needs none), no ~/.aws, and make at the top
    level (under `make test` the outer make's MAKELEVEL would make it print `make[1]:`)."""
    inherited_from_make = {"MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES"}
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key not in inherited_from_make
    }
    return {**environment, "HOME": str(home)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class MadeUp:
    """A running `make up`: its outputs, and `stop()`, Ctrl-C's way, which returns everything it printed."""

    def __init__(self, process: subprocess.Popen, outputs_file: Path, log: Path):
        self.process, self.outputs_file, self.log = process, outputs_file, log
        self.outputs: dict[str, str] = {}

    def wait_until_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.outputs_file.exists():  # bounded by START_TIMEOUT_S
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"make up did not come up:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.25)
        while "[up] Ctrl-C stops it all" not in self.log.read_text():  # the banner follows the file
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"make up printed no banner:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.1)
        self.outputs = json.loads(self.outputs_file.read_text())

    def stop(self) -> str:
        """Ctrl-C as a terminal sends it, to make and its whole group; SIGKILL after STOP_TIMEOUT_S."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        return self.log.read_text()


@contextlib.contextmanager
def make_up(work: Path, stack: str = "dev") -> Iterator[MadeUp]:
    """`make up STACK=<stack>` with its outputs and run directory in `work`; stopped at the end."""
    work.mkdir(parents=True, exist_ok=True)
    outputs_file, log = work / f"{stack}-outputs.json", work / "up.log"
    command = ["make", "up", f"STACK={stack}", f"OUTPUTS={outputs_file}", f"RUN_DIR={work / 'run'}"]
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command,
            cwd=REPO,
            env=bare_environment(work),
            stdout=out,
            stderr=out,
            start_new_session=True,  # the terminal's job: Ctrl-C reaches the whole group
        )
    up = MadeUp(process, outputs_file, log)
    try:
        up.wait_until_up()
        yield up
    finally:
        up.stop()
