"""CloudWatch watching the queue, the function and the table: alarms to an SNS topic, a dashboard built as
data from the real resource names, and saved Logs Insights queries over the function's logs."""

from __future__ import annotations

import dataclasses
import json

import pulumi
import pulumi_aws as aws
from pulumi import Input, Output, ResourceOptions

from infra.cost_tags import component_options
from infra.resource_spec import StackSpec
from infra.settings import ProvisionedPollers

SERVICE_DIMENSION = {"service": "vehicle-consumer"}  # the Powertools service of the consumer's EMF metrics


@dataclasses.dataclass(frozen=True)
class MonitoringArgs:
    spec: StackSpec
    region: str
    queue_name: Input[str]
    dlq_name: Input[str]
    function_name: Input[str]
    table_name: Input[str]
    log_group_name: Input[str]
    event_source_mapping_uuid: Input[str]  # the dimension of the mapping's own metrics (MetricsConfig)
    kms_key_arn: Input[str] | None = None  # None: an unencrypted topic (alarms cannot publish to aws/sns)


@dataclasses.dataclass(frozen=True)
class AlarmSpec:
    """One alarm: what it watches, when it fires, and why missing data means what it means."""

    key: str
    description: str
    namespace: str = ""
    metric: str = ""
    dimension: str = ""  # which resource's name the single dimension takes: queue, dlq, function, table
    statistic: str = "Sum"
    threshold: float = 0
    period: int = 60
    evaluation_periods: int = 1
    treat_missing_data: str = "notBreaching"


def alarm_specs(spec: StackSpec) -> list[AlarmSpec]:
    s = spec.settings
    return [
        AlarmSpec(
            "dlq-not-empty",
            "Messages reached the DLQ: invalid bodies or records that kept failing",
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            "dlq",
            "Maximum",
            0,
        ),
        AlarmSpec(
            "queue-oldest-message-age",
            "The consumer is falling behind: the oldest message is too old",
            "AWS/SQS",
            "ApproximateAgeOfOldestMessage",
            "queue",
            "Maximum",
            s.oldest_message_age_alarm_seconds,
            evaluation_periods=3,
        ),
        AlarmSpec(
            "function-errors",
            "The handler failed whole invocations (their batches are retried)",
            "AWS/Lambda",
            "Errors",
            "function",
            "Sum",
            0,
        ),
        AlarmSpec(
            "function-throttles",
            "Invocations were throttled: reserved or account concurrency is exhausted",
            "AWS/Lambda",
            "Throttles",
            "function",
            "Sum",
            0,
        ),
        AlarmSpec(
            "function-duration-p99",
            "p99 duration is close to the timeout: batches risk timing out",
            "AWS/Lambda",
            "Duration",
            "function",
            "p99",
            s.function_timeout_seconds * 1000 * s.duration_alarm_percent_of_timeout / 100,
            period=300,
        ),
        AlarmSpec(
            "function-concurrency",
            "Concurrency is near the event source mapping's maximum: the backlog can grow",
            "AWS/Lambda",
            "ConcurrentExecutions",
            "function",
            "Maximum",
            # maxConcurrency, or 10 invokes per poller × the maximum pollers in provisioned mode
            s.mapping_max_concurrency * s.concurrency_alarm_percent_of_max / 100,
            evaluation_periods=5,
        ),
        # Missing data = the table did no throttled writes; an empty period is healthy.
        AlarmSpec(
            "table-write-throttles",
            "DynamoDB throttled writes: records are retried, latency grows",
            "AWS/DynamoDB",
            "WriteThrottleEvents",
            "table",
            "Sum",
            0,
        ),
    ]


