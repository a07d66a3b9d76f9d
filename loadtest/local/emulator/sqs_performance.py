"""A performance layer over moto's SQS backend (moto 5.2): per-call cost that does not grow with the backlog.

Written as it would be proposed to moto: every patch below says what moto does, why that is slow, and why
the replacement returns the same values. `tests/loadtest/local/emulator/test_sqs_performance.py` proves it:
a seeded random sequence of SQS calls under a controlled clock gives the same observable results with and
without the layer. `install()` applies it (the emulator's `__main__` does), `uninstall()` or `installed()`
undoes it.

What moto does per call, with n messages in a queue (measured: ReceiveMessage 40 ms at 100 waiting, 540 ms
at 1,000, 1.7 s at 3,000):

- Its clock, `unix_time_millis`, builds two datetime objects and a timedelta per reading (~4 µs here), and it
  is read for every message of every scan.
- `Queue.messages` (the visible, undelayed messages) is a scan reading that clock twice per message.
  `Queue.attributes` runs three such scans (the Approximate* counts), and is computed for every SendMessage
  (to read ContentBasedDeduplication), three times per requested GetQueueAttributes name, and three times
  per message a ReceiveMessage returns (its retention check asks GetQueueAttributes for one value).
  At 1,000 waiting one ReceiveMessage of 10 read the clock ~120,000 times.
- DeleteMessage and ChangeMessageVisibility scan every message for the receipt handle; a FIFO SendMessage
  scans every message for its deduplication id.
- Not growing with the backlog but the largest cost left per received message: a receipt handle is 185
  `random.choice` calls (~80 µs).

What the layer does instead, keeping moto's data model (`Message`, `pending_messages`, receipt handles,
`deleted_messages`) and moto's algorithms (same loops, same order, same quirks):

1. `EpochClock`: moto's own floats computed from `time.time_ns()` with integer arithmetic (~0.6 µs).
2. Receipt handles from the same draws of moto's seedable generator, made directly (~23 µs).
3. `MessageIndex`, one per queue, replaces the `Queue._messages` list: messages in send order, a heap of
   the available ones (by send order) and heaps of the hidden ones (by the time they stop being hidden),
   counts of the hidden ones, and lookups by receipt handle and by deduplication id. A receive pops the
   available messages in order and stops where moto stops; counts are read, not scanned.
4. `Queue.attributes` maps its attribute names once instead of converting CamelCase per name per call.

Each index operation is O(log n) or O(1); a call costs the same at 10,000 waiting as at 100 (`make bench`,
the `emulator` figures). One cost still follows the backlog, by moto's (and SQS's) rule: a FIFO receive
steps over the available messages of groups in flight one by one, so with every group in flight it walks
them all (measured in process at 10,000 waiting: 0.6 ms a receive over 200 groups, 14 ms over 20 or one;
stock moto: seconds).
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import heapq
import itertools
import json
import random
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from copy import deepcopy
from string import ascii_lowercase
from typing import Any

from moto.core.utils import camelcase_to_underscores, unix_time
from moto.moto_api._internal import mock_random
from moto.sqs import models
from moto.sqs.exceptions import InvalidAttributeName, InvalidParameterValue, ReceiptHandleIsInvalid

# ---------------------------------------------------------------------------------------------------------
# 1. The clock


class EpochClock:
    """moto's `unix_time()` / `unix_time_millis()`, the same floats, read without datetime objects.

    moto computes `utcnow() - datetime(1970, 1, 1)` and adds `days * 86400 + (seconds + microseconds / 1e6)`.
    `datetime.now()` is the system clock floored to the microsecond, so the same integers come from
    `time.time_ns()` by integer division, and the same float expression then gives bit-identical values
    (checked against moto for random instants in the tests).

    A thread can freeze it: the emulator's FIFO pass decides on one instant (emulator/fifo_groups.py).
    The freeze is per thread, so requests served meanwhile by other threads keep reading the real clock.
    """

    def __init__(self, source_ns: Callable[[], int] = time.time_ns):
        self.source_ns = source_ns
        self._frozen = threading.local()

    def now_ns(self) -> int:
        frozen = getattr(self._frozen, "ns", None)
        return frozen if frozen is not None else self.source_ns()

    def seconds(self, dt: Any = None) -> float:
        if dt is not None:  # moto's signature takes a datetime; only its no-argument form is on the hot path
            return unix_time(dt)
        whole, micros = divmod(self.now_ns() // 1000, 1_000_000)
        days, seconds = divmod(whole, 86400)
        return days * 86400 + (seconds + micros / 1e6)

    def millis(self, dt: Any = None) -> float:
        return self.seconds(dt) * 1000.0

    @contextlib.contextmanager
    def frozen(self) -> Iterator[None]:
        """Within the block this thread reads one instant, the one at its start."""
        outer = getattr(self._frozen, "ns", None)
        self._frozen.ns = self.now_ns()
        try:
            yield
        finally:
            self._frozen.ns = outer


CLOCK = EpochClock()


def _now_ms() -> float:
    # Through the module attribute, as moto reads it: installed, this is CLOCK.millis; a test may patch it.
    return models.unix_time_millis()


# ---------------------------------------------------------------------------------------------------------
# 2. Receipt handles

RECEIPT_HANDLE_LENGTH = 185


def _draws_like_random_choice(generator: random.Random) -> bool:
    # True for CPython's Random, which moto's MotoRandom is: `choice` indexes with `_randbelow`, which is
    # `_randbelow_with_getrandbits`. Anything else keeps moto's own generate_receipt_handle.
    kind = type(generator)
    return (
        kind.choice is random.Random.choice and kind._randbelow is random.Random._randbelow_with_getrandbits
    )


def _receipt_handle() -> str:
    """moto's `generate_receipt_handle`: 185 × `mock_random.choice(ascii_lowercase)`, ~80 µs per message.

    `choice` over 26 letters draws `getrandbits(5)` until it is below 26 and takes that letter; making the
    same draws here gives the same letters and leaves moto's (seedable) generator in the same state.
    """
    draw = mock_random.getrandbits
    letters = []
    while len(letters) < RECEIPT_HANDLE_LENGTH:
        if (value := draw(5)) < 26:
            letters.append(ascii_lowercase[value])
    return "".join(letters)


# ---------------------------------------------------------------------------------------------------------
# 3. The message index


@dataclasses.dataclass(slots=True)
class _Slot:
    """The index's bookkeeping for one message of the queue."""

    seq: int  # send order within the queue
    available_gen: int = 0  # bumped each time the message becomes available: older heap entries are stale
    visibility_gen: int = 0  # bumped each time its visibility timeout changes: older heap entries are stale
    invisible: bool = False  # `not message.visible` may hold: set on a visibility change, cleared once passed
    delayed: bool = False  # `message.delayed` may hold: set at send with a delay, cleared once passed


