"""Monitoring on the mocked graph of every stack: alarms with actions and configured thresholds, a dashboard
whose every metric names a resource of the graph, and the saved Logs Insights queries."""

from tests.infra.pulumi_harness import Graph, run_program

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"
TOPIC = "aws:sns/topic:Topic"
SUBSCRIPTION = "aws:sns/topicSubscription:TopicSubscription"
DASHBOARD = "aws:cloudwatch/dashboard:Dashboard"
QUERY = "aws:cloudwatch/queryDefinition:QueryDefinition"
MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"


def alarms_by_key(graph: Graph) -> dict[str, dict]:
    return {alarm.name.removeprefix("monitoring-"): alarm.inputs for alarm in graph.of_type(ALARM)}


def test_every_alarm_notifies_the_topic_on_alarm_and_ok(graph):
    topic_arn = graph.one(TOPIC).state["arn"]
    alarms = graph.of_type(ALARM)
    assert len(alarms) == 9
    for alarm in alarms:
        assert (alarm.inputs["alarmActions"], alarm.inputs["okActions"]) == ([topic_arn], [topic_arn]), (
            alarm.name
        )


def test_alarm_metrics_and_thresholds_come_from_config(graph, spec):
    s = spec.settings
    alarms = alarms_by_key(graph)
    watched = {
        key: (a.get("namespace"), a.get("metricName"), a.get("dimensions"), a.get("threshold"))
        for key, a in alarms.items()
        if "metricName" in a
    }
    assert watched == {
        "dlq-not-empty": (
            "AWS/SQS",
            "ApproximateNumberOfMessagesVisible",
            {"QueueName": spec.dead_letter_queue.name},
            0,
        ),
        "queue-oldest-message-age": (
            "AWS/SQS",
            "ApproximateAgeOfOldestMessage",
            {"QueueName": spec.queue.name},
            s.oldest_message_age_alarm_seconds,
        ),
        "function-errors": ("AWS/Lambda", "Errors", {"FunctionName": spec.function_name}, 0),
        "function-throttles": ("AWS/Lambda", "Throttles", {"FunctionName": spec.function_name}, 0),
        "function-duration-p99": (
            "AWS/Lambda",
            "Duration",
            {"FunctionName": spec.function_name},
            s.function_timeout_seconds * 10 * s.duration_alarm_percent_of_timeout,
        ),
        "function-concurrency": (
            "AWS/Lambda",
            "ConcurrentExecutions",
            {"FunctionName": spec.function_name},
            s.mapping_max_concurrency * s.concurrency_alarm_percent_of_max / 100,
        ),
        "table-write-throttles": ("AWS/DynamoDB", "WriteThrottleEvents", {"TableName": spec.table_name}, 0),
    }
    assert alarms["function-duration-p99"]["extendedStatistic"] == "p99"
    rate = alarms["function-error-rate"]
    assert rate["threshold"] == s.error_rate_alarm_percent
    assert [q["id"] for q in rate["metricQueries"]] == ["errors", "invocations", "error_rate"]
    assert (
        rate["metricQueries"][2]["expression"]
        == "IF(FILL(invocations, 0) > 0, 100 * FILL(errors, 0) / invocations, 0)"
    )


def test_mapping_not_polling_alarm_reads_the_queue_and_the_mappings_polled_events(graph, spec):
    alarm = alarms_by_key(graph)["event-source-not-polling"]
    mapping_uuid = graph.one(MAPPING).state["uuid"]
    assert [
        (q["id"], q.get("metric"), q.get("expression"), q.get("returnData")) for q in alarm["metricQueries"]
    ] == [
        (
            "visible",
            {
                "namespace": "AWS/SQS",
                "metricName": "ApproximateNumberOfMessagesVisible",
                "dimensions": {"QueueName": spec.queue.name},
                "stat": "Maximum",
                "period": 300,
            },
            None,
            None,
        ),
        (
            "polled",
            {
                "namespace": "AWS/Lambda",
                "metricName": "PolledEventCount",
                "dimensions": {"EventSourceMappingUUID": mapping_uuid},
                "stat": "Sum",
                "period": 300,
            },
            None,
            None,
        ),
        ("waiting_unpolled", None, "IF(FILL(visible, 0) > 0 AND FILL(polled, 0) == 0, 1, 0)", True),
    ]
    assert (alarm["threshold"], alarm["comparisonOperator"], alarm["evaluationPeriods"]) == (
        0,
        "GreaterThanThreshold",
        3,
    )
    assert alarm["treatMissingData"] == "notBreaching"


