"""The optional producer Lambda, under Pulumi mocks.

GIVEN Pulumi.fleet.yaml (producerFunction on, every minute) and dev (off)
WHEN the program runs
THEN the function runs producer/handler.py from its own package, its role may only send to the queue (and
write its logs), and an EventBridge rule invokes it on the configured schedule, permitted for that rule only.
"""

from infra import policies
from infra.code_package import producer_package_files
from tests.infra.pulumi_harness import run_program

FUNCTION = "aws:lambda/function:Function"


def test_no_producer_unless_switched_on():
    graph = run_program("dev")
    assert [f.name for f in graph.of_type(FUNCTION)] == ["consumer-function"]
    assert graph.of_type("aws:cloudwatch/eventRule:EventRule") == []


def test_producer_function_sends_only_on_its_schedule():
    graph = run_program("fleet")
    function = graph.one(FUNCTION, "producer-function")
    assert function.inputs["handler"] == "producer.handler.lambda_handler"
    assert sorted(function.inputs["code"].assets) == sorted(producer_package_files())
    queue = graph.one("aws:sqs/queue:Queue", "-queue")
    assert function.inputs["environment"]["variables"] == {
        "QUEUE_URL": queue.state["url"],
        "EVENTS_PER_INVOCATION": "600",
    }
    logs = graph.one("aws:cloudwatch/logGroup:LogGroup", "producer-logs")
    assert logs.inputs["name"] == "/aws/lambda/vehicle-pipeline-fleet-producer"
    role_policy = graph.one("aws:iam/rolePolicy:RolePolicy", "producer-role-policy")
    assert role_policy.json("policy") == policies.producer_function_policy(
        queue.state["arn"], logs.state["arn"]
    )
    assert [s["Sid"] for s in role_policy.json("policy")["Statement"]] == ["SendVehicleEvents", "OwnLogs"]

    rule = graph.one("aws:cloudwatch/eventRule:EventRule")
    assert rule.inputs["scheduleExpression"] == "rate(1 minute)"
    target = graph.one("aws:cloudwatch/eventTarget:EventTarget")
    assert (target.inputs["rule"], target.inputs["arn"]) == (rule.state["name"], function.state["arn"])
    permission = graph.one("aws:lambda/permission:Permission")
    assert {k: permission.inputs[k] for k in ("action", "function", "principal", "sourceArn")} == {
        "action": "lambda:InvokeFunction",
        "function": function.state["name"],
        "principal": "events.amazonaws.com",
        "sourceArn": rule.state["arn"],
    }
    assert graph.outputs["producerFunctionName"] == function.state["name"]