class MessageIndex:
    """A queue's messages in send order, with what moto otherwise finds by scanning them.

    moto's predicates, with t the clock: visible ⇔ t > visible_at; delayed ⇔ t < delayed_until; available
    (in `Queue.messages`) ⇔ visible and not delayed. `refresh(t)` clears the flags whose time has passed, so
    after it a flag is set exactly when moto's predicate holds (the clock does not run backwards).
    Heaps drop entries lazily: an entry is acted on only if its generation matches the message's slot.
    """

    def __init__(self, messages: Iterable[models.Message] = ()):
        self._slots: dict[models.Message, _Slot] = {}  # insertion-ordered: the queue's order
        self._sequence = itertools.count()
        self._available: list[tuple[int, int, models.Message]] = []  # (seq, available_gen, message)
        self._visible_at: list[tuple[float, int, int, models.Message]] = []  # (visible_at, seq, gen, message)
        self._delayed_until: list[tuple[float, int, models.Message]] = []  # (delayed_until, seq, message)
        self.hidden = 0  # messages flagged invisible or delayed
        self.invisible = 0
        self.delayed = 0
        self._by_receipt: dict[str, models.Message] = {}
        self._by_dedup_id: dict[Any, dict[models.Message, None]] = {}
        for message in messages:
            self.add(message)

    def __len__(self) -> int:
        return len(self._slots)

    def ordered(self) -> tuple[models.Message, ...]:
        return tuple(self._slots)

    # -- membership

    def add(self, message: models.Message) -> None:
        slot = _Slot(next(self._sequence))
        self._slots[message] = slot
        for handle in message.all_receipt_handles:  # a message redriven from another queue keeps its handles
            if isinstance(handle, str):
                self._by_receipt[handle] = message
        self._by_dedup_id.setdefault(message.deduplication_id, {})[message] = None
        # A fresh message has visible_at = delayed_until = 0.0: visible and undelayed at any clock reading.
        if message.visible_at > 0:
            self._hide_until_visible(message, slot)
        if message.delayed_until > 0:
            slot.delayed = True
            self.delayed += 1
            self.hidden += not slot.invisible
            heapq.heappush(self._delayed_until, (message.delayed_until, slot.seq, message))
        if not (slot.invisible or slot.delayed):
            self._make_available(message, slot)

    def remove(self, message: models.Message) -> None:
        slot = self._slots.pop(message)
        self.invisible -= slot.invisible
        self.delayed -= slot.delayed
        self.hidden -= slot.invisible or slot.delayed
        for handle in message.all_receipt_handles:
            if isinstance(handle, str) and self._by_receipt.get(handle) is message:
                del self._by_receipt[handle]
        same_id = self._by_dedup_id[message.deduplication_id]
        del same_id[message]
        if not same_id:
            del self._by_dedup_id[message.deduplication_id]

    def holders_of(self, receipt_handle: Any) -> list[models.Message]:
        """The messages that ever had this receipt handle, in queue order (moto scans for them)."""
        if isinstance(receipt_handle, str):
            message = self._by_receipt.get(receipt_handle)
            return [message] if message is not None else []
        # Not a string (a request without one): every received message has None among its old handles.
        return [message for message in self._slots if message.had_receipt_handle(receipt_handle)]

    def with_dedup_id(self, deduplication_id: Any) -> Iterable[models.Message]:
        return self._by_dedup_id.get(deduplication_id, ())

    # -- visibility

    def note_received(self, message: models.Message) -> None:
        """After `mark_received`: a new receipt handle, and a new visibility timeout unless it was 0."""
        self._by_receipt[message.receipt_handle] = message

    def note_visibility_change(self, message: models.Message) -> None:
        """After `Message.change_visibility`: hidden until the clock passes the new `visible_at`."""
        slot = self._slots.get(message)
        if slot is not None:
            self._hide_until_visible(message, slot)

    def _hide_until_visible(self, message: models.Message, slot: _Slot) -> None:
        slot.visibility_gen += 1
        heapq.heappush(self._visible_at, (message.visible_at, slot.seq, slot.visibility_gen, message))
        if not slot.invisible:
            slot.invisible = True
            self.invisible += 1
            self.hidden += not slot.delayed

    def _make_available(self, message: models.Message, slot: _Slot) -> None:
        slot.available_gen += 1
        heapq.heappush(self._available, (slot.seq, slot.available_gen, message))

    def refresh(self, now_ms: float) -> None:
        """Clear the flags whose time has passed at `now_ms`; messages with no flag left become available."""
        visible_at, delayed_until = self._visible_at, self._delayed_until
        while visible_at and visible_at[0][0] < now_ms:  # visible once now > visible_at
            _, seq, gen, message = heapq.heappop(visible_at)
            slot = self._slots.get(message)
            if slot is None or slot.seq != seq or slot.visibility_gen != gen:
                continue
            slot.invisible = False
            self.invisible -= 1
            if not slot.delayed:
                self.hidden -= 1
                self._make_available(message, slot)
        while delayed_until and delayed_until[0][0] <= now_ms:  # undelayed once now >= delayed_until
            _, seq, message = heapq.heappop(delayed_until)
            slot = self._slots.get(message)
            if slot is None or slot.seq != seq or not slot.delayed:
                continue
            slot.delayed = False
            self.delayed -= 1
            if not slot.invisible:
                self.hidden -= 1
                self._make_available(message, slot)

    # -- reading the available messages in queue order

    def available_count(self) -> int:
        return len(self._slots) - self.hidden

    def available_in_order(self) -> list[models.Message]:
        return [message for message, slot in self._slots.items() if not (slot.invisible or slot.delayed)]

    def pop_available(self) -> tuple[int, int, models.Message] | None:
        """The next available message in queue order, taken off the heap: give it back with `restore`."""
        while self._available:
            entry = heapq.heappop(self._available)
            if self._is_current(entry):
                return entry
        return None

    def restore(self, entries: Iterable[tuple[int, int, models.Message]]) -> None:
        """Put back popped entries whose messages are still in the queue and still available."""
        for entry in entries:
            if self._is_current(entry):
                heapq.heappush(self._available, entry)

    def _is_current(self, entry: tuple[int, int, models.Message]) -> bool:
        seq, gen, message = entry
        slot = self._slots.get(message)
        return (
            slot is not None
            and slot.seq == seq
            and slot.available_gen == gen
            and not (slot.invisible or slot.delayed)
        )


