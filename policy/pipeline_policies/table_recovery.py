"""The vehicle history table survives mistakes: point-in-time recovery, and (in prod) deletion protection.

DynamoDB developer guide: "Point-in-time recovery"
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Point-in-time-recovery.html) restores the
table to any second of the last 35 days after a bad write or delete; deletion protection
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/WorkingWithTables.Basics.html) refuses
DeleteTable, which a `pulumi destroy` or a replacement would otherwise call.
"""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, ResourceValidationArgs, ResourceValidationPolicy

from .engine_values import mapping
from .resource_types import TABLE

DYNAMODB_PITR = "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Point-in-time-recovery.html"
DYNAMODB_DELETION_PROTECTION = (
    "https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/WorkingWithTables.Basics.html"
)


def _point_in_time_recovery(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if (
        args.resource_type == TABLE
        and mapping(args.props.get("pointInTimeRecovery")).get("enabled") is not True
    ):
        report("pointInTimeRecovery.enabled is not true: a bad write or delete cannot be rolled back.")


def _deletion_protection(args: ResourceValidationArgs, report: ReportViolation) -> None:
    if args.resource_type == TABLE and args.props.get("deletionProtectionEnabled") is not True:
        report(
            "deletionProtectionEnabled is not true: a destroy or a replacement deletes the table and its "
            "data."
        )


POLICIES = [
    ResourceValidationPolicy(
        name="dynamodb-point-in-time-recovery",
        description="Every DynamoDB table has point-in-time recovery on.",
        validate=_point_in_time_recovery,
        enforcement_level=EnforcementLevel.MANDATORY,
        url=DYNAMODB_PITR,
        remediation_steps="Set pointInTimeRecovery.enabled=true.",
    ),
    ResourceValidationPolicy(
        name="dynamodb-deletion-protection",
        description="Every DynamoDB table has deletion protection on.",
        validate=_deletion_protection,
        enforcement_level=EnforcementLevel.MANDATORY,
        url=DYNAMODB_DELETION_PROTECTION,
        remediation_steps="Set deletionProtectionEnabled=true (the stack setting deletionProtection).",
    ),
]
