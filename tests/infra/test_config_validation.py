"""Bad stack configuration fails before anything is declared, naming the key, the value and the rule.

Values are given as the Pulumi engine hands them to the program (strings), so the same path the
program takes (`from_pulumi_config` -> `StackSettings.from_raw`) is the one under test.
"""

from __future__ import annotations

import logging

import pytest

from infra.settings import KEYS, ConfigError, ProvisionedPollers, StackSettings, from_stack_file
from tests.infra.pulumi_harness import run_failing_program, run_program, stacks

RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922]
RETENTION_DAYS += [3288, 3653]
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
SCALING = "must be 2–1000 (event source mapping ScalingConfig)"

# One case per rule: the raw config (strings, as pulumi.Config returns them) and the one line expected.
INVALID = [
    pytest.param({"batchSize": "0"}, "batchSize = 0: must be 1–10000 for a standard queue", id="batch-0"),
    pytest.param(
        {"batchSize": "10001", "batchingWindowSeconds": "1"},
        "batchSize = 10001: must be 1–10000 for a standard queue",
        id="batch-10001",
    ),
    pytest.param(
        {"fifo": "true", "batchSize": "11"},
        "batchSize = 11: must be 1–10 for a FIFO queue",
        id="fifo-batch-11",
    ),
    pytest.param(
        {"fifo": "true", "batchingWindowSeconds": "1"},
        "batchingWindowSeconds = 1: must be 0 for a FIFO queue",
        id="fifo-window",
    ),
    pytest.param(
        {"batchSize": "11"},
        "batchSize = 11: over 10 needs batchingWindowSeconds ≥ 1",
        id="batch-11-no-window",
    ),
    pytest.param(
        {"batchingWindowSeconds": "301"}, "batchingWindowSeconds = 301: must be 0–300", id="window-301"
    ),
    pytest.param(
        {"functionTimeoutSeconds": "30", "batchingWindowSeconds": "2", "visibilityTimeoutSeconds": "181"},
        "visibilityTimeoutSeconds = 181: must be ≥ 6 × functionTimeoutSeconds + batchingWindowSeconds = 182",
        id="visibility-below-6x-timeout-plus-window",
    ),
    pytest.param({"maxReceiveCount": "0"}, "maxReceiveCount = 0: must be 1–1000", id="max-receive-0"),
    pytest.param({"maxConcurrency": "1"}, f"maxConcurrency = 1: {SCALING}", id="concurrency-1"),
    pytest.param({"maxConcurrency": "1001"}, f"maxConcurrency = 1001: {SCALING}", id="concurrency-1001"),
    pytest.param({"functionMemoryMb": "127"}, "functionMemoryMb = 127: must be 128–10240", id="memory-127"),
    pytest.param(
        {"functionMemoryMb": "10241"}, "functionMemoryMb = 10241: must be 128–10240", id="memory-10241"
    ),
    pytest.param(
        {"architecture": "x86"}, "architecture = 'x86': must be one of ['arm64', 'x86_64']", id="architecture"
    ),
    pytest.param(
        {"pythonRuntime": "python3.9"},
        "pythonRuntime = 'python3.9': must be one of ['python3.12', 'python3.13']",
        id="runtime",
    ),
    pytest.param(
        {"logRetentionDays": "10"},
        f"logRetentionDays = 10: must be one of {RETENTION_DAYS}",
        id="log-retention",
    ),
    pytest.param(
        {"messageRetentionSeconds": "1209600"},
        "messageRetentionSeconds = 1209600: must be 60–1209599, shorter than the DLQ's 1209600",
        id="message-retention-14-days",
    ),
    pytest.param(
        {"producerPrincipals": '["*"]'},
        "producerPrincipals = '*': each principal must be an IAM ARN (arn:aws…), never '*'",
        id="principal-star",
    ),
    pytest.param(
        {"highThroughputFifo": "true"},
        "highThroughputFifo = True: only with fifo: true",
        id="high-throughput",
    ),
    pytest.param(
        {"contentBasedDeduplication": "true"},
        "contentBasedDeduplication = True: only with fifo: true",
        id="content-dedup-standard",
    ),
    pytest.param({"batchSize": "ten"}, "batchSize = 'ten': must be an integer", id="batch-ten"),
    pytest.param({"fifo": "maybe"}, "fifo = 'maybe': must be true or false", id="fifo-maybe"),
    pytest.param(
        {"batchsize": "10"},
        f"batchsize = '10': unknown key; known keys: {', '.join(sorted(KEYS))}",
        id="unknown-key",
    ),
    pytest.param(
        {"maxConcurrency": "10", "reservedConcurrency": "5"},
        "reservedConcurrency = 5: must be between maxConcurrency (10) and 1000",
        id="reserved-below-max",
    ),
    pytest.param(
        {"createKmsKey": "true", "kmsKeyArn": KEY_ARN},
        f"kmsKeyArn = '{KEY_ARN}': bring a key or set createKmsKey, not both",
        id="kms-both",
    ),
    pytest.param(
        {"kmsKeyArn": "alias/mine"},
        "kmsKeyArn = 'alias/mine': must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/<id>)",
        id="kms-alias",
    ),
    pytest.param(
        {"createKmsKey": "yes"}, "createKmsKey = 'yes': must be true or false", id="kms-create-bool"
    ),
    pytest.param(
        {"workerFleetMinSize": "0"},
        "workerFleetMinSize = 0: must be 1–100 (backlog per instance needs one)",
        id="fleet-min-0",
    ),
    pytest.param(
        {"workerFleetMinSize": "3", "workerFleetMaxSize": "2"},
        "workerFleetMaxSize = 2: must be between workerFleetMinSize (3) and 100",
        id="fleet-max-below-min",
    ),
    pytest.param(
        {"workerFleetBacklogPerInstance": "0"},
        "workerFleetBacklogPerInstance = 0: must be 1–100000",
        id="fleet-backlog-0",
    ),
    pytest.param(
        {"workerFleetInstanceType": "big"},
        "workerFleetInstanceType = 'big': must be an EC2 instance type (e.g. t4g.small)",
        id="fleet-instance-type",
    ),
    pytest.param(
        {"workerFleet": "true"},
        "workerFleetSubnetIds = []: required when workerFleet is true: private subnets for the instances",
        id="fleet-without-subnets",
    ),
    pytest.param(
        {"workerFleetSubnetIds": '["vpc-123"]'},
        "workerFleetSubnetIds = 'vpc-123': each must be a subnet id (subnet-…)",
        id="fleet-subnet-id",
    ),
    pytest.param(
        {"producerEventsPerInvocation": "0"},
        "producerEventsPerInvocation = 0: must be 1–10000",
        id="producer-count-0",
    ),
    pytest.param(
        {"producerFunction": "true", "producerSchedule": "every minute"},
        "producerSchedule = 'every minute': must be an EventBridge rate(...) or cron(...) expression",
        id="producer-schedule",
    ),
    pytest.param(
        {"producerSchedule": "rate(1 minute)"},
        "producerSchedule = 'rate(1 minute)': needs producerFunction: true",
        id="schedule-without-producer",
    ),
    pytest.param({"alarmEmail": "ops"}, "alarmEmail = 'ops': must be an email address", id="alarm-email"),
    pytest.param(
        {"alarmsEnabled": "sometimes"}, "alarmsEnabled = 'sometimes': must be true or false", id="alarms-bool"
    ),
    pytest.param(
        {"oldestMessageAgeAlarmSeconds": "30"},
        "oldestMessageAgeAlarmSeconds = 30: must be between 60 and messageRetentionSeconds",
        id="age-alarm-30",
    ),
    pytest.param(
        {"errorRateAlarmPercent": "0"},
        "errorRateAlarmPercent = 0: must be a percentage 1–100",
        id="error-rate-0",
    ),
    pytest.param(
        {"durationAlarmPercentOfTimeout": "101"},
        "durationAlarmPercentOfTimeout = 101: must be a percentage 1–100",
        id="duration-101",
    ),
    pytest.param(
        {"concurrencyAlarmPercentOfMax": "0"},
        "concurrencyAlarmPercentOfMax = 0: must be a percentage 1–100",
        id="concurrency-alarm-0",
    ),
    pytest.param(
        {
            "billingMode": "PROVISIONED",
            "writeCapacity": "5",
            "maxConcurrency": "10",
            "batchSize": "10",
            "functionTimeoutSeconds": "10",
            "maxReceiveCount": "3",
        },
        "writeCapacity = 5: full concurrency writes at least maxConcurrency × batchSize / "
        "functionTimeoutSeconds = 10 × 10 / 10 = 10 writes/s, so the table throttles, and with "
        "maxReceiveCount 3 (AWS advises ≥ 5) throttled batches reach the DLQ: raise writeCapacity or "
        "maxReceiveCount, or lower the concurrency",
        id="provisioned-table-overrun-low-receive-count",
    ),
    # The X-Ray sampling rule, as the engine hands a structured value over (a JSON string).
    pytest.param(
        {"xraySampling": '{"reservoirPerSecond": 1, "fixedRate": 1.5}'},
        "xraySampling.fixedRate = 1.5: must be a share between 0 and 1 (1 traces every invocation)",
        id="sampling-rate-above-1",
    ),
    pytest.param(
        {"xraySampling": '{"reservoirPerSecond": -1, "fixedRate": 0.1}'},
        "xraySampling.reservoirPerSecond = -1: must be 0–2147483647",
        id="sampling-negative-reservoir",
    ),
    pytest.param(
        {"xraySampling": '{"fixedRate": 0.1}'},
        "xraySampling = '{\"fixedRate\": 0.1}': must be a mapping with reservoirPerSecond and fixedRate, "
        "e.g. {reservoirPerSecond: 1, fixedRate: 0.05}",
        id="sampling-without-reservoir",
    ),
    pytest.param(
        {"xraySampling": '{"reservoirPerSecond": "one", "fixedRate": 0.1}'},
        'xraySampling = \'{"reservoirPerSecond": "one", "fixedRate": 0.1}\': reservoirPerSecond must '
        "be an integer and fixedRate a number",
        id="sampling-not-numbers",
    ),
    pytest.param({"eventIdIndex": "yes"}, "eventIdIndex = 'yes': must be true or false", id="index-not-bool"),
]


