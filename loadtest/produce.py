"""Send vehicle events to the stack's queue from the command line, as the seeds' send scripts do.

    python -m loadtest.produce --stack-outputs build/dev-outputs.json --count 100 [--xray]

Bounded: exactly --count events (plus the --poison-ratio share as invalid bodies), at most --rate per
second. Prints what was accepted; exits 1 if SQS refused any message (or the run failed), 2 for a usage
error (cli/command_line.py), before anything is sent. Accepted messages are recorded in --ledger-dir, or in
a local stack's `ledgerDir` output when it sends to that stack's queue (loadtest/stack_target.py).
"""

from __future__ import annotations

import os
import random
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from cli.command_line import OneLineParser, UsageError, entry_point, number, share, whole_number
from loadtest.ledger import LedgerWriter
from loadtest.stack_target import stack_target
from producer.sqs_producer import SQS_BATCH_LIMIT, OutgoingMessage, SqsProducer
from producer.vehicles import VehicleFactory

PROG = "python -m loadtest.produce"


def messages(
    factory: VehicleFactory, count: int, poison_ratio: float, rng: random.Random
) -> list[OutgoingMessage]:
    out = []
    for _ in range(count):
        if rng.random() < poison_ratio:
            out.append(OutgoingMessage(factory.poison_body(), poison=True))
        else:
            event = factory.event()
            out.append(OutgoingMessage.of(event))
    return out


def _parser() -> OneLineParser:
    parser = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=whole_number(1), default=10, help="messages to send (default 10)")
    parser.add_argument("--queue-url", default=os.environ.get("QUEUE_URL"), help="or QUEUE_URL")
    parser.add_argument(
        "--stack-outputs",
        default=os.environ.get("STACK_OUTPUTS"),
        help="JSON of `pulumi stack output --json` (uses queueUrl), or STACK_OUTPUTS",
    )
    parser.add_argument(
        "--batch-size",
        type=whole_number(1, SQS_BATCH_LIMIT),
        default=SQS_BATCH_LIMIT,
        help="messages per call, 1-10; 1 sends one by one (default 10)",
    )
    parser.add_argument(
        "--poison-ratio", type=share, default=0.0, help="share of invalid bodies, 0-1 (default 0)"
    )
    parser.add_argument(
        "--rate", type=number(above=0), default=200.0, help="messages per second at most (default 200)"
    )
    parser.add_argument(
        "--ledger-dir",
        type=Path,
        help="record accepted messages for the no-loss check (default: a local stack's ledgerDir output)",
    )
    parser.add_argument("--xray", action="store_true", help="send an X-Ray trace header (AWSTraceHeader)")
    parser.add_argument("--seed", type=int, help="random seed, for reproducible fleets")
    return parser


@entry_point(PROG)
def main(argv: Sequence[str] | None = None, producer: SqsProducer | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.ledger_dir and args.ledger_dir.exists() and not args.ledger_dir.is_dir():
        raise UsageError(f"--ledger-dir {args.ledger_dir}: is a file; give a directory (created if missing)")
    ledger_dir = args.ledger_dir
    if producer is None:
        target = stack_target(args.queue_url, args.stack_outputs, args.ledger_dir)
        producer = SqsProducer(target.queue.queue_url, client=target.queue.client("sqs"), xray=args.xray)
        ledger_dir = target.ledger_dir
    rng = random.Random(args.seed)
    outgoing = messages(VehicleFactory(seed=args.seed), args.count, args.poison_ratio, rng)
    ledger = LedgerWriter(ledger_dir) if ledger_dir else None
    accepted = failed = 0
    started = time.monotonic()
    try:
        for start in range(0, len(outgoing), args.batch_size):
            chunk = outgoing[start : start + args.batch_size]
            result = producer.send(chunk)
            accepted += len(result.accepted)
            failed += len(result.failed)
            for message, code, why in result.failed:
                print(f"refused: {code} {why} {message.body[:80]}", file=sys.stderr)
            if ledger:
                ledger.record(result.accepted)
            time.sleep(max(0.0, (start + len(chunk)) / args.rate - (time.monotonic() - started)))
    finally:  # a run that AWS stops half way still leaves the ledger of what it accepted
        if ledger:
            ledger.close()
    elapsed = time.monotonic() - started
    print(
        f"sent={len(outgoing)} accepted={accepted} failed={failed} in {elapsed:.2f}s "
        f"({accepted / elapsed if elapsed else 0:.0f} msg/s) to {producer.queue_url}"
        + (f", recorded in {ledger.path.parent}" if ledger else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
