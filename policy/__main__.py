"""The pack the CLI runs: every policy of pipeline_policies, each at its own (prod) enforcement level unless
the stack's config file (config/<stack>.json, passed with --policy-pack-config) sets another."""

from pipeline_policies import POLICIES
from pulumi_policy import EnforcementLevel, PolicyPack

PolicyPack(
    name="vehicle-pipeline",
    policies=POLICIES,
    enforcement_level=EnforcementLevel.MANDATORY,
    description="The SQS → Lambda → DynamoDB pipeline's design rules: queue, function and mapping agree; "
    "DLQs; encryption; TLS-only queues; least privilege; recovery; observability; cost-allocation tags.",
)
