"""One owner of a local run's life: `LocalSession`. `make up`, the demo, the capacity search, the drills, the
smoke run, the benchmarks and the tests all start and stop the embedded AWS through it.

    with LocalSession("demo", run_dir) as session:
        local = session.start_stack("dev", settings)           # moto_server, the stack provisioned
        consumers = session.consumers(local, settings, "lambda")  # the local event source mapping
        locust = session.popen("Locust", [...], "locust.log")
        ...
        result = session.check_ledger(local)

What it owns, in the order it takes them:
1. the run directory, locked while the run lives: a second run in the same directory (two `make demo` in one
   checkout) refuses in one line instead of sharing a ledger and reporting the other's messages as lost;
   the previous run's ledger, logs and samples are cleared;
2. the emulator (moto_server in its own process) and the stack provisioned from its settings; boto3 in this
   process, and every child, points at it (the environment is restored afterwards);
3. the consumers (the local event source mapping, or the worker pool), built with the stack's settings;
4. whatever else the run starts: Locust, producers, progress lines.

On the way out — at the end, on an error, or on SIGINT/SIGTERM (raised in the main thread as `Interrupted`,
which the command line turns into exit 130 with one line, no traceback) — it stops them in reverse order,
each within its share of a 10 s budget: Locust first (SIGINT, as Ctrl-C: it stops its users and writes its
CSV), then producers and progress lines, the consumers (each finishes its batch), the emulator last. Its
children never take the terminal's Ctrl-C themselves and never outlive it (loadtest/local/child_process.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime
import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from cli.command_line import UsageError
from infra.resource_spec import StackSpec
from infra.settings import PROJECT_ROOT, StackSettings
from loadtest.analysis.ledger_check import LedgerResult, check_ledger, scan_table
from loadtest.analysis.mapping_rules import MappingScaling
from loadtest.ledger import read_ledger
from loadtest.local.child_process import popen_options
from loadtest.local.consumers.esm_runner import EsmRunner, PollerConfig
from loadtest.local.consumers.scaler import ConsumerScaler
from loadtest.local.consumers.worker_pool import WorkerPool
from loadtest.local.emulator.embedded_aws import LocalStack, aws_environment, moto_server_process, provision
from loadtest.local.emulator.pipeline_feed import publish_consumers
from ops.dead_letter_queue import scan as read_queue

STOP_BUDGET_S = 10.0  # from the signal to the last child gone
CHILD_STOP_S = 3.0  # Locust and other children: SIGINT, then SIGKILL after this
CONSUMERS_STOP_S = 4.0  # pollers and workers finish their batch (milliseconds on the emulator), then SIGKILL
LOCK_FILE = ".run.lock"
# What a run leaves that the next one in the same directory must not read as its own.
STALE = ("ledger/*.jsonl", "*.log", "pollers/*", "workers/*", "locust*.csv", "samples.csv")


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM reached the run: it stops everything it started, then exits 130."""


class RunDirectoryBusy(UsageError):
    """Another run holds this run directory."""