# Queues that hold an index, so `uninstall()` can hand each its plain list back.
_indexed_queues: weakref.WeakSet[models.Queue] = weakref.WeakSet()


def index_of(queue: models.Queue) -> MessageIndex:
    index = queue.__dict__.get("_message_index")
    if index is None:  # a queue created before install(): index the list moto kept
        index = queue.__dict__["_message_index"] = MessageIndex(queue.__dict__.pop("_messages", ()))
        _indexed_queues.add(queue)
    return index


def _lock_of(queue: models.Queue) -> Any:
    # moto's own per-queue Condition (an RLock): add_message already appends under it and long polls wait
    # on it. Queue.__init__ assigns _messages before creating it, hence the fallback.
    return queue.__dict__.get("_messages_lock") or contextlib.nullcontext()


# ---------------------------------------------------------------------------------------------------------
# 4. Queue patches


def _get_messages(queue: models.Queue) -> tuple[models.Message, ...]:
    """`Queue._messages`: a snapshot in queue order, read-only (a tuple: a stray `.append` fails loudly)."""
    with _lock_of(queue):
        return index_of(queue).ordered()


def _set_messages(queue: models.Queue, messages: Iterable[models.Message]) -> None:
    """`queue._messages = [...]` (moto's `__init__` and PurgeQueue assign it): re-index that list."""
    with _lock_of(queue):
        queue.__dict__["_message_index"] = MessageIndex(messages)
        _indexed_queues.add(queue)


