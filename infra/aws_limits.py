"""The limits AWS enforces when a resource is created, as data, each with the AWS page it comes from.

One source for the stack settings' validation (infra/settings.py: a bad value fails before any resource is
declared) and for the conformance suite (tests/infra/test_aws_conformance.py: every resource of the mocked
graph, for every stack file, checked against the same rules). Pulumi mocks and moto accept any name, size or
expression; CreateQueue, CreateFunction, PutRule... do not. No pulumi import here.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re

# ---- the pages the limits come from ------------------------------------------------------------------------
SQS_CREATE_QUEUE = (
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_CreateQueue.html"
)
SQS_SET_ATTRIBUTES = (
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html"
)
SQS_DEAD_LETTER_QUEUES = (
    "https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/"
    "sqs-configure-dead-letter-queue.html"
)
LAMBDA_CREATE_FUNCTION = "https://docs.aws.amazon.com/lambda/latest/api/API_CreateFunction.html"
LAMBDA_QUOTAS = "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html"
LAMBDA_PUT_CONCURRENCY = "https://docs.aws.amazon.com/lambda/latest/api/API_PutFunctionConcurrency.html"
LAMBDA_CREATE_ESM = "https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html"
LAMBDA_SCALING_CONFIG = "https://docs.aws.amazon.com/lambda/latest/api/API_ScalingConfig.html"
LAMBDA_PROVISIONED_POLLER_CONFIG = (
    "https://docs.aws.amazon.com/lambda/latest/api/API_ProvisionedPollerConfig.html"
)
CFN_ESM_PROVISIONED_POLLER_CONFIG = (
    "https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/"
    "aws-properties-lambda-eventsourcemapping-provisionedpollerconfig.html"
)
LAMBDA_ESM_PROVISIONED_MODE = (
    "https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventsourcemapping.html"
    "#invocation-eventsourcemapping-provisioned-mode"
)
LAMBDA_SQS_SCALING = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html"
# AWS News Blog, 14 Nov 2025, "AWS Lambda enhances event processing with provisioned mode for SQS
# event-source mapping": up to 20,000 concurrency, scaling up to 1,000 concurrent executions a minute.
LAMBDA_SQS_PROVISIONED_MODE_NEWS = (
    "https://aws.amazon.com/blogs/aws/"
    "aws-lambda-enhances-sqs-processing-with-new-provisioned-mode-3x-faster-scaling-16x-higher-capacity/"
)
LAMBDA_ESM_METRICS_CONFIG = (
    "https://docs.aws.amazon.com/lambda/latest/api/API_EventSourceMappingMetricsConfig.html"
)
IAM_CREATE_ROLE = "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html"
IAM_PUT_ROLE_POLICY = "https://docs.aws.amazon.com/IAM/latest/APIReference/API_PutRolePolicy.html"
IAM_CREATE_POLICY = "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreatePolicy.html"
IAM_CREATE_INSTANCE_PROFILE = (
    "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateInstanceProfile.html"
)
IAM_QUOTAS = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html"
DYNAMODB_NAMING = (
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/HowItWorks.NamingRulesDataTypes.html"
)
DYNAMODB_QUOTAS = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html"
CLOUDWATCH_PUT_METRIC_ALARM = (
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html"
)
CLOUDWATCH_PUT_DASHBOARD = (
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutDashboard.html"
)
LOGS_CREATE_LOG_GROUP = (
    "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html"
)
LOGS_PUT_RETENTION = (
    "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html"
)
LOGS_PUT_QUERY_DEFINITION = (
    "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutQueryDefinition.html"
)
EVENTBRIDGE_PUT_RULE = "https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html"
EVENTBRIDGE_SCHEDULES = (
    "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html"
)
S3_BUCKET_NAMING = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html"
# The provider appends a 26-character unique suffix to a prefix; its docs bound the prefix accordingly.
PULUMI_BUCKET_PREFIX = "https://www.pulumi.com/registry/packages/aws/api-docs/s3/bucket/#bucketprefix_python"
KMS_CREATE_ALIAS = "https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateAlias.html"
KMS_CREATE_KEY = "https://docs.aws.amazon.com/kms/latest/APIReference/API_CreateKey.html"
KMS_SCHEDULE_DELETION = "https://docs.aws.amazon.com/kms/latest/APIReference/API_ScheduleKeyDeletion.html"
SNS_CREATE_TOPIC = "https://docs.aws.amazon.com/sns/latest/api/API_CreateTopic.html"
AUTOSCALING_CREATE_GROUP = (
    "https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_CreateAutoScalingGroup.html"
)
EC2_CREATE_LAUNCH_TEMPLATE = (
    "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateLaunchTemplate.html"
)
EC2_CREATE_SECURITY_GROUP = (
    "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSecurityGroup.html"
)
XRAY_SAMPLING_RULE = "https://docs.aws.amazon.com/xray/latest/api/API_SamplingRule.html"


@dataclasses.dataclass(frozen=True)
class Range:
    """An inclusive integer range."""

    low: int
    high: int
    source: str

    def problem(self, value: float) -> str | None:
        return None if self.low <= value <= self.high else f"must be {self.low}–{self.high}"


@dataclasses.dataclass(frozen=True)
class AllowedValues:
    values: tuple[int, ...]
    source: str

    def problem(self, value: float) -> str | None:
        return None if value in self.values else f"must be one of {list(self.values)}"


@dataclasses.dataclass(frozen=True)
class NameRule:
    """A name (or free-text field): its length bounds and the characters AWS accepts (`pattern`, matched
    against the whole name, described in words by `charset`)."""

    what: str
    min_length: int
    max_length: int
    pattern: str
    charset: str
    source: str

    def problems(self, name: str) -> list[str]:
        found = []
        if not self.min_length <= len(name) <= self.max_length:
            found.append(
                f"{self.what} {name!r} is {len(name)} characters, must be {self.min_length}–{self.max_length}"
            )
        if not re.fullmatch(self.pattern, name, flags=re.DOTALL):
            found.append(f"{self.what} {name!r} may only contain {self.charset}")
        return found


# ---- SQS ---------------------------------------------------------------------------------------------------
SQS_QUEUE_NAME = NameRule(
    "queue name",
    1,
    80,
    r"[A-Za-z0-9_-]+(\.fifo)?",
    "letters, digits, '-', '_' (and a '.fifo' suffix)",
    SQS_CREATE_QUEUE,
)
FIFO_SUFFIX = ".fifo"  # required on a FIFO queue's name and counted in its 80 characters
SQS_VISIBILITY_TIMEOUT = Range(0, 43_200, SQS_SET_ATTRIBUTES)  # 12 hours
SQS_MESSAGE_RETENTION = Range(60, 1_209_600, SQS_SET_ATTRIBUTES)  # 1 minute – 14 days
SQS_DELAY = Range(0, 900, SQS_SET_ATTRIBUTES)
SQS_MAX_MESSAGE_SIZE = Range(1_024, 1_048_576, SQS_SET_ATTRIBUTES)  # 1 MiB since August 2025 (256 KiB before)
SQS_RECEIVE_WAIT = Range(0, 20, SQS_SET_ATTRIBUTES)
SQS_KMS_DATA_KEY_REUSE = Range(60, 86_400, SQS_SET_ATTRIBUTES)
SQS_MAX_RECEIVE_COUNT = Range(1, 1_000, SQS_DEAD_LETTER_QUEUES)


def queue_name_problems(name: str, fifo: bool) -> list[str]:
    """CreateQueue: ≤ 80 characters including `.fifo`, which a FIFO queue's name must end with and a standard
    queue's must not."""
    problems = SQS_QUEUE_NAME.problems(name)
    if fifo != name.endswith(FIFO_SUFFIX):
        problems.append(
            f"queue name {name!r}: a FIFO queue's name must end with {FIFO_SUFFIX!r}, "
            "a standard queue's must not"
        )
    return problems


