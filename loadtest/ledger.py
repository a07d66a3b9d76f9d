"""The producers' ledger: every message SQS accepted, one JSON line each, one file per producer process.

One file per process (hostname + pid) means Locust master and workers, or several CLI runs, never
interleave writes, and reading the folder gives the complete ledger for the no-loss check.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import threading
from pathlib import Path

from producer.sqs_producer import OutgoingMessage


@dataclasses.dataclass(frozen=True)
class LedgerEntry:
    event_id: str | None
    message_id: str
    vehicle_id: str | None
    sent_at: int | None
    poison: bool


class LedgerWriter:
    def __init__(self, ledger_dir: str | Path):
        Path(ledger_dir).mkdir(parents=True, exist_ok=True)
        self.path = Path(ledger_dir) / f"ledger-{socket.gethostname()}-{os.getpid()}.jsonl"
        self._file = self.path.open("a", encoding="utf-8")
        self._lock = threading.Lock()  # gevent patches threading, so this also serializes greenlets

    def record(self, accepted: list[tuple[OutgoingMessage, str]]) -> None:
        lines = "".join(
            json.dumps(
                {
                    "eventId": m.event_id,
                    "messageId": message_id,
                    "vehicleId": m.vehicle_id,
                    "sentAt": m.sent_at,
                    "poison": m.poison,
                }
            )
            + "\n"
            for m, message_id in accepted
        )
        with self._lock:
            self._file.write(lines)
            self._file.flush()

    def close(self) -> None:
        with self._lock:
            self._file.close()


def read_ledger(ledger_dir: str | Path) -> list[LedgerEntry]:
    entries = []
    for path in sorted(Path(ledger_dir).glob("ledger-*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            entries.append(
                LedgerEntry(row["eventId"], row["messageId"], row["vehicleId"], row["sentAt"], row["poison"])
            )
    return entries
