"""What X-Ray records of a batch: once per batch, not once per record.

A subsegment per record cost ~0.065 of a seed-style handler's CPU per record (`make bench`: the X-Ray SDK
re-reads the trace header on each of a subsegment's lookups and streams each subsegment as its own datagram),
and X-Ray indexes at most 50 annotations per trace, so a batch of 100 annotated per record could not be
searched past its 25th record anyway. Instead, per invocation:

- the handler's subsegment carries the batch's idempotency keys in the `eventId` annotation, space-separated,
  1,000 characters at most per annotation (X-Ray's limit on a value), continued in `eventId_2`, `eventId_3`…
  (at most `MAX_ID_ANNOTATIONS`): `annotation.eventId CONTAINS "evt-1"` finds the trace of a batch of up to
  ~25 records of 36-character ids; a larger batch's later ids are in `eventId_2`… (README, Tracing);
- one `dynamodb` subsegment (namespace aws) around the store's BatchWriteItem, as the X-Ray SDK's botocore
  patch records it (operation, region, table, request id, HTTP status, the error if any);
- a `## rejected records` subsegment, flagged as an error, only when the batch held invalid bodies: their
  reasons in the `rejected` annotation, each record's messageId and reason as metadata.

Annotation rules (X-Ray SDK documentation, "Annotation requirements"): keys of letters, digits and
underscores; values up to 1,000 Unicode characters; up to 50 annotations per trace.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

ID_ANNOTATION = "eventId"
MAX_ANNOTATION_CHARS = 1000
MAX_ID_ANNOTATIONS = 40  # of X-Ray's 50 a trace: Powertools adds ColdStart and Service, rejected one more
REJECTED_SUBSEGMENT = "## rejected records"


def id_annotations(event_ids: Sequence[str]) -> dict[str, str]:
    """The batch's ids as annotations: `eventId`, then `eventId_2`…, each at most 1,000 characters."""
    chunks: list[str] = []
    current = ""
    for event_id in event_ids:
        if current and len(current) + 1 + len(event_id) > MAX_ANNOTATION_CHARS:
            chunks.append(current)
            current = event_id
        else:
            current = f"{current} {event_id}" if current else event_id
    if current:
        chunks.append(current)
    names = [ID_ANNOTATION, *(f"{ID_ANNOTATION}_{n}" for n in range(2, MAX_ID_ANNOTATIONS + 1))]
    return dict(zip(names, chunks, strict=False))


def annotate_batch(recorder: Any, event_ids: Sequence[str], rejected: Sequence[tuple[str, str]]) -> None:
    """Annotate the current subsegment (the handler's) with the batch's ids; record rejections apart."""
    for name, value in id_annotations(event_ids).items():
        recorder.put_annotation(name, value)
    if rejected:
        with recorder.in_subsegment(name=REJECTED_SUBSEGMENT) as subsegment:
            subsegment.put_annotation("rejected", ",".join(sorted({reason for _, reason in rejected})))
            subsegment.put_metadata(
                "records", [{"messageId": m, "reason": r} for m, r in rejected], "vehicle-consumer"
            )
            subsegment.add_error_flag()


class XraySpan:
    """A `dynamodb` subsegment as the X-Ray SDK's botocore patch fills it (consumer/batch_write.Span)."""

    def __init__(self, subsegment: Any, region: str, table: str):
        self.subsegment = subsegment
        self.region = region
        self.table = table

    def trace_header(self) -> str | None:
        from aws_xray_sdk.ext.util import inject_trace_header

        headers: dict[str, str] = {}
        inject_trace_header(headers, self.subsegment)
        return headers.get("X-Amzn-Trace-Id")

    def record(self, status: int | None, request_id: str | None, error: BaseException | None) -> None:
        """The call's outcome; an error is recorded by the subsegment's context manager, which it leaves."""
        aws = {"operation": "BatchWriteItem", "region": self.region, "table_names": [self.table]}
        if request_id:
            aws["request_id"] = request_id
        if status is not None:
            self.subsegment.put_http_meta("status", status)
        self.subsegment.set_aws(aws)


def dynamodb_trace(recorder: Any) -> Callable[[str, str], contextlib.AbstractContextManager[XraySpan]]:
    """The store's `trace` hook: each BatchWriteItem in its own `dynamodb` subsegment."""

    @contextlib.contextmanager
    def span(region: str, table: str) -> Iterator[XraySpan]:
        with recorder.in_subsegment(name="dynamodb", namespace="aws") as subsegment:
            yield XraySpan(subsegment, region, table)

    return span
