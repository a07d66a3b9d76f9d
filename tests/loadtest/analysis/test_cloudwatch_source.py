"""The report's CloudWatch source, stubbed: the exact queries sent, the conversion, the dashboard images,
and the stack's own counts that become the cost model's inputs."""

import datetime
import json

import boto3
from botocore.stub import Stubber

from infra.settings import from_stack_file
from loadtest.analysis.cloudwatch_source import (
    cost_queries,
    cost_totals,
    dashboard_images,
    metric_queries,
    samples,
)
from loadtest.analysis.cost_inputs import usage_from_cloudwatch

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


# ---- the stack's own counts, for the cost model ------------------------------------------------------------
def test_cost_queries_name_the_stacks_resources():
    queries = {q["Id"]: q["MetricStat"] for q in cost_queries(OUTPUTS)}
    assert set(queries) == {
        "sent",
        "received",
        "deleted",
        "empty_receives",
        "largest_message_bytes",
        "dlq_sent",
        "invocations",
        "duration_sum_ms",
        "table_write_units",
        "index_write_units",
        "log_bytes",
    }
    assert queries["empty_receives"] == {
        "Metric": {
            "Namespace": "AWS/SQS",
            "MetricName": "NumberOfEmptyReceives",
            "Dimensions": [{"Name": "QueueName", "Value": "vp-prod-events"}],
        },
        "Period": 60,
        "Stat": "Sum",
    }
    assert queries["dlq_sent"]["Metric"]["Dimensions"] == [
        {"Name": "QueueName", "Value": "vp-prod-events-dlq"}
    ]
    assert queries["duration_sum_ms"]["Metric"] == {
        "Namespace": "AWS/Lambda",
        "MetricName": "Duration",
        "Dimensions": [{"Name": "FunctionName", "Value": "vp-prod-consumer"}],
    }
    assert queries["duration_sum_ms"]["Stat"] == "Sum"
    assert queries["index_write_units"]["Metric"]["Dimensions"] == [
        {"Name": "TableName", "Value": "vp-prod-vehicle-events"},
        {"Name": "GlobalSecondaryIndexName", "Value": "byEventId"},
    ]
    assert queries["log_bytes"]["Metric"] == {
        "Namespace": "AWS/Logs",
        "MetricName": "IncomingBytes",
        "Dimensions": [{"Name": "LogGroupName", "Value": "/aws/lambda/vp-prod-consumer"}],
    }
    assert queries["largest_message_bytes"]["Stat"] == "Maximum"


def test_cost_totals_add_up_the_window_and_become_the_models_inputs():
    cloudwatch = boto3.client("cloudwatch", region_name="eu-west-1")
    request = {"MetricDataQueries": cost_queries(OUTPUTS), "StartTime": START, "EndTime": START + 2 * MINUTE}

    def series(query_id, *values):
        return {
            "Id": query_id,
            "Timestamps": [START + i * MINUTE for i in range(len(values))],
            "Values": list(values),
        }

    with Stubber(cloudwatch) as stub:
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    series("sent", 600.0, 400.0),
                    series("received", 520.0, 500.0),
                    series("largest_message_bytes", 310.0, 330.0),
                    series("invocations", 60.0, 42.0),
                ],
                "NextToken": "p2",
            },
            request,
        )
        stub.add_response(
            "get_metric_data",
            {
                "MetricDataResults": [
                    series("deleted", 1_000.0),
                    series("empty_receives", 30.0),
                    series("dlq_sent", 4.0),
                    series("duration_sum_ms", 2_040.0),
                    series("table_write_units", 1_000.0),
                    series("index_write_units", 1_000.0),
                    series("log_bytes", 204_000.0),
                ]
            },
            {**request, "NextToken": "p2"},
        )
        stub.add_response(
            "list_metrics",
            {"Metrics": [{"MetricName": f"m{i}"} for i in range(8)], "NextToken": "m2"},
            {"Namespace": "VehiclePipeline"},
        )
        stub.add_response(
            "list_metrics",
            {"Metrics": [{"MetricName": "m8"}]},
            {"Namespace": "VehiclePipeline", "NextToken": "m2"},
        )
        totals = cost_totals(cloudwatch, OUTPUTS, "VehiclePipeline", START, START + 2 * MINUTE)
    assert totals == {
        "sent": 1_000.0,
        "received": 1_020.0,
        "deleted": 1_000.0,
        "empty_receives": 30.0,
        "largest_message_bytes": 330.0,
        "dlq_sent": 4.0,
        "invocations": 102.0,
        "duration_sum_ms": 2_040.0,
        "table_write_units": 1_000.0,
        "index_write_units": 1_000.0,
        "log_bytes": 204_000.0,
        "custom_metrics": 9.0,
    }
    usage = usage_from_cloudwatch(totals, from_stack_file("prod"), send_requests=100, window_seconds=120.0)
    assert (usage.events, usage.messages_per_send, usage.deliveries_per_event) == (1_000, 10.0, 1.02)
    assert usage.records_per_invocation == 10.0
    assert usage.messages_per_receive == 10.0
    assert usage.batch_ms.at(10) == 20.0  # 2,040 ms over 102 invocations
    assert usage.log_bytes.at(10) == 2_000.0
    assert usage.log_bytes_include_platform
    assert (usage.table_write_units_per_event, usage.index_write_units_per_event) == (1.0, 1.0)
    assert (usage.dlq_sends_per_event, usage.sqs_largest_body_bytes, usage.custom_metrics) == (0.004, 330, 9)
    assert usage.batch_size == 100
