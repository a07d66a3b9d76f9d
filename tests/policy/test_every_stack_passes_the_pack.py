"""The policy pack over every stack file, at that stack's enforcement levels.

GIVEN every Pulumi.<stack>.yaml and its policy/config/<stack>.json (what `pulumi preview --policy-pack policy
--policy-pack-config policy/config/<stack>.json` would be given)
WHEN every policy of the pack runs over the stack's mocked graph, as the engine would hand it the resources
THEN no policy reports a mandatory violation, and the advisories are exactly the known ones below.
"""

from __future__ import annotations

import json

import pytest

from policy.pipeline_policies import POLICIES
from tests.infra.pulumi_harness import stacks
from tests.policy.crossguard import CONFIG, Violation, recorded_pack, run_pack, stack_config
from tests.policy.engine_shape import mocked_stack

LEVELS = {"mandatory", "advisory", "disabled"}

# What the non-production stacks leave to production, each an advisory there (README, Policy pack):
# AWS-managed encryption for the log groups and the alarm topic (no customer-managed key; createKmsKey clears
# them), and in the fleet stack the producer Lambda without X-Ray tracing and the artifact bucket without
# server access logging. A stack missing here is held to "no mandatory violation" only.
KMS_KEY_LEFT_TO_PROD = [
    ("log-group-encrypted", "consumer-logs"),
    ("sns-topic-encrypted", "monitoring-alarms"),
]
KNOWN_ADVISORIES = {
    "prod": [],
    "dev": KMS_KEY_LEFT_TO_PROD,
    "fifo": KMS_KEY_LEFT_TO_PROD,
    "provisioned": KMS_KEY_LEFT_TO_PROD,
    "fleet": [
        *KMS_KEY_LEFT_TO_PROD,
        ("log-group-encrypted", "producer-logs"),
        ("lambda-tracing-active", "producer-function"),
        ("s3-bucket-access-logged", "workers-artifacts"),
    ],
}


def mandatory(violations: list[Violation]) -> list[Violation]:
    return [violation for violation in violations if violation.level == "mandatory"]


def test_the_pack_is_every_policy_of_pipeline_policies():
    pack = recorded_pack()
    assert (pack.name, [policy.name for policy in pack.policies]) == (
        "vehicle-pipeline",
        [policy.name for policy in POLICIES],
    )
    assert len({policy.name for policy in POLICIES}) == len(POLICIES) == 20


def test_every_stack_file_has_a_policy_config_and_nothing_else_does():
    assert sorted(path.stem for path in CONFIG.glob("*.json")) == stacks()


@pytest.mark.parametrize("stack", stacks())
def test_each_config_sets_every_policy_and_only_them(stack):
    config = json.loads((CONFIG / f"{stack}.json").read_text())
    assert list(config) == [policy.name for policy in POLICIES]  # in the pack's order, easy to compare
    assert set(config.values()) <= LEVELS


def test_prod_levels_are_the_policies_own_so_a_run_without_config_is_as_strict_as_prod():
    assert stack_config("prod") == {policy.name: policy.enforcement_level.value for policy in POLICIES}


def test_non_production_stacks_share_one_set_of_levels():
    non_production = [stack for stack in stacks() if stack != "prod"]
    assert [stack_config(stack) for stack in non_production] == [stack_config("dev")] * len(non_production)


@pytest.mark.parametrize("stack", stacks())
def test_the_stack_has_no_mandatory_violation_and_only_its_known_advisories(stack):
    violations = run_pack(mocked_stack(stack), stack_config(stack))

    assert mandatory(violations) == []
    if stack in KNOWN_ADVISORIES:
        assert sorted((v.policy, v.resource) for v in violations) == sorted(KNOWN_ADVISORIES[stack])


def test_prod_passes_with_no_config_at_all():
    assert run_pack(mocked_stack("prod")) == []


def test_a_level_follows_the_stack_file_deletion_protection_is_mandatory_in_prod_only():
    dev = mocked_stack("dev")  # deletionProtection: false, as dev stacks are torn down on purpose

    assert [v for v in run_pack(dev, stack_config("dev")) if v.policy == "dynamodb-deletion-protection"] == []
    assert [v for v in run_pack(dev, stack_config("prod")) if v.policy == "dynamodb-deletion-protection"] == [
        Violation(
            "dynamodb-deletion-protection",
            "mandatory",
            "vehicle-events-table",
            "deletionProtectionEnabled is not true: a destroy or a replacement deletes the table and its "
            "data.",
        )
    ]


def test_a_policys_own_entry_overrides_all_as_the_cli_reconciles_a_config_file():
    # GIVEN prod with an unencrypted DLQ and a table without point-in-time recovery
    broken = (
        mocked_stack("prod")
        .changed("events-dlq", kmsMasterKeyId=None, kmsDataKeyReusePeriodSeconds=None)
        .changed("vehicle-events-table", pointInTimeRecovery={"enabled": False})
    )

    # WHEN every policy is disabled but one
    violations = run_pack(broken, {"all": "disabled", "sqs-queue-encrypted": "mandatory"})

    # THEN only that one reports
    assert [(v.policy, v.level, v.resource) for v in violations] == [
        ("sqs-queue-encrypted", "mandatory", "events-dlq")
    ]
