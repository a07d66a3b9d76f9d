"""DynamoDB CreateTable's key rules, which the mocks and moto do not enforce: every attribute definition is
used by the table's key or an index's, every key attribute is defined, with a scalar type.

    table_key_findings(table.inputs)    # [] for a table AWS creates

CreateTable rejects both mistakes ("The number of attributes in key schema must match the number of attributes
defined in attribute definitions"; "Some index key attributes are not defined in AttributeDefinitions").
"""

from __future__ import annotations

from typing import Any

from infra import aws_limits

CREATE_TABLE = "https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_CreateTable.html"


def key_attributes(inputs: dict[str, Any]) -> list[str]:
    """Every attribute the table's key and its indexes name, in the order they appear (Pulumi's wire names:
    hashKey, rangeKey, globalSecondaryIndexes[].keySchemas or hashKey/rangeKey, localSecondaryIndexes[])."""
    names = [inputs.get("hashKey"), inputs.get("rangeKey")]
    for index in inputs.get("globalSecondaryIndexes") or []:
        names += [schema["attributeName"] for schema in index.get("keySchemas") or []]
        names += [index.get("hashKey"), index.get("rangeKey")]
    for index in inputs.get("localSecondaryIndexes") or []:
        names.append(index.get("rangeKey"))
    return [name for name in names if name]


def table_key_findings(inputs: dict[str, Any]) -> list[str]:
    defined = {attribute["name"]: attribute["type"] for attribute in inputs.get("attributes") or []}
    used = key_attributes(inputs)
    findings = [
        f"attribute {name!r} is defined but used by no key or index (CreateTable rejects it)"
        for name in defined
        if name not in used
    ]
    findings += [
        f"key attribute {name!r} has no attribute definition"
        for name in dict.fromkeys(used)
        if name not in defined
    ]
    findings += [
        f"key attribute {name!r} has type {kind!r}, must be one of {list(aws_limits.DYNAMODB_KEY_TYPES)}"
        for name, kind in defined.items()
        if kind not in aws_limits.DYNAMODB_KEY_TYPES
    ]
    if not inputs.get("hashKey"):
        findings.append("the table has no hash key")
    return findings
