"""The consumer's one DynamoDB call, BatchWriteItem, and the two ways it is sent.

`SignedHttpWriter` (the default, on Lambda and in the worker) sends the request body the store built as one
JSON document, signed with SigV4 and the session's credentials, over a kept-alive HTTP(S) connection of the
standard library. botocore's generic path runs the same call through its parameter serializer (a walk of
every AttributeValue against the service model), endpoint rules, a dozen event hooks, a generic signer,
urllib3 and its response parser: measured in `make bench`, 1.2-1.7 ms of CPU a call against about half of
that here, most of the consumer's CPU per batch of ten. What botocore does that this call needs is kept:
credentials (refreshed by the session), the endpoint it resolves (`AWS_ENDPOINT_URL…`, FIPS, partitions),
its CA bundle, and the response CRC32 DynamoDB sends; SigV4 is signed here for this one request shape, with
the day's signing key kept (`SigV4`, proven equal to botocore's signer). Like the store's botocore client
(SDK retries off), it makes one attempt and leaves retries to the store, which knows the invocation's
deadline; only a kept-alive connection the server closed while idle is reopened at once. A refusal raises
botocore's own exceptions (`ClientError` with AWS's error code, or a `BotoCoreError`), so the store treats
both writers alike.

`ClientWriter` sends through a boto3 client instead: what tests inject (moto's in-process mock answers
botocore, not sockets), and what the store uses when the client is configured for a proxy or the
environment names one, which the standard library's connection would not honour.

With tracing on, the writer opens the `dynamodb` subsegment (namespace aws) that the X-Ray SDK's botocore
patch would have, with the same operation, region, table and request id, and passes the trace header on.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import hmac
import http.client
import json
import os
import socket
import zlib
from collections.abc import Callable
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from botocore.exceptions import (
    ChecksumError,
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

OPERATION = "BatchWriteItem"
TARGET = f"DynamoDB_20120810.{OPERATION}"
CONTENT_TYPE = "application/x-amz-json-1.0"
TIMEOUT_S = 60.0  # botocore's default connect and read timeouts
PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")
# What a kept-alive connection the server has since closed raises on its next use: sent again once, on a new
# connection (a batch of puts is idempotent), as urllib3 does for botocore.
STALE_CONNECTION = (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected)


class SigV4:
    """AWS Signature Version 4 for this call's one request shape (POST, no query string, a JSON body), with
    the signing key derived once a day instead of on every request. botocore's SigV4Auth canonicalizes any
    request generically, which was an eighth of the call's CPU; tests/consumer/test_batch_write.py signs the
    same requests both ways and requires the same Authorization header."""

    def __init__(self, region: str, service: str = "dynamodb", path: str = "/"):
        self.region = region
        self.service = service
        self.path = quote(path, safe="/~")
        self._key: tuple[str, str, bytes] | None = None  # (secret, day, signing key)

    def sign(self, credentials: Any, body: bytes, headers: dict[str, str], now: datetime.datetime) -> None:
        """Add X-Amz-Date, the session token if any, and Authorization to `headers` (every header given is
        signed: pass the trace header after signing, as botocore leaves it unsigned)."""
        amz_date = now.strftime("%Y%m%dT%H%M%SZ")
        day = amz_date[:8]
        headers["X-Amz-Date"] = amz_date
        if credentials.token:
            headers["X-Amz-Security-Token"] = credentials.token
        canonical = sorted((name.lower(), " ".join(value.split())) for name, value in headers.items())
        signed_headers = ";".join(name for name, _ in canonical)
        request = "\n".join(
            (
                "POST",
                self.path,
                "",
                "".join(f"{name}:{value}\n" for name, value in canonical),
                signed_headers,
                hashlib.sha256(body).hexdigest(),
            )
        )
        scope = f"{day}/{self.region}/{self.service}/aws4_request"
        string_to_sign = "\n".join(
            ("AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(request.encode()).hexdigest())
        )
        key = self._signing_key(credentials.secret_key, day)
        signature = hmac.new(key, string_to_sign.encode(), "sha256")
        headers["Authorization"] = (
            f"AWS4-HMAC-SHA256 Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={signed_headers}, Signature={signature.hexdigest()}"
        )

    def _signing_key(self, secret: str, day: str) -> bytes:
        if self._key is None or self._key[:2] != (secret, day):
            key = f"AWS4{secret}".encode()
            for part in (day, self.region, self.service, "aws4_request"):
                key = hmac.new(key, part.encode(), "sha256").digest()
            self._key = (secret, day, key)
        return self._key[2]


class Span(Protocol):
    """What a tracer records of one call (handler.py gives an X-Ray subsegment)."""

    def trace_header(self) -> str | None: ...

    def record(self, status: int | None, request_id: str | None, error: BaseException | None) -> None: ...


Trace = Callable[[str, str], contextlib.AbstractContextManager[Span]]  # (region, table) -> span


class BatchWriter(Protocol):
    def batch_write(self, table_name: str, requests: list[dict]) -> dict: ...


class ClientWriter:
    """BatchWriteItem through a boto3 client (its parser, its retry settings, moto's mock)."""

    def __init__(self, client: Any):
        self.client = client

    def batch_write(self, table_name: str, requests: list[dict]) -> dict:
        return self.client.batch_write_item(RequestItems={table_name: requests})


class SignedHttpWriter:
    """BatchWriteItem as one signed POST on a connection kept between calls (module docstring). One attempt:
    like the store's botocore client (retries off), it leaves retries to the store, which knows the
    invocation's deadline."""

    def __init__(
        self,
        endpoint_url: str,
        region: str,
        credentials: Any,  # botocore Credentials (RefreshableCredentials on Lambda and EC2)
        ca_bundle: str | None = None,
        trace: Trace | None = None,
    ):
        parts = urlsplit(endpoint_url)
        self.endpoint_url = endpoint_url
        self.region = region
        self._secure = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._netloc = parts.netloc
        self._path = parts.path or "/"
        self._credentials = credentials
        self._signer = SigV4(region, path=self._path)
        self._ca_bundle = ca_bundle
        self._trace = trace
        self._connection: http.client.HTTPConnection | None = None

    @classmethod
    def for_client(cls, client: Any, credentials: Any, trace: Trace | None = None) -> SignedHttpWriter:
        """The endpoint, region and CA bundle a boto3 client resolved, with the session's credentials."""
        from botocore.httpsession import get_cert_path

        verify = getattr(client.meta.config, "verify", None)
        ca_bundle = verify if isinstance(verify, str) else get_cert_path(True)
        return cls(client.meta.endpoint_url, client.meta.region_name, credentials, ca_bundle, trace=trace)

    def batch_write(self, table_name: str, requests: list[dict]) -> dict:
        body = json.dumps(
            {"RequestItems": {table_name: requests}}, separators=(",", ":"), default=_blob
        ).encode()
        if self._trace is None:
            return self._call(body, None)
        with self._trace(self.region, table_name) as span:
            return self._call(body, span)

    def _call(self, body: bytes, span: Span | None) -> dict:
        try:
            status, request_id, answer = self._exchange(body, span)
        except (OSError, http.client.HTTPException) as error:
            self.close()
            failure: Exception = _connection_error(error, self.endpoint_url)
            request_id = status = None
        else:
            if status < 300:
                if span is not None:
                    span.record(status, request_id, None)
                return answer
            failure = _client_error(status, request_id, answer)
        if span is not None:
            span.record(status, request_id, failure)
        raise failure

    def _exchange(self, body: bytes, span: Span | None) -> tuple[int, str | None, dict]:
        if self._connection is None:
            return self._send(body, span)
        try:
            return self._send(body, span)
        except STALE_CONNECTION:
            self.close()
            return self._send(body, span)

    def _send(self, body: bytes, span: Span | None) -> tuple[int, str | None, dict]:
        credentials = self._credentials.get_frozen_credentials() if self._credentials else None
        if credentials is None or credentials.access_key is None:
            raise NoCredentialsError()
        headers = {"Content-Type": CONTENT_TYPE, "Host": self._netloc, "X-Amz-Target": TARGET}
        self._signer.sign(credentials, body, headers, datetime.datetime.now(datetime.UTC))
        if span is not None and (trace_header := span.trace_header()):
            headers["X-Amzn-Trace-Id"] = trace_header  # unsigned, as botocore leaves it
        connection = self._connection or self._connect()
        # putrequest, not request: the X-Ray SDK's http.client patch wraps request() with subsegments of its
        # own, and this call has its subsegment already (when the tracer patches http.client at all).
        connection.putrequest("POST", self._path, skip_host=True, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        data = response.read()
        if response.will_close:
            self.close()
        request_id = response.getheader("x-amzn-RequestId")
        expected = response.getheader("x-amz-crc32")
        if expected is not None and zlib.crc32(data) != int(expected):
            raise ChecksumError(
                checksum_type="crc32", expected_checksum=expected, actual_checksum=zlib.crc32(data)
            )
        return response.status, request_id, json.loads(data) if data else {}

    def _connect(self) -> http.client.HTTPConnection:
        if self._secure:
            import ssl

            context = ssl.create_default_context(cafile=self._ca_bundle)
            connection: http.client.HTTPConnection = http.client.HTTPSConnection(
                self._host, self._port, timeout=TIMEOUT_S, context=context
            )
        else:
            connection = http.client.HTTPConnection(self._host, self._port, timeout=TIMEOUT_S)
        self._connection = connection
        return connection

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def _blob(value: Any) -> str:
    """A binary attribute value as the JSON protocol sends it (base64)."""
    if isinstance(value, bytes | bytearray):
        import base64

        return base64.b64encode(value).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _client_error(status: int, request_id: str | None, answer: dict) -> ClientError:
    code = str(answer.get("__type", "")).rsplit("#", 1)[-1] or f"HTTP{status}"
    message = answer.get("message") or answer.get("Message") or ""
    return ClientError(
        {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": request_id},
        },
        OPERATION,
    )


def _connection_error(error: BaseException, endpoint_url: str) -> Exception:
    """botocore's exception for what the socket said: no connection, a timeout, or a connection lost."""
    if isinstance(error, TimeoutError):
        return ReadTimeoutError(endpoint_url=endpoint_url)
    if isinstance(error, ConnectionRefusedError | socket.gaierror):
        return EndpointConnectionError(endpoint_url=endpoint_url)
    return ConnectionClosedError(endpoint_url=endpoint_url)


def uses_proxy(client: Any, environ: dict[str, str] = os.environ) -> bool:
    """A proxy the client or the environment configures: the standard library's connection would skip it."""
    return bool(getattr(client.meta.config, "proxies", None)) or any(environ.get(v) for v in PROXY_VARIABLES)
