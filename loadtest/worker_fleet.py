"""A local worker fleet: N `python -m consumer.worker` processes, scaled the way the AWS fleet is.

The Pulumi program gives the fleet a target-tracking policy on backlog per instance (visible messages / in-
service instances, AWS's recommended metric for SQS consumers). This controller follows the same rule every
second: as many workers as keep the backlog per worker at the target, between the fleet's min and max;
out at once, in one worker at a time after 3 quiet seconds (target tracking scales in conservatively). A
scaled-in worker gets SIGTERM, as Auto Scaling's termination gives the systemd service: it finishes its
batch and exits 0. Sampling and the chaos kill are the event source mapping runner's.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

from loadtest.esm_runner import EsmRunner, PollerConfig

SCALE_IN_QUIET_SECONDS = 3


def desired_workers(visible: int, target_backlog: int, minimum: int, maximum: int) -> int:
    """Target tracking on backlog per instance: the fleet size that brings visible / size to the target."""
    return max(minimum, min(maximum, math.ceil(visible / target_backlog)))


class WorkerFleet(EsmRunner):
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
        self._started = 0
        self._below_since: float | None = None

    def _add_poller(self) -> None:
        self._started += 1
        name = f"worker-{self._started}"
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
        self._pollers.append((process, None))
        self.max_pollers = max(self.max_pollers, len(self._pollers))

    def _remove_poller(self) -> None:
        process, _ = self._pollers.pop()
        process.send_signal(signal.SIGTERM)  # finishes its batch, exits 0; reaped at stop()
        self._retired.append(process)

    def kill_one_poller(self) -> int | None:
        with self._pollers_lock:
            if not self._pollers:
                return None
            process, _ = self._pollers.pop(0)
        process.kill()
        process.wait()
        self.totals["pollers_killed"] += 1
        return process.pid

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

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout)
        processes = [process for process, _ in self._pollers] + self._retired
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._pollers.clear()
        self._retired = []
        self._drain_counters()
