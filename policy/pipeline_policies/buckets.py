"""S3 buckets (the worker fleet's artifact bucket): never public, and every request logged.

Block Public Access with all four settings overrides any ACL or bucket policy that would make objects public
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html). Server access
logging records who read what, the evidence an incident review needs
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerLogs.html).
"""

from __future__ import annotations

from pulumi_policy import EnforcementLevel, ReportViolation, StackValidationArgs, StackValidationPolicy

from .engine_values import is_set, mapping
from .resource_types import BUCKET_LOGGINGS, BUCKET_PUBLIC_ACCESS_BLOCK, BUCKETS
from .stack_view import StackView

S3_BLOCK_PUBLIC_ACCESS = (
    "https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html"
)
S3_SERVER_ACCESS_LOGGING = "https://docs.aws.amazon.com/AmazonS3/latest/userguide/ServerLogs.html"
BLOCK_SETTINGS = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")


def _public_access_blocked(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = StackView(args.resources)
    for bucket in stack.of_type(*BUCKETS):
        blocks = stack.referring(bucket, [BUCKET_PUBLIC_ACCESS_BLOCK], "bucket")
        if not blocks:
            report(f"bucket {bucket.name} has no BucketPublicAccessBlock.", bucket.urn)
        for block in blocks:
            unset = [setting for setting in BLOCK_SETTINGS if block.props.get(setting) is not True]
            if unset:
                report(f"bucket {bucket.name}: {block.name} leaves {unset} off.", bucket.urn)


def _access_logged(args: StackValidationArgs, report: ReportViolation) -> None:
    stack = StackView(args.resources)
    for bucket in stack.of_type(*BUCKETS):
        inline = is_set(mapping(bucket.props.get("logging")).get("targetBucket"))
        if not inline and not stack.referring(bucket, BUCKET_LOGGINGS, "bucket"):
            report(f"bucket {bucket.name} has no server access logging (no BucketLogging).", bucket.urn)


POLICIES = [
    StackValidationPolicy(
        name="s3-bucket-public-access-blocked",
        description="Every S3 bucket has a public access block with all four settings on.",
        validate=_public_access_blocked,
        enforcement_level=EnforcementLevel.MANDATORY,
        url=S3_BLOCK_PUBLIC_ACCESS,
        remediation_steps="Add an aws.s3.BucketPublicAccessBlock for the bucket with "
        + ", ".join(BLOCK_SETTINGS)
        + " true.",
    ),
    StackValidationPolicy(
        name="s3-bucket-access-logged",
        description="Every S3 bucket has server access logging.",
        validate=_access_logged,
        enforcement_level=EnforcementLevel.MANDATORY,
        url=S3_SERVER_ACCESS_LOGGING,
        remediation_steps="Add an aws.s3.BucketLogging for the bucket, targeting a log bucket.",
    ),
]
