"""CloudWatch GetMetricData as both of its readers ask it: the producer side's pipeline view during a run
(cloudwatch_pipeline.py) and the report's CloudWatch source after it (analysis/cloudwatch_source.py).

AWS services publish the metrics read here at standard resolution, one data point a minute (CloudWatch User
Guide, "Metrics concepts", https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/cloudwatch_concepts.html),
so every query asks for one-minute periods.
"""

from __future__ import annotations

import datetime
from typing import Any

PERIOD_S = 60
MAX_PAGES = 1000  # bounded pagination: a run's window is a few hundred data points a series


def metric_query(
    query_id: str, namespace: str, metric: str, dimensions: dict[str, str], stat: str, period: int = PERIOD_S
) -> dict:
    """One GetMetricData query: `dimensions` maps each dimension name to its value."""
    return {
        "Id": query_id,
        "ReturnData": True,
        "MetricStat": {
            "Metric": {
                "Namespace": namespace,
                "MetricName": metric,
                "Dimensions": [{"Name": name, "Value": value} for name, value in dimensions.items()],
            },
            "Period": period,
            "Stat": stat,
        },
    }


def metric_series(
    cloudwatch: Any,
    queries: list[dict],
    start: datetime.datetime,
    end: datetime.datetime,
    **options: Any,
) -> dict[str, dict[datetime.datetime, float]]:
    """Each query's data points over [start, end] (every page): query id -> {timestamp: value}. `options`
    go to GetMetricData as they are (ScanBy, …)."""
    series: dict[str, dict[datetime.datetime, float]] = {query["Id"]: {} for query in queries}
    kwargs = {"MetricDataQueries": queries, "StartTime": start, "EndTime": end, **options}
    for _ in range(MAX_PAGES):
        page = cloudwatch.get_metric_data(**kwargs)
        for result in page["MetricDataResults"]:
            points = zip(result["Timestamps"], result["Values"], strict=True)
            series.setdefault(result["Id"], {}).update(points)
        if not page.get("NextToken"):
            break
        kwargs["NextToken"] = page["NextToken"]
    return series


def queue_name(queue_url: str) -> str:
    """A queue's name is the last part of its URL (and of its ARN)."""
    return queue_url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