# ---- Lambda ------------------------------------------------------------------------------------------------
LAMBDA_FUNCTION_NAME = NameRule(
    "function name", 1, 64, r"[A-Za-z0-9_-]+", "letters, digits, '-' and '_'", LAMBDA_CREATE_FUNCTION
)
LAMBDA_TIMEOUT = Range(1, 900, LAMBDA_QUOTAS)
LAMBDA_MEMORY = Range(128, 10_240, LAMBDA_QUOTAS)
# The default account concurrency quota; reserving more needs a quota increase first.
LAMBDA_RESERVED_CONCURRENCY = Range(0, 1_000, LAMBDA_PUT_CONCURRENCY)
LAMBDA_MAX_LAYERS = 5  # LAMBDA_QUOTAS
LAMBDA_MAX_ENVIRONMENT_BYTES = 4_096  # LAMBDA_QUOTAS: all variables together
# Event source mapping for SQS.
ESM_STANDARD_BATCH_SIZE = Range(1, 10_000, LAMBDA_CREATE_ESM)
ESM_FIFO_BATCH_SIZE = Range(1, 10, LAMBDA_CREATE_ESM)
ESM_BATCHING_WINDOW = Range(0, 300, LAMBDA_CREATE_ESM)  # FIFO sources take no window at all
ESM_MAX_BATCH_WITHOUT_WINDOW = 10  # LAMBDA_CREATE_ESM: a larger batch needs a window of at least 1 s
ESM_MAX_CONCURRENCY = Range(2, 1_000, LAMBDA_SCALING_CONFIG)
# Provisioned mode (ProvisionedPollerConfig) for an SQS source; AWS refuses it together with ScalingConfig's
# maximum concurrency (LAMBDA_SQS_SCALING: "mutually exclusive options"). The minimum is 2–200 on every page.
# The maximum is not: the developer guide (LAMBDA_ESM_PROVISIONED_MODE) and CloudFormation
# (CFN_ESM_PROVISIONED_POLLER_CONFIG: 1–2000, 2 for SQS) say 2–2,000; the Lambda API reference and the SDKs
# generated from it (LAMBDA_PROVISIONED_POLLER_CONFIG) say 2–10,000. AWS CDK (aws-cdk#37550) validates
# 2–2,000, the Serverless Framework (serverless#13835) 2–10,000, pulumi-aws 7.51.1's docstring 1–2000. The
# validation takes 2–2,000: every page accepts it, and 2,000 pollers × 10 invokes is the 20,000 concurrency
# of the News Blog (LAMBDA_SQS_PROVISIONED_MODE_NEWS).
ESM_SQS_MINIMUM_POLLERS = Range(2, 200, LAMBDA_ESM_PROVISIONED_MODE)
ESM_SQS_MAXIMUM_POLLERS = Range(2, 2_000, LAMBDA_ESM_PROVISIONED_MODE)
# Each SQS event poller handles up to 1 MB/s, up to 10 concurrent invokes or up to 10 polling calls a second
# (LAMBDA_SQS_SCALING): the mapping's concurrency in provisioned mode is at most 10 × the maximum pollers.
ESM_SQS_CONCURRENT_INVOKES_PER_POLLER = 10
# MetricsConfig: EventCount is the only group an SQS source publishes (ErrorCount, KafkaMetrics: Kafka).
ESM_SQS_METRIC_GROUPS = ("EventCount",)  # LAMBDA_ESM_METRICS_CONFIG

