"""Reading resource properties as the Pulumi engine hands them to a policy pack.

The engine sends a resource's properties over gRPC as a protobuf Struct, and pulumi_policy wraps them in its
unknown-checking proxies: objects arrive as `collections.abc.Mapping` (not dict), lists as `Sequence` (not
list), every number as a float, and names are the provider's camelCase wire names (`visibilityTimeoutSeconds`,
`scalingConfig.maximumConcurrency`). JSON-valued arguments (an IAM policy, an SQS redrive policy) stay JSON
strings. Reading an unknown value (an ARN during `pulumi preview` of a resource not created yet) raises
pulumi_policy's UnknownValueError, which the SDK reports as "can't run policy during preview".
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

_EMPTY: Mapping[str, Any] = {}


def mapping(value: Any) -> Mapping[str, Any]:
    """An object property, or an empty one when it is unset."""
    return value if isinstance(value, Mapping) else _EMPTY


def items(value: Any) -> list[Any]:
    """A list property (a lone string counts as a list of one, as IAM's Action does), [] when unset."""
    if value is None:
        return []
    if isinstance(value, str) or not isinstance(value, Sequence):
        return [value]
    return list(value)


def number(value: Any, default: float) -> float:
    """A number property, or AWS's default when it is unset."""
    return default if value is None else float(value)


def shown(value: float) -> str:
    """A number as a message shows it: 1123200, not 1.1232e+06 or 1123200.0."""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:g}"


def is_set(value: Any) -> bool:
    """Set to something: not absent, not null, not an empty string, list or object."""
    if value is None:
        return False
    if isinstance(value, (str, Mapping, Sequence)):
        return len(value) > 0
    return True


def json_value(value: Any) -> Any:
    """A JSON-string argument parsed (a provider may also pass it as an object); None when it is not JSON."""
    if isinstance(value, Mapping):
        return value
    if not isinstance(value, str):
        return None
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return None


# The pulumi-aws arguments that hold an IAM or resource policy: `policy` (iam.Policy, iam.RolePolicy,
# sqs.QueuePolicy, s3.BucketPolicy, sns.TopicPolicy, kms.Key, and the inline policy of sqs.Queue and
# sns.Topic), a role's `assumeRolePolicy` and its `inlinePolicies[].policy`. Only these are read: reading any
# other argument could hit a value unknown during preview and skip the whole policy for nothing.
POLICY_ARGUMENTS = ("policy", "assumeRolePolicy")
INLINE_POLICIES = "inlinePolicies"


def policy_documents(props: Mapping[str, Any]) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(argument path, document) for every IAM or resource policy among a resource's arguments."""
    for key in POLICY_ARGUMENTS:
        if key in props:
            yield from _document(props[key], key)
    for index, inline in enumerate(items(props.get(INLINE_POLICIES))):
        yield from _document(mapping(inline).get("policy"), f"{INLINE_POLICIES}[{index}].policy")


def _document(value: Any, path: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    document = json_value(value)
    if isinstance(document, Mapping) and "Statement" in document:
        yield path, document


def statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [statement for statement in items(document.get("Statement")) if isinstance(statement, Mapping)]