def problem_lines(error: ConfigError) -> list[str]:
    header, *lines = str(error).splitlines()
    assert header == "invalid stack configuration:"
    return [line.strip() for line in lines]


@pytest.mark.parametrize(("raw", "line"), INVALID)
def test_invalid_value_is_rejected_naming_key_value_and_rule(raw, line):
    with pytest.raises(ConfigError) as raised:
        StackSettings.from_raw(raw)
    assert problem_lines(raised.value) == [f"vehicle-pipeline:{line}"]


def test_the_sampling_rule_reads_back_from_the_settings_own_json():
    # A run record keeps StackSettings as JSON, where the rule is a pair; reading it back gives the same rule.
    assert StackSettings.from_raw({"xraySampling": [0, 0.2]}).xray_sampling == (0, 0.2)


def test_every_fault_is_reported_at_once():
    with pytest.raises(ConfigError) as raised:
        StackSettings.from_raw({"batchSize": "ten", "fifo": "maybe"})
    assert problem_lines(raised.value) == [
        "vehicle-pipeline:batchSize = 'ten': must be an integer",
        "vehicle-pipeline:fifo = 'maybe': must be true or false",
    ]


@pytest.mark.parametrize(("raw", "line"), INVALID)
def test_program_with_bad_config_declares_nothing(raw, line):
    """The same cases through the whole program: it stops at the settings, before any resource or output."""
    error, graph = run_failing_program("dev", raw)
    assert isinstance(error, ConfigError)
    assert problem_lines(error) == [f"vehicle-pipeline:{line}"]
    assert graph.resources == ()
    assert graph.outputs == {}


