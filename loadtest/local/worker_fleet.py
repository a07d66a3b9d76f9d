"""A local worker fleet: N `python -m consumer.worker` processes, scaled the way the AWS fleet is.

The Pulumi program gives the fleet a target-tracking policy on backlog per instance (visible messages / in-
service instances, AWS's recommended metric for SQS consumers). This controller follows the same rule every
second: as many workers as keep the backlog per worker at the target, between the fleet's min and max;
out at once, in one worker at a time after 3 quiet seconds (target tracking scales in conservatively). A
scaled-in worker gets SIGTERM, as Auto Scaling's termination gives the systemd service: it finishes its
batch and exits 0. Scaling, sampling, stopping and the chaos kill are the event source mapping runner's;
only how a worker starts, stops and reports its counters differs.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from loadtest.local.esm_runner import EsmRunner, PollerConfig

SCALE_IN_QUIET_SECONDS = 3


def desired_workers(visible: int, target_backlog: int, minimum: int, maximum: int) -> int:
    """Target tracking on backlog per instance: the fleet size that brings visible / size to the target."""
    return max(minimum, min(maximum, math.ceil(visible / target_backlog)))


class WorkerFleet(EsmRunner):
    STOP_TIMEOUT_S = 30

    def __init__(
        self,
        config: PollerConfig,
        dlq_url: str,
        min_size: int,
        max_size: int,
        target_backlog: int,
        log_dir: Path,
    ):
        super().__init__(config, dlq_url, max_size, log_dir, start_pollers=min_size)
        self.min_size = min_size
        self.target_backlog = target_backlog
        self._below_since: float | None = None

    def _launch(self, number: int) -> tuple[Any, Any]:
        name = f"worker-{number}"
        env = {
            **os.environ,
            **self.config.environment,
            "QUEUE_URL": self.config.queue_url,
            "QUEUE_ARN": self.config.queue_arn,
            "WORKER_WAIT_SECONDS": "1",  # a stopping worker notices within a second
            "WORKER_STATS_FILE": str(self.log_dir / f"{name}.json"),
        }
        with open(self.log_dir / f"{name}.log", "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "consumer.worker"], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        return process, None

    def _request_stop(self, process: Any, stop: Any) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)  # finishes its batch, exits 0

    def _wait(self, process: Any, timeout: float | None) -> bool:
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            return False
        return True

    def desired_pollers(self, visible: int, in_flight: int, now: float) -> int:
        desired = desired_workers(visible, self.target_backlog, self.min_size, self.max_concurrency)
        if desired >= self.pollers:
            self._below_since = None
            return desired
        self._below_since = self._below_since or now
        if now - self._below_since < SCALE_IN_QUIET_SECONDS:
            return self.pollers
        self._below_since = now
        return self.pollers - 1

    def _drain_counters(self) -> None:
        """Totals from the workers' stats files (each rewrites its own after every batch)."""
        stats = [json.loads(path.read_text()) for path in self.log_dir.glob("worker-*.json")]
        for key in ("stored", "routed_to_dlq", "write_failures"):
            self.totals[key] = sum(s.get(key, 0) for s in stats)
        self.totals["records"] = sum(s.get("received", 0) for s in stats)
        self.totals["invocations"] = sum(s.get("batches", 0) for s in stats)
        self.totals["failed_records"] = sum(s.get("failed", 0) for s in stats)
