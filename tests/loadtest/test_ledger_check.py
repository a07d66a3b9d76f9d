"""The no-loss check: clean runs pass; a message removed behind the pipeline's back, or kept twice, fails."""

import json

from loadtest.ledger import LedgerEntry
from loadtest.ledger_check import check_ledger

LEDGER = [
    LedgerEntry("e1", "m1", "V1", 1, False),
    LedgerEntry("e2", "m2", "V1", 2, False),
    LedgerEntry(None, "m3", None, None, True),  # poison, routed to the DLQ by the consumer
    LedgerEntry("e4", "m4", "V2", 4, False),  # failed maxReceiveCount times, moved by the redrive policy
]
ITEMS = [{"eventId": "e1"}, {"eventId": "e2"}]
ROUTED = {
    "MessageId": "d1",
    "Body": "garbage",
    "MessageAttributes": {"sourceMessageId": {"StringValue": "m3"}},
}
REDRIVEN = {"MessageId": "m4", "Body": json.dumps({"eventId": "e4"})}


def test_clean_run_accounts_for_every_message():
    result = check_ledger(LEDGER, ITEMS, [ROUTED, REDRIVEN])
    assert result.line() == "lost=0 duplicated=0 in_dlq=2 stored=2 accepted=4"
    assert (result.ok, result.poison_accepted) == (True, 1)


def test_message_removed_behind_the_pipelines_back_is_lost():
    result = check_ledger(LEDGER, ITEMS[:1], [ROUTED, REDRIVEN])
    assert (result.lost, result.lost_ids, result.ok) == (1, ("e2",), False)


def test_event_both_stored_and_dead_lettered_is_duplicated():
    result = check_ledger(LEDGER, [*ITEMS, {"eventId": "e4"}], [ROUTED, REDRIVEN])
    assert (result.duplicated, result.duplicated_ids) == (1, ("e4",))
