"""A local stack that stays up for Locust, as `make up` gives one: the emulator with the stack provisioned,
the local event source mapping's pollers consuming it, the consumers' state posted to the emulator's feed
each second, and the stack outputs written with the two only a local stack has (endpointUrl, ledgerDir).

Used by the Locust tests and by `python -m tests.loadtest.running_stack OUTPUTS` (the README's screenshots).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from infra.settings import StackSettings, from_stack_file
from loadtest.local.emulator.pipeline_feed import publish_consumers
from tests.loadtest.local.local_pipeline import local_stack

STATE_INTERVAL_S = 1.0
REPO = Path(__file__).resolve().parents[2]
LOCUST = str(Path(sys.executable).parent / "locust")


def bare_environment(home: Path) -> dict[str, str]:
    """A user's shell: no AWS_* variable at all (the local stack needs none), no ~/.aws."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    return {**environment, "HOME": str(home)}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_stack(run_dir: Path, settings: StackSettings | None = None, stack: str = "dev") -> Iterator[dict]:
    """Yield the stack's outputs (also in run_dir/outputs.json) while it runs; everything stops at the end."""
    settings = settings or from_stack_file(stack)
    with local_stack(stack, settings, run_dir) as (local, session):
        consumers = session.consumers(local, settings)
        consumers.start()
        outputs = {**local.outputs(), "endpointUrl": session.endpoint, "ledgerDir": str(session.ledger_dir)}
        (run_dir / "outputs.json").write_text(json.dumps(outputs, indent=2))
        stop = threading.Event()

        def post_state() -> None:  # what the lead's session does from its scaling controller
            while not stop.wait(STATE_INTERVAL_S):
                state = {
                    "mode": "lambda",
                    "consumers": consumers.pollers,
                    "floor": getattr(consumers, "floor", 5),
                    "maximum": consumers.max_concurrency,
                }
                publish_consumers(session.endpoint, state)

        poster = threading.Thread(target=post_state, name="consumers-state", daemon=True)
        poster.start()
        try:
            yield outputs
        finally:
            stop.set()
            poster.join(5)


if __name__ == "__main__":  # keeps a stack up until Ctrl-C, its outputs in the folder given
    folder = Path(sys.argv[1])
    folder.mkdir(parents=True, exist_ok=True)
    with running_stack(folder):
        print(f"up: {folder / 'outputs.json'}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            while True:
                time.sleep(1)