# Provisioned mode: {minimum, maximum} as the engine hands a structured value over (a JSON string). Through
# the program, dev's own maxConcurrency is removed unless the case sets it: the stack then leaves it unset.
POLLERS_ERROR = "must be a mapping with minimum and maximum event pollers, e.g. {minimum: 2, maximum: 10}"
PROVISIONED_INVALID = [
    pytest.param(
        {"provisionedPollers": '{"minimum": 1, "maximum": 10}'},
        ["provisionedPollers.minimum = 1: must be 2–200 (SQS event pollers)"],
        id="pollers-minimum-1",
    ),
    pytest.param(
        {"provisionedPollers": '{"minimum": 2, "maximum": 2001}'},
        ["provisionedPollers.maximum = 2001: must be 2–2000 (SQS event pollers)"],
        id="pollers-maximum-2001",
    ),
    pytest.param(
        {"provisionedPollers": '{"minimum": 2, "maximum": 1}'},
        [
            "provisionedPollers.maximum = 1: must be 2–2000 (SQS event pollers)",
            "provisionedPollers.maximum = 1: must be ≥ provisionedPollers.minimum (2)",
        ],
        id="pollers-maximum-1",
    ),
    pytest.param(
        {"provisionedPollers": '{"minimum": 5, "maximum": 4}'},
        ["provisionedPollers.maximum = 4: must be ≥ provisionedPollers.minimum (5)"],
        id="pollers-maximum-below-minimum",
    ),
    pytest.param(
        {"provisionedPollers": '{"minimum": 2, "maximum": 10}', "maxConcurrency": "10"},
        [
            "maxConcurrency = 10: must be unset with provisionedPollers: AWS takes maximum concurrency or "
            "provisioned pollers, not both (the pollers bound the concurrency)"
        ],
        id="pollers-with-max-concurrency",
    ),
    pytest.param(
        {"provisionedPollers": '{"minimum": 2, "maximum": 101}'},
        [
            "provisionedPollers.maximum = 101: 10 × provisionedPollers.maximum = 1010 concurrent invokes, "
            "more than the 1000 the function can reserve: at most 100 pollers"
        ],
        id="pollers-beyond-reservable-concurrency",
    ),
    pytest.param(
        {"provisionedPollers": '{"minimum": 2, "maximum": 20}', "reservedConcurrency": "100"},
        ["reservedConcurrency = 100: must be between 10 × provisionedPollers.maximum (200) and 1000"],
        id="reserved-below-pollers-concurrency",
    ),
    pytest.param(
        {"provisionedPollers": '{"minimum": 2}'},
        [f"provisionedPollers = '{{\"minimum\": 2}}': {POLLERS_ERROR}"],
        id="pollers-without-maximum",
    ),
    pytest.param(
        {"provisionedPollers": "20"},
        [f"provisionedPollers = '20': {POLLERS_ERROR}"],
        id="pollers-not-a-mapping",
    ),
    pytest.param(
        {"provisionedPollers": '{"minimum": "two", "maximum": 10}'},
        ['provisionedPollers = \'{"minimum": "two", "maximum": 10}\': minimum and maximum must be integers'],
        id="pollers-not-integers",
    ),
]