# ---- IAM ---------------------------------------------------------------------------------------------------
_IAM_NAME_CHARS = r"[\w+=,.@-]+"
_IAM_NAME_CHARSET = "letters, digits and '+=,.@_-'"
IAM_ROLE_NAME = NameRule("role name", 1, 64, _IAM_NAME_CHARS, _IAM_NAME_CHARSET, IAM_CREATE_ROLE)
IAM_ROLE_POLICY_NAME = NameRule(
    "role policy name", 1, 128, _IAM_NAME_CHARS, _IAM_NAME_CHARSET, IAM_PUT_ROLE_POLICY
)
IAM_POLICY_NAME = NameRule("policy name", 1, 128, _IAM_NAME_CHARS, _IAM_NAME_CHARSET, IAM_CREATE_POLICY)
IAM_INSTANCE_PROFILE_NAME = NameRule(
    "instance profile name", 1, 128, _IAM_NAME_CHARS, _IAM_NAME_CHARSET, IAM_CREATE_INSTANCE_PROFILE
)
IAM_DESCRIPTION = NameRule(
    "IAM description",
    0,
    1_000,
    r"[\t\n\r\x20-\x7e\xa1-\xff]*",
    "tab, newline and Latin-1 printables",
    IAM_CREATE_ROLE,
)
# Policy sizes, counted without white space.
IAM_ROLE_INLINE_POLICIES_CHARS = 10_240  # IAM_QUOTAS: all inline policies of one role together
IAM_MANAGED_POLICY_CHARS = 6_144  # IAM_QUOTAS
IAM_TRUST_POLICY_CHARS = 2_048  # IAM_QUOTAS: the default role trust policy length quota

