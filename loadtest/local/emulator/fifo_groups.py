"""moto's SQS with FIFO message groups handed out the way SQS hands them out.

SQS delivers a FIFO message group's messages in order, and none of them while one is in flight (received,
not deleted, visibility timeout not expired). moto 5 decides group by group while the clock runs: when
several messages of a group failed together, their visibility timeouts end microseconds apart, and a
receive (above all a long poll, which loops) can skip the first as "its group is busy", drop it from the
in-flight set, then deliver a later one. Seen here: the third failed event of a vehicle stored before the
first two.

So a FIFO receive here is a series of single passes, each under the queue's lock and one frozen clock:
messages whose timeout ended leave the in-flight set first, then moto's own pass runs on a consistent
picture (groups with a message in flight wait; the others are delivered in order, several per group in one
batch). Standard queues keep moto's receive as is. The clock frozen is the one moto's SQS reads
(`sqs_performance.CLOCK`, moto's own values), frozen for the passing thread only.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from moto.sqs import models

from loadtest.local.emulator import sqs_performance

PASS_INTERVAL_S = 0.05  # between passes of a long poll


def _one_fifo_pass(receive, backend, queue, queue_name, count, visibility_timeout, attribute_names) -> list:
    with queue._messages_lock, sqs_performance.CLOCK.frozen():
        for message in [m for m in queue.pending_messages if m.visible]:
            queue.pending_messages.discard(message)
        return receive(backend, queue_name, count, 0, visibility_timeout, attribute_names)


def fifo_group_receive(receive: Callable) -> Callable:
    """`SQSBackend.receive_message` with FIFO queues served in single frozen passes of `receive`."""

    def receive_message(
        self, queue_name, count, wait_seconds_timeout, visibility_timeout, message_attribute_names=None
    ):
        queue = self.get_queue(queue_name)
        if not queue.fifo_queue:
            return receive(
                self, queue_name, count, wait_seconds_timeout, visibility_timeout, message_attribute_names
            )
        deadline = time.monotonic() + (wait_seconds_timeout or 0)
        while True:
            result = _one_fifo_pass(
                receive, self, queue, queue_name, count, visibility_timeout, message_attribute_names
            )
            if result or time.monotonic() >= deadline:
                return result
            time.sleep(PASS_INTERVAL_S)

    return receive_message


def install() -> None:
    # moto's SQS reads the freezable clock (the same values as its own); installed with the layer already.
    models.unix_time_millis = sqs_performance.CLOCK.millis
    models.SQSBackend.receive_message = fifo_group_receive(models.SQSBackend.receive_message)
