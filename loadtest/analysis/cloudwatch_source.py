"""The report's series read from CloudWatch, for a run against a deployed stack.

`samples(...)` returns rows shaped like a local run's per-second series (run.json's `series`: queue
visible / in flight, DLQ visible, function concurrency in place of pollers, cumulative messages deleted in
place of stored), so the same charts are drawn; `dashboard_images(...)` saves every metric widget of the
stack's dashboard as a PNG with GetMetricWidgetImage; `cost_totals(...)` sums the stack's own counts over
the run (messages sent, received and deleted, empty receives, invocations and their duration, write units of
the table and its index, bytes logged, custom metrics), which `cost_inputs.usage_from_cloudwatch` turns
into the cost model's inputs.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

from infra.resource_spec import EVENT_ID_INDEX
from loadtest.cloudwatch_queries import PERIOD_S, metric_query, metric_series, queue_name

__all__ = ["PERIOD_S", "metric_query"]  # the query builder lives with the producer side, which reads it too

# (query id, namespace, metric, dimension key, output name it applies to, statistic)
SERIES = [
    ("queue_visible", "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "queue", "Maximum"),
    ("queue_in_flight", "AWS/SQS", "ApproximateNumberOfMessagesNotVisible", "QueueName", "queue", "Maximum"),
    ("dlq_visible", "AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", "dlq", "Maximum"),
    ("pollers", "AWS/Lambda", "ConcurrentExecutions", "FunctionName", "function", "Maximum"),
    ("deleted", "AWS/SQS", "NumberOfMessagesDeleted", "QueueName", "queue", "Sum"),
    ("invocations", "AWS/Lambda", "Invocations", "FunctionName", "function", "Sum"),
    ("errors", "AWS/Lambda", "Errors", "FunctionName", "function", "Sum"),
    ("duration_p99", "AWS/Lambda", "Duration", "FunctionName", "function", "p99"),
    ("consumed_writes", "AWS/DynamoDB", "ConsumedWriteCapacityUnits", "TableName", "table", "Sum"),
]


def resource_names(outputs: dict[str, str]) -> dict[str, str]:
    """Queue names are the last part of their URLs; the others are outputs as they are."""
    return {
        "queue": queue_name(outputs["queueUrl"]),
        "dlq": queue_name(outputs["dlqUrl"]),
        "function": outputs["functionName"],
        "table": outputs["tableName"],
    }


def metric_queries(outputs: dict[str, str]) -> list[dict[str, Any]]:
    names = resource_names(outputs)
    return [
        metric_query(query_id, namespace, metric, {dimension: names[target]}, stat)
        for query_id, namespace, metric, dimension, target, stat in SERIES
    ]


def samples(
    cloudwatch: Any, outputs: dict[str, str], start: datetime.datetime, end: datetime.datetime
) -> list[dict]:
    """One row per minute in the shape of a local run's series, from GetMetricData (every page)."""
    series = metric_series(cloudwatch, metric_queries(outputs), start, end, ScanBy="TimestampAscending")
    rows, deleted = [], 0.0
    for timestamp in sorted({t for values in series.values() for t in values}):

        def value(query_id: str, at=timestamp) -> float:
            return series.get(query_id, {}).get(at, 0.0)

        deleted += value("deleted")
        rows.append(
            {
                "t_s": (timestamp - start).total_seconds(),
                "queue_visible": int(value("queue_visible")),
                "queue_in_flight": int(value("queue_in_flight")),
                "dlq_visible": int(value("dlq_visible")),
                "pollers": int(value("pollers")),
                "stored_total": int(deleted),
            }
        )
    return rows