def _visible_undelayed_messages(queue: models.Queue) -> list[models.Message]:
    """`Queue.messages`. moto: a scan, two clock readings per message. Here: the index's flags after one."""
    with _lock_of(queue):
        index = index_of(queue)
        index.refresh(_now_ms())
        return index.available_in_order()


def _count(read: Callable[[MessageIndex], int]) -> property:
    def counted(queue: models.Queue) -> int:
        with _lock_of(queue):
            index = index_of(queue)
            index.refresh(_now_ms())
            return read(index)

    return property(counted)


_underscored = functools.cache(camelcase_to_underscores)  # a pure function of the name


def _attribute_text(value: Any) -> Any:
    return str(value).lower() if isinstance(value, bool) else value


def _attributes(queue: models.Queue) -> dict[str, Any]:
    """`Queue.attributes`, moto's loop with its CamelCase → snake_case conversions memoised.

    moto converts every attribute name character by character on every call; the counts behind the three
    Approximate* attributes are read from the index (`_count` properties).
    """
    result: dict[str, Any] = {}
    for attribute in queue.BASE_ATTRIBUTES:
        result[attribute] = getattr(queue, _underscored(attribute))
    if queue.fifo_queue:
        for attribute in queue.FIFO_ATTRIBUTES:
            result[attribute] = getattr(queue, _underscored(attribute))
    if queue.kms_master_key_id:
        for attribute in queue.KMS_ATTRIBUTES:
            result[attribute] = getattr(queue, _underscored(attribute))
    if queue.policy:
        result["Policy"] = queue.policy
    if queue.redrive_policy:
        result["RedrivePolicy"] = json.dumps(queue.redrive_policy)
    return {key: _attribute_text(value) for key, value in result.items()}


