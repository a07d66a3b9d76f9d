"""The store's own BatchWriteItem call (consumer/batch_write.py): signed as botocore signs, stored as botocore
stores, refused as botocore raises, on moto_server over HTTP and on a scripted HTTP server."""

from __future__ import annotations

import datetime
import http.server
import json
import socket
import threading
import zlib
from collections.abc import Iterator
from decimal import Decimal

import boto3
import botocore.auth
import pytest
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ChecksumError, ClientError, EndpointConnectionError
from moto.server import ThreadedMotoServer

from consumer.batch_write import SignedHttpWriter, SigV4
from consumer.event_store import DynamoEventStore
from consumer.stored_item import build_item
from consumer.vehicle_event import parse_vehicle_event
from tests.lambda_events import sqs_record, vehicle_body
from tests.moto_table import SPEC

NOW = datetime.datetime(2026, 12, 4, 18, 30, 5)
KEYS = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")


@pytest.mark.parametrize("token", [None, "session-token-from-the-lambda-environment"])
@pytest.mark.parametrize("endpoint", ["https://dynamodb.eu-west-1.amazonaws.com", "http://127.0.0.1:4566"])
def test_requests_are_signed_exactly_as_botocores_sigv4_signs_them(monkeypatch, token, endpoint):
    # GIVEN one request, signed by botocore's SigV4Auth at a fixed time
    credentials = Credentials(KEYS.access_key, KEYS.secret_key, token).get_frozen_credentials()
    body = b'{"RequestItems":{"t":[{"PutRequest":{"Item":{"vehicleId":{"S":"VH1"}}}}]}}'
    netloc = endpoint.split("://")[1]
    headers = {"Content-Type": "application/x-amz-json-1.0", "Host": netloc, "X-Amz-Target": "T.Op"}
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: NOW)
    theirs = AWSRequest(method="POST", url=endpoint + "/", data=body, headers=dict(headers))
    botocore.auth.SigV4Auth(credentials, "dynamodb", "eu-west-1").add_auth(theirs)

    # WHEN the writer's signer signs the same request (twice: the second with the day's key kept)
    signer = SigV4("eu-west-1")
    for _ in range(2):
        ours = dict(headers)
        signer.sign(credentials, body, ours, NOW)

        # THEN the headers are botocore's, to the byte
        assert {k.lower(): v for k, v in ours.items()} == {k.lower(): v for k, v in theirs.headers.items()}


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1").create_table(
        **SPEC.dynamodb_create_table_args()
    )
    yield endpoint
    server.stop()


def writer(endpoint: str, **options) -> SignedHttpWriter:
    return SignedHttpWriter(endpoint, "us-east-1", Credentials("testing", "testing"), **options)


def item(event_id: str, **overrides) -> dict:
    record = sqs_record(vehicle_body(event_id, sent_at=1_790_000_000_000, **overrides), f"m-{event_id}")
    return build_item(parse_vehicle_event(record["body"]), SQSRecord(record), stored_at_ms=1_790_000_000_123)


def stored(endpoint: str) -> dict[str, dict]:
    table = boto3.resource("dynamodb", endpoint_url=endpoint, region_name="us-east-1").Table(SPEC.table_name)
    return {entry["eventKey"]: entry for entry in table.scan(ConsistentRead=True)["Items"]}


def test_the_signed_writer_stores_what_the_botocore_client_stores(moto_endpoint):
    # GIVEN the same kind of items, one set through boto3's client and one through the signed writer
    client = boto3.client("dynamodb", endpoint_url=moto_endpoint, region_name="us-east-1")
    DynamoEventStore(SPEC.table_name, dynamodb=client).put_events([item("via-client", mileage=1234.5)])
    result = DynamoEventStore(SPEC.table_name, dynamodb=writer(moto_endpoint)).put_events(
        [item("via-writer", mileage=1234.5), item("via-writer-2")]
    )

    # THEN both are stored alike (the body is the same JSON the client would send), in one call
    assert (result.failed, result.calls) == ({}, 1)
    items = stored(moto_endpoint)
    by_client, by_writer = items["1790000000000#via-client"], items["1790000000000#via-writer"]
    assert by_writer["mileage"] == Decimal("1234.5")
    differ = ("eventKey", "eventId", "messageId", "enqueuedAt", "receivedAt")  # per record by design
    assert {k: v for k, v in by_writer.items() if k not in differ} == {
        k: v for k, v in by_client.items() if k not in differ
    }