# ---- DynamoDB ----------------------------------------------------------------------------------------------
DYNAMODB_TABLE_NAME = NameRule(
    "table name", 3, 255, r"[A-Za-z0-9_.-]+", "letters, digits, '_', '-' and '.'", DYNAMODB_NAMING
)
DYNAMODB_INDEX_NAME = dataclasses.replace(DYNAMODB_TABLE_NAME, what="index name")
DYNAMODB_KEY_ATTRIBUTE_NAME = NameRule("key attribute name", 1, 255, r".+", "any characters", DYNAMODB_NAMING)
DYNAMODB_KEY_TYPES = ("S", "N", "B")  # DYNAMODB_NAMING: key attributes are scalar strings, numbers or binary
DYNAMODB_MAX_GLOBAL_INDEXES = 20  # DYNAMODB_QUOTAS

# ---- CloudWatch, CloudWatch Logs ---------------------------------------------------------------------------
CLOUDWATCH_ALARM_NAME = NameRule(
    "alarm name",
    1,
    255,
    r"[^\x00-\x1f\x7f]+",
    "UTF-8 without control characters",
    CLOUDWATCH_PUT_METRIC_ALARM,
)
CLOUDWATCH_ALARM_DESCRIPTION = NameRule(
    "alarm description",
    0,
    1_024,
    r"[^\x00-\x1f\x7f]*",
    "UTF-8 without control characters",
    CLOUDWATCH_PUT_METRIC_ALARM,
)
CLOUDWATCH_MAX_ALARM_ACTIONS = 5  # per state: alarm, OK, insufficient data (CLOUDWATCH_PUT_METRIC_ALARM)
CLOUDWATCH_HIGH_RESOLUTION_PERIODS = (10, 20, 30)  # any other period is a multiple of 60
CLOUDWATCH_MAX_EVALUATION_SECONDS = 86_400  # evaluation periods × period, one day
CLOUDWATCH_DASHBOARD_NAME = NameRule(
    "dashboard name", 1, 255, r"[A-Za-z0-9_-]+", "letters, digits, '-' and '_'", CLOUDWATCH_PUT_DASHBOARD
)
LOG_GROUP_NAME = NameRule(
    "log group name", 1, 512, r"[.\-_/#A-Za-z0-9]+", "letters, digits and '._-/#'", LOGS_CREATE_LOG_GROUP
)
LOG_RETENTION_DAYS = AllowedValues(
    (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653),
    LOGS_PUT_RETENTION,
)
LOGS_QUERY_DEFINITION_NAME = NameRule(
    "query definition name", 1, 255, r".+", "any characters", LOGS_PUT_QUERY_DEFINITION
)


CLOUDWATCH_STATISTICS_PAGE = (
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/Statistics-definitions.html"
)
CLOUDWATCH_STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")
# Percentiles and the trimmed/winsorized statistics, short (p99, tm90) or range (TM(10%:90%)) forms.
CLOUDWATCH_EXTENDED_STATISTIC = re.compile(
    r"IQM|(p|tm|wm|tc|ts)(100|\d{1,2}(\.\d{1,10})?)|(PR|TM|WM|TC|TS)\([^()]+\)"
)


def statistic_problem(statistic: str) -> str | None:
    if statistic in CLOUDWATCH_STATISTICS or CLOUDWATCH_EXTENDED_STATISTIC.fullmatch(statistic):
        return None
    return f"statistic {statistic!r} is not a CloudWatch statistic ({CLOUDWATCH_STATISTICS_PAGE})"


def alarm_period_problem(period: float) -> str | None:
    if period in CLOUDWATCH_HIGH_RESOLUTION_PERIODS or (period >= 60 and period % 60 == 0):
        return None
    return f"period {period} must be 10, 20, 30 or a multiple of 60"