def _content_based_deduplication(queue: models.Queue) -> bool:
    """`queue.attributes.get("ContentBasedDeduplication") == "true"`, without computing every attribute."""
    return queue.fifo_queue and _attribute_text(queue.content_based_deduplication) == "true"


def _add_message(queue: models.Queue, message: models.Message) -> None:
    """`Queue.add_message`. moto scans every message for a FIFO deduplication id; the index keeps them by id.

    Same rule: a FIFO message is dropped when a message still in the queue has its deduplication id and was
    sent less than DEDUPLICATION_TIME_IN_SECONDS before it.
    """
    with queue._messages_lock:
        index = index_of(queue)
        if queue.fifo_queue and (_content_based_deduplication(queue) or message.deduplication_id):
            for earlier in index.with_dedup_id(message.deduplication_id):
                diff = message.sent_timestamp - earlier.sent_timestamp
                if diff / 1000 < models.DEDUPLICATION_TIME_IN_SECONDS:
                    return
        index.add(message)
        queue._messages_lock.notify_all()
    _invoke_event_source_mappings(queue)


def _invoke_event_source_mappings(queue: models.Queue) -> None:
    # moto's add_message, unchanged: a Lambda event source mapping on the queue is invoked on each send.
    for arn, esm in queue.lambda_event_source_mappings.items():
        if not esm.enabled:
            continue
        backend = models.sqs_backends[queue.account_id][queue.region]
        messages = backend.receive_message(
            queue.name, esm.batch_size, queue.receive_message_wait_time_seconds, queue.visibility_timeout
        )
        from moto.awslambda.utils import get_backend

        result = get_backend(queue.account_id, queue.region).send_sqs_batch(arn, messages, queue.queue_arn)
        for message in messages:
            if result:
                backend.delete_message(queue.name, message.receipt_handle)
            else:  # make the messages visible again
                backend.change_message_visibility(queue.name, message.receipt_handle, visibility_timeout=0)


def _delete_message(queue: models.Queue, receipt_handle: str) -> None:
    """`Queue.delete_message`. moto scans every message's receipt handles; the index keeps them by handle."""
    if receipt_handle in queue.deleted_messages:
        return  # already deleted: deleting again is not an error
    with queue._messages_lock:
        index = index_of(queue)
        holders = index.holders_of(receipt_handle)
        if not holders:
            raise ReceiptHandleIsInvalid()
        for message in holders:  # deleted whether in flight or not
            queue.pending_messages.discard(message)
            queue.deleted_messages.update(message.all_receipt_handles)
            index.remove(message)


def _wait_for_messages(queue: models.Queue, timeout: int) -> None:
    """`Queue.wait_for_messages`: moto's wait; its predicate (any available message) read from the index."""

    def any_available() -> bool:
        index = index_of(queue)
        index.refresh(_now_ms())
        return index.available_count() > 0

    with queue._messages_lock:
        queue._messages_lock.wait_for(any_available, timeout=timeout)


# ---------------------------------------------------------------------------------------------------------
# 5. Backend patches