class Monitoring(pulumi.ComponentResource):
    def __init__(self, name: str, args: MonitoringArgs, opts: ResourceOptions | None = None):
        super().__init__(
            "vehicle-pipeline:infra:Monitoring", name, None, component_options("monitoring", opts)
        )
        child = ResourceOptions(parent=self)
        settings = args.spec.settings
        names = {
            "queue": args.queue_name,
            "dlq": args.dlq_name,
            "function": args.function_name,
            "table": args.table_name,
            "mapping": args.event_source_mapping_uuid,
        }
        dimension_keys = {
            "queue": "QueueName",
            "dlq": "QueueName",
            "function": "FunctionName",
            "table": "TableName",
            "mapping": "EventSourceMappingUUID",
        }

        self.topic = aws.sns.Topic(f"{name}-alarms", kms_master_key_id=args.kms_key_arn, opts=child)
        if settings.alarm_email:
            aws.sns.TopicSubscription(
                f"{name}-alarm-email",
                topic=self.topic.arn,
                protocol="email",
                endpoint=settings.alarm_email,
                opts=child,
            )
        actions = [self.topic.arn]
        self.alarms: list[aws.cloudwatch.MetricAlarm] = []
        if settings.alarms_enabled:
            for alarm in alarm_specs(args.spec):
                percentile = alarm.statistic.startswith("p")
                self.alarms.append(
                    aws.cloudwatch.MetricAlarm(
                        f"{name}-{alarm.key}",
                        alarm_description=alarm.description,
                        namespace=alarm.namespace,
                        metric_name=alarm.metric,
                        dimensions={dimension_keys[alarm.dimension]: names[alarm.dimension]},
                        statistic=None if percentile else alarm.statistic,
                        extended_statistic=alarm.statistic if percentile else None,
                        period=alarm.period,
                        evaluation_periods=alarm.evaluation_periods,
                        threshold=alarm.threshold,
                        comparison_operator="GreaterThanThreshold",
                        treat_missing_data=alarm.treat_missing_data,
                        alarm_actions=actions,
                        ok_actions=actions,
                        opts=child,
                    )
                )
            self.alarms.append(self._error_rate_alarm(name, args, actions, child))
            self.alarms.append(self._mapping_not_polling_alarm(name, args, actions, child))

        self.dashboard_name = f"{args.spec.prefix}-pipeline"
        body = Output.all(names=Output.all(**names), alarms=Output.all(*[a.arn for a in self.alarms]))
        self.dashboard = aws.cloudwatch.Dashboard(
            f"{name}-dashboard",
            dashboard_name=self.dashboard_name,
            dashboard_body=body.apply(
                lambda v: json.dumps(
                    dashboard_body(
                        args.region,
                        v["names"],
                        v["alarms"],
                        settings.metrics_namespace,
                        settings.provisioned_pollers,
                    )
                )
            ),
            opts=child,
        )
        self.queries = [
            aws.cloudwatch.QueryDefinition(
                f"{name}-query-{key}",
                name=f"{args.spec.prefix}/{title}",
                query_string=query,
                log_group_names=[args.log_group_name],
                opts=child,
            )
            for key, title, query in saved_queries()
        ]
        self.dashboard_url = (
            f"https://{args.region}.console.aws.amazon.com/cloudwatch/home?region={args.region}"
            f"#dashboards:name={self.dashboard_name}"
        )
        self.register_outputs(
            {
                "dashboardName": self.dashboard_name,
                "dashboardUrl": self.dashboard_url,
                "alarmTopicArn": self.topic.arn,
            }
        )

    @staticmethod
    def _error_rate_alarm(name: str, args: MonitoringArgs, actions: list, child: ResourceOptions):
        """Errors as a share of invocations: one failing batch in a quiet hour is not an outage."""

        def metric(query_id: str, metric_name: str):
            return _metric_query(query_id, "AWS/Lambda", metric_name, {"FunctionName": args.function_name})

        return aws.cloudwatch.MetricAlarm(
            f"{name}-function-error-rate",
            alarm_description="Function errors above the configured share of invocations",
            metric_queries=[
                metric("errors", "Errors"),
                metric("invocations", "Invocations"),
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="error_rate",
                    label="Error rate (%)",
                    return_data=True,
                    # FILL/IF: no invocations means no error rate, not a division by zero.
                    expression="IF(FILL(invocations, 0) > 0, 100 * FILL(errors, 0) / invocations, 0)",
                ),
            ],
            evaluation_periods=1,
            threshold=args.spec.settings.error_rate_alarm_percent,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=actions,
            ok_actions=actions,
            opts=child,
        )

    @staticmethod
    def _mapping_not_polling_alarm(name: str, args: MonitoringArgs, actions: list, child: ResourceOptions):
        """The alarm the mapping's EventCount metrics exist for: AWS's event source mapping metrics page gives
        PolledEventCount "to detect whether your event source mapping is correctly polling for new events"
        (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html#event-source-mapping-metrics).
        Messages wait in the queue while the mapping reads none of them for 15 minutes: it is disabled, lost
        its permissions or key, or is stuck; Lambda emits 0 for an empty poll and nothing for a disabled
        mapping, hence FILL. Slowness with polling still going on is the oldest-message alarm's business."""
        return aws.cloudwatch.MetricAlarm(
            f"{name}-event-source-not-polling",
            alarm_description="Messages are waiting but the event source mapping polls none of them",
            metric_queries=[
                _metric_query(
                    "visible",
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    {"QueueName": args.queue_name},
                    "Maximum",
                ),
                _metric_query(
                    "polled",
                    "AWS/Lambda",
                    "PolledEventCount",
                    {"EventSourceMappingUUID": args.event_source_mapping_uuid},
                ),
                aws.cloudwatch.MetricAlarmMetricQueryArgs(
                    id="waiting_unpolled",
                    label="Messages waiting, none polled (1 = yes)",
                    return_data=True,
                    expression="IF(FILL(visible, 0) > 0 AND FILL(polled, 0) == 0, 1, 0)",
                ),
            ],
            evaluation_periods=3,
            threshold=0,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=actions,
            ok_actions=actions,
            opts=child,
        )


