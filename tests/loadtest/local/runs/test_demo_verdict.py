"""The demo's verdict: a run passes only with a clean ledger, a drained queue and the consumers back at their
floor, and its one phrase says what failed."""

from loadtest.analysis.ledger_check import LedgerResult
from loadtest.analysis.run_record import Series
from loadtest.local.runs.demo import Evidence, verdict

CLEAN = LedgerResult(accepted=100, stored=100, in_dlq=0, lost=0, duplicated=0, poison_accepted=0)


def evidence(**changes) -> Evidence:
    values = dict(
        items=[], dead=[], queued=[], drained=True, request_counts={}, series=Series(), load_started_ms=0
    )
    return Evidence(**(values | changes))


def test_a_clean_run_that_scaled_back_in_passes():
    assert verdict(CLEAN, evidence(), {}, None) == (True, "no message lost, pending or stored twice")


def test_consumers_left_above_their_floor_fail_the_run():
    assert verdict(CLEAN, evidence(scaled_in=False), {}, None) == (
        False,
        "the consumers did not step back to the floor in the time their rule needs",
    )


def test_a_queue_that_never_drained_is_named_before_the_scale_in():
    passed, why = verdict(CLEAN, evidence(drained=False, scaled_in=False), {}, None)
    assert (passed, why) == (False, "the queue did not drain in time")