@pytest.mark.parametrize(("raw", "lines"), PROVISIONED_INVALID)
def test_invalid_provisioned_pollers_are_rejected_naming_key_value_and_rule(raw, lines):
    with pytest.raises(ConfigError) as raised:
        StackSettings.from_raw(raw)
    assert problem_lines(raised.value) == [f"vehicle-pipeline:{line}" for line in lines]


@pytest.mark.parametrize(("raw", "lines"), PROVISIONED_INVALID)
def test_program_with_bad_provisioned_pollers_declares_nothing(raw, lines):
    error, graph = run_failing_program("dev", {"maxConcurrency": None, **raw})
    assert isinstance(error, ConfigError)
    assert problem_lines(error) == [f"vehicle-pipeline:{line}" for line in lines]
    assert graph.resources == ()


def test_provisioned_pollers_read_alike_from_the_stack_file_and_from_the_engine():
    from_yaml = StackSettings.from_raw({"provisionedPollers": {"minimum": 2, "maximum": 10}})
    from_engine = StackSettings.from_raw({"provisionedPollers": '{"minimum": 2, "maximum": 10}'})

    assert from_yaml == from_engine
    assert from_yaml.provisioned_pollers == ProvisionedPollers(minimum=2, maximum=10)
    assert (from_yaml.mapping_max_concurrency, from_yaml.reserved_concurrency) == (100, 100)
    assert StackSettings().provisioned_pollers is None  # standard mode unless asked: the local runner's case


def test_a_provisioned_table_full_concurrency_throttles_is_a_warning_from_five_receives_up():
    raw = {"billingMode": "PROVISIONED", "writeCapacity": "5", "maxConcurrency": "10"}
    raw |= {"batchSize": "10", "functionTimeoutSeconds": "10", "maxReceiveCount": "5"}

    assert StackSettings.from_raw(raw).warnings() == [
        (
            "writeCapacity",
            5,
            "full concurrency writes at least maxConcurrency × batchSize / functionTimeoutSeconds = "
            "10 × 10 / 10 = 10 writes/s: the table throttles under a backlog and batches are retried "
            "(up to maxReceiveCount 5 receives each)",
        )
    ]
    assert StackSettings.from_raw({**raw, "writeCapacity": "10"}).warnings() == []  # the floor is not above


def test_an_on_demand_table_is_warned_of_a_floor_above_a_new_tables_4000_writes():
    raw = {"provisionedPollers": '{"minimum": 2, "maximum": 100}', "functionTimeoutSeconds": "1"}
    raw |= {"batchSize": "41", "batchingWindowSeconds": "1"}

    assert StackSettings.from_raw(raw).warnings() == [
        (
            "billingMode",
            "PAY_PER_REQUEST",
            "full concurrency writes at least 10 × provisionedPollers.maximum × batchSize / "
            "functionTimeoutSeconds = 1000 × 41 / 1 = 41000 writes/s, more than the 4000 a new on-demand "
            "table serves at once (then up to twice its previous peak): expect throttled batches while it "
            "scales",
        )
    ]
    assert StackSettings.from_raw({**raw, "batchSize": "4"}).warnings() == []  # 4,000 exactly is served


@pytest.mark.parametrize("stack", stacks())
def test_no_stack_file_draws_a_warning(stack):
    assert from_stack_file(stack).warnings() == []


def test_the_program_logs_a_warning_and_declares_the_stack(caplog):
    overrides = {"billingMode": "PROVISIONED", "writeCapacity": "5", "batchSize": "10"}
    with caplog.at_level(logging.WARNING):
        graph = run_program("dev", overrides)

    assert graph.one("aws:dynamodb/table:Table").inputs["writeCapacity"] == 5
    assert (
        "vehicle-pipeline:writeCapacity = 5: full concurrency writes at least maxConcurrency × batchSize / "
        "functionTimeoutSeconds = 10 × 10 / 10 = 10 writes/s: the table throttles under a backlog and "
        "batches are retried (up to maxReceiveCount 5 receives each)"
    ) in caplog.messages
