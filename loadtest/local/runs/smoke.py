"""Smoke run of the whole pipeline on the embedded AWS, in seconds: `python -m loadtest.local.runs.smoke`.

A session (runs/session.py) starts moto_server and provisions the stack from its stack file; the local event
source mapping's pollers run the real handler; a few valid events and one invalid body are sent, each
accepted message recorded in the run's ledger; once the queue is empty, the ledger check says whether every
accepted message is stored once or sits in the DLQ.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from cli.command_line import OneLineParser, entry_point, whole_number
from infra.settings import PROJECT_ROOT, from_stack_file
from loadtest.ledger import LedgerWriter
from loadtest.local.runs.run_arguments import stack_name
from loadtest.local.runs.session import LocalSession
from producer.sqs_producer import SQS_BATCH_LIMIT, OutgoingMessage, SqsProducer
from producer.vehicles import VehicleFactory

PROG = "python -m loadtest.local.runs.smoke"
RUN_DIR = PROJECT_ROOT / "build" / "runs" / "smoke"
DRAIN_DEADLINE_S = 60
INVALID_BODY = '{"vehicleId": "VH2001"}'  # seed 004's vehicle, the rest of its fields missing


def run(stack: str, count: int, run_dir: Path | None = None) -> int:
    settings = from_stack_file(stack)
    with LocalSession("smoke", run_dir or RUN_DIR / stack) as session:
        local = session.start_stack(stack, settings)
        print(f"[smoke] moto_server at {session.endpoint}; stack {stack!r} provisioned", flush=True)
        consumers = session.consumers(local, settings, DLQ_URL=local.dlq_url)
        consumers.start()
        sent = send(local.queue_url, count, LedgerWriter(session.ledger_dir))
        print(f"[smoke] sent {sent} messages ({count} valid events + 1 invalid body)", flush=True)
        drained = consumers.wait_until_drained(DRAIN_DEADLINE_S) is not None
        consumers.stop()
        result = session.check_ledger(local)
    print(f"[smoke] {consumers.totals['invocations']} invocations; {result.line()}", flush=True)
    passed = drained and result.ok and result.stored == count and result.in_dlq == 1
    print(f"[smoke] {'PASSED' if passed else 'FAILED'}: {result.verdict()}", flush=True)
    return 0 if passed else 1


def send(queue_url: str, count: int, ledger: LedgerWriter) -> int:
    """`count` valid events and one invalid body, in batches of ten; returns how many SQS accepted."""
    factory = VehicleFactory(seed=4)
    messages = [OutgoingMessage.of(factory.event()) for _ in range(count)]
    messages.append(OutgoingMessage(INVALID_BODY, poison=True))
    producer, accepted = SqsProducer(queue_url), 0
    try:
        for start in range(0, len(messages), SQS_BATCH_LIMIT):
            result = producer.send(messages[start : start + SQS_BATCH_LIMIT])
            ledger.record(result.accepted)
            accepted += len(result.accepted)
    finally:
        ledger.close()
    return accepted


@entry_point(PROG, aws_failures=False)  # on the embedded AWS an AWS error is a bug: it keeps its traceback
def main(argv: Sequence[str] | None = None) -> int:
    parser = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", type=stack_name, default="dev", help="Pulumi.<stack>.yaml (default dev)")
    parser.add_argument("--count", type=whole_number(1), default=25, help="valid events to send (default 25)")
    parser.add_argument("--run-dir", type=Path, help="logs and ledger (default build/runs/smoke/<stack>)")
    args = parser.parse_args(argv)
    return run(args.stack, args.count, args.run_dir)


if __name__ == "__main__":
    sys.exit(main())
