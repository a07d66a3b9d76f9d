"""Cost-allocation tags: every resource that takes tags carries `project`, `stack` and `component`, so a real
bill splits the way the cost model does (loadtest/analysis/cost_model.py: queue, function, table, monitoring,
fleet).

`project` and `stack` come from the AWS provider's default tags: one explicit provider, handed to every
component, tags everything it creates whose type supports them. `component` comes from a transformation each
ComponentResource registers with `component_options`: Pulumi applies it to the component's children. Types
whose `tags` is not a map (an Auto Scaling group's is a list) and what a resource launches (the fleet's
instances and volumes) take `resource_tags` explicitly, as the provider's default tags do not reach them.
"""

from __future__ import annotations

import pulumi
import pulumi_aws as aws
from pulumi import ResourceOptions, ResourceTransformationArgs, ResourceTransformationResult

from infra.settings import PROJECT

TAG_KEYS = ("project", "stack", "component")


def stack_tags(stack: str) -> dict[str, str]:
    return {"project": PROJECT, "stack": stack}


def resource_tags(stack: str, component: str) -> dict[str, str]:
    return {**stack_tags(stack), "component": component}


def tagged_provider(stack: str, region: str) -> aws.Provider:
    """The provider every component uses. An explicit provider reads none of the stack's `aws:*` settings,
    so the region is handed to it."""
    return aws.Provider(
        "aws", region=region, default_tags=aws.ProviderDefaultTagsArgs(tags=stack_tags(stack))
    )


def _with_component(tags, component: str):
    if isinstance(tags, pulumi.Output):
        return tags.apply(lambda resolved: {**(resolved or {}), "component": component})
    return {**(tags or {}), "component": component}


def _tag_component(component: str):
    def transformation(args: ResourceTransformationArgs) -> ResourceTransformationResult | None:
        tags = args.props.get("tags", ())  # a type without tags has no such property at all
        if not isinstance(args.resource, pulumi.CustomResource) or tags == () or isinstance(tags, list):
            return None
        return ResourceTransformationResult(
            {**args.props, "tags": _with_component(tags, component)}, args.opts
        )

    return transformation


def component_options(component: str, opts: ResourceOptions | None) -> ResourceOptions:
    """`opts` for a ComponentResource whose children are tagged `component=<component>`."""
    return ResourceOptions.merge(opts, ResourceOptions(transformations=[_tag_component(component)]))
