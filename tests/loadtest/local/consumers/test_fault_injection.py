"""Fault injection (the local pollers' only, never the deployed handler's) fails exactly the chosen items."""

import random

import pytest

from consumer.event_store import WriteResult
from infra.settings import PROJECT_ROOT
from loadtest.local.consumers.fault_injection import (
    INJECTED_CODE,
    OUTAGE_CODE,
    FaultInjectingStore,
    Faults,
    maybe_overrun,
    with_faults,
)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("typo=0.1", "VEHICLE_PIPELINE_FAULTS: unknown fault 'typo'"),
        ("overrun_ratio=2", "VEHICLE_PIPELINE_FAULTS: overrun_ratio=2 must be a ratio between 0 and 1"),
    ],
)
def test_bad_fault_settings_are_rejected(text, message):
    with pytest.raises(ValueError) as caught:
        Faults.parse(text)
    assert str(caught.value) == message


class RecordingStore:
    def __init__(self):
        self.written = []

    def put_events(self, items, deadline=None):
        self.written.extend(item["eventId"] for item in items)
        return WriteResult(calls=1)


def test_injecting_store_fails_the_chosen_items_without_writing_them():
    real = RecordingStore()
    items = [{"eventId": f"e{i}"} for i in range(1000)]

    result = FaultInjectingStore(real, failure_ratio=0.1, rng=random.Random(7)).put_events(items)

    assert set(result.failed.values()) == {INJECTED_CODE}
    assert sorted(result.failed) == sorted(set(f"e{i}" for i in range(1000)) - set(real.written))
    chosen = random.Random(7)
    assert sorted(result.failed) == sorted(item["eventId"] for item in items if chosen.random() < 0.1)


class Context:
    def get_remaining_time_in_millis(self):
        return 0


def test_overrun_sleeps_past_the_deadline(monkeypatch):
    slept = []
    monkeypatch.setattr("loadtest.local.consumers.fault_injection.time.sleep", slept.append)
    maybe_overrun(Faults(overrun_ratio=1.0), Context())
    maybe_overrun(Faults(overrun_ratio=0.0), Context())
    assert slept == [1.0]


def test_outage_fails_every_item_while_the_flag_file_exists(tmp_path):
    class Recording:
        def __init__(self):
            self.written = []

        def put_events(self, items, deadline=None):
            self.written += [item["eventId"] for item in items]
            return WriteResult()

    flag = tmp_path / "outage"
    inner = Recording()
    store = with_faults(inner, Faults.parse(f"dynamodb_outage_flag={flag}"))
    items = [{"eventId": "e1"}, {"eventId": "e2"}]

    flag.touch()
    during = store.put_events(items)
    flag.unlink()
    after = store.put_events(items)

    assert during.failed == {"e1": OUTAGE_CODE, "e2": OUTAGE_CODE}
    assert (after.failed, inner.written) == ({}, ["e1", "e2"])


def test_the_deployed_handler_has_no_fault_injection():
    handler_source = (PROJECT_ROOT / "consumer" / "handler.py").read_text()
    assert [
        name for name in ("fault_injection", "with_faults", "maybe_overrun") if name in handler_source
    ] == []
    assert not (PROJECT_ROOT / "consumer" / "fault_injection.py").exists()