def test_dashboard_names_only_resources_of_the_graph_and_lists_every_alarm(graph, spec):
    dashboard = graph.one(DASHBOARD)
    body = dashboard.json("dashboardBody")
    names = {
        "QueueName": {spec.queue.name, spec.dead_letter_queue.name},
        "FunctionName": {spec.function_name},
        "TableName": {spec.table_name},
        "EventSourceMappingUUID": {graph.one(MAPPING).state["uuid"]},
        "service": {"vehicle-consumer"},
    }
    namespaces = set()
    for widget in body["widgets"]:
        for metric in widget["properties"].get("metrics", []):
            namespace, _name, *rest = metric
            namespaces.add(namespace)
            pairs = [item for item in rest if isinstance(item, str)]
            for key, value in zip(pairs[::2], pairs[1::2], strict=True):
                assert value in names.get(key, {value}), (widget["properties"]["title"], key, value)
    assert namespaces == {"AWS/SQS", "AWS/Lambda", "AWS/DynamoDB", spec.settings.metrics_namespace}
    [alarm_widget] = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert sorted(alarm_widget["properties"]["alarms"]) == sorted(
        a.state["arn"] for a in graph.of_type(ALARM)
    )
    assert graph.outputs["dashboardName"] == dashboard.inputs["dashboardName"] == f"{spec.prefix}-pipeline"
    assert graph.outputs["dashboardUrl"].endswith(f"#dashboards:name={spec.prefix}-pipeline")
    assert graph.outputs["alarmTopicArn"] == graph.one(TOPIC).state["arn"]


def test_dashboard_graphs_the_mappings_event_counts_and_in_provisioned_mode_its_pollers(graph, spec):
    mapping = ["AWS/Lambda", "EventSourceMappingUUID", graph.one(MAPPING).state["uuid"]]
    widgets = {
        w["properties"]["title"]: w["properties"]
        for w in graph.one(DASHBOARD).json("dashboardBody")["widgets"]
    }
    counts = ("PolledEventCount", "InvokedEventCount", "FailedInvokeEventCount", "DeletedEventCount")
    events = widgets["Event source mapping: events polled, invoked, failed (incl. partial), deleted"]
    assert events["metrics"] == [[mapping[0], name, *mapping[1:]] for name in counts]
    pollers = widgets.get("Event source mapping: provisioned pollers")
    if spec.settings.provisioned_pollers is None:
        assert pollers is None
    else:
        assert (pollers["metrics"], pollers["stat"]) == (
            [[mapping[0], "ProvisionedPollers", *mapping[1:]]],
            "Maximum",
        )
        assert pollers["annotations"] == {
            "horizontal": [
                {"label": "minimum pollers", "value": spec.settings.provisioned_pollers.minimum},
                {"label": "maximum pollers", "value": spec.settings.provisioned_pollers.maximum},
            ]
        }


def test_saved_queries_target_the_function_log_group(graph, spec):
    queries = {q.inputs["name"]: q.inputs for q in graph.of_type(QUERY)}
    assert sorted(queries) == sorted(
        f"{spec.prefix}/{title}"
        for title in ("failed records by reason", "slowest batches", "one event's path (edit the eventId)")
    )
    assert all(q["logGroupNames"] == [spec.log_group_name] for q in queries.values())


def test_prod_alarm_email_is_subscribed_and_dev_has_none():
    assert [
        (s.inputs["protocol"], s.inputs["endpoint"]) for s in run_program("prod").of_type(SUBSCRIPTION)
    ] == [("email", "ops@example.com")]
    assert run_program("dev").of_type(SUBSCRIPTION) == []


def test_alarms_can_be_switched_off_but_the_topic_stays():
    graph = run_program("dev", {"alarmsEnabled": False})
    assert graph.of_type(ALARM) == []
    assert len(graph.of_type(TOPIC)) == 1
    assert [w["type"] for w in graph.one(DASHBOARD).json("dashboardBody")["widgets"]].count("alarm") == 0