# ---- EventBridge -------------------------------------------------------------------------------------------
EVENTBRIDGE_RULE_NAME = NameRule(
    "rule name", 1, 64, r"[.\-_A-Za-z0-9]+", "letters, digits and '.-_'", EVENTBRIDGE_PUT_RULE
)
EVENTBRIDGE_RULE_DESCRIPTION = NameRule(
    "rule description", 0, 512, r".*", "any characters", EVENTBRIDGE_PUT_RULE
)
EVENTBRIDGE_SCHEDULE_EXPRESSION_CHARS = 256  # EVENTBRIDGE_PUT_RULE

_RATE = re.compile(r"rate\((?P<value>\d+) (?P<unit>minutes?|hours?|days?)\)")
# cron(minutes hours day-of-month month day-of-week year), each field's characters (EVENTBRIDGE_SCHEDULES).
_MONTHS = "JAN|FEB|MAR|APR|MAY|JUN|JUL|AUG|SEP|OCT|NOV|DEC"
_WEEKDAYS = "SUN|MON|TUE|WED|THU|FRI|SAT"
_CRON_FIELDS = (
    ("minutes", r"[0-9,\-*/]+", 0, 59),
    ("hours", r"[0-9,\-*/]+", 0, 23),
    ("day-of-month", r"[0-9,\-*?/LW]+", 1, 31),
    ("month", rf"([0-9,\-*/]|{_MONTHS})+", 1, 12),
    ("day-of-week", rf"([0-9,\-*?L#]|{_WEEKDAYS})+", 1, 7),
    ("year", r"[0-9,\-*/]+", 1970, 2199),
)


def schedule_expression_problem(expression: str) -> str | None:
    """EventBridge `rate(value unit)` or `cron(6 fields)`, as PutRule accepts them; None when valid."""
    if len(expression) > EVENTBRIDGE_SCHEDULE_EXPRESSION_CHARS:
        return f"must be at most {EVENTBRIDGE_SCHEDULE_EXPRESSION_CHARS} characters"
    if expression.startswith("rate("):
        return _rate_problem(expression)
    if expression.startswith("cron(") and expression.endswith(")"):
        return _cron_problem(expression[len("cron(") : -1].split(" "))
    return "must be an EventBridge rate(...) or cron(...) expression"


def _rate_problem(expression: str) -> str | None:
    match = _RATE.fullmatch(expression)
    if match is None:
        return "must be rate(<value> <minute(s)|hour(s)|day(s)>)"
    value, unit = int(match["value"]), match["unit"]
    if value < 1:
        return "the rate must be a positive number"
    if (value == 1) == unit.endswith("s"):
        return f"the unit must be singular for 1 and plural otherwise: rate({value} {unit}) is rejected"
    return None


def _cron_problem(fields: list[str]) -> str | None:
    if len(fields) != len(_CRON_FIELDS):
        return "cron(...) takes 6 fields: minutes hours day-of-month month day-of-week year"
    for value, (name, pattern, low, high) in zip(fields, _CRON_FIELDS, strict=True):
        if not re.fullmatch(pattern, value):
            return f"cron {name} field {value!r} has characters EventBridge does not accept there"
        # Plain numbers must lie in the field's range (the increment after '/' and 'day#week' are not values).
        numbers = [] if "#" in value else [int(number) for number in re.findall(r"\d+", value.split("/")[0])]
        if any(not low <= number <= high for number in numbers):
            return f"cron {name} field {value!r} must stay within {low}–{high}"
    day_of_month, day_of_week = fields[2], fields[4]
    if (day_of_month == "?") == (day_of_week == "?"):
        return "cron needs '?' in exactly one of day-of-month and day-of-week"
    return None


