"""Run the policy pack over a stack the way `pulumi preview --policy-pack policy --policy-pack-config
policy/config/<stack>.json` runs it, without the CLI.

The CLI starts the pack (policy/__main__.py), whose PolicyPack serves pulumi_policy's analyzer over gRPC. The
engine then
1. reconciles the config file with each policy's own level and schema defaults (pulumi/pulumi
   pkg/resource/analyzer/config.go, ReconcilePolicyPackConfig: a policy's own entry wins over "all", which
   wins over the policy's level) and sends the result to `Configure`;
2. calls `Analyze` for each resource with its checked inputs and its provider's inputs;
3. calls `AnalyzeStack` once with every resource's outputs, parent and (property) dependencies.

Building a PolicyPack starts that gRPC server and blocks, so __main__.py runs here with PolicyPack replaced by
a recorder, and the policies it recorded go to the analyzer servicer PolicyPack serves
(`pulumi_policy.policy._PolicyAnalyzerServicer`, private: pinned with pulumi_policy 1.21.0), called with the
protobuf messages the engine sends. Properties cross as protobuf Structs, so the policies read them through
pulumi_policy's own deserialisation and unknown-checking proxies, as they will under the CLI.
"""

from __future__ import annotations

import functools
import json
import runpy
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple
from unittest import mock

import pulumi_policy
from google.protobuf import empty_pb2, json_format, struct_pb2
from pulumi.runtime import proto
from pulumi_policy.deserialize import serialize_properties
from pulumi_policy.policy import _PolicyAnalyzerServicer

from tests.policy.engine_shape import EngineResource, EngineStack

PACK = Path(__file__).resolve().parents[2] / "policy"
CONFIG = PACK / "config"
PACK_VERSION = "0.1.0"  # PulumiPolicy.yaml's version, which the CLI hands the pack
LEVELS = {
    proto.ADVISORY: "advisory",
    proto.MANDATORY: "mandatory",
    proto.DISABLED: "disabled",
    proto.REMEDIATE: "remediate",
}


class Violation(NamedTuple):
    policy: str
    level: str  # mandatory | advisory
    resource: str  # the resource's logical name; "" for the stack as a whole
    message: str  # what the policy reported, without the policy's description the engine prefixes


class RecordedPack(NamedTuple):
    name: str
    policies: list[pulumi_policy.Policy]
    enforcement_level: pulumi_policy.EnforcementLevel
    description: str


@functools.cache
def recorded_pack() -> RecordedPack:
    """What policy/__main__.py hands PolicyPack, run as the CLI runs it (runpy on the folder, which puts the
    folder first on sys.path)."""
    recorded: dict[str, Any] = {}

    def record(name, policies, enforcement_level=None, **options):
        recorded.update(name=name, policies=policies, enforcement_level=enforcement_level, **options)

    with mock.patch.object(pulumi_policy, "PolicyPack", record):
        runpy.run_path(str(PACK), run_name="__main__")
    return RecordedPack(
        recorded["name"], recorded["policies"], recorded["enforcement_level"], recorded.get("description", "")
    )


def stack_config(stack: str) -> dict[str, Any]:
    """policy/config/<stack>.json, the file a user passes with --policy-pack-config."""
    return json.loads((CONFIG / f"{stack}.json").read_text())


class InProcessAnalyzer:
    """The analyzer a PolicyPack serves, called the way a gRPC client calls it (request in, response out)."""

    def __init__(self, pack: RecordedPack):
        self._servicer = _PolicyAnalyzerServicer(
            pack.name, PACK_VERSION, pack.policies, pack.enforcement_level
        )

    def GetAnalyzerInfo(self, request):  # the gRPC method names
        return self._servicer.GetAnalyzerInfo(request, None)

    def Configure(self, request):
        return self._servicer.Configure(request, None)

    def Analyze(self, request):
        return self._servicer.Analyze(request, None)

    def AnalyzeStack(self, request):
        return self._servicer.AnalyzeStack(request, None)


