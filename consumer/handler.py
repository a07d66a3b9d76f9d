"""Lambda entry point: SQS batch -> validated vehicle events -> DynamoDB, with partial batch failures.

Logger, Tracer and Metrics are created once per container; the handler is a thin wrapper around
Powertools' `process_partial_response`. Configuration comes from the environment the Pulumi program sets
(TABLE_NAME, DLQ_URL when permanent errors are routed to the DLQ, POWERTOOLS_SERVICE_NAME,
POWERTOOLS_METRICS_NAMESPACE, POWERTOOLS_LOG_LEVEL) and is checked here at import
(consumer/configuration.py): a missing table is an init error naming the variable, not a KeyError later.

X-Ray records a batch once, not each record (consumer/tracing.py): the batch's event ids as annotations on the
handler's subsegment, the store's BatchWriteItem as a `dynamodb` subsegment, rejected records apart.

Metrics are flushed by `handle_batch` itself, not by Powertools' `log_metrics` decorator: a metric that
cannot be published (an EMF schema error, a full stdout) is logged and dropped, and never turns records
that were already stored into failures SQS would deliver again.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from consumer.batch_processor import BatchOutcome, StoringBatchProcessor, now_ms
from consumer.configuration import ConsumerConfiguration
from consumer.dead_letters import DeadLetterRouter
from consumer.event_store import DynamoEventStore, EventStore
from consumer.stored_item import build_item
from consumer.tracing import annotate_batch, dynamodb_trace
from consumer.vehicle_event import InvalidEvent, parse_vehicle_event

CONFIG = ConsumerConfiguration.from_environment()
CONFIG.export()  # the service name and metrics namespace, defaulted, where Powertools reads them
logger = Logger()
# botocore only (the DLQ router's SQS calls): not http.client, whose patch would add a subsegment of its own
# to every request botocore and the store send (the store's call has its `dynamodb` subsegment already).
tracer = Tracer(patch_modules=["botocore"])
metrics = Metrics()


def _store_from_environment() -> EventStore:
    return DynamoEventStore(
        CONFIG.table_name, trace=None if tracer.disabled else dynamodb_trace(tracer.provider)
    )


def _router_from_environment() -> DeadLetterRouter | None:
    return DeadLetterRouter(CONFIG.dlq_url) if CONFIG.dlq_url else None


processor = StoringBatchProcessor(
    store_factory=_store_from_environment, router_factory=_router_from_environment
)


def record_handler(record: SQSRecord) -> dict:
    try:
        event = parse_vehicle_event(record.body)
    except InvalidEvent as error:
        logger.warning(
            "invalid event",
            extra={"messageId": record.message_id, "reason": error.reason, "detail": error.detail},
        )
        raise
    return build_item(event, record, stored_at_ms=now_ms())


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)  # no metadata to serialize per batch
def lambda_handler(event: dict, context) -> dict:
    return handle_batch(event, context)


def handle_batch(event: dict, context=None) -> dict:
    """What the Lambda entry point and the standalone worker share: every record through the processor,
    then the batch's metrics and summary line. Returns the partial batch response."""
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    if not tracer.disabled:
        annotate_batch(tracer.provider, processor.outcome.event_ids, processor.outcome.rejected)
    try:
        publish(processor.outcome)
        metrics.flush_metrics()
    except Exception as error:  # the records' fate is decided: a metric must not undo it
        metrics.clear_metrics()
        logger.warning("batch metrics not published", extra={"error": repr(error)})
    return response


def publish(outcome: BatchOutcome) -> None:
    """EMF metrics (no high-cardinality dimensions) and one summary log line per batch."""
    metrics.add_metric("BatchSize", MetricUnit.Count, outcome.records)
    metrics.add_metric("RecordsStored", MetricUnit.Count, outcome.stored)
    metrics.add_metric("RecordsFailed", MetricUnit.Count, outcome.failed)
    metrics.add_metric("RecordsRoutedToDLQ", MetricUnit.Count, sum(outcome.routed_to_dlq.values()))
    metrics.add_metric("DuplicatesSkipped", MetricUnit.Count, outcome.duplicates_in_batch)
    metrics.add_metric("DynamoDBCalls", MetricUnit.Count, outcome.dynamodb_calls)
    metrics.add_metric("UnprocessedItemRetries", MetricUnit.Count, outcome.unprocessed_retries)
    for latency in outcome.latencies_ms[:100]:  # EMF allows 100 values per metric per document
        metrics.add_metric("EndToEndLatency", MetricUnit.Milliseconds, latency)
    for reason, count in {**outcome.invalid, **outcome.write_failures}.items():
        with single_metric(
            name="RecordsFailedByReason", unit=MetricUnit.Count, value=count, namespace=metrics.namespace
        ) as metric:
            metric.add_dimension("reason", reason)
    if outcome.write_failures or outcome.unexpected_errors:
        logger.warning(
            "records not stored, SQS will retry them",
            extra={
                "writeFailures": dict(outcome.write_failures),
                "unexpectedErrors": outcome.unexpected_errors,
            },
        )
    logger.info(
        "batch processed",
        extra={
            "records": outcome.records,
            "stored": outcome.stored,
            "failed": outcome.failed,
            "invalid": dict(outcome.invalid),
            "routedToDlq": dict(outcome.routed_to_dlq),
            "dynamodbCalls": outcome.dynamodb_calls,
        },
    )
