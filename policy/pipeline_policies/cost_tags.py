"""Cost-allocation tags: every resource that takes tags carries the keys the bill is split by.

AWS Billing activates user-defined tags as cost allocation tags
(https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/cost-alloc-tags.html); a resource without them
lands in the untagged remainder of Cost Explorer.

What the policy reads: the AWS provider's Check merges its `defaultTags` into each taggable resource's
`tagsAll` before policies run (pulumi-aws provider/tags.go, applyTags), so `tagsAll` is what AWS will get. A
resource without it (a provider that does not fill it) is read as the provider's default tags plus its own
`tags`; an Auto Scaling group's tags, a list of {key, value, propagateAtLaunch}, get no default tags.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    PolicyConfigSchema,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)

from .engine_values import items, json_value, mapping

COST_ALLOCATION_TAGS = "https://docs.aws.amazon.com/awsaccountbilling/latest/aboutv2/cost-alloc-tags.html"
REQUIRED_KEYS = (
    "project",
    "stack",
    "component",
)  # how the cost model splits the bill (README, What it costs)


def effective_tags(args: ResourceValidationArgs) -> dict[str, Any] | None:
    """The tags AWS will hold, or None for a resource that takes none."""
    if "tagsAll" in args.props and isinstance(args.props["tagsAll"], Mapping):
        return dict(args.props["tagsAll"])
    if "tags" not in args.props:
        return None
    own = args.props["tags"]
    if own is not None and not isinstance(own, Mapping):  # [{key, value, propagateAtLaunch}]: no defaults
        return {mapping(tag).get("key"): mapping(tag).get("value") for tag in items(own)}
    defaults: Mapping[str, Any] = {}
    if args.provider is not None:
        defaults = mapping(mapping(json_value(args.provider.props.get("defaultTags"))).get("tags"))
    return {**defaults, **mapping(own)}


def _cost_allocation_tags(args: ResourceValidationArgs, report: ReportViolation) -> None:
    tags = effective_tags(args)
    if tags is None:
        return
    required = items(args.get_config().get("requiredKeys")) or list(REQUIRED_KEYS)
    missing = [key for key in required if not tags.get(key)]
    if missing:
        report(f"missing cost-allocation tags {missing} (has {sorted(tags)}).")


POLICIES = [
    ResourceValidationPolicy(
        name="cost-allocation-tags",
        description="Every resource that takes tags carries the cost-allocation tags (project, stack, "
        "component).",
        validate=_cost_allocation_tags,
        enforcement_level=EnforcementLevel.MANDATORY,
        config_schema=PolicyConfigSchema(
            properties={
                "requiredKeys": {
                    "type": "array",
                    "items": {"type": "string"},
                    "default": list(REQUIRED_KEYS),
                    "description": "tag keys every taggable resource must carry, with a value",
                }
            }
        ),
        url=COST_ALLOCATION_TAGS,
        remediation_steps="Create the resource through the stack's tagged provider (infra/cost_tags.py), "
        "inside a component that tags its children.",
    ),
]