def dashboard_images(cloudwatch: Any, dashboard_name: str, charts_dir: Path) -> list[tuple[str, str]]:
    """Every metric widget of the dashboard as a PNG (GetMetricWidgetImage); returns (title, file name)."""
    body = json.loads(cloudwatch.get_dashboard(DashboardName=dashboard_name)["DashboardBody"])
    charts_dir.mkdir(parents=True, exist_ok=True)
    saved = []
    for index, widget in enumerate(w for w in body["widgets"] if w["type"] == "metric"):
        properties = dict(widget["properties"], width=800, height=300)
        image = cloudwatch.get_metric_widget_image(MetricWidget=json.dumps(properties), OutputFormat="png")
        name = f"dashboard-{index:02d}.png"
        (charts_dir / name).write_bytes(image["MetricWidgetImage"])
        saved.append((widget["properties"].get("title", name), name))
    return saved


# ---- the stack's own counts over a run, for the cost model -----------------------------------------------
# (query id, namespace, metric, {dimension: what names it}, statistic); Sum totals are added up over the
# window, Maximum ones keep the largest.
COST_TOTALS = [
    ("sent", "AWS/SQS", "NumberOfMessagesSent", {"QueueName": "queue"}, "Sum"),
    ("received", "AWS/SQS", "NumberOfMessagesReceived", {"QueueName": "queue"}, "Sum"),
    ("deleted", "AWS/SQS", "NumberOfMessagesDeleted", {"QueueName": "queue"}, "Sum"),
    ("empty_receives", "AWS/SQS", "NumberOfEmptyReceives", {"QueueName": "queue"}, "Sum"),
    ("largest_message_bytes", "AWS/SQS", "SentMessageSize", {"QueueName": "queue"}, "Maximum"),
    ("dlq_sent", "AWS/SQS", "NumberOfMessagesSent", {"QueueName": "dlq"}, "Sum"),
    ("invocations", "AWS/Lambda", "Invocations", {"FunctionName": "function"}, "Sum"),
    ("duration_sum_ms", "AWS/Lambda", "Duration", {"FunctionName": "function"}, "Sum"),
    ("table_write_units", "AWS/DynamoDB", "ConsumedWriteCapacityUnits", {"TableName": "table"}, "Sum"),
    (
        "index_write_units",
        "AWS/DynamoDB",
        "ConsumedWriteCapacityUnits",
        {"TableName": "table", "GlobalSecondaryIndexName": "index"},
        "Sum",
    ),
    ("log_bytes", "AWS/Logs", "IncomingBytes", {"LogGroupName": "log_group"}, "Sum"),
]


def cost_queries(outputs: dict[str, str]) -> list[dict[str, Any]]:
    names = {
        **resource_names(outputs),
        "index": EVENT_ID_INDEX,  # the optional index (eventIdIndex): none, no data points, 0
        "log_group": f"/aws/lambda/{outputs['functionName']}",
    }
    return [
        metric_query(
            query_id, namespace, metric, {key: names[target] for key, target in dimensions.items()}, stat
        )
        for query_id, namespace, metric, dimensions, stat in COST_TOTALS
    ]


def custom_metric_count(cloudwatch: Any, namespace: str) -> int:
    """The metric series in the consumer's EMF namespace: each one is a billed custom metric."""
    return sum(
        len(page["Metrics"])
        for page in cloudwatch.get_paginator("list_metrics").paginate(Namespace=namespace)
    )


def cost_totals(
    cloudwatch: Any, outputs: dict[str, str], namespace: str, start: datetime.datetime, end: datetime.datetime
) -> dict[str, float]:
    """Each COST_TOTALS figure over [start, end] (every GetMetricData page), and the custom metric count."""
    statistics = {query_id: stat for query_id, _, _, _, stat in COST_TOTALS}
    series = metric_series(cloudwatch, cost_queries(outputs), start, end)
    totals = {}
    for query_id, stat in statistics.items():
        values = list(series.get(query_id, {}).values())
        totals[query_id] = max([0.0, *values]) if stat == "Maximum" else float(sum(values))
    totals["custom_metrics"] = float(custom_metric_count(cloudwatch, namespace))
    return totals
