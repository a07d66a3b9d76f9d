"""A local stack that stays up, what `make up` runs: `python -m loadtest.local.runs.up --stack dev`.

The same embedded AWS the demo runs on, left up for a person to drive: moto_server with the stack's queue,
DLQ and table, and the local event source mapping's warm pollers running the real handler (or, with
--mode worker, the worker pool), scaling as the demo's do. It writes the stack outputs the way
`pulumi stack output --json` gives them, plus the local `endpointUrl` and the `ledgerDir` the project's
producers record to, prints what to run next from another shell (the README's Locust command, a produce
line, ops.status, ops.redrive peek, the AWS CLI), and a status line while anything moves. Ctrl-C (or
SIGTERM) stops everything within 10 s and prints the ledger verdict for what was sent while it was up:
every message SQS accepted from the project's producers stored once, dead-lettered with its reason, or
still queued.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from cli.command_line import OneLineParser, entry_point, number
from infra.settings import PROJECT_ROOT, from_stack_file
from loadtest.analysis.percentiles import percentile
from loadtest.local.consumers.scaler import ConsumerScaler
from loadtest.local.emulator.embedded_aws import LOCAL_CREDENTIALS, LOCAL_REGION, LocalStack
from loadtest.local.runs.run_arguments import stack_name
from loadtest.local.runs.session import Interrupted, LocalSession, shown

PROG = "python -m loadtest.local.runs.up"
LOCAL_DIR = PROJECT_ROOT / "build" / "local"
IDLE_REMINDER_S = 60  # an idle stack says so this often, not every few seconds


def outputs_of(local: LocalStack, endpoint: str, ledger_dir: Path) -> dict[str, str]:
    """`pulumi stack output --json`'s names for what exists locally, and two that only a local stack has."""
    return {**local.outputs(), "endpointUrl": endpoint, "ledgerDir": str(ledger_dir)}


def banner(stack: str, mode: str, session: LocalSession, consumers: ConsumerScaler, outputs: Path) -> str:
    where = shown(outputs)
    if mode == "worker":
        what = f"the worker pool ({consumers.pollers} running, up to {consumers.max_concurrency})"
    else:
        warm = consumers.max_concurrency
        what = f"the event source mapping ({warm} warm pollers, {consumers.pollers} polling)"
    credentials = " ".join(f"{key}={value}" for key, value in LOCAL_CREDENTIALS.items() if "TOKEN" not in key)
    value = f".venv/bin/python -m cli.stack_outputs {where}"
    locust = f".venv/bin/locust -f loadtest/locustfile.py --stack-outputs {where}"
    return "\n".join(
        [
            f"[up] stack {stack} is up on the embedded AWS at {session.endpoint}, consumed by {what}",
            f"[up] its outputs: {where} (as `pulumi stack output --json` gives them, with endpointUrl and "
            "ledgerDir)",
            "[up] from another shell in this directory:",
            f"  {locust}   # web UI: http://localhost:8089",
            f"  {locust} --headless -u 10 -r 5 -t 15s",
            f"  .venv/bin/python -m loadtest.produce --stack-outputs {where} --count 100",
            f"  .venv/bin/python -m ops.status EVENT_ID --stack-outputs {where}",
            f"  .venv/bin/python -m ops.redrive --stack-outputs {where} peek",
            f"  export {credentials} AWS_DEFAULT_REGION={LOCAL_REGION}   # for the AWS CLI only",
            f'  aws --endpoint-url "$({value} endpointUrl)" sqs get-queue-attributes --attribute-names All '
            f'--queue-url "$({value} queueUrl)"',
            "[up] Ctrl-C stops it all and checks that nothing the project's producers sent was lost.",
        ]
    )


@dataclasses.dataclass
class StatusLine:
    """One line every few seconds while anything moves; an idle stack says so once a minute."""

    consumers: ConsumerScaler
    started: float = dataclasses.field(default_factory=time.monotonic)
    _stored: int = 0
    _at: float = dataclasses.field(default_factory=time.monotonic)
    _last_idle: float = 0.0

    def next(self) -> str | None:
        now, stored = time.monotonic(), self.consumers.totals["stored"]
        rate = (stored - self._stored) / max(now - self._at, 1e-9)
        latencies = self.consumers.latencies_ms
        self.consumers.forget_latencies()  # the last interval's only: a long session keeps no history
        sample = self.consumers.samples[-1] if self.consumers.samples else None
        queue = (sample.queue_visible, sample.queue_in_flight, sample.dlq_visible) if sample else (0, 0, 0)
        moving = stored != self._stored or queue[:2] != (0, 0)
        self._stored, self._at = stored, now
        if not moving and now - self._last_idle < IDLE_REMINDER_S:
            return None
        self._last_idle = now if not moving else 0.0
        parts = [
            f"[up] {_clock(now - self.started)}",
            f"queue {queue[0]:,} visible {queue[1]:,} in flight",
            f"dlq {queue[2]:,}",
            f"pollers {self.consumers.pollers}",
            f"stored {stored:,} ({rate:,.0f}/s)",
        ]
        if latencies:
            p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
            parts.append(f"sent→stored p50 {p50:,.0f} ms p99 {p99:,.0f} ms")
        return " | ".join(parts) + ("" if moving else " (idle)")


def stay_up(status: StatusLine, interval_s: float) -> None:
    """Until a signal (Interrupted) ends it; bounded by nothing else, as a server is."""
    while True:
        time.sleep(interval_s)
        if line := status.next():
            print(line, flush=True)


@entry_point(PROG, aws_failures=False)  # on the embedded AWS an AWS error is a bug: it keeps its traceback
def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = from_stack_file(args.stack)
    run_dir = args.run_dir or LOCAL_DIR / f"{args.stack}-{args.mode}"
    outputs_path = args.outputs or LOCAL_DIR / f"{args.stack}-outputs.json"
    with LocalSession("up", run_dir) as session:
        local = session.start_stack(args.stack, settings)
        consumers = session.consumers(local, settings, args.mode, DLQ_URL=local.dlq_url)
        consumers.start()
        outputs_path.parent.mkdir(parents=True, exist_ok=True)
        outputs_path.write_text(json.dumps(outputs_of(local, session.endpoint, session.ledger_dir), indent=2))
        session.on_stop(None, lambda: outputs_path.unlink(missing_ok=True))  # it would name a dead endpoint
        print(banner(args.stack, args.mode, session, consumers, outputs_path), flush=True)
        try:
            stay_up(StatusLine(consumers), args.progress_seconds)
        except Interrupted:
            consumers.stop()  # what is in flight lands before the check reads the table
            result = session.check_ledger(local)
            print(f"[up] {result.line()}", flush=True)
            print(f"[up] {'PASSED' if result.ok else 'FAILED'}: {result.verdict()}", flush=True)
            raise
    return 0  # never reached: only a signal ends it


def _parser() -> OneLineParser:
    parser = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("--stack", type=stack_name, default="dev", help="Pulumi.<stack>.yaml (default dev)")
    parser.add_argument(
        "--mode",
        choices=["lambda", "worker"],
        default="lambda",
        help="lambda: the event source mapping's pollers; worker: the worker pool (as make demo MODE=worker)",
    )
    parser.add_argument(
        "--outputs",
        type=Path,
        help="where to write the stack outputs (default build/local/<stack>-outputs.json)",
    )
    parser.add_argument("--run-dir", type=Path, help="logs and ledger (default build/local/<stack>-<mode>)")
    parser.add_argument("--progress-seconds", type=number(above=0), default=5.0)
    return parser


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


if __name__ == "__main__":
    sys.exit(main())
