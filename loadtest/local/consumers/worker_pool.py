"""A local worker pool: N `python -m consumer.worker` processes, scaled the way the EC2 worker fleet is.

The Pulumi program gives the fleet a target-tracking policy on backlog per instance (visible messages / in-
service instances, AWS's recommended metric for SQS consumers). This controller follows the same rule every
second: as many workers as keep the backlog per worker at the target, between the fleet's min and max;
out at once, in one worker at a time after 3 quiet seconds (target tracking scales in conservatively). A
scaled-in worker gets SIGTERM, as Auto Scaling's termination gives the systemd service: it finishes its
batch and exits 0. Scaling, sampling, stopping and the chaos kill are the shared controller's
(scaler.py); here only how a worker starts, stops and reports its counters, and the fleet's rule.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from loadtest.local.child_process import popen_options
from loadtest.local.consumers.esm_runner import PollerConfig
from loadtest.local.consumers.scaler import ConsumerScaler

SCALE_IN_QUIET_SECONDS = 3


def desired_workers(visible: int, target_backlog: int, minimum: int, maximum: int) -> int:
    """Target tracking on backlog per instance: the fleet size that brings visible / size to the target."""
    return max(minimum, min(maximum, math.ceil(visible / target_backlog)))


class WorkerPool(ConsumerScaler):
    STOP_TIMEOUT_S = 30
    mode = "worker"

    def __init__(
        self,
        config: PollerConfig,
        dlq_url: str,
        min_size: int,
        max_size: int,
        target_backlog: int,
        log_dir: Path,
    ):
        super().__init__(config.queue_url, dlq_url, max_size)
        self.config = config
        self.log_dir = log_dir
        self.min_size = min_size
        self.floor = min_size
        self.target_backlog = target_backlog
        self._below_since: float | None = None
        self._launched = 0  # numbers each worker's log and stats file
        self._retired: list[subprocess.Popen] = []  # scaled in, finishing their last batch

    def start(self, initial: int | None = None) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        super().start(self.min_size if initial is None else initial)

    def _activate(self) -> subprocess.Popen:
        """A new instance: a cold `python -m consumer.worker` process, as an instance boots."""
        self._launched += 1
        name = f"worker-{self._launched}"
        env = {
            **os.environ,
            **self.config.environment,
            "QUEUE_URL": self.config.queue_url,
            "QUEUE_ARN": self.config.queue_arn,
            "WORKER_WAIT_SECONDS": "1",  # a stopping worker notices within a second
            "WORKER_STATS_FILE": str(self.log_dir / f"{name}.json"),
        }
        with open(self.log_dir / f"{name}.log", "ab") as log:
            return subprocess.Popen(
                [sys.executable, "-m", "consumer.worker"],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                **popen_options(),  # out of the terminal's Ctrl-C; never outlives the run
            )

    def _deactivate(self, process: subprocess.Popen) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # as Auto Scaling's termination: finishes its batch, exits 0
        self._retired.append(process)

    def _kill(self, process: subprocess.Popen) -> int:
        process.kill()
        process.wait()
        return process.pid

    def _shutdown(self, deadline: float) -> None:
        processes = [*self._active, *self._retired]
        for process in self._active:
            self._deactivate(process)
        for process in processes:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._retired = []

    def seconds_to_floor(self) -> float:
        """One worker fewer every SCALE_IN_QUIET_SECONDS once the backlog per worker is under target."""
        return SCALE_IN_QUIET_SECONDS * (max(0, self.pollers - self.min_size) + 1)

    def desired_pollers(self, visible: int, in_flight: int, now: float) -> int:
        desired = desired_workers(visible, self.target_backlog, self.min_size, self.max_concurrency)
        if desired >= self.pollers:
            self._below_since = None
            return desired
        if self._below_since is None:
            self._below_since = now
        if now - self._below_since < SCALE_IN_QUIET_SECONDS:
            return self.pollers
        self._below_since = now
        return self.pollers - 1

    def _collect(self) -> None:
        """Totals from the workers' stats files (each rewrites its own after every batch)."""
        stats = [json.loads(path.read_text()) for path in self.log_dir.glob("worker-*.json")]
        for key in ("stored", "routed_to_dlq", "write_failures"):
            self.totals[key] = sum(s.get(key, 0) for s in stats)
        self.totals["records"] = sum(s.get("received", 0) for s in stats)
        self.totals["invocations"] = sum(s.get("batches", 0) for s in stats)
        self.totals["failed_records"] = sum(s.get("failed", 0) for s in stats)
