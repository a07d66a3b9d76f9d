"""A mocked stack's resources in the shape the Pulumi engine hands them to a policy pack.

The harness (tests/infra/pulumi_harness.py) records what the program registered: inputs already under the
provider's camelCase wire names (`visibilityTimeoutSeconds`, `scalingConfig.maximumConcurrency`), JSON
arguments as strings, numbers as floats, and each input's property dependencies. What the engine adds on the
way to the pack (pulumi/pulumi pkg/resource/deploy/step_generator.go): a resource policy gets the inputs the
provider's Check returned, and its provider's inputs; a stack policy gets every resource's outputs, with its
parent, dependencies and property dependencies. Emulated here:

- `tagsAll`: pulumi-aws's Check merges the provider's `defaultTags` into the `tagsAll` of every resource whose
  type has one (pulumi-aws provider/tags.go, applyTags); the state AWS returns has it too;
- outputs: the mock's state (the inputs plus the computed arn, url, id, name), with `tagsAll`;
- the provider's inputs as the Python SDK sends them (`defaultTags` as a JSON string).

Not emulated: the schema defaults Check fills in for unset arguments (visibilityTimeoutSeconds=30, ...). The
policies apply AWS's defaults to what is unset, so they read the same either way.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Mapping
from typing import Any

from pulumi_policy.proxy import UNKNOWN_STRING_VALUE

from tests.infra.conformance.cost_allocation import resource_class
from tests.infra.pulumi_harness import Graph, Resource, run_program

REMOVED = object()  # a `changed` value that removes the argument


@dataclasses.dataclass(frozen=True)
class EngineResource:
    urn: str
    type: str
    name: str
    parent: str
    dependencies: tuple[str, ...]
    property_dependencies: Mapping[str, tuple[str, ...]]
    inputs: Mapping[str, Any]  # what Analyze gets: the checked inputs
    outputs: Mapping[str, Any]  # what AnalyzeStack gets
    provider: str  # the provider resource's URN, "" for none


@dataclasses.dataclass(frozen=True)
class EngineStack:
    name: str
    resources: tuple[EngineResource, ...]

    def by_urn(self, urn: str) -> EngineResource:
        return next(resource for resource in self.resources if resource.urn == urn)

    def named(self, name: str) -> EngineResource:
        found = [resource for resource in self.resources if resource.name == name]
        assert len(found) == 1, f"{len(found)} resources named {name} in {self.name}"
        return found[0]

    def changed(self, name: str, **arguments: Any) -> EngineStack:
        """The stack with resource `name`'s arguments set to literals (REMOVED: unset), in its inputs and
        its outputs; a literal comes from no other resource, so those arguments lose their property
        dependencies."""
        target = self.named(name)

        def apply(props: Mapping[str, Any]) -> dict[str, Any]:
            updated = {**props, **arguments}
            return {key: value for key, value in updated.items() if value is not REMOVED}

        updated = dataclasses.replace(
            target,
            inputs=apply(target.inputs),
            outputs=apply(target.outputs),
            property_dependencies={
                key: urns for key, urns in target.property_dependencies.items() if key not in arguments
            },
        )
        return self._with(tuple(updated if r is target else r for r in self.resources))

    def unknown_in_preview(self, name: str, *arguments: str) -> EngineStack:
        """The stack as `pulumi preview` sees it before resource `name`'s outputs exist: those values are the
        engine's unknown (a string placeholder), their property dependencies still known."""
        target = self.named(name)

        def apply(props: Mapping[str, Any]) -> dict[str, Any]:
            return {**props, **dict.fromkeys(arguments, UNKNOWN_STRING_VALUE)}

        updated = dataclasses.replace(target, inputs=apply(target.inputs), outputs=apply(target.outputs))
        return self._with(tuple(updated if r is target else r for r in self.resources))

    def plus(self, resource: EngineResource) -> EngineStack:
        """The stack with one more resource, as if the program declared it."""
        return self._with((*self.resources, resource))

    def without(self, name: str) -> EngineStack:
        """The stack without resource `name`, as if the program no longer declared it."""
        target = self.named(name)
        return self._with(tuple(r for r in self.resources if r is not target))

    def _with(self, resources: tuple[EngineResource, ...]) -> EngineStack:
        return dataclasses.replace(self, resources=resources)


@functools.cache
def mocked_stack(stack: str) -> EngineStack:
    """Pulumi.<stack>.yaml's program, run under the harness's mocks, in the engine's shape."""
    return engine_stack(run_program(stack))


def engine_stack(graph: Graph) -> EngineStack:
    providers = {resource.urn: resource for resource in graph.resources if _is_provider(resource)}
    return EngineStack(
        graph.stack, tuple(_engine_resource(resource, providers) for resource in graph.resources)
    )


def _engine_resource(resource: Resource, providers: Mapping[str, Resource]) -> EngineResource:
    provider = providers.get(resource.provider)
    tags_all = _tags_all(resource, provider)
    return EngineResource(
        urn=resource.urn,
        type=resource.type,
        name=resource.name,
        parent=resource.parent,
        dependencies=resource.dependencies,
        property_dependencies=resource.property_dependencies,
        inputs={**resource.inputs, **tags_all},
        outputs={**resource.state, **tags_all},
        provider=resource.provider,
    )


def _tags_all(resource: Resource, provider: Resource | None) -> dict[str, Any]:
    """pulumi-aws applyTags: the provider's default tags, then the resource's own, for a type with tags_all
    (read from pulumi_aws's own classes, as the conformance suite does)."""
    tags = resource.inputs.get("tags")
    if not isinstance(tags, Mapping) or not hasattr(resource_class(resource.type), "tags_all"):
        return {}
    default_tags = json.loads(provider.inputs.get("defaultTags", "{}")) if provider else {}
    return {"tagsAll": {**default_tags.get("tags", {}), **tags}}


def _is_provider(resource: Resource) -> bool:
    return resource.type.startswith("pulumi:providers:")