# ---- S3 ----------------------------------------------------------------------------------------------------
S3_BUCKET_NAME = NameRule(
    "bucket name",
    3,
    63,
    r"[a-z0-9][a-z0-9.-]*[a-z0-9]",
    "lowercase letters, digits, '.' and '-', starting and ending with a letter or digit",
    S3_BUCKET_NAMING,
)
S3_BUCKET_PREFIX_MAX_LENGTH = 37  # PULUMI_BUCKET_PREFIX: 63 minus the 26-character unique suffix
_S3_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_S3_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def bucket_name_problems(name: str) -> list[str]:
    problems = S3_BUCKET_NAME.problems(name)
    if ".." in name:
        problems.append(f"bucket name {name!r} must not contain two adjacent periods")
    try:
        ipaddress.IPv4Address(name)
        problems.append(f"bucket name {name!r} must not be formatted as an IP address")
    except ValueError:
        pass
    problems += [
        f"bucket name {name!r} must not start with {prefix!r}"
        for prefix in _S3_RESERVED_PREFIXES
        if name.startswith(prefix)
    ]
    problems += [
        f"bucket name {name!r} must not end with {suffix!r}"
        for suffix in _S3_RESERVED_SUFFIXES
        if name.endswith(suffix)
    ]
    return problems


def bucket_prefix_problems(prefix: str) -> list[str]:
    """A prefix the provider completes with a unique suffix: short enough for 63, and a valid name's start."""
    problems = []
    if len(prefix) > S3_BUCKET_PREFIX_MAX_LENGTH:
        problems.append(
            f"bucket prefix {prefix!r} is {len(prefix)} characters, "
            f"must be at most {S3_BUCKET_PREFIX_MAX_LENGTH}"
        )
    return problems + bucket_name_problems(prefix + "0" * (S3_BUCKET_NAME.min_length - 1))


# ---- X-Ray -------------------------------------------------------------------------------------------------
# A sampling rule (XRAY_SAMPLING_RULE): name 1–32 characters, priority 1–9999 (the Default rule is 10000),
# a reservoir of whole requests a second (shared by every service the rule matches), a fixed rate 0–1, and
# service name and type of at most 64 characters.
XRAY_SAMPLING_RULE_NAME = NameRule(
    "sampling rule name", 1, 32, r"[A-Za-z0-9_-]+", "letters, digits, '-' and '_'", XRAY_SAMPLING_RULE
)
XRAY_SAMPLING_PRIORITY = Range(1, 9_999, XRAY_SAMPLING_RULE)
XRAY_RESERVOIR_SIZE = Range(0, 2_147_483_647, XRAY_SAMPLING_RULE)
XRAY_SERVICE_NAME_MAX = 64


# ---- KMS, SNS, EC2, Auto Scaling ---------------------------------------------------------------------------
KMS_ALIAS_NAME = NameRule(
    "alias name",
    7,
    256,
    r"alias/(?!aws/)[A-Za-z0-9/_-]+",
    "'alias/' then letters, digits and '/_-' (not 'aws/')",
    KMS_CREATE_ALIAS,
)
KMS_KEY_DESCRIPTION = NameRule("key description", 0, 8_192, r".*", "any characters", KMS_CREATE_KEY)
KMS_KEY_POLICY_BYTES = 32_768  # KMS_CREATE_KEY
KMS_DELETION_WINDOW_DAYS = Range(7, 30, KMS_SCHEDULE_DELETION)
SNS_TOPIC_NAME = NameRule(
    "topic name",
    1,
    256,
    r"[A-Za-z0-9_-]+(\.fifo)?",
    "letters, digits, '-' and '_' (and '.fifo')",
    SNS_CREATE_TOPIC,
)
AUTOSCALING_GROUP_NAME = NameRule(
    "Auto Scaling group name",
    1,
    255,
    r"[^\x00-\x08\x0b\x0c\x0e-\x1f]+",
    "printable characters",
    AUTOSCALING_CREATE_GROUP,
)
EC2_LAUNCH_TEMPLATE_NAME = NameRule(
    "launch template name",
    3,
    128,
    r"[A-Za-z0-9().\-/_]+",
    "letters, digits and '().-/_'",
    EC2_CREATE_LAUNCH_TEMPLATE,
)
# name_prefix: the provider appends the same 26-character unique suffix as for buckets.
PROVIDER_UNIQUE_SUFFIX_LENGTH = 26
EC2_SECURITY_GROUP_DESCRIPTION = NameRule(
    "security group description",
    0,
    255,
    r"[A-Za-z0-9. _\-:/()#,@\[\]+=&;{}!$*]*",
    "letters, digits, spaces and '._-:/()#,@[]+=&;{}!$*'",
    EC2_CREATE_SECURITY_GROUP,
)
