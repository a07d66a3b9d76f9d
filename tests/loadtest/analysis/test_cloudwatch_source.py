"""The report's CloudWatch source, stubbed: the exact queries sent, the conversion, the dashboard images."""

import datetime
import json

import boto3
from botocore.stub import Stubber

from loadtest.analysis.cloudwatch_source import dashboard_images, metric_queries, samples

OUTPUTS = {
    "queueUrl": "https://sqs.eu-west-1.amazonaws.com/1/vp-prod-events",
    "dlqUrl": "https://sqs.eu-west-1.amazonaws.com/1/vp-prod-events-dlq",
    "functionName": "vp-prod-consumer",
    "tableName": "vp-prod-vehicle-events",
}
START = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.UTC)
MINUTE = datetime.timedelta(minutes=1)


def test_queries_name_the_stacks_resources():
    queries = {q["Id"]: q["MetricStat"] for q in metric_queries(OUTPUTS)}
    assert queries["dlq_visible"]["Metric"] == {
        "Namespace": "AWS/SQS",
        "MetricName": "ApproximateNumberOfMessagesVisible",
        "Dimensions": [{"Name": "QueueName", "Value": "vp-prod-events-dlq"}],
    }
    assert queries["pollers"]["Metric"]["Dimensions"] == [
        {"Name": "FunctionName", "Value": "vp-prod-consumer"}
    ]
    assert queries["duration_p99"]["Stat"] == "p99"
    assert queries["consumed_writes"]["Metric"]["Dimensions"] == [
        {"Name": "TableName", "Value": "vp-prod-vehicle-events"}
    ]
    assert {q["Period"] for q in queries.values()} == {60}


def test_samples_are_converted_to_the_local_shape_across_pages():
    cloudwatch = boto3.client("cloudwatch", region_name="eu-west-1")
    queries = metric_queries(OUTPUTS)
    with Stubber(cloudwatch) as stub:
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    {"Id": "queue_visible", "Timestamps": [START, START + MINUTE], "Values": [40.0, 0.0]},
                    {"Id": "deleted", "Timestamps": [START, START + MINUTE], "Values": [600.0, 400.0]},
                ],
                "NextToken": "p2",
            },
            {
                "MetricDataQueries": queries,
                "StartTime": START,
                "EndTime": START + 2 * MINUTE,
                "ScanBy": "TimestampAscending",
            },
        )
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    {"Id": "pollers", "Timestamps": [START, START + MINUTE], "Values": [5.0, 2.0]}
                ]
            },
            {
                "MetricDataQueries": queries,
                "StartTime": START,
                "EndTime": START + 2 * MINUTE,
                "ScanBy": "TimestampAscending",
                "NextToken": "p2",
            },
        )
        rows = samples(cloudwatch, OUTPUTS, START, START + 2 * MINUTE)
    assert rows == [
        {
            "t_s": 0.0,
            "queue_visible": 40,
            "queue_in_flight": 0,
            "dlq_visible": 0,
            "pollers": 5,
            "stored_total": 600,
        },
        {
            "t_s": 60.0,
            "queue_visible": 0,
            "queue_in_flight": 0,
            "dlq_visible": 0,
            "pollers": 2,
            "stored_total": 1000,
        },
    ]


def test_dashboard_metric_widgets_are_saved_as_images(tmp_path):
    cloudwatch = boto3.client("cloudwatch", region_name="eu-west-1")
    body = {
        "widgets": [
            {"type": "metric", "properties": {"title": "Queue", "metrics": [["AWS/SQS", "X"]]}},
            {"type": "alarm", "properties": {"alarms": []}},
        ]
    }
    with Stubber(cloudwatch) as stub:
        stub.add_response(
            "get_dashboard", {"DashboardBody": json.dumps(body)}, {"DashboardName": "vp-prod-pipeline"}
        )
        stub.add_response(
            "get_metric_widget_image",
            {"MetricWidgetImage": b"\x89PNG-bytes"},
            {
                "MetricWidget": json.dumps(
                    {"title": "Queue", "metrics": [["AWS/SQS", "X"]], "width": 800, "height": 300}
                ),
                "OutputFormat": "png",
            },
        )
        assert dashboard_images(cloudwatch, "vp-prod-pipeline", tmp_path) == [("Queue", "dashboard-00.png")]
    assert (tmp_path / "dashboard-00.png").read_bytes() == b"\x89PNG-bytes"