def run_pack(stack: EngineStack, config: Mapping[str, Any] | None = None, analyzer=None) -> list[Violation]:
    """Every violation the pack reports for the stack under `config` (None: no config file), asked of
    `analyzer` (an AnalyzerStub on the pack's gRPC server, or by default the same analyzer in process)."""
    analyzer = analyzer or InProcessAnalyzer(recorded_pack())
    info = analyzer.GetAnalyzerInfo(empty_pb2.Empty())
    analyzer.Configure(configure_request(reconcile(info, config or {})))
    violations = []
    for resource in stack.resources:  # the engine reports these against the resource analyzed
        response = analyzer.Analyze(analyze_request(stack, resource))
        violations += [_violation(diagnostic, resource.urn) for diagnostic in response.diagnostics]
    response = analyzer.AnalyzeStack(analyze_stack_request(stack))
    return violations + [_violation(diagnostic, diagnostic.urn) for diagnostic in response.diagnostics]


def reconcile(info, config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """ReconcilePolicyPackConfig: each policy's level and schema defaults, then "all"'s level, then each
    entry of the file (a level, or an object with enforcementLevel and properties)."""
    result = {}
    for policy in info.policies:
        schema = json_format.MessageToDict(policy.configSchema).get("properties", {})
        defaults = {key: value["default"] for key, value in schema.items() if "default" in value}
        result[policy.name] = {"level": LEVELS[policy.enforcementLevel], "properties": defaults}
    entries = {name: _entry(value) for name, value in config.items()}
    if "all" in entries and entries["all"]["level"]:
        for settings in result.values():
            settings["level"] = entries["all"]["level"]
    for name, entry in entries.items():
        settings = result.setdefault(name, {"level": "", "properties": {}})
        settings["level"] = entry["level"] or settings["level"]
        settings["properties"] = {**settings["properties"], **entry["properties"]}
    return result


def _entry(value: Any) -> dict[str, Any]:
    if isinstance(value, str):
        return {"level": value, "properties": {}}
    properties = dict(value)
    return {"level": properties.pop("enforcementLevel", ""), "properties": properties}


# ---- the engine's protobuf messages ------------------------------------------------------------------------
def _struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    return json_format.ParseDict(serialize_properties(props), struct_pb2.Struct())


def configure_request(config: Mapping[str, Mapping[str, Any]]) -> proto.ConfigureAnalyzerRequest:
    levels = {name: value for value, name in LEVELS.items()}
    return proto.ConfigureAnalyzerRequest(
        policyConfig={
            name: proto.PolicyConfig(
                enforcementLevel=levels[settings["level"]], properties=_struct(settings["properties"])
            )
            for name, settings in config.items()
            if settings["level"]
        }
    )


def _provider(stack: EngineStack, resource: EngineResource) -> proto.AnalyzerProviderResource | None:
    if not resource.provider:
        return None
    provider = stack.by_urn(resource.provider)
    return proto.AnalyzerProviderResource(
        type=provider.type, properties=_struct(provider.inputs), urn=provider.urn, name=provider.name
    )


def analyze_request(stack: EngineStack, resource: EngineResource) -> proto.AnalyzeRequest:
    return proto.AnalyzeRequest(
        type=resource.type,
        properties=_struct(resource.inputs),
        urn=resource.urn,
        name=resource.name,
        options=proto.AnalyzerResourceOptions(parent=resource.parent),
        provider=_provider(stack, resource),
    )


def analyze_stack_request(stack: EngineStack) -> proto.AnalyzeStackRequest:
    return proto.AnalyzeStackRequest(
        resources=[
            proto.AnalyzerResource(
                type=resource.type,
                properties=_struct(resource.outputs),
                urn=resource.urn,
                name=resource.name,
                options=proto.AnalyzerResourceOptions(parent=resource.parent),
                provider=_provider(stack, resource),
                parent=resource.parent,
                dependencies=list(resource.dependencies),
                propertyDependencies={
                    key: proto.AnalyzerPropertyDependencies(urns=list(urns))
                    for key, urns in resource.property_dependencies.items()
                },
            )
            for resource in stack.resources
        ]
    )


def _violation(diagnostic, urn: str) -> Violation:
    message = diagnostic.message.removeprefix(diagnostic.description).removeprefix("\n")
    return Violation(
        diagnostic.policyName, LEVELS[diagnostic.enforcementLevel], urn.rpartition("::")[2], message
    )
