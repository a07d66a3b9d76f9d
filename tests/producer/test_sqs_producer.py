"""The producer side: realistic events on the contract, batch/single/FIFO sends, X-Ray header, ledger, CLI."""

import json
import re

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from consumer.vehicle_event import InvalidEvent, parse_vehicle_event
from loadtest import produce
from loadtest.ledger import LedgerWriter, read_ledger
from producer.sqs_producer import OutgoingMessage, SendResult, SqsProducer
from producer.vehicles import VehicleFactory

TRACE_HEADER = re.compile(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=1")


@pytest.fixture
def sqs():
    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1")


def receive_all(sqs, url) -> list[dict]:
    messages = []
    for _ in range(100):  # bounded
        batch = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageSystemAttributeNames=["All"]
        ).get("Messages", [])
        if not batch:
            return messages
        messages += batch
    raise AssertionError("queue never emptied")


def test_factory_events_follow_the_contract_and_vehicles_repeat():
    factory = VehicleFactory(seed=1, fleet_size=20)
    events = [factory.event() for _ in range(200)]
    assert [parse_vehicle_event(e.to_json()) for e in events] == events
    assert len({e.event_id for e in events}) == 200
    assert len({e.vehicle_id for e in events}) <= 20
    by_vehicle = {}
    for event in events:  # a vehicle's mileage only grows
        assert event.mileage > by_vehicle.get(event.vehicle_id, -1)
        by_vehicle[event.vehicle_id] = event.mileage


def test_poison_bodies_are_always_rejected():
    factory = VehicleFactory(seed=2)
    for _ in range(100):
        with pytest.raises(InvalidEvent):
            parse_vehicle_event(factory.poison_body())


def test_batch_of_ten_is_one_call_and_more_is_refused(sqs):
    url = sqs.create_queue(QueueName="events")["QueueUrl"]
    producer = SqsProducer(url, client=sqs)
    messages = [OutgoingMessage(VehicleFactory(seed=i).event().to_json()) for i in range(10)]

    result = producer.send(messages)

    assert [m for m, _ in result.accepted] == messages and result.failed == []
    assert sorted(m["Body"] for m in receive_all(sqs, url)) == sorted(m.body for m in messages)
    with pytest.raises(ValueError, match="send takes 1–10 messages, got 11"):
        producer.send(messages + messages[:1])


def test_fifo_sends_group_by_vehicle_and_dedup_on_event_id(sqs):
    url = sqs.create_queue(QueueName="events.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    event = VehicleFactory(seed=3).event()
    message = OutgoingMessage(event.to_json(), event.event_id, event.vehicle_id, event.sent_at)

    SqsProducer(url, client=sqs).send([message, message])  # the same event twice

    [received] = receive_all(sqs, url)
    assert received["Attributes"]["MessageGroupId"] == event.vehicle_id
    assert received["Attributes"]["MessageDeduplicationId"] == event.event_id


def test_xray_header_travels_as_a_system_attribute(sqs):
    # moto keeps system attributes of single sends (its batch call drops them), so prove the round trip here
    url = sqs.create_queue(QueueName="events")["QueueUrl"]
    SqsProducer(url, client=sqs, xray=True).send([OutgoingMessage("{}")])
    [received] = receive_all(sqs, url)
    assert TRACE_HEADER.fullmatch(received["Attributes"]["AWSTraceHeader"])


def stubbed_batch_call(response: dict, xray: bool = False) -> tuple[list[dict], SendResult]:
    """Send two messages through a stubbed client; return the entries sent and the producer's result."""
    client = boto3.client("sqs", region_name="us-east-1")
    sent = []
    client.meta.events.register(
        "provide-client-params.sqs.SendMessageBatch", lambda params, **_: sent.extend(params["Entries"])
    )
    with Stubber(client) as stub:
        stub.add_response("send_message_batch", response)
        result = SqsProducer("https://sqs.us-east-1.amazonaws.com/1/events", client=client, xray=xray).send(
            [OutgoingMessage("{}"), OutgoingMessage("[]")]
        )
    return sent, result


def test_batch_entries_carry_their_own_trace_headers():
    sent, _ = stubbed_batch_call({"Successful": [], "Failed": []}, xray=True)
    headers = [entry["MessageSystemAttributes"]["AWSTraceHeader"] for entry in sent]
    assert [h["DataType"] for h in headers] == ["String", "String"]
    assert all(TRACE_HEADER.fullmatch(h["StringValue"]) for h in headers)
    assert headers[0]["StringValue"] != headers[1]["StringValue"]  # one trace per event


def test_partial_batch_failure_is_reported_per_entry():
    ok = {"Id": "0", "MessageId": "m0", "MD5OfMessageBody": "99914b932bd37a50b983c5e7c90ae93b"}
    bad = {"Id": "1", "Code": "InternalError", "SenderFault": False, "Message": "try again"}
    _, result = stubbed_batch_call({"Successful": [ok], "Failed": [bad]})
    assert result.accepted == [(OutgoingMessage("{}"), "m0")]
    assert result.failed == [(OutgoingMessage("[]"), "InternalError", "try again")]


def test_ledger_round_trips_across_process_files(tmp_path):
    first = LedgerWriter(tmp_path)
    first.record([(OutgoingMessage("{}", "e1", "V1", 1), "m1")])
    first.close()
    (tmp_path / "ledger-otherhost-1.jsonl").write_text(
        json.dumps({"eventId": None, "messageId": "m2", "vehicleId": None, "sentAt": None, "poison": True})
        + "\n"
    )

    assert sorted((e.message_id, e.event_id, e.poison) for e in read_ledger(tmp_path)) == [
        ("m1", "e1", False),
        ("m2", None, True),
    ]


def test_cli_sends_exactly_count_and_records_the_ledger(sqs, tmp_path, capsys):
    url = sqs.create_queue(QueueName="events")["QueueUrl"]
    args = [
        "--queue-url",
        url,
        "--count",
        "25",
        "--poison-ratio",
        "0.2",
        "--seed",
        "4",
        "--xray",
        "--ledger-dir",
        str(tmp_path),
        "--rate",
        "100000",
    ]

    assert produce.main(args, producer=SqsProducer(url, client=sqs)) == 0

    received = receive_all(sqs, url)
    ledger = read_ledger(tmp_path)
    assert len(received) == len(ledger) == 25
    assert sorted(m["MessageId"] for m in received) == sorted(e.message_id for e in ledger)
    poison = sum(e.poison for e in ledger)
    assert 0 < poison < 25 and all(e.event_id is None for e in ledger if e.poison)
    assert capsys.readouterr().out.startswith("sent=25 accepted=25 failed=0 in ")