def test_a_refusal_raises_botocores_client_error_with_awss_code(moto_endpoint):
    with pytest.raises(ClientError) as refused:
        writer(moto_endpoint).batch_write("no-such-table", [{"PutRequest": {"Item": {"k": {"S": "v"}}}}])
    error = refused.value.response
    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == (
        "ResourceNotFoundException",
        400,
    )


def test_a_closed_endpoint_raises_botocores_connection_error():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends: nothing listens there
    with pytest.raises(EndpointConnectionError):
        writer(f"http://127.0.0.1:{port}").batch_write("t", [])


class Scripted(http.server.BaseHTTPRequestHandler):
    """Answers each POST with the next scripted (status, body, headers) and records what it was sent."""

    protocol_version = "HTTP/1.1"  # kept alive, as DynamoDB's endpoints are

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.received.append((dict(self.headers), body))
        status, answer, extra = self.server.script.pop(0)
        self.send_response(status)
        for name, value in {"Content-Length": str(len(answer)), "x-amzn-RequestId": "req-1", **extra}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(answer)
        if self.server.close_after_answer:
            self.close_connection = True

    def log_message(self, *_):
        pass


@pytest.fixture
def scripted() -> Iterator[http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    server.script, server.received, server.close_after_answer = [], [], False
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def endpoint_of(server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_a_response_whose_crc32_does_not_match_raises_a_checksum_error(scripted):
    answer = b'{"UnprocessedItems":{}}'
    scripted.script.append((200, answer, {"x-amz-crc32": str(zlib.crc32(answer) ^ 1)}))
    with pytest.raises(ChecksumError):
        writer(endpoint_of(scripted)).batch_write("t", [])


def test_the_connection_is_kept_and_reopened_once_when_the_server_closed_it(scripted):
    ok = (200, b'{"UnprocessedItems":{}}', {})
    scripted.script += [ok, ok]
    sender = writer(endpoint_of(scripted))
    sender.batch_write("t", [])
    kept = sender._connection
    assert kept is not None  # HTTP/1.1 keep-alive: the next call reuses it

    # WHEN the server drops the idle connection, THEN the next call opens a new one and succeeds
    kept.sock.shutdown(socket.SHUT_RDWR)
    assert sender.batch_write("t", []) == {"UnprocessedItems": {}}
    assert sender._connection is not kept and len(scripted.received) == 2


class RecordingSpan:
    def __init__(self):
        self.recorded = []

    def trace_header(self):
        return "Root=1-6740f3a0-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1"

    def record(self, status, request_id, error):
        self.recorded.append((status, request_id, type(error).__name__ if error else None))


def test_a_traced_call_passes_the_trace_header_unsigned_and_records_its_outcome(scripted):
    scripted.script += [
        (200, b'{"UnprocessedItems":{}}', {}),
        (400, b'{"__type":"x#ValidationException"}', {}),
    ]
    spans: list[RecordingSpan] = []

    def trace(region, table):
        spans.append(RecordingSpan())
        return _entered(spans[-1])

    sender = writer(endpoint_of(scripted), trace=trace)
    sender.batch_write("t", [])
    with pytest.raises(ClientError):
        sender.batch_write("t", [])

    [(headers, body), _] = scripted.received
    assert headers["X-Amzn-Trace-Id"].startswith("Root=1-6740f3a0")
    assert "x-amzn-trace-id" not in headers["Authorization"]
    assert json.loads(body) == {"RequestItems": {"t": []}}
    assert [span.recorded for span in spans] == [
        [(200, "req-1", None)],
        [(400, "req-1", "ClientError")],
    ]


class _entered:
    def __init__(self, span):
        self.span = span

    def __enter__(self):
        return self.span

    def __exit__(self, *_):
        return False
