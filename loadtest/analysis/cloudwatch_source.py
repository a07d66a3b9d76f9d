"""The report's series read from CloudWatch, for a run against a deployed stack.

`samples(...)` returns rows shaped like the local run's samples.csv (queue visible / in flight, DLQ visible,
function concurrency in place of pollers, cumulative messages deleted in place of stored), so the same charts
are drawn; `dashboard_images(...)` saves every metric widget of the stack's dashboard as a PNG with
GetMetricWidgetImage.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

PERIOD_S = 60

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
        "queue": outputs["queueUrl"].rsplit("/", 1)[-1],
        "dlq": outputs["dlqUrl"].rsplit("/", 1)[-1],
        "function": outputs["functionName"],
        "table": outputs["tableName"],
    }


def metric_queries(outputs: dict[str, str]) -> list[dict[str, Any]]:
    names = resource_names(outputs)
    return [
        {
            "Id": query_id,
            "ReturnData": True,
            "MetricStat": {
                "Metric": {
                    "Namespace": namespace,
                    "MetricName": metric,
                    "Dimensions": [{"Name": dimension, "Value": names[target]}],
                },
                "Period": PERIOD_S,
                "Stat": stat,
            },
        }
        for query_id, namespace, metric, dimension, target, stat in SERIES
    ]


def samples(
    cloudwatch: Any, outputs: dict[str, str], start: datetime.datetime, end: datetime.datetime
) -> list[dict]:
    """One row per minute in samples.csv's shape, from GetMetricData (every page)."""
    series: dict[str, dict[datetime.datetime, float]] = {}
    kwargs = {
        "MetricDataQueries": metric_queries(outputs),
        "StartTime": start,
        "EndTime": end,
        "ScanBy": "TimestampAscending",
    }
    for _ in range(1000):  # bounded pagination
        page = cloudwatch.get_metric_data(**kwargs)
        for result in page["MetricDataResults"]:
            series.setdefault(result["Id"], {}).update(
                zip(result["Timestamps"], result["Values"], strict=True)
            )
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
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
