"""Locust producer of vehicle events: `locust -f loadtest/locustfile.py --stack-outputs outputs.json`.

Each user sends batches of --batch-size events with SendMessageBatch (SendMessage when 1), paced at
--user-rate calls per second; each call fires one Locust request event, and each entry SQS refused fires a
failure of its own. Every accepted message goes to this process's ledger file (--ledger-dir, or a local
stack's ledgerDir output: loadtest/stack_target.py), so master and workers together leave a complete ledger.
The endpoint follows the queue URL (cli/queue_endpoint.py): moto or AWS alike. The queue is Locust's host:
the web UI's Host field shows it, and a queue URL typed there is where the next swarm sends. What happens
after SQS accepts a message (stored events and their end-to-end latency, backlog, consumers, DLQ) joins
Locust's statistics through loadtest/locust_pipeline.py. A bad option stops Locust at init with one line
naming it, and exit status 2.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import random
import sys
import time
from pathlib import Path

from locust import LoadTestShape, User, constant_throughput, events, task
from locust.exception import StopUser

from cli.command_line import USAGE_ERROR, UsageError, number, share, whole_number
from cli.queue_endpoint import QueueEndpoint
from loadtest.ledger import LedgerWriter
from loadtest.locust_ctrl_c import deliver_ctrl_c_to_the_main_greenlet
from loadtest.locust_pipeline import show_the_pipeline
from loadtest.shapes import scale_stages, users_at
from loadtest.stack_target import stack_target
from producer.sqs_producer import SQS_BATCH_LIMIT, OutgoingMessage, SqsProducer
from producer.vehicles import VehicleFactory

PROG = "locust -f loadtest/locustfile.py"

_USERS = itertools.count(1)  # numbers this process's users, for their fleet names

_ledgers: dict[str, LedgerWriter] = {}  # ledger folder -> this process's file in it
show_the_pipeline(events)  # stored events, backlog, consumers, DLQ: loadtest/locust_pipeline.py
events.init.add_listener(deliver_ctrl_c_to_the_main_greenlet)  # never lost: loadtest/locust_ctrl_c.py


@events.init_command_line_parser.add_listener
def _options(parser):
    parser.add_argument("--queue-url", env_var="QUEUE_URL", default="", help="target queue URL")
    parser.add_argument(
        "--stack-outputs",
        env_var="STACK_OUTPUTS",
        default="",
        help="JSON of `pulumi stack output --json` (uses queueUrl)",
    )
    parser.add_argument(
        "--batch-size", env_var="BATCH_SIZE", type=int, default=10, help="events per call (1-10)"
    )
    parser.add_argument(
        "--poison-ratio",
        env_var="POISON_RATIO",
        type=float,
        default=0.0,
        help="share of invalid bodies, for fault runs",
    )
    parser.add_argument(
        "--user-rate", env_var="USER_RATE", type=float, default=1.0, help="send calls per second per user"
    )
    parser.add_argument(
        "--shape",
        env_var="LOAD_SHAPE",
        choices=["scale", "constant"],
        default="scale",
        help="scale: step up to -u (or --peak-users), plateau, step down, idle; constant: -u users",
    )
    parser.add_argument(
        "--peak-users",
        env_var="PEAK_USERS",
        type=int,
        default=8,
        help="scale shape peak when -u is not given",
    )
    parser.add_argument(
        "--stage-seconds", env_var="STAGE_SECONDS", type=float, default=15.0, help="scale shape stage length"
    )
    parser.add_argument("--fleet-size", env_var="FLEET_SIZE", type=int, default=500, help="distinct vehicles")
    parser.add_argument(
        "--ledger-dir",
        env_var="LEDGER_DIR",
        default="",
        help="record accepted messages here (default: a local stack's ledgerDir output)",
    )
    parser.add_argument(
        "--xray",
        env_var="XRAY",
        action="store_true",
        default=False,
        help="send an X-Ray trace header with every message",
    )


# Each option the file adds, with the rule its value must meet (cli/command_line.py's argparse types).
OPTION_RULES = {
    "--batch-size": whole_number(1, SQS_BATCH_LIMIT),
    "--poison-ratio": share,
    "--user-rate": number(above=0),
    "--peak-users": whole_number(1),
    "--stage-seconds": number(above=0),
    "--fleet-size": whole_number(1),
}


def checked_options(options) -> QueueEndpoint | None:
    """Every option of this file checked; the queue it sends to (--host when it names one), None when a
    worker or the web UI gives it later (a worker gets the master's options and host, the web UI's form can
    still fill the Host field or --queue-url)."""
    for option, rule in OPTION_RULES.items():
        value = getattr(options, option[2:].replace("-", "_"))
        try:
            rule(str(value))
        except argparse.ArgumentTypeError as error:
            raise UsageError(f"{option}: {error}") from None
    if options.ledger_dir and Path(options.ledger_dir).exists() and not Path(options.ledger_dir).is_dir():
        raise UsageError(
            f"--ledger-dir {options.ledger_dir}: is a file; give a directory (created if missing)"
        )
    later = options.worker or not (options.headless or options.autostart)
    if later and not (options.queue_url or options.stack_outputs or options.host):
        return None
    return stack_target(options.queue_url, options.stack_outputs, host=options.host).queue


@events.init.add_listener
def _stop_on_bad_options(environment, **_):
    """A bad option stops Locust here, before any user starts, with one line and exit status 2."""
    if environment.parsed_options is None:  # Locust used as a library: nothing was typed
        return
    try:
        queue = checked_options(environment.parsed_options)
    except UsageError as error:
        print(f"{PROG}: {error}", file=sys.stderr, flush=True)
        sys.exit(USAGE_ERROR)
    # The queue is the test's host: the web UI's Host field shows it (instead of Locust's "no host" warning).
    if queue is not None and not environment.host:
        environment.host = queue.queue_url


@events.quitting.add_listener
def _close_ledgers(**_):
    for ledger in _ledgers.values():
        ledger.close()


def _record(accepted, ledger_dir: str) -> None:
    if not (accepted and ledger_dir):
        return
    if ledger_dir not in _ledgers:  # opened on first use: a master process sends nothing
        _ledgers[ledger_dir] = LedgerWriter(ledger_dir)
    _ledgers[ledger_dir].record(accepted)


class PartialBatchFailure(Exception):
    """SQS refused some entries of a batch."""


class SqsUser(User):
    """Holds one SQS client wrapper per user and reports each call as a Locust request."""

    abstract = True

    def on_start(self) -> None:
        options = self.environment.parsed_options
        try:  # checked at init already, unless the master's options or the web UI's form came later
            checked_options(options)
            # The Host field (or --host) names the queue when set: a queue URL typed in the web UI wins.
            target = stack_target(
                options.queue_url, options.stack_outputs, options.ledger_dir, self.environment.host
            )
        except UsageError as error:
            logging.error("%s: %s", PROG, error)
            raise StopUser() from None
        self.producer = SqsProducer(
            target.queue.queue_url, client=target.queue.client("sqs"), xray=options.xray
        )
        self.ledger_dir = target.ledger_dir
        self._pace = constant_throughput(options.user_rate)

    def wait_time(self) -> float:
        return self._pace(self)

    def send(self, messages: list[OutgoingMessage]) -> None:
        name = "SendMessage" if len(messages) == 1 else "SendMessageBatch"
        started = time.perf_counter()
        try:
            result = self.producer.send(messages)
        except Exception as error:  # a refused call is a failed request, reported like any other
            self._fire(name, started, sum(len(m.body) for m in messages), error)
            return
        failure = (
            PartialBatchFailure(f"{len(result.failed)} of {len(messages)} refused") if result.failed else None
        )
        self._fire(name, started, result.bytes_sent, failure)
        for _message, code, why in result.failed:
            self._fire(f"{name} entry", started, 0, PartialBatchFailure(f"{code}: {why}"))
        _record(result.accepted, self.ledger_dir)

    def _fire(self, name: str, started: float, length: int, exception: Exception | None) -> None:
        self.environment.events.request.fire(
            request_type="SQS",
            name=name,
            response_time=(time.perf_counter() - started) * 1000,
            response_length=length,
            exception=exception,
            context={},
        )


class VehicleEventsUser(SqsUser):
    def on_start(self) -> None:
        super().on_start()
        options = self.environment.parsed_options
        # One fleet per user, as each vehicle has one sender: per-vehicle order is then well defined.
        self.factory = VehicleFactory(
            fleet_size=options.fleet_size, id_prefix=f"P{os.getpid()}U{next(_USERS)}-VH"
        )
        self.rng = random.Random()

    @task
    def send_vehicle_events(self) -> None:
        options = self.environment.parsed_options
        batch = []
        for _ in range(options.batch_size):
            if self.rng.random() < options.poison_ratio:
                batch.append(OutgoingMessage(self.factory.poison_body(), poison=True))
            else:
                event = self.factory.event()
                batch.append(OutgoingMessage.of(event))
        self.send(batch)


class StagedShape(LoadTestShape):
    """`--shape scale` plays scale_stages(peak, --stage-seconds) with peak = -u/--users when given, else
    --peak-users, and spawn rate -r/--spawn-rate when given; `--shape constant` holds -u users (at -r per
    second). Either stops at -t/--run-time when given: Locust's own options are honoured, never ignored."""

    use_common_options = True

    def tick(self) -> tuple[int, float] | None:
        options = self.runner.environment.parsed_options
        elapsed = self.get_run_time()
        if options.run_time and elapsed >= options.run_time:
            return None
        if options.shape == "constant":
            return options.num_users or 1, options.spawn_rate or 1
        stage = users_at(
            scale_stages(options.num_users or options.peak_users, options.stage_seconds), elapsed
        )
        if stage is None or not options.spawn_rate:
            return stage
        return stage[0], options.spawn_rate
