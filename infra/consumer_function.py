"""The consumer Lambda function, its role, its log group, and the event source mapping that feeds it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pulumi
import pulumi_aws as aws
from pulumi import Input, Output, ResourceOptions

from infra import aws_limits, policies, powertools_layer
from infra.code_package import package_files
from infra.cost_tags import component_options
from infra.resource_spec import StackSpec
from infra.settings import StackSettings

HANDLER = "consumer.handler.lambda_handler"
SERVICE_NAME = "vehicle-consumer"
# Ahead of any broad rule an account has (X-Ray's Default rule is 10000), behind narrower ones set below 1000.
SAMPLING_RULE_PRIORITY = 1000


@dataclasses.dataclass(frozen=True)
class ConsumerFunctionArgs:
    spec: StackSpec
    region: str
    queue_arn: Input[str]
    dlq_url: Input[str]
    dlq_arn: Input[str]
    table_name: Input[str]
    table_arn: Input[str]
    kms_key_arn: Input[str] | None = None  # logs, environment and the role's key rights; None: AWS-managed


def code_archive(files: dict[str, Path] | None = None) -> pulumi.AssetArchive:
    """A function's code: the consumer package unless `files` is given; dependencies come from the
    Powertools layer and the runtime."""
    return pulumi.AssetArchive(
        {name: pulumi.FileAsset(str(path)) for name, path in (files or package_files()).items()}
    )


def powertools_layer_arn(settings: StackSettings) -> Input[str]:
    """The configured layer, else the public layer of the locked Powertools release for the stack's runtime
    and architecture, read from Powertools' SSM parameter when the program runs (infra/powertools_layer.py).
    `insecure_value`: the parameter is a public String, not a secret; the ARN stays readable in the plan."""
    if settings.powertools_layer_arn:
        return settings.powertools_layer_arn
    name = powertools_layer.parameter_name(settings.architecture, settings.python_runtime)
    return aws.ssm.get_parameter_output(name=name).insecure_value


class ConsumerFunction(pulumi.ComponentResource):
    """Lambda consumer with tracing, its own log group with a retention, a role limited to named actions on
    this stack's queue, DLQ, table and log group, and an SQS event source reporting partial batch failures."""

    def __init__(self, name: str, args: ConsumerFunctionArgs, opts: ResourceOptions | None = None):
        super().__init__(
            "vehicle-pipeline:infra:ConsumerFunction", name, None, component_options("consumer", opts)
        )
        child = ResourceOptions(parent=self)
        spec, settings = args.spec, args.spec.settings
        routing = settings.route_permanent_errors_to_dlq

        # Declared, not left to Lambda's first invocation: otherwise the group would be created without a
        # retention (logs kept forever) and outside the stack.
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-logs",
            name=spec.log_group_name,
            retention_in_days=settings.log_retention_days,
            kms_key_id=args.kms_key_arn,
            opts=child,
        )
        self.role = aws.iam.Role(
            f"{name}-role",
            description=f"Runs {spec.function_name}",
            assume_role_policy=json.dumps(policies.lambda_assume_role_policy()),
            opts=child,
        )
        # Named actions only (no AWSLambdaBasicExecutionRole, which allows logs in every group).
        self.role_policy = aws.iam.RolePolicy(
            f"{name}-role-policy",
            role=self.role.id,
            # The DLQ send right exists only when the function routes permanent errors there.
            policy=Output.all(
                args.queue_arn,
                args.table_arn,
                self.log_group.arn,
                args.dlq_arn if routing else None,
                args.kms_key_arn,
            ).apply(lambda arns: json.dumps(policies.consumer_policy(*arns))),
            opts=child,
        )
        self.function = self._function(name, args)
        self.event_source_mapping = self._event_source_mapping(name, args)
        self.sampling_rule = self._sampling_rule(name, spec)

        self.function_name = self.function.name
        self.event_source_mapping_uuid = self.event_source_mapping.uuid  # the dimension of its own metrics
        self.function_arn = self.function.arn
        self.role_arn = self.role.arn
        self.log_group_name = self.log_group.name
        self.register_outputs(
            {
                "functionName": self.function_name,
                "functionArn": self.function_arn,
                "roleArn": self.role_arn,
                "logGroupName": self.log_group_name,
            }
        )

    def _function(self, name: str, args: ConsumerFunctionArgs) -> aws.lambda_.Function:
        spec, settings = args.spec, args.spec.settings
        return aws.lambda_.Function(
            f"{name}-function",
            name=spec.function_name,
            role=self.role.arn,
            runtime=settings.python_runtime,
            architectures=[settings.architecture],
            handler=HANDLER,
            code=code_archive(),
            memory_size=settings.function_memory_mb,
            timeout=settings.function_timeout_seconds,
            layers=[powertools_layer_arn(settings)],
            tracing_config=aws.lambda_.FunctionTracingConfigArgs(mode="Active"),
            # Text: Powertools already writes structured JSON lines and POWERTOOLS_LOG_LEVEL stays the one
            # level control (Lambda's JSON format would add AWS_LAMBDA_LOG_LEVEL, which overrides it).
            logging_config=aws.lambda_.FunctionLoggingConfigArgs(
                log_format="Text", log_group=self.log_group.name
            ),
            # Reserved: the poller is never throttled by other functions, and this one can never take more
            # than its share of the account (validated ≥ the mapping's maximum concurrency).
            reserved_concurrent_executions=settings.reserved_concurrency,
            kms_key_arn=args.kms_key_arn,  # environment variables at rest
            environment=aws.lambda_.FunctionEnvironmentArgs(
                variables={
                    "TABLE_NAME": args.table_name,
                    "POWERTOOLS_SERVICE_NAME": SERVICE_NAME,
                    "POWERTOOLS_METRICS_NAMESPACE": settings.metrics_namespace,
                    "POWERTOOLS_LOG_LEVEL": settings.log_level,
                    # Invalid records go straight to the DLQ with their reason (consumer/dead_letters.py).
                    **({"DLQ_URL": args.dlq_url} if settings.route_permanent_errors_to_dlq else {}),
                }
            ),
            # The first invocation must find its log group (with retention) and its rights already in place.
            opts=ResourceOptions(parent=self, depends_on=[self.log_group, self.role_policy]),
        )

    def _event_source_mapping(self, name: str, args: ConsumerFunctionArgs) -> aws.lambda_.EventSourceMapping:
        settings = args.spec.settings
        return aws.lambda_.EventSourceMapping(
            f"{name}-event-source",
            event_source_arn=args.queue_arn,
            function_name=self.function.arn,
            batch_size=settings.batch_size,
            # Left unset at 0: FIFO sources reject the parameter, and 0 is Lambda's default anyway.
            maximum_batching_window_in_seconds=settings.batching_window_seconds or None,
            **_scaling(settings),
            # EventCount: polled, invoked, failed and deleted events per mapping (AWS/Lambda, dimension
            # EventSourceMappingUUID), off unless asked for; the dashboard and an alarm read them.
            # https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html#event-source-mapping-metrics
            metrics_config=aws.lambda_.EventSourceMappingMetricsConfigArgs(
                metrics=list(aws_limits.ESM_SQS_METRIC_GROUPS)
            ),
            function_response_types=["ReportBatchItemFailures"],
            enabled=True,
            opts=ResourceOptions(parent=self),
        )

    def _sampling_rule(self, name: str, spec: StackSpec) -> aws.xray.SamplingRule | None:
        """How many invocations X-Ray traces (`xraySampling`; unset: the account's rules, by default the first
        each second and 5 % of the rest). With Active tracing and no sampled upstream header, Lambda asks
        X-Ray for the decision, which applies the highest-priority matching rule; the reservoir is shared by
        every instance of the function (X-Ray API, SamplingRule: it "applies to all services using the rule
        collectively"). Matched by service name, the function's, so the rule is this stack's alone."""
        sampling = spec.settings.xray_sampling
        if sampling is None:
            return None
        return aws.xray.SamplingRule(
            f"{name}-sampling-rule",
            rule_name=spec.sampling_rule_name,
            priority=SAMPLING_RULE_PRIORITY,
            reservoir_size=sampling.reservoir_per_second,
            fixed_rate=sampling.fixed_rate,
            service_name=spec.function_name,
            service_type="*",  # AWS::Lambda (the invocation) and AWS::Lambda::Function segments alike
            host="*",
            http_method="*",
            url_path="*",
            resource_arn="*",
            version=1,
            opts=ResourceOptions(parent=self),
        )


def _scaling(settings: StackSettings) -> dict:
    """Standard mode: ScalingConfig's maximum concurrency. Provisioned mode: event pollers (minimum kept warm
    and billed, maximum bounding the concurrency at 10 invokes each), never both: AWS refuses the pair
    (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html). pulumi-aws 7.51.1 documents
    provisioned_poller_config as Kafka-only; the Lambda API takes it for SQS since November 2025 (AWS News
    Blog, "AWS Lambda enhances event processing with provisioned mode for SQS event-source mapping")."""
    pollers = settings.provisioned_pollers
    if pollers is None:
        return {
            "scaling_config": aws.lambda_.EventSourceMappingScalingConfigArgs(
                maximum_concurrency=settings.max_concurrency
            )
        }
    return {
        "provisioned_poller_config": aws.lambda_.EventSourceMappingProvisionedPollerConfigArgs(
            minimum_pollers=pollers.minimum, maximum_pollers=pollers.maximum
        )
    }
