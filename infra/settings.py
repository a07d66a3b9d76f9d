"""Stack settings: one typed, validated definition of every per-environment size and switch.

This module deliberately does not import pulumi. The Pulumi program loads it from `pulumi.Config`
(`from_pulumi_config`), the local pipeline and the load test from `Pulumi.<stack>.yaml`
(`from_stack_file`); both go through `StackSettings.from_raw`, so a value means the same thing everywhere
and an invalid one fails the same way, before any resource is declared.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from infra import aws_limits, powertools_layer, pushback

PROJECT = "vehicle-pipeline"
PROJECT_ROOT = Path(__file__).resolve().parent.parent

# AWS limits the validation enforces: infra/aws_limits.py, with the AWS page of each.
# 14 days; the DLQ always keeps messages this long.
SQS_MAX_RETENTION_SECONDS = aws_limits.SQS_MESSAGE_RETENTION.high
SQS_MAX_VISIBILITY_SECONDS = aws_limits.SQS_VISIBILITY_TIMEOUT.high
STANDARD_MAX_BATCH_SIZE = aws_limits.ESM_STANDARD_BATCH_SIZE.high
FIFO_MAX_BATCH_SIZE = aws_limits.ESM_FIFO_BATCH_SIZE.high
MAX_BATCH_WITHOUT_WINDOW = aws_limits.ESM_MAX_BATCH_WITHOUT_WINDOW
LOG_RETENTION_DAYS = aws_limits.LOG_RETENTION_DAYS.values
ARCHITECTURES = ("arm64", "x86_64")
PYTHON_RUNTIMES = ("python3.12", "python3.13")
# A key, not an alias: grants and key policies name the key itself.
KMS_KEY_ARN = re.compile(r"arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key/(mrk-[0-9a-f]{32}|[0-9a-f-]{36})")


class ConfigError(ValueError):
    """Invalid stack configuration. Lists every offending key with its value and the rule it breaks."""

    def __init__(self, problems: list[tuple[str, Any, str]]):
        self.problems = problems
        lines = [f"{PROJECT}:{key} = {value!r}: {rule}" for key, value, rule in problems]
        super().__init__("invalid stack configuration:\n  " + "\n  ".join(lines))


def _as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError("must be true or false")


def _as_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("must be an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    raise ValueError("must be an integer")


def _as_str(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    return value.strip()


class ProvisionedPollers(NamedTuple):
    """Provisioned mode of the event source mapping: the event pollers Lambda keeps (and bills) at least and
    scales up to. A tuple, so the settings stay plain data (JSON-serializable) for the local pipeline."""

    minimum: int
    maximum: int


def _as_provisioned_pollers(value: Any) -> ProvisionedPollers:
    """A mapping {minimum, maximum}: from the stack file as YAML, from the engine as a JSON string. Both are
    required: the minimum is billed around the clock, the maximum bounds the concurrency and the bill."""
    if isinstance(value, str):
        with contextlib.suppress(json.JSONDecodeError):
            value = json.loads(value)
    if not (isinstance(value, dict) and set(value) == {"minimum", "maximum"}):
        raise ValueError(
            "must be a mapping with minimum and maximum event pollers, e.g. {minimum: 2, maximum: 10}"
        )
    try:
        return ProvisionedPollers(_as_int(value["minimum"]), _as_int(value["maximum"]))
    except ValueError:
        raise ValueError("minimum and maximum must be integers") from None


class XraySampling(NamedTuple):
    """An X-Ray sampling rule for the consumer: `reservoir_per_second` invocations a second always traced
    (shared by all the function's instances), then `fixed_rate` of the rest."""

    reservoir_per_second: int
    fixed_rate: float


def _as_xray_sampling(value: Any) -> XraySampling:
    """A mapping {reservoirPerSecond, fixedRate}: YAML from the stack file, a JSON string from the engine."""
    if isinstance(value, str):
        with contextlib.suppress(json.JSONDecodeError):
            value = json.loads(value)
    if isinstance(value, list | tuple) and len(value) == 2:  # the settings' own JSON form (a run record's)
        value = dict(zip(("reservoirPerSecond", "fixedRate"), value, strict=True))
    if not (isinstance(value, dict) and set(value) == {"reservoirPerSecond", "fixedRate"}):
        raise ValueError(
            "must be a mapping with reservoirPerSecond and fixedRate, "
            "e.g. {reservoirPerSecond: 1, fixedRate: 0.05}"
        )
    rate = value["fixedRate"]
    if isinstance(rate, bool) or not isinstance(rate, int | float | str):
        raise ValueError("fixedRate must be a number")
    try:
        return XraySampling(_as_int(value["reservoirPerSecond"]), float(rate))
    except ValueError:
        raise ValueError("reservoirPerSecond must be an integer and fixedRate a number") from None


def _as_str_list(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            value = [part for part in value.split(",") if part.strip()]
    if not isinstance(value, list) or not all(isinstance(item, str) and item.strip() for item in value):
        raise ValueError("must be a list of non-empty strings")
    return tuple(item.strip() for item in value)


@dataclasses.dataclass(frozen=True)
class _Key:
    field: str
    parse: Callable[[Any], Any]
    doc: str


# Config key (as written in Pulumi.<stack>.yaml) -> dataclass field, parser, and the README's description.
KEYS: dict[str, _Key] = {
    "fifo": _Key("fifo", _as_bool, "FIFO queue and DLQ instead of standard ones"),
    "contentBasedDeduplication": _Key(
        "content_based_deduplication",
        _as_bool,
        "FIFO: SQS deduplicates on a hash of the body (off: on the producer's id, its eventId)",
    ),
    "highThroughputFifo": _Key(
        "high_throughput_fifo",
        _as_bool,
        "FIFO: deduplication scope and throughput limit per message group (vehicle)",
    ),
    "batchSize": _Key("batch_size", _as_int, "records per Lambda invocation (FIFO ≤ 10)"),
    "batchingWindowSeconds": _Key(
        "batching_window_seconds",
        _as_int,
        "seconds the poller may wait to fill a batch (0–300, not with FIFO)",
    ),
    "maxConcurrency": _Key(
        "max_concurrency",
        _as_int,
        "event source mapping maximum concurrency (2–1000); not with provisionedPollers",
    ),
    "provisionedPollers": _Key(
        "provisioned_pollers",
        _as_provisioned_pollers,
        "provisioned mode: {minimum: 2–200, maximum: 2–2000} event pollers, 10 concurrent invokes each",
    ),
    "functionTimeoutSeconds": _Key("function_timeout_seconds", _as_int, "consumer timeout (1–900)"),
    "functionMemoryMb": _Key("function_memory_mb", _as_int, "consumer memory (128–10240)"),
    "visibilityTimeoutSeconds": _Key(
        "visibility_timeout_seconds",
        _as_int,
        "queue visibility timeout; derived as 6 × timeout + window when unset",
    ),
    "maxReceiveCount": _Key("max_receive_count", _as_int, "receives before a message moves to the DLQ"),
    "messageRetentionSeconds": _Key(
        "message_retention_seconds",
        _as_int,
        "main queue retention (60 s – 14 days, shorter than the DLQ's 14 days)",
    ),
    "logRetentionDays": _Key("log_retention_days", _as_int, "CloudWatch Logs retention of the function"),
    "producerPrincipals": _Key(
        "producer_principals",
        _as_str_list,
        "IAM principal ARNs allowed to send; empty means the deploying account",
    ),
    "powertoolsLayerArn": _Key(
        "powertools_layer_arn",
        _as_str,
        "layer with the consumer's dependencies; default: public Powertools v3 layer",
    ),
    "architecture": _Key("architecture", _as_str, "arm64 or x86_64"),
    "pythonRuntime": _Key("python_runtime", _as_str, "python3.12 or python3.13"),
    "deletionProtection": _Key("deletion_protection", _as_bool, "DynamoDB deletion protection"),
    "eventIdIndex": _Key(
        "event_id_index",
        _as_bool,
        "a keys-only index on eventId, to look an event up by its id alone (one more write unit per event)",
    ),
    "billingMode": _Key("billing_mode", _as_str, "PAY_PER_REQUEST (on-demand) or PROVISIONED"),
    "writeCapacity": _Key("write_capacity", _as_int, "table write capacity units when PROVISIONED"),
    "readCapacity": _Key("read_capacity", _as_int, "table read capacity units when PROVISIONED"),
    "metricsNamespace": _Key("metrics_namespace", _as_str, "CloudWatch namespace of the consumer's metrics"),
    "xraySampling": _Key(
        "xray_sampling",
        _as_xray_sampling,
        "X-Ray sampling rule of the consumer: {reservoirPerSecond, fixedRate}; unset: the account's rules",
    ),
    "logLevel": _Key("log_level", _as_str, "consumer log level (DEBUG, INFO, WARNING, ERROR)"),
    "routePermanentErrorsToDlq": _Key(
        "route_permanent_errors_to_dlq",
        _as_bool,
        "send invalid records to the DLQ at once, with their reason",
    ),
    "reservedConcurrency": _Key(
        "reserved_concurrency_override",
        _as_int,
        "function reserved concurrency (≥ the mapping's maximum concurrency, ≤ 1000; default that maximum)",
    ),
    "createKmsKey": _Key(
        "create_kms_key",
        _as_bool,
        "make a customer-managed KMS key (rotation on) for queues, table, logs and alarm topic",
    ),
    "kmsKeyArn": _Key(
        "kms_key_arn",
        _as_str,
        "bring your own customer-managed KMS key instead (unset: AWS-managed encryption)",
    ),
    "workerFleet": _Key(
        "worker_fleet",
        _as_bool,
        "EC2 Auto Scaling group of standalone workers, scaled on backlog per instance (beside the Lambda)",
    ),
    "workerFleetMinSize": _Key("worker_fleet_min_size", _as_int, "fleet minimum instances (1–100)"),
    "workerFleetMaxSize": _Key("worker_fleet_max_size", _as_int, "fleet maximum instances (≥ min, ≤ 100)"),
    "workerFleetBacklogPerInstance": _Key(
        "worker_fleet_backlog_per_instance",
        _as_int,
        "target visible messages per in-service instance: acceptable latency × one instance's msgs/s",
    ),
    "workerFleetSubnetIds": _Key(
        "worker_fleet_subnet_ids",
        _as_str_list,
        "private subnets of the fleet (NAT or VPC endpoints for SQS, DynamoDB, S3); needed by workerFleet",
    ),
    "workerFleetInstanceType": _Key(
        "worker_fleet_instance_type", _as_str, "instance type, matching `architecture` (t4g.* for arm64)"
    ),
    "producerFunction": _Key(
        "producer_function",
        _as_bool,
        "a producer Lambda that sends generated vehicle events (seed 000's generator); it may only send",
    ),
    "producerEventsPerInvocation": _Key(
        "producer_events_per_invocation", _as_int, "events each producer invocation sends (1–10000)"
    ),
    "producerSchedule": _Key(
        "producer_schedule",
        _as_str,
        "EventBridge schedule of the producer, rate(...) or cron(...); unset: none",
    ),
    "alarmsEnabled": _Key("alarms_enabled", _as_bool, "CloudWatch alarms (all notify the alarm SNS topic)"),
    "alarmEmail": _Key("alarm_email", _as_str, "email subscribed to the alarm topic (none when unset)"),
    "oldestMessageAgeAlarmSeconds": _Key(
        "oldest_message_age_alarm_seconds", _as_int, "alarm when the oldest queued message is older than this"
    ),
    "errorRateAlarmPercent": _Key(
        "error_rate_alarm_percent", _as_int, "alarm when function errors exceed this % of invocations (1–100)"
    ),
    "durationAlarmPercentOfTimeout": _Key(
        "duration_alarm_percent_of_timeout",
        _as_int,
        "alarm when p99 duration exceeds this % of the timeout (1–100)",
    ),
    "concurrencyAlarmPercentOfMax": _Key(
        "concurrency_alarm_percent_of_max",
        _as_int,
        "alarm when concurrency exceeds this % of maxConcurrency (1–100)",
    ),
}


@dataclasses.dataclass(frozen=True)
class StackSettings:
    """Every size and switch of one environment. Defaults are the documented ones (README, Configuration)."""

    fifo: bool = False
    content_based_deduplication: bool = False
    high_throughput_fifo: bool = False
    batch_size: int = 10
    batching_window_seconds: int = 0
    max_concurrency: int = 5  # ScalingConfig in standard mode; provisioned mode has no such setting
    provisioned_pollers: ProvisionedPollers | None = None  # None: standard mode
    function_timeout_seconds: int = 30
    function_memory_mb: int = 256
    visibility_timeout_seconds: int | None = None
    max_receive_count: int = 5
    message_retention_seconds: int = 345_600  # 4 days, the SQS default
    log_retention_days: int = 14
    producer_principals: tuple[str, ...] = ()
    powertools_layer_arn: str | None = None
    architecture: str = "arm64"
    python_runtime: str = "python3.12"
    deletion_protection: bool = False
    event_id_index: bool = False
    billing_mode: str = "PAY_PER_REQUEST"
    write_capacity: int = 5
    read_capacity: int = 5
    metrics_namespace: str = "VehiclePipeline"
    xray_sampling: XraySampling | None = None  # None: the account's sampling rules (by default 1/s + 5%)
    log_level: str = "INFO"
    route_permanent_errors_to_dlq: bool = True
    reserved_concurrency_override: int | None = None
    create_kms_key: bool = False
    kms_key_arn: str | None = None
    worker_fleet: bool = False
    worker_fleet_min_size: int = 1
    worker_fleet_max_size: int = 4
    worker_fleet_backlog_per_instance: int = 100
    worker_fleet_instance_type: str = "t4g.small"
    worker_fleet_subnet_ids: tuple[str, ...] = ()
    producer_function: bool = False
    producer_events_per_invocation: int = 100
    producer_schedule: str | None = None
    alarms_enabled: bool = True
    alarm_email: str | None = None
    oldest_message_age_alarm_seconds: int = 300
    error_rate_alarm_percent: int = 5
    duration_alarm_percent_of_timeout: int = 80
    concurrency_alarm_percent_of_max: int = 90

    # ---- derived values -------------------------------------------------------------------------------
    @property
    def queue_visibility_timeout_seconds(self) -> int:
        """AWS: visibility ≥ 6 × timeout + batching window, so a retry never overlaps a running batch."""
        if self.visibility_timeout_seconds is not None:
            return self.visibility_timeout_seconds
        return 6 * self.function_timeout_seconds + self.batching_window_seconds

    @property
    def mapping_max_concurrency(self) -> int:
        """The most concurrent invocations the event source mapping can drive: maxConcurrency in standard
        mode, 10 invokes per event poller × the maximum pollers in provisioned mode (infra/aws_limits.py)."""
        if self.provisioned_pollers is None:
            return self.max_concurrency
        return aws_limits.ESM_SQS_CONCURRENT_INVOKES_PER_POLLER * self.provisioned_pollers.maximum

    @property
    def mapping_max_concurrency_name(self) -> str:
        """How mapping_max_concurrency is set, as a rule names it."""
        if self.provisioned_pollers is None:
            return "maxConcurrency"
        return f"{aws_limits.ESM_SQS_CONCURRENT_INVOKES_PER_POLLER} × provisionedPollers.maximum"

    @property
    def reserved_concurrency(self) -> int:
        """Never below the mapping's maximum, so the poller's concurrency is always available to it (AWS:
        reserved concurrency below the mapping's maximum throttles messages, services-sqs-scaling)."""
        return (
            self.mapping_max_concurrency
            if self.reserved_concurrency_override is None
            else self.reserved_concurrency_override
        )

    @property
    def customer_managed_key(self) -> bool:
        """Queues, table, logs and alarm topic use one customer-managed key (created or brought)."""
        return self.create_kms_key or self.kms_key_arn is not None

    @property
    def dlq_retention_seconds(self) -> int:
        return SQS_MAX_RETENTION_SECONDS

    # ---- construction -----------------------------------------------------------------------------------
    @classmethod
    def from_raw(cls, raw: Mapping[str, Any]) -> StackSettings:
        """Build from config strings (pulumi.Config) or YAML scalars; raise ConfigError on any fault."""
        problems: list[tuple[str, Any, str]] = []
        values: dict[str, Any] = {}
        for key, value in raw.items():
            spec = KEYS.get(key)
            if spec is None:
                problems.append((key, value, f"unknown key; known keys: {', '.join(sorted(KEYS))}"))
                continue
            try:
                values[spec.field] = spec.parse(value)
            except ValueError as error:
                problems.append((key, value, str(error)))
        if problems:
            raise ConfigError(problems)
        settings = cls(**values)
        settings.validate(configured=raw.keys())
        return settings

    def validate(self, configured: Iterable[str] = ()) -> None:
        """Raise ConfigError listing every rule broken. `configured`: the keys the stack sets, for the rules
        on keys that must be left unset (a default value says nothing about whether the user wrote it)."""
        problems = [*_unset_key_rules(self, set(configured)), *_violations(self)]
        if problems:
            raise ConfigError(problems)

    def warnings(self) -> list[tuple[str, Any, str]]:
        """Combinations AWS warns about that the stack can live with: logged, not refused."""
        return pushback.warnings(self)


def _outside(value: int, low: int, high: int) -> bool:
    return not low <= value <= high


def _unset_key_rules(s: StackSettings, configured: set[str]) -> Iterable[tuple[str, Any, str]]:
    """Keys the chosen mode has no use for. AWS takes maximum concurrency or provisioned pollers, never both
    (services-sqs-scaling: "mutually exclusive options"; CDK and the Serverless Framework refuse it too)."""
    if s.provisioned_pollers is not None and "maxConcurrency" in configured:
        yield (
            "maxConcurrency",
            s.max_concurrency,
            "must be unset with provisionedPollers: AWS takes maximum concurrency or provisioned pollers, "
            "not both (the pollers bound the concurrency)",
        )


def _provisioned_mode_rules(s: StackSettings) -> Iterable[tuple[str, Any, str]]:
    """Event pollers within AWS's SQS ranges (infra/aws_limits.py: which pages, and where they disagree)."""
    if s.provisioned_pollers is None:
        return
    minimum, maximum = s.provisioned_pollers
    for key, value, limit in (
        ("provisionedPollers.minimum", minimum, aws_limits.ESM_SQS_MINIMUM_POLLERS),
        ("provisionedPollers.maximum", maximum, aws_limits.ESM_SQS_MAXIMUM_POLLERS),
    ):
        if problem := limit.problem(value):
            yield key, value, problem + " (SQS event pollers)"
    if maximum < minimum:
        yield "provisionedPollers.maximum", maximum, f"must be ≥ provisionedPollers.minimum ({minimum})"


def _queue_type_rules(s: StackSettings) -> Iterable[tuple[str, Any, str]]:
    """Batch size and window by queue type, and the FIFO-only switches."""
    if s.fifo:
        if _outside(s.batch_size, 1, FIFO_MAX_BATCH_SIZE):
            yield "batchSize", s.batch_size, f"must be 1–{FIFO_MAX_BATCH_SIZE} for a FIFO queue"
        if s.batching_window_seconds != 0:
            yield "batchingWindowSeconds", s.batching_window_seconds, "must be 0 for a FIFO queue"
    else:
        for key, on in (
            ("contentBasedDeduplication", s.content_based_deduplication),
            ("highThroughputFifo", s.high_throughput_fifo),
        ):
            if on:
                yield key, on, "only with fifo: true"
        if _outside(s.batch_size, 1, STANDARD_MAX_BATCH_SIZE):
            yield "batchSize", s.batch_size, f"must be 1–{STANDARD_MAX_BATCH_SIZE} for a standard queue"
        elif s.batch_size > MAX_BATCH_WITHOUT_WINDOW and s.batching_window_seconds < 1:
            yield "batchSize", s.batch_size, "over 10 needs batchingWindowSeconds ≥ 1"


def _aws_range_rules(s: StackSettings) -> Iterable[tuple[str, Any, str]]:
    """Values AWS bounds at create time (infra/aws_limits.py says where each bound comes from)."""
    for key, value, limit, note in (
        ("batchingWindowSeconds", s.batching_window_seconds, aws_limits.ESM_BATCHING_WINDOW, ""),
        (
            "maxConcurrency",
            s.max_concurrency,
            aws_limits.ESM_MAX_CONCURRENCY,
            " (event source mapping ScalingConfig)",
        ),
        ("functionTimeoutSeconds", s.function_timeout_seconds, aws_limits.LAMBDA_TIMEOUT, ""),
        ("functionMemoryMb", s.function_memory_mb, aws_limits.LAMBDA_MEMORY, ""),
        ("maxReceiveCount", s.max_receive_count, aws_limits.SQS_MAX_RECEIVE_COUNT, ""),
    ):
        problem = limit.problem(value)
        if problem:
            yield key, value, problem + note


def _retention_rules(s: StackSettings) -> Iterable[tuple[str, Any, str]]:
    """Visibility (AWS: ≥ 6 × timeout + window), message and log retention."""
    if s.visibility_timeout_seconds is not None:
        minimum = 6 * s.function_timeout_seconds + s.batching_window_seconds
        if s.visibility_timeout_seconds < minimum:
            yield (
                "visibilityTimeoutSeconds",
                s.visibility_timeout_seconds,
                f"must be ≥ 6 × functionTimeoutSeconds + batchingWindowSeconds = {minimum}",
            )
        elif s.visibility_timeout_seconds > SQS_MAX_VISIBILITY_SECONDS:
            yield "visibilityTimeoutSeconds", s.visibility_timeout_seconds, "must be ≤ 43200 (12 hours)"
    elif s.queue_visibility_timeout_seconds > SQS_MAX_VISIBILITY_SECONDS:
        yield (
            "functionTimeoutSeconds",
            s.function_timeout_seconds,
            "6 × timeout + window exceeds the 43200 s SQS visibility limit",
        )
    shortest_retention = aws_limits.SQS_MESSAGE_RETENTION.low
    if _outside(s.message_retention_seconds, shortest_retention, SQS_MAX_RETENTION_SECONDS - 1):
        yield (
            "messageRetentionSeconds",
            s.message_retention_seconds,
            f"must be {shortest_retention}–{SQS_MAX_RETENTION_SECONDS - 1}, "
            f"shorter than the DLQ's {SQS_MAX_RETENTION_SECONDS}",
        )
    if s.log_retention_days not in LOG_RETENTION_DAYS:
        yield "logRetentionDays", s.log_retention_days, f"must be one of {list(LOG_RETENTION_DAYS)}"


def _identity_rules(s: StackSettings) -> Iterable[tuple[str, Any, str]]:
    """Who may send, the layer the functions run with, and what they run on."""
    for principal in s.producer_principals:
        if not principal.startswith("arn:aws"):
            yield "producerPrincipals", principal, "each principal must be an IAM ARN (arn:aws…), never '*'"
    if s.powertools_layer_arn is not None:
        if not s.powertools_layer_arn.startswith("arn:aws"):
            yield "powertoolsLayerArn", s.powertools_layer_arn, "must be a Lambda layer version ARN"
        elif mismatch := powertools_layer.runtime_mismatch(
            s.powertools_layer_arn, s.architecture, s.python_runtime
        ):
            yield "powertoolsLayerArn", s.powertools_layer_arn, mismatch
    if s.architecture not in ARCHITECTURES:
        yield "architecture", s.architecture, f"must be one of {list(ARCHITECTURES)}"
    if s.python_runtime not in PYTHON_RUNTIMES:
        yield "pythonRuntime", s.python_runtime, f"must be one of {list(PYTHON_RUNTIMES)}"


def _table_rules(s: StackSettings) -> Iterable[tuple[str, Any, str]]:
    """The table's billing."""
    if s.billing_mode not in ("PAY_PER_REQUEST", "PROVISIONED"):
        yield "billingMode", s.billing_mode, "must be PAY_PER_REQUEST or PROVISIONED"
    if _outside(s.write_capacity, 1, 40_000):
        yield "writeCapacity", s.write_capacity, "must be 1–40000"
    if _outside(s.read_capacity, 1, 40_000):
        yield "readCapacity", s.read_capacity, "must be 1–40000"


def _function_rules(s: StackSettings) -> Iterable[tuple[str, Any, str]]:
    """The consumer's metrics, logs and concurrency."""
    if not s.metrics_namespace.replace("/", "").replace("-", "").replace("_", "").isalnum():
        yield "metricsNamespace", s.metrics_namespace, "must be letters, digits, '/', '-' or '_'"
    if s.log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        yield "logLevel", s.log_level, "must be DEBUG, INFO, WARNING or ERROR"
    # AWS: reserved concurrency below the mapping's maximum concurrency throttles messages
    # (services-sqs-scaling); throttled messages return to the queue, and to the DLQ after maxReceiveCount.
    concurrency_quota = aws_limits.LAMBDA_RESERVED_CONCURRENCY.high
    mapping = s.mapping_max_concurrency
    if s.reserved_concurrency_override is not None:
        if not mapping <= s.reserved_concurrency_override <= concurrency_quota:
            yield (
                "reservedConcurrency",
                s.reserved_concurrency_override,
                f"must be between {s.mapping_max_concurrency_name} ({mapping}) and {concurrency_quota}",
            )
    elif s.provisioned_pollers is not None and mapping > concurrency_quota:
        maximum = s.provisioned_pollers.maximum
        if aws_limits.ESM_SQS_MAXIMUM_POLLERS.problem(maximum) is None:  # else the range is the problem
            most = concurrency_quota // aws_limits.ESM_SQS_CONCURRENT_INVOKES_PER_POLLER
            yield (
                "provisionedPollers.maximum",
                maximum,
                f"{s.mapping_max_concurrency_name} = {mapping} concurrent invokes, more than the "
                f"{concurrency_quota} the function can reserve: at most {most} pollers",
            )


def _tracing_rules(s: StackSettings) -> Iterable[tuple[str, Any, str]]:
    """The consumer's X-Ray sampling rule, within what X-Ray's CreateSamplingRule takes."""
    if s.xray_sampling is None:
        return
    reservoir, rate = s.xray_sampling
    if problem := aws_limits.XRAY_RESERVOIR_SIZE.problem(reservoir):
        yield "xraySampling.reservoirPerSecond", reservoir, problem
    if not 0 <= rate <= 1:
        yield "xraySampling.fixedRate", rate, "must be a share between 0 and 1 (1 traces every invocation)"


def _kms_rules(s: StackSettings) -> Iterable[tuple[str, Any, str]]:
    """A brought key or a created one, never both."""
    if s.kms_key_arn is not None:
        if s.create_kms_key:
            yield "kmsKeyArn", s.kms_key_arn, "bring a key or set createKmsKey, not both"
        elif not KMS_KEY_ARN.fullmatch(s.kms_key_arn):
            yield (
                "kmsKeyArn",
                s.kms_key_arn,
                "must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)",
            )


def _fleet_rules(s: StackSettings) -> Iterable[tuple[str, Any, str]]:
    """The EC2 worker fleet's sizes, type and subnets."""
    if _outside(s.worker_fleet_min_size, 1, 100):
        yield "workerFleetMinSize", s.worker_fleet_min_size, "must be 1–100 (backlog per instance needs one)"
    elif _outside(s.worker_fleet_max_size, s.worker_fleet_min_size, 100):
        yield (
            "workerFleetMaxSize",
            s.worker_fleet_max_size,
            f"must be between workerFleetMinSize ({s.worker_fleet_min_size}) and 100",
        )
    if _outside(s.worker_fleet_backlog_per_instance, 1, 100_000):
        yield "workerFleetBacklogPerInstance", s.worker_fleet_backlog_per_instance, "must be 1–100000"
    if not re.fullmatch(r"[a-z][a-z0-9-]*\.[a-z0-9]+", s.worker_fleet_instance_type):
        yield (
            "workerFleetInstanceType",
            s.worker_fleet_instance_type,
            "must be an EC2 instance type (e.g. t4g.small)",
        )
    if s.worker_fleet and not s.worker_fleet_subnet_ids:
        yield (
            "workerFleetSubnetIds",
            [],
            "required when workerFleet is true: private subnets for the instances",
        )
    for subnet in s.worker_fleet_subnet_ids:
        if not re.fullmatch(r"subnet-[0-9a-f]{8,17}", subnet):
            yield "workerFleetSubnetIds", subnet, "each must be a subnet id (subnet-…)"


def _producer_rules(s: StackSettings) -> Iterable[tuple[str, Any, str]]:
    """The producer Lambda and its schedule."""
    if _outside(s.producer_events_per_invocation, 1, 10_000):
        yield "producerEventsPerInvocation", s.producer_events_per_invocation, "must be 1–10000"
    if s.producer_schedule is not None:
        schedule_problem = aws_limits.schedule_expression_problem(s.producer_schedule)
        if schedule_problem:
            yield "producerSchedule", s.producer_schedule, schedule_problem
        elif not s.producer_function:
            yield "producerSchedule", s.producer_schedule, "needs producerFunction: true"


def _alarm_rules(s: StackSettings) -> Iterable[tuple[str, Any, str]]:
    """Alarm thresholds and where they notify."""
    if s.alarm_email is not None and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", s.alarm_email):
        yield "alarmEmail", s.alarm_email, "must be an email address"
    if _outside(s.oldest_message_age_alarm_seconds, 60, s.message_retention_seconds):
        yield (
            "oldestMessageAgeAlarmSeconds",
            s.oldest_message_age_alarm_seconds,
            "must be between 60 and messageRetentionSeconds",
        )
    for key, value in (
        ("errorRateAlarmPercent", s.error_rate_alarm_percent),
        ("durationAlarmPercentOfTimeout", s.duration_alarm_percent_of_timeout),
        ("concurrencyAlarmPercentOfMax", s.concurrency_alarm_percent_of_max),
    ):
        if _outside(value, 1, 100):
            yield key, value, "must be a percentage 1–100"


# Each group of rules checks the keys of one concern; the order is the order faults are reported in.
RULES = (
    _queue_type_rules,
    _aws_range_rules,
    _provisioned_mode_rules,
    _retention_rules,
    _identity_rules,
    _table_rules,
    _function_rules,
    pushback.refusals,
    _tracing_rules,
    _kms_rules,
    _fleet_rules,
    _producer_rules,
    _alarm_rules,
)


def _violations(s: StackSettings) -> Iterable[tuple[str, Any, str]]:
    for rules in RULES:
        yield from rules(s)


# ---- loaders -----------------------------------------------------------------------------------------
def from_pulumi_config(config: Any, configured_keys: Iterable[str] = ()) -> StackSettings:
    """Read every known key from a `pulumi.Config(PROJECT)` (values arrive as strings). `configured_keys`
    are the full keys the stack sets (`project:key`): an unknown one in this project (a typo) is an error,
    not a silently ignored setting."""
    prefix = f"{PROJECT}:"
    unknown = {key[len(prefix) :] for key in configured_keys if key.startswith(prefix)} - set(KEYS)
    raw = {key: config.get(key) for key in [*KEYS, *sorted(unknown)]}
    return StackSettings.from_raw({key: value for key, value in raw.items() if value is not None})


def stack_file(stack: str, root: Path = PROJECT_ROOT) -> Path:
    return root / f"Pulumi.{stack}.yaml"


def read_stack_config(stack: str, root: Path = PROJECT_ROOT) -> dict[str, Any]:
    """The `config:` block of Pulumi.<stack>.yaml, keys as written (`vehicle-pipeline:fifo`, `aws:region`)."""
    import yaml  # imported here: the Pulumi program never needs it

    path = stack_file(stack, root)
    if not path.exists():
        known = sorted(p.name for p in root.glob("Pulumi.*.yaml"))
        raise ConfigError([("stack", stack, f"no {path.name}; stack files here: {known}")])
    return (yaml.safe_load(path.read_text()) or {}).get("config", {}) or {}


def from_stack_file(stack: str, root: Path = PROJECT_ROOT) -> StackSettings:
    """Read Pulumi.<stack>.yaml without pulumi, for the local pipeline and the load test."""
    prefix = f"{PROJECT}:"
    config = read_stack_config(stack, root)
    return StackSettings.from_raw({k[len(prefix) :]: v for k, v in config.items() if k.startswith(prefix)})


def region_of(stack: str, root: Path = PROJECT_ROOT, default: str = "us-east-1") -> str:
    return str(read_stack_config(stack, root).get("aws:region", default))