def _receive_message(
    backend: models.SQSBackend,
    queue_name: str,
    count: int,
    wait_seconds_timeout: int,
    visibility_timeout: int,
    message_attribute_names: list[str] | None = None,
) -> list[models.Message]:
    """`SQSBackend.receive_message`: moto's loop, each pass reading the available messages off the index.

    moto builds `queue.messages` (a scan) for each pass and walks it until `count` results; a pass here pops
    the same messages in the same order and stops at the same point, so it touches only what it returns,
    the messages it moves to the dead-letter queue, and (FIFO) those of groups in flight that it skips.
    """
    if message_attribute_names is None:
        message_attribute_names = []
    queue = backend.get_queue(queue_name)
    result: list[models.Message] = []
    previous_result_count = len(result)
    polling_end = models.unix_time() + wait_seconds_timeout
    pending_groups = deepcopy(queue.pending_message_groups)
    while True:
        if result or (wait_seconds_timeout and models.unix_time() > polling_end):
            break
        pending_groups = _receive_pass(
            backend, queue, count, visibility_timeout, message_attribute_names, result, pending_groups
        )
        if previous_result_count == len(result):
            if wait_seconds_timeout == 0:
                break  # no timeout and no new results
            queue.wait_for_messages(1)
            continue
        previous_result_count = len(result)
    return result


def _receive_pass(
    backend: models.SQSBackend,
    queue: models.Queue,
    count: int,
    visibility_timeout: int,
    message_attribute_names: list[str],
    result: list[models.Message],
    pending_groups: set[str],
) -> set[str]:
    """One pass of moto's receive loop (same statements, same order), over the index's available messages."""
    to_dead_letter_queue: list[models.Message] = []
    with queue._messages_lock:
        index = index_of(queue)
        index.refresh(_now_ms())
        popped = []
        try:
            while (entry := index.pop_available()) is not None:
                popped.append(entry)
                message = entry[2]
                if not message.visible:
                    continue
                if message in queue.pending_messages:
                    # Pending but visible again: the consumer timed out.
                    queue.pending_messages.remove(message)
                    pending_groups = deepcopy(queue.pending_message_groups)
                if message.group_id and queue.fifo_queue and message.group_id in pending_groups:
                    continue  # a previous receive still holds this group
                if (
                    queue.dead_letter_queue is not None
                    and queue.redrive_policy
                    and message.approximate_receive_count >= queue.redrive_policy["maxReceiveCount"]
                ):
                    to_dead_letter_queue.append(message)
                    continue
                queue.pending_messages.add(message)
                visible_at = message.visible_at
                message.mark_received(visibility_timeout=visibility_timeout)
                index.note_received(message)
                if message.visible_at != visible_at:  # a timeout of 0 leaves it visible
                    index.note_visibility_change(message)
                message_copy = deepcopy(message)  # the reply's copy, its attributes filtered
                models._filter_message_attributes(message_copy, message_attribute_names)
                if not backend.is_message_valid_based_on_retention_period(queue.name, message):
                    break
                result.append(message_copy)
                if len(result) >= count:
                    break
        finally:
            index.restore(popped)
    for message in to_dead_letter_queue:
        with queue._messages_lock:  # released before the dead-letter queue takes its own lock
            index.remove(message)
        queue.dead_letter_queue.add_message(message)
    return pending_groups


def _change_message_visibility(
    backend: models.SQSBackend, queue_name: str, receipt_handle: str, visibility_timeout: int
) -> None:
    """`SQSBackend.change_message_visibility`. moto scans the messages for the handle; the index has it."""
    queue = backend.get_queue(queue_name)
    with queue._messages_lock:
        index = index_of(queue)
        holders = index.holders_of(receipt_handle)
        if not holders:
            raise ReceiptHandleIsInvalid
        message = holders[0]
        visibility_timeout_msec = int(visibility_timeout) * 1000
        given_visibility_timeout = models.unix_time_millis() + visibility_timeout_msec
        if given_visibility_timeout - message.sent_timestamp > 43200 * 1000:
            raise InvalidParameterValue(
                f"Value {visibility_timeout} for parameter VisibilityTimeout is invalid. Reason: Total "
                "VisibilityTimeout for the message is beyond the limit [43200 seconds]"
            )
        message.change_visibility(visibility_timeout)
        index.note_visibility_change(message)
        if message.visible and message in queue.pending_messages:
            queue.pending_messages.remove(message)  # visible again: no longer pending


