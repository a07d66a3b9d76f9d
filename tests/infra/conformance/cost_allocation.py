"""Cost-allocation tags as AWS would hold them: every resource that takes tags carries project, stack and
component, so a bill splits the way the cost model does; and what the fleet launches (instances, volumes) is
tagged at launch.

Whether a type takes tags is read from the AWS provider's own schema, as pulumi_aws generates it: its class
has a `tags` property. The provider's default tags reach a resource only when its class also has `tags_all`
(where the provider merges them); an Auto Scaling group's `tags` is a list of key/value/propagate entries the
default tags never fill. The effective tags are the default tags of the provider the resource was created
with, under its own.
"""

from __future__ import annotations

import importlib
import json
from typing import Any

from infra.settings import PROJECT
from tests.infra.pulumi_harness import Graph, Resource

TAG_KEYS = ("project", "stack", "component")
LAUNCHED = ("instance", "volume")  # what a launch template's tag specifications must tag


def resource_class(token: str) -> type | None:
    """The pulumi_aws class of a type token (`aws:sqs/queue:Queue` -> pulumi_aws.sqs.Queue)."""
    if not token.startswith("aws:"):
        return None
    module, name = token.split(":")[1].split("/")[0], token.split(":")[2]
    for candidate in (module, module + "_"):  # `lambda` is a keyword: pulumi_aws.lambda_
        try:
            return getattr(importlib.import_module(f"pulumi_aws.{candidate}"), name)
        except (ImportError, AttributeError):
            continue
    return None


def _as_map(tags: Any) -> dict[str, str]:
    if isinstance(tags, list):  # [{"key": …, "value": …, "propagateAtLaunch": …}]
        return {entry["key"]: entry["value"] for entry in tags}
    return dict(tags or {})


def default_tags(graph: Graph, resource: Resource) -> dict[str, str]:
    """The default tags of the provider a resource was created with (none for the default provider)."""
    if not resource.provider:
        return {}
    provider = graph.by_urn(resource.provider)
    configured = provider.inputs.get("defaultTags") or "{}"
    return dict((json.loads(configured) if isinstance(configured, str) else configured).get("tags") or {})


def effective_tags(graph: Graph, resource: Resource) -> dict[str, str] | None:
    """The tags AWS would hold for the resource; None when its type takes none."""
    cls = resource_class(resource.type)
    if cls is None or not hasattr(cls, "tags"):
        return None
    inherited = default_tags(graph, resource) if hasattr(cls, "tags_all") else {}
    return {**inherited, **_as_map(resource.inputs.get("tags"))}


def _problems(tags: dict[str, str], stack: str) -> list[str]:
    expected = {"project": PROJECT, "stack": stack}
    problems = [f"no {key} tag" for key in TAG_KEYS if not tags.get(key)]
    problems += [
        f"{key}={tags[key]!r}, expected {value!r}"
        for key, value in expected.items()
        if tags.get(key) and tags[key] != value
    ]
    return problems


def tag_findings(graph: Graph) -> list[str]:
    """`<type> <name>: <problem>` for every taggable resource without the three tags, and every launch
    template that does not tag the instances and volumes it launches with them."""
    findings = []
    for resource in graph.resources:
        if not resource.custom:
            continue
        tags = effective_tags(graph, resource)
        if tags is not None:
            findings += [f"{resource.type} {resource.name}: {p}" for p in _problems(tags, graph.stack)]
        if resource.type == "aws:ec2/launchTemplate:LaunchTemplate":
            specified = {
                s["resourceType"]: s.get("tags") for s in resource.inputs.get("tagSpecifications", [])
            }
            for kind in LAUNCHED:
                launched = _problems(_as_map(specified.get(kind)), graph.stack)
                findings += [f"{resource.type} {resource.name}: launched {kind}: {p}" for p in launched]
    return findings