def _metric_query(query_id: str, namespace: str, metric_name: str, dimensions: dict, stat: str = "Sum"):
    """One metric of a metric-math alarm, over 5-minute periods."""
    return aws.cloudwatch.MetricAlarmMetricQueryArgs(
        id=query_id,
        metric=aws.cloudwatch.MetricAlarmMetricQueryMetricArgs(
            namespace=namespace, metric_name=metric_name, period=300, stat=stat, dimensions=dimensions
        ),
    )


def saved_queries() -> list[tuple[str, str, str]]:
    return [
        (
            "failed-by-reason",
            "failed records by reason",
            'filter message = "invalid event" | stats count(*) as records by reason | sort records desc',
        ),
        (
            "slowest-batches",
            "slowest batches",
            'filter @type = "REPORT" | fields @requestId, @duration, @maxMemoryUsed '
            "| sort @duration desc | limit 25",
        ),
        (
            "event-path",
            "one event's path (edit the eventId)",
            'filter eventId = "REPLACE-WITH-EVENT-ID" or @message like "REPLACE-WITH-EVENT-ID" '
            "| fields @timestamp, message, reason, messageId | sort @timestamp asc",
        ),
    ]


def dashboard_body(
    region: str,
    names: dict[str, str],
    alarm_arns: list[str],
    namespace: str,
    pollers: ProvisionedPollers | None = None,
) -> dict:
    """The dashboard as data: one row per concern, every metric naming a resource of this stack."""

    def widget(title: str, metrics: list, y: int, x: int, stat: str = "Sum", width: int = 8) -> dict:
        return {
            "type": "metric",
            "x": x,
            "y": y,
            "width": width,
            "height": 6,
            "properties": {
                "title": title,
                "region": region,
                "stat": stat,
                "period": 60,
                "view": "timeSeries",
                "metrics": metrics,
            },
        }

    queue = ["AWS/SQS", "QueueName", names["queue"]]
    dlq = ["AWS/SQS", "QueueName", names["dlq"]]
    fn = ["AWS/Lambda", "FunctionName", names["function"]]
    table = ["AWS/DynamoDB", "TableName", names["table"]]
    mapping = ["AWS/Lambda", "EventSourceMappingUUID", names["mapping"]]
    emf = [namespace, "service", SERVICE_DIMENSION["service"]]

    def m(base: list, metric: str, **options) -> list:
        return [base[0], metric, *base[1:], *([options] if options else [])]

    widgets = [
        widget(
            "Queue: sent, received, deleted",
            [
                m(queue, "NumberOfMessagesSent"),
                m(queue, "NumberOfMessagesReceived"),
                m(queue, "NumberOfMessagesDeleted"),
            ],
            0,
            0,
        ),
        widget(
            "Queue: visible and in flight",
            [
                m(queue, "ApproximateNumberOfMessagesVisible"),
                m(queue, "ApproximateNumberOfMessagesNotVisible"),
            ],
            0,
            8,
            "Maximum",
        ),
        widget(
            "Queue: age of oldest message (s)", [m(queue, "ApproximateAgeOfOldestMessage")], 0, 16, "Maximum"
        ),
        widget("DLQ: visible messages", [m(dlq, "ApproximateNumberOfMessagesVisible")], 6, 0, "Maximum"),
        widget(
            "Function: invocations, errors, throttles",
            [m(fn, "Invocations"), m(fn, "Errors"), m(fn, "Throttles")],
            6,
            8,
        ),
        widget(
            "Function: duration p50 / p99 (ms)",
            [m(fn, "Duration", stat="p50"), m(fn, "Duration", stat="p99")],
            6,
            16,
            "p99",
        ),
        widget("Function: concurrent executions", [m(fn, "ConcurrentExecutions")], 12, 0, "Maximum"),
        widget(
            "Table: consumed writes, throttles",
            [m(table, "ConsumedWriteCapacityUnits"), m(table, "WriteThrottleEvents")],
            12,
            8,
        ),
        widget(
            "Table: BatchWriteItem latency (ms)",
            [
                [
                    "AWS/DynamoDB",
                    "SuccessfulRequestLatency",
                    "TableName",
                    names["table"],
                    "Operation",
                    "BatchWriteItem",
                ]
            ],
            12,
            16,
            "Average",
        ),
        widget(
            "Consumer (EMF): stored, failed, routed to DLQ, duplicates",
            [
                m(emf, "RecordsStored"),
                m(emf, "RecordsFailed"),
                m(emf, "RecordsRoutedToDLQ"),
                m(emf, "DuplicatesSkipped"),
            ],
            18,
            0,
        ),
        widget(
            "Consumer (EMF): end-to-end latency (ms)",
            [m(emf, "EndToEndLatency", stat="p50"), m(emf, "EndToEndLatency", stat="p99")],
            18,
            8,
            "p99",
        ),
        widget(
            "Consumer (EMF): DynamoDB calls, UnprocessedItems retries",
            [m(emf, "DynamoDBCalls"), m(emf, "UnprocessedItemRetries")],
            18,
            16,
        ),
    ]
    # The mapping's EventCount metrics (MetricsConfig). An SQS source publishes no DroppedEventCount or
    # OnFailureDestinationDeliveredEventCount, and FilteredOutEventCount only with filter criteria (none).
    counts = ("PolledEventCount", "InvokedEventCount", "FailedInvokeEventCount", "DeletedEventCount")
    title = "Event source mapping: events polled, invoked, failed (incl. partial), deleted"
    widgets.append(widget(title, [m(mapping, c) for c in counts], 24, 0, width=24 if pollers is None else 12))
    if pollers is not None:  # provisioned mode: the pollers running (AWS: view with MAX), against the bounds
        running = widget(
            "Event source mapping: provisioned pollers",
            [m(mapping, "ProvisionedPollers")],
            24,
            12,
            "Maximum",
            12,
        )
        running["properties"]["annotations"] = {
            "horizontal": [
                {"label": "minimum pollers", "value": pollers.minimum},
                {"label": "maximum pollers", "value": pollers.maximum},
            ]
        }
        widgets.append(running)
    if alarm_arns:
        widgets.append(
            {
                "type": "alarm",
                "x": 0,
                "y": 30,
                "width": 24,
                "height": 4,
                "properties": {"title": "Alarms", "alarms": list(alarm_arns)},
            }
        )
    return {"widgets": widgets}
