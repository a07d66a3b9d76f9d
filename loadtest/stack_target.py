"""What a producer sends to: the queue (with the endpoint and region that reach it), the stack outputs that
named it, and the ledger folder it records to.

The queue is `--queue-url` (QUEUE_URL), else the `queueUrl` of `--stack-outputs` (STACK_OUTPUTS), resolved
by cli/queue_endpoint.py; in Locust a queue URL typed in the web UI's Host field (or given as `--host`) wins.
The ledger goes to `--ledger-dir` when given. Else, when the outputs are a local stack's (`make up` writes
`endpointUrl` and `ledgerDir` beside the outputs `pulumi stack output --json` gives), to its `ledgerDir`, so
the local stack can check at Ctrl-C that nothing the project's producers sent was lost; only while the queue
sent to is that stack's own, as messages sent elsewhere would be counted lost there.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from cli.queue_endpoint import QueueEndpoint, target_queue
from cli.stack_outputs import load_stack_outputs


@dataclasses.dataclass(frozen=True)
class StackTarget:
    queue: QueueEndpoint
    outputs: dict[str, Any]  # the stack's outputs when the queue is the stack's queueUrl, else {}
    ledger_dir: str  # "" records nothing


def stack_target(
    queue_url: str | None,
    stack_outputs: str | None,
    ledger_dir: str | Path | None = None,
    host: str | None = None,
) -> StackTarget:
    """The queue, its stack's outputs and the ledger folder; a UsageError names what is wrong."""
    outputs = load_stack_outputs(stack_outputs, ["queueUrl"]) if stack_outputs else {}
    if host and host == outputs.get("queueUrl"):
        queue = target_queue(None, stack_outputs)  # with the stack's region
    elif host:
        queue = QueueEndpoint.of(host, "Host")
    else:
        queue = target_queue(queue_url, stack_outputs)
    own = outputs if outputs.get("queueUrl") == queue.queue_url else {}
    stack_ledger = own.get("ledgerDir") if isinstance(own.get("ledgerDir"), str) else ""
    return StackTarget(queue, own, str(ledger_dir) if ledger_dir else stack_ledger)
