"""Send vehicle events to the stack's queue from the command line, as the seeds' send scripts do.

    python -m loadtest.produce --stack-outputs build/dev-outputs.json --count 100 [--xray]

Bounded: exactly --count events (plus the --poison-ratio share as invalid bodies), at most --rate per
second. Prints what was accepted; exits 1 if SQS refused any message.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from collections.abc import Sequence

from loadtest.ledger import LedgerWriter
from producer.sqs_producer import SQS_BATCH_LIMIT, OutgoingMessage, SqsProducer
from producer.vehicles import VehicleFactory


def queue_url_from(stack_outputs: str | None, queue_url: str | None) -> str:
    if queue_url:
        return queue_url
    if stack_outputs:
        with open(stack_outputs) as outputs:
            return json.load(outputs)["queueUrl"]
    raise SystemExit("error: give --queue-url, --stack-outputs or QUEUE_URL")


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


def main(argv: Sequence[str] | None = None, producer: SqsProducer | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.produce", description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10, help="messages to send (default 10)")
    parser.add_argument("--queue-url", default=os.environ.get("QUEUE_URL"))
    parser.add_argument(
        "--stack-outputs",
        default=os.environ.get("STACK_OUTPUTS"),
        help="JSON of `pulumi stack output --json`",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=10,
        choices=range(1, SQS_BATCH_LIMIT + 1),
        metavar="1-10",
        help="messages per call; 1 sends one by one (default 10)",
    )
    parser.add_argument("--poison-ratio", type=float, default=0.0, help="share of invalid bodies (default 0)")
    parser.add_argument("--rate", type=float, default=200.0, help="messages per second at most (default 200)")
    parser.add_argument("--ledger-dir", help="record every accepted message for the no-loss check")
    parser.add_argument("--xray", action="store_true", help="send an X-Ray trace header (AWSTraceHeader)")
    parser.add_argument("--seed", type=int, help="random seed, for reproducible fleets")
    args = parser.parse_args(argv)

    producer = producer or SqsProducer(queue_url_from(args.stack_outputs, args.queue_url), xray=args.xray)
    rng = random.Random(args.seed)
    outgoing = messages(VehicleFactory(seed=args.seed), args.count, args.poison_ratio, rng)
    ledger = LedgerWriter(args.ledger_dir) if args.ledger_dir else None
    accepted = failed = 0
    started = time.monotonic()
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
    if ledger:
        ledger.close()
    elapsed = time.monotonic() - started
    print(
        f"sent={len(outgoing)} accepted={accepted} failed={failed} in {elapsed:.2f}s "
        f"({accepted / elapsed if elapsed else 0:.0f} msg/s) to {producer.queue_url}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
