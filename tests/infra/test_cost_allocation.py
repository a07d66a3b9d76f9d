"""The cost model prices what the program declares, for every stack file.

GIVEN a stack's mocked graph and the cost model's design for the same stack file
WHEN the fixed parts the model counts are read off the graph
THEN they agree: alarm metrics (an alarm bills each metric it reads, two for the error-rate metric math),
dashboards, the customer-managed key, the fleet's instance type (priced in aws_prices.json) and root volume.
"""

from infra.settings import from_stack_file
from loadtest.analysis.aws_prices import load_prices
from loadtest.analysis.cost_model import DASHBOARDS, ROOT_VOLUME_GB, FleetDesign, LambdaDesign
from tests.infra.pulumi_harness import Graph

ALARM = "aws:cloudwatch/metricAlarm:MetricAlarm"


def alarm_metrics(graph: Graph) -> int:
    counted = 0
    for alarm in graph.of_type(ALARM):
        queries = alarm.inputs.get("metricQueries") or []
        counted += sum(1 for query in queries if "metric" in query) if queries else 1
    return counted


def test_the_models_fixed_parts_are_the_stacks(graph: Graph, stack: str):
    design = LambdaDesign.for_stack(stack, from_stack_file(stack))

    assert alarm_metrics(graph) == design.alarm_metrics
    assert len(graph.of_type("aws:cloudwatch/dashboard:Dashboard")) == design.dashboards == DASHBOARDS
    assert bool(graph.of_type("aws:kms/key:Key")) == design.customer_managed_key


def test_the_fleets_instance_type_is_priced_and_its_volume_counted(graph: Graph, stack: str):
    fleet = FleetDesign.for_stack(stack, from_stack_file(stack), msgs_per_s_per_instance=1.0)
    templates = graph.of_type("aws:ec2/launchTemplate:LaunchTemplate")

    assert load_prices().price(fleet.instance_price_key()) > 0
    for template in templates:
        assert template.inputs["instanceType"] == fleet.instance_type
        assert [m["ebs"]["volumeSize"] for m in template.inputs["blockDeviceMappings"]] == [ROOT_VOLUME_GB]
