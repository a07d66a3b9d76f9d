"""The stack as a stack policy sees it: every resource with its outputs, and which of them an argument names.

A rule such as "the queue's visibility covers the function's timeout" spans three resources, linked only by
the ARNs the event source mapping holds. Those links come from the engine's property dependencies first: they
are known during `pulumi preview`, when a new queue's ARN is not. An argument given as a literal (the ARN of a
queue another stack owns) has none; it is then matched against each candidate's identifiers, and a resource
outside this stack matches nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pulumi_policy import PolicyResource

from .engine_values import is_set

_UNSET = object()
# The outputs an argument may name another resource by: an ARN, a queue URL, a bucket or function name, an id.
IDENTIFIERS = ("arn", "url", "id", "name", "bucket")


class StackView:
    def __init__(self, resources: Iterable[PolicyResource]):
        self.resources = list(resources)

    def of_type(self, *types: str) -> list[PolicyResource]:
        return [resource for resource in self.resources if resource.resource_type in types]

    def referenced(
        self, resource: PolicyResource, argument: str, types: Sequence[str], value: Any = _UNSET
    ) -> list[PolicyResource]:
        """The resources of `types` that `resource`'s `argument` names (`value`, when given, is what to match
        instead of the argument itself, e.g. the ARN inside a JSON argument)."""
        dependencies = resource.property_dependencies.get(argument) or []
        linked = [dependency for dependency in dependencies if dependency.resource_type in types]
        if linked:
            return linked
        target = resource.props.get(argument) if value is _UNSET else value
        if not is_set(target):
            return []
        return [candidate for candidate in self.of_type(*types) if target in identifiers(candidate)]

    def referring(
        self, resource: PolicyResource, types: Sequence[str], argument: str
    ) -> list[PolicyResource]:
        """The resources of `types` whose `argument` names `resource` (a queue's policies, a bucket's
        public access block)."""
        return [
            other
            for other in self.of_type(*types)
            if resource in self.referenced(other, argument, [resource.resource_type])
        ]


def identifiers(resource: PolicyResource) -> set[str]:
    return {
        resource.props[key]
        for key in IDENTIFIERS
        if key in resource.props and isinstance(resource.props[key], str)
    }
