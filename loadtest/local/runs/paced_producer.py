"""A producer that offers an exact rate and can change it while it runs: the capacity search's load.

Threads share one schedule of send slots (10 messages each): the target rate decides the slots' spacing, so
the offered rate does not depend on how fast each call returns, until the threads cannot keep up (then the
offered rate reported is what was really accepted). Every accepted message goes to the run's ledger, like
Locust's users. `poison_ratio` mixes invalid bodies in, `resend_ratio` sends that share of events a second
time (same eventId, a new message: what a producer retrying after a lost response does); both may change
between stages. Its own process, not Locust's: the search changes the rate from the backlog it observes,
between steps, which a Locust shape cannot see.
"""

from __future__ import annotations

import random
import threading
import time

from loadtest.ledger import LedgerWriter
from producer.sqs_producer import SQS_BATCH_LIMIT, OutgoingMessage, SqsProducer
from producer.vehicles import VehicleFactory

MAX_DEBT_S = 0.5  # slots older than this are dropped, not sent in a burst to catch up


class PacedProducer:
    def __init__(self, queue_url: str, ledger: LedgerWriter, threads: int = 4, fleet_size: int = 500):
        self.queue_url = queue_url
        self.ledger = ledger
        self.accepted = 0
        self.refused = 0
        self.poison_ratio = 0.0
        self.resend_ratio = 0.0
        self._rate = 0.0
        self._next_slot = time.monotonic()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._send_loop, args=(n, fleet_size), name=f"producer-{n}", daemon=True)
            for n in range(threads)
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    @property
    def rate(self) -> float:
        return self._rate

    def set_rate(self, msgs_per_s: float) -> None:
        with self._lock:
            self._rate = msgs_per_s
            self._next_slot = time.monotonic()

    def stop(self, timeout_s: float = 2.0) -> None:
        """No new sends; the calls in flight finish (milliseconds on the emulator)."""
        self._stop.set()
        for thread in self._threads:
            if thread.ident is not None:  # started
                thread.join(timeout_s)

    def _take_slot(self) -> float | None:
        """The time this thread's next send is due, or None while the rate is 0."""
        with self._lock:
            if self._rate <= 0:
                return None
            now = time.monotonic()
            slot = max(self._next_slot, now - MAX_DEBT_S)
            self._next_slot = slot + SQS_BATCH_LIMIT / self._rate
            return slot

    def _send_loop(self, number: int, fleet_size: int) -> None:
        producer = SqsProducer(self.queue_url)
        factory = VehicleFactory(fleet_size=fleet_size, id_prefix=f"CAP{number}-VH")
        rng, resends = random.Random(number), []
        while not self._stop.is_set():
            slot = self._take_slot()
            if slot is None:
                self._stop.wait(0.05)
                continue
            delay = slot - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                return
            result = producer.send(self._batch(factory, rng, resends))
            self.ledger.record(result.accepted)
            with self._lock:
                self.accepted += len(result.accepted)
                self.refused += len(result.failed)

    def _batch(self, factory: VehicleFactory, rng: random.Random, resends: list) -> list[OutgoingMessage]:
        """Ten messages: earlier events due a resend first, then new events or poison bodies."""
        batch = [resends.pop() for _ in range(min(len(resends), SQS_BATCH_LIMIT // 2))]
        while len(batch) < SQS_BATCH_LIMIT:
            if rng.random() < self.poison_ratio:
                batch.append(OutgoingMessage(factory.poison_body(), poison=True))
                continue
            message = OutgoingMessage.of(factory.event())
            if rng.random() < self.resend_ratio:
                resends.append(message)
            batch.append(message)
        return batch

    def send_now(self, count: int) -> None:
        """`count` messages as fast as one thread can send them (a backlog to drain), into the ledger."""
        producer = SqsProducer(self.queue_url)
        factory = VehicleFactory(id_prefix="BACKLOG-VH")
        for _ in range(count // SQS_BATCH_LIMIT):
            result = producer.send([OutgoingMessage.of(factory.event()) for _ in range(SQS_BATCH_LIMIT)])
            self.ledger.record(result.accepted)
            self.accepted += len(result.accepted)
            self.refused += len(result.failed)
