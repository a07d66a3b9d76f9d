"""The no-loss check: clean runs pass; a message removed behind the pipeline's back, or kept twice, fails."""

import json

from loadtest.analysis.ledger_check import check_ledger, order_violations
from loadtest.ledger import LedgerEntry

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
    assert result.line() == "lost=0 pending=0 duplicated=0 in_dlq=2 stored=2 accepted=4"
    assert (result.ok, result.poison_accepted) == (True, 1)


def test_message_removed_behind_the_pipelines_back_is_lost():
    result = check_ledger(LEDGER, ITEMS[:1], [ROUTED, REDRIVEN])
    assert (result.lost, result.lost_ids, result.ok) == (1, ("e2",), False)


def test_a_message_still_in_the_queue_is_pending_not_lost():
    still_queued = {"MessageId": "m2", "Body": json.dumps({"eventId": "e2"})}
    result = check_ledger(LEDGER, ITEMS[:1], [ROUTED, REDRIVEN], queued_messages=[still_queued])
    assert result.line() == "lost=0 pending=1 duplicated=0 in_dlq=2 stored=1 accepted=4"
    assert (result.ok, result.verdict()) == (False, "1 still queued at the drain deadline")
    assert (
        check_ledger(LEDGER, ITEMS, [ROUTED, REDRIVEN]).verdict()
        == "no message lost, pending or stored twice"
    )


def test_event_both_stored_and_dead_lettered_is_duplicated():
    result = check_ledger(LEDGER, [*ITEMS, {"eventId": "e4"}], [ROUTED, REDRIVEN])
    assert (result.duplicated, result.duplicated_ids) == (1, ("e4",))


def test_a_poison_message_routed_twice_is_one_dead_letter_with_an_extra_copy():
    rerouted = ROUTED | {"MessageId": "d2"}  # routed again after its first invocation died before the delete
    result = check_ledger(LEDGER, ITEMS, [ROUTED, rerouted, REDRIVEN])
    assert result.line() == "lost=0 pending=0 duplicated=0 in_dlq=2 stored=2 accepted=4"
    assert (result.ok, result.extra_dead_letter_copies) == (True, 1)
    assert check_ledger(LEDGER, ITEMS, [ROUTED, REDRIVEN]).extra_dead_letter_copies == 0


def test_order_violations_count_a_vehicles_events_stored_out_of_send_order():
    def item(vehicle: str, sent_at: int, stored_at: int) -> dict:
        return {"vehicleId": vehicle, "sentAt": sent_at, "storedAt": stored_at}

    in_order = [item("V1", 1, 10), item("V1", 2, 10), item("V1", 3, 12), item("V2", 1, 5)]
    assert order_violations(in_order) == 0  # equal storedAt: written by the same call
    swapped = [item("V1", 1, 20), item("V1", 2, 11), item("V1", 3, 21), item("V2", 2, 1), item("V2", 1, 2)]
    assert order_violations(swapped) == 2
    assert (
        order_violations([{"vehicleId": "V1", "storedAt": 3}, item("V1", 1, 1)]) == 0
    )  # no sentAt: unordered


def test_a_resent_event_stored_once_is_a_resend_not_a_duplicate():
    resent = LedgerEntry("e1", "m9", "V1", 1, False)  # the producer sent e1 again, as a new message
    result = check_ledger([*LEDGER, resent], ITEMS, [ROUTED, REDRIVEN])
    assert result.line() == "lost=0 pending=0 duplicated=0 in_dlq=2 stored=2 accepted=5 resent=1"
    assert result.ok


def test_the_ledger_scan_reads_only_the_ledgers_attributes_as_plain_values():
    import boto3
    from moto import mock_aws

    from loadtest.analysis.ledger_check import LEDGER_ATTRIBUTES, scan_ledger_items

    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        table = dynamodb.create_table(
            TableName="ledger",
            KeySchema=[{"AttributeName": "eventId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "eventId", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        with table.batch_writer() as batch:
            for n in range(3000):  # more than one 1 MB page
                batch.put_item(
                    Item={
                        "eventId": f"e{n}",
                        "vehicleId": "V1",
                        "sentAt": n,
                        "storedAt": n + 7,
                        "body": "x" * 400,
                    }
                )
        said = []

        items = scan_ledger_items(table, expected=3000, say=said.append)

    assert len(items) == 3000
    assert {tuple(sorted(item)) for item in items} == {tuple(sorted(LEDGER_ATTRIBUTES))}
    assert sorted(items, key=lambda i: i["sentAt"])[5] == {
        "eventId": "e5",
        "vehicleId": "V1",
        "sentAt": 5,
        "storedAt": 12,
    }
    assert all(line.endswith(" s)") and " of 3,000 accepted (" in line for line in said)