class LocalSession:
    def __init__(
        self,
        name: str,
        run_dir: Path,
        clear: Sequence[str] = STALE,
        say: Callable = print,
        run_dir_option: str | None = "--run-dir DIR (make: RUN_DIR=DIR)",
    ):
        self.name = name
        self._run_dir_option = run_dir_option  # how a second run can get a directory of its own, if it can
        self.run_dir = Path(run_dir)
        self.ledger_dir = self.run_dir / "ledger"
        self.endpoint = ""
        self.moto_pid = 0
        self._clear = clear
        self._say = say
        self._stops = contextlib.ExitStack()
        self._lock: Any = None
        self._saved_environment: dict[str, str | None] = {}
        self._saved_handlers: dict[int, Any] = {}
        self.interrupted: str | None = None
        self.stopped: list[str] = []

    # ---- life ------------------------------------------------------------------------------------------
    def __enter__(self) -> LocalSession:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._take_run_directory()
        for pattern in self._clear:
            for path in self.run_dir.glob(pattern):
                if path.is_file():
                    path.unlink()
        self._install_signal_handlers()
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if isinstance(error, Interrupted):
            self.interrupted = str(error) or "SIGINT"
        # A second Ctrl-C while stopping must not cut the stop short (and leave children behind).
        for signum in self._saved_handlers:
            signal.signal(signum, self._already_stopping)
        started = time.monotonic()
        try:
            self._stops.close()
        finally:
            self._restore_environment()
            for signum, handler in self._saved_handlers.items():
                signal.signal(signum, handler)
            self._release_run_directory()
        if self.interrupted:
            what = ", ".join(self.stopped) or "nothing was running"
            self._say(
                f"[{self.name}] {self.interrupted}: stopped {what} in {time.monotonic() - started:.1f} s",
                flush=True,
            )

    def _install_signal_handlers(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # only the main thread takes signals (a test may run a session elsewhere)

        def interrupt(signum, _frame):
            raise Interrupted(signal.Signals(signum).name)

        for signum in (signal.SIGINT, signal.SIGTERM):
            self._saved_handlers[signum] = signal.signal(signum, interrupt)

    def _already_stopping(self, signum, _frame) -> None:
        self._say(f"[{self.name}] {signal.Signals(signum).name}: already stopping", flush=True)

    def _take_run_directory(self) -> None:
        path = self.run_dir / LOCK_FILE
        lock = open(path, "a+")  # noqa: SIM115 - held open while the run lives, closed on exit
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "{}"
            lock.close()
            owner = json.loads(holder)
            elsewhere = (
                f", or give this run a directory of its own with {self._run_dir_option}"
                if self._run_dir_option
                else ""
            )
            raise RunDirectoryBusy(
                f"{shown(self.run_dir)} is in use by another run ({owner.get('command', '?')}, pid "
                f"{owner.get('pid', '?')}, since {owner.get('since', '?')}); wait for it to end{elsewhere}"
            ) from None
        lock.seek(0)
        lock.truncate()
        since = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
        lock.write(json.dumps({"pid": os.getpid(), "command": " ".join(_command()), "since": since}))
        lock.flush()
        self._lock = lock

    def _release_run_directory(self) -> None:
        if self._lock is not None:
            self._lock.close()  # closing the file releases the lock; the file stays for the next run
            self._lock = None

    # ---- what it starts --------------------------------------------------------------------------------
    def on_stop(self, what: str | None, stop: Callable[[], Any]) -> None:
        """Run `stop` on the way out (last registered, first stopped); `what` names it if interrupted (None:
        housekeeping, not named)."""

        def stop_and_record() -> None:
            try:
                stop()
            finally:
                if what:
                    self.stopped.append(what)

        self._stops.callback(stop_and_record)

    def start_emulator(self) -> str:
        """moto_server with the project's layers; boto3 here and in every child points at it from now on."""
        endpoint, pid = self._stops.enter_context(moto_server_process(self.run_dir / "moto.log"))
        self._stops.callback(self.stopped.append, "the emulator")
        self.endpoint, self.moto_pid = endpoint, pid
        self._set_environment(aws_environment(endpoint))
        return endpoint

    def start_stack(self, stack: str, settings: StackSettings) -> LocalStack:
        """The emulator, and the stack's queue, DLQ and table in it."""
        if not self.endpoint:
            self.start_emulator()
        return provision(StackSpec(stack, settings), self.endpoint)

    def consumers(
        self,
        local: LocalStack,
        settings: StackSettings,
        mode: str = "lambda",
        start_pollers: int | None = None,
        **extra_env: str,
    ) -> ConsumerScaler:
        """Lambda's poller for the stack's function (warm pollers, AWS's scaling rule), or with mode "worker"
        the worker pool with the fleet's sizes and target; started by the caller (`.start()`), stopped here.
        `start_pollers`: the mapping's floor (and burst), if not its mode's.
        `extra_env`: what the program sets by switch (DLQ_URL), and the local-only VEHICLE_PIPELINE_FAULTS."""
        config = PollerConfig.for_stack(local, settings, aws_environment(self.endpoint), **extra_env)
        if mode == "worker":
            consumers: ConsumerScaler = WorkerPool(
                config,
                local.dlq_url,
                settings.worker_fleet_min_size,
                settings.worker_fleet_max_size,
                settings.worker_fleet_backlog_per_instance,
                self.run_dir / "workers",
            )
        else:
            scaling = MappingScaling.for_stack(settings)
            if start_pollers is not None:
                scaling = dataclasses.replace(scaling, floor=start_pollers, burst=start_pollers)
            consumers = EsmRunner(
                config,
                local.dlq_url,
                scaling,
                self.run_dir / "pollers",
                reserved_concurrency=settings.reserved_concurrency,
            )
        endpoint = self.endpoint
        consumers.on_sample = lambda state: publish_consumers(
            endpoint, state
        )  # Locust's pipeline tab shows it
        what = "the worker pool" if mode == "worker" else "the event source mapping's pollers"
        self.on_stop(what, lambda: consumers.stop(CONSUMERS_STOP_S))
        return consumers

    def popen(self, what: str, command: Sequence[str], log_name: str, **options: Any) -> subprocess.Popen:
        """A child process of the run (Locust, a CLI), its output to `log_name` in the run directory; on the
        way out it gets SIGINT (Ctrl-C's signal, so Locust stops its users and writes its files), then
        SIGKILL after CHILD_STOP_S."""
        with open(self.run_dir / log_name, "ab") as log:
            process = subprocess.Popen(
                list(command),
                cwd=PROJECT_ROOT,
                stdout=log,
                stderr=subprocess.STDOUT,
                **{**popen_options(), **options},
            )
        self.on_stop(what, lambda: _stop_child(process))
        return process

    # ---- what it checks --------------------------------------------------------------------------------
    def check_ledger(self, local: LocalStack, table_items: list[dict] | None = None) -> LedgerResult:
        """Every message the run's producers saw accepted: stored once, in the DLQ, or still queued."""
        import boto3

        sqs = boto3.client("sqs")
        items = (
            table_items
            if table_items is not None
            else scan_table(boto3.resource("dynamodb").Table(local.table_name))
        )
        return check_ledger(
            read_ledger(self.ledger_dir),
            items,
            read_queue(sqs, local.dlq_url),
            read_queue(sqs, local.queue_url),
        )

    # ---- the environment boto3 reads -------------------------------------------------------------------
    def _set_environment(self, values: dict[str, str]) -> None:
        for key, value in values.items():
            self._saved_environment.setdefault(key, os.environ.get(key))
            os.environ[key] = value

    def _restore_environment(self) -> None:
        for key, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_environment = {}


def _stop_child(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(CHILD_STOP_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _command() -> list[str]:
    """How this run was started, for the message a second run gets."""
    argv = list(sys.argv)
    return ["python -m " + _module(argv[0]), *argv[1:]] if argv and argv[0].endswith(".py") else argv


def _module(path: str) -> str:
    try:
        return ".".join(Path(path).resolve().relative_to(PROJECT_ROOT).with_suffix("").parts)
    except ValueError:
        return path


def shown(path: Path) -> str:
    """A path as a user in the checkout would type it: relative to the project root where it is inside it."""
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)