def _get_queue_attributes(
    backend: models.SQSBackend, queue_name: str, attribute_names: list[str]
) -> dict[str, Any]:
    """`SQSBackend.get_queue_attributes`. moto computes every attribute 3 times per name asked; once here."""
    queue = backend.get_queue(queue_name)
    if not attribute_names:
        return {}
    valid_names = ["All", *queue.BASE_ATTRIBUTES, *queue.FIFO_ATTRIBUTES, *queue.KMS_ATTRIBUTES]
    invalid_name = next((name for name in attribute_names if name not in valid_names), None)
    if invalid_name or invalid_name == "":
        raise InvalidAttributeName(invalid_name)
    every = queue.attributes
    if "All" in attribute_names:
        return every
    return {name: every[name] for name in attribute_names if every.get(name) is not None}


def _is_message_valid_based_on_retention_period(
    backend: models.SQSBackend, queue_name: str, message: models.Message
) -> bool:
    """moto asks GetQueueAttributes (every attribute, 3 times) for MessageRetentionPeriod; read it here."""
    retention_period = _attribute_text(backend.get_queue(queue_name).message_retention_period)
    retain_until = retention_period + message.sent_timestamp / 1000
    return not retain_until <= models.unix_time()


# ---------------------------------------------------------------------------------------------------------
# 6. Install / uninstall

_PATCHES: list[tuple[Any, str, Any]] = [
    (models, "unix_time", CLOCK.seconds),
    (models, "unix_time_millis", CLOCK.millis),
    (models.Queue, "_messages", property(_get_messages, _set_messages)),
    (models.Queue, "messages", property(_visible_undelayed_messages)),
    (models.Queue, "approximate_number_of_messages", _count(MessageIndex.available_count)),
    (models.Queue, "approximate_number_of_messages_not_visible", _count(lambda index: index.invisible)),
    (models.Queue, "approximate_number_of_messages_delayed", _count(lambda index: index.delayed)),
    (models.Queue, "attributes", property(_attributes)),
    (models.Queue, "add_message", _add_message),
    (models.Queue, "delete_message", _delete_message),
    (models.Queue, "wait_for_messages", _wait_for_messages),
    (models.SQSBackend, "receive_message", _receive_message),
    (models.SQSBackend, "change_message_visibility", _change_message_visibility),
    (models.SQSBackend, "get_queue_attributes", _get_queue_attributes),
    (
        models.SQSBackend,
        "is_message_valid_based_on_retention_period",
        _is_message_valid_based_on_retention_period,
    ),
]
_originals: list[tuple[Any, str, Any]] = []  # (owner, name, what moto had), in the order applied
_ABSENT = object()  # Queue has no class attribute `_messages`: moto sets it per instance


def is_installed() -> bool:
    return bool(_originals)


def install() -> None:
    """Apply every patch (idempotent). Queues that already exist are indexed on first use."""
    if is_installed():
        return
    patches = list(_PATCHES)
    if _draws_like_random_choice(mock_random):
        patches.append((models, "generate_receipt_handle", _receipt_handle))
    for owner, name, replacement in patches:
        _originals.append((owner, name, vars(owner).get(name, _ABSENT)))
        setattr(owner, name, replacement)


def uninstall() -> None:
    """Restore moto's code; each indexed queue gets its messages back as moto's plain list, in order."""
    for queue in list(_indexed_queues):
        index = queue.__dict__.pop("_message_index", None)
        if index is not None:
            queue.__dict__["_messages"] = list(index.ordered())
    _indexed_queues.clear()
    while _originals:
        owner, name, original = _originals.pop()
        if original is _ABSENT:
            delattr(owner, name)
        else:
            setattr(owner, name, original)


@contextlib.contextmanager
def installed() -> Iterator[None]:
    install()
    try:
        yield
    finally:
        uninstall()
