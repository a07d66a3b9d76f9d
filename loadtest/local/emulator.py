"""moto_server, with SQS FIFO message groups handed out the way SQS hands them out.

SQS delivers a FIFO message group's messages in order, and none of them while one is in flight (received,
not deleted, visibility timeout not expired). moto 5 decides group by group while the clock runs: when
several messages of a group failed together, their visibility timeouts end microseconds apart, and a
receive (above all a long poll, which loops) can skip the first as "its group is busy", drop it from the
in-flight set, then deliver a later one. Seen here: the third failed event of a vehicle stored before the
first two.

So a FIFO receive here is a series of single passes, each under one lock and one frozen clock: messages whose
timeout ended leave the in-flight set first, then moto's own pass runs on a consistent picture (groups with
a message in flight wait; the others are delivered in order, several per group in one batch). Standard
queues keep moto's receive as is.

Run as `python -m loadtest.local.emulator -H 127.0.0.1 -p PORT`, the arguments of `moto_server`.
"""

from __future__ import annotations

import sys
import threading
import time

from moto.server import main
from moto.sqs import models

_real_unix_time_millis = models.unix_time_millis
_original_receive = models.SQSBackend.receive_message
_receive_lock = threading.Lock()
_frozen_ms: float | None = None
PASS_INTERVAL_S = 0.05  # between passes of a long poll


def _unix_time_millis() -> float:
    return _frozen_ms if _frozen_ms is not None else _real_unix_time_millis()


def _one_fifo_pass(backend, queue, queue_name, count, visibility_timeout, attribute_names) -> list:
    global _frozen_ms
    with _receive_lock:
        _frozen_ms = _real_unix_time_millis()
        try:
            for message in [m for m in queue.pending_messages if m.visible]:
                queue.pending_messages.discard(message)
            return _original_receive(backend, queue_name, count, 0, visibility_timeout, attribute_names)
        finally:
            _frozen_ms = None


def _receive_message(
    self, queue_name, count, wait_seconds_timeout, visibility_timeout, message_attribute_names=None
):
    queue = self.get_queue(queue_name)
    if not queue.fifo_queue:
        return _original_receive(
            self, queue_name, count, wait_seconds_timeout, visibility_timeout, message_attribute_names
        )
    deadline = time.monotonic() + (wait_seconds_timeout or 0)
    while True:
        result = _one_fifo_pass(self, queue, queue_name, count, visibility_timeout, message_attribute_names)
        if result or time.monotonic() >= deadline:
            return result
        time.sleep(PASS_INTERVAL_S)


def patch_fifo_groups() -> None:
    models.unix_time_millis = _unix_time_millis
    models.SQSBackend.receive_message = _receive_message


if __name__ == "__main__":
    patch_fifo_groups()
    sys.exit(main(sys.argv[1:]))
