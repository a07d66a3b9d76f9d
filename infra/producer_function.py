"""The optional producer Lambda (`producerFunction`), and its EventBridge schedule (`producerSchedule`)."""

from __future__ import annotations

import dataclasses
import json

import pulumi
import pulumi_aws as aws
from pulumi import Input, Output, ResourceOptions

from infra import policies
from infra.code_package import producer_package_files
from infra.consumer_function import code_archive, powertools_layer_arn
from infra.cost_tags import component_options
from infra.resource_spec import StackSpec

HANDLER = "producer.handler.lambda_handler"


@dataclasses.dataclass(frozen=True)
class ProducerFunctionArgs:
    spec: StackSpec
    region: str
    queue_url: Input[str]
    queue_arn: Input[str]
    kms_key_arn: Input[str] | None = None


class ProducerFunction(pulumi.ComponentResource):
    """A function whose role holds the producers' managed rights (send to this queue, nothing else) and its
    own logs; invoked by hand, by a test harness, or on a schedule."""

    def __init__(self, name: str, args: ProducerFunctionArgs, opts: ResourceOptions | None = None):
        super().__init__(
            "vehicle-pipeline:infra:ProducerFunction", name, None, component_options("producer", opts)
        )
        child = ResourceOptions(parent=self)
        spec, settings = args.spec, args.spec.settings
        function_name = spec.producer_function_name
        log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=f"/aws/lambda/{function_name}",
            retention_in_days=settings.log_retention_days,
            kms_key_id=args.kms_key_arn,
            opts=child,
        )
        role = aws.iam.Role(
            f"{name}-role",
            description=f"Runs {function_name}",
            assume_role_policy=json.dumps(policies.lambda_assume_role_policy()),
            opts=child,
        )
        role_policy = aws.iam.RolePolicy(
            f"{name}-role-policy",
            role=role.id,
            policy=Output.all(args.queue_arn, log_group.arn, args.kms_key_arn).apply(
                lambda values: json.dumps(policies.producer_function_policy(*values))
            ),
            opts=child,
        )
        self.function = aws.lambda_.Function(
            f"{name}-function",
            name=function_name,
            role=role.arn,
            runtime=settings.python_runtime,
            architectures=[settings.architecture],
            handler=HANDLER,
            code=code_archive(producer_package_files()),
            memory_size=256,
            timeout=60,
            layers=[powertools_layer_arn(settings)],  # fastjsonschema, for the event contract
            kms_key_arn=args.kms_key_arn,
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(log_format="Text", log_group=log_group.name),
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables={
                    "QUEUE_URL": args.queue_url,
                    "EVENTS_PER_INVOCATION": str(settings.producer_events_per_invocation),
                }
            ),
            opts=ResourceOptions(parent=self, depends_on=[log_group, role_policy]),
        )
        if settings.producer_schedule:
            self._schedule(name, settings.producer_schedule, child)
        self.register_outputs({"producerFunctionName": self.function.name})

    def _schedule(self, name: str, expression: str, child: ResourceOptions) -> None:
        rule = aws.cloudwatch.EventRule(
            f"{name}-schedule",
            description="Invoke the vehicle events producer",
            schedule_expression=expression,
            opts=child,
        )
        aws.lambda_.Permission(
            f"{name}-schedule-permission",
            action="lambda:InvokeFunction",
            function=self.function.name,
            principal="events.amazonaws.com",
            source_arn=rule.arn,  # this rule only
            opts=child,
        )
        aws.cloudwatch.EventTarget(
            f"{name}-schedule-target", rule=rule.name, arn=self.function.arn, opts=child
        )
