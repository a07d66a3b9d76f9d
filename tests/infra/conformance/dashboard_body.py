"""A dashboard body as AWS's "Dashboard Body Structure and Syntax" defines it. PutDashboard validates the
body only loosely and the console renders a malformed widget as an empty box; the mocks accept any string.

    dashboard_findings(body, region, alarm_arns)   # [] for a body every widget of which renders
    dashboard_metrics(body)                        # [(namespace, name, dimensions, where)] after shorthand

A metric array is `[namespace, name, dimension name, dimension value, ..., {rendering options}]`; a "."
repeats the previous array's value at the same position, and a leading "..." repeats the previous array's
values up to where the ones that follow take over (`["...", "other-queue"]` changes the last value only).
An array holding only an options object with an "expression" is metric math.
"""

from __future__ import annotations

import re
from typing import Any

from infra import aws_limits

BODY_STRUCTURE = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/CloudWatch-Dashboard-Body-Structure.html"
MAX_WIDGETS = 500
GRID_COLUMNS = 24
MAX_HEIGHT = 1_000
BODY_ELEMENTS = {"widgets", "start", "end", "periodOverride", "variables"}
WIDGET_ELEMENTS = {"type", "x", "y", "width", "height", "properties"}
WIDGET_TYPES = {"metric", "text", "log", "alarm", "explorer", "custom"}
METRIC_VIEWS = {"timeSeries", "singleValue", "gauge", "bar", "pie", "table"}
RENDERING_OPTIONS = {
    "accountId",
    "color",
    "expression",
    "id",
    "label",
    "period",
    "region",
    "stat",
    "visible",
    "yAxis",
}
DASHBOARD_PERIODS = (1, 5, 10, 30)  # and any multiple of 60
ALARM_WIDGET_SORTS = {"default", "stateUpdatedTimestamp", "timestamp"}
ALARM_STATES = {"ALARM", "INSUFFICIENT_DATA", "OK"}
REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")


def _is_int(value: Any) -> bool:
    """JSON numbers that are whole (the mocks hand numbers back as floats)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer()


def _period_problem(period: Any) -> str | None:
    if _is_int(period) and (period in DASHBOARD_PERIODS or (period >= 60 and period % 60 == 0)):
        return None
    return f"period {period!r} must be 1, 5, 10, 30 or a multiple of 60"


def expand_metrics(arrays: list, where: str) -> tuple[list[list], list[str]]:
    """The metric arrays with "." and "..." replaced by the values they repeat, and the findings."""
    expanded, findings, previous = [], [], None
    for position, array in enumerate(arrays):
        here = f"{where} metric #{position}"
        if not isinstance(array, list) or not array:
            findings.append(f"{here}: each metric is a non-empty array")
            continue
        options = array[-1] if isinstance(array[-1], dict) else None
        values = array[:-1] if options is not None else list(array)
        if values and values[0] == "...":
            if previous is None:
                findings.append(f"{here}: '...' needs a previous metric to repeat")
                continue
            values = previous[: max(0, len(previous) - (len(values) - 1))] + values[1:]
        for index, value in enumerate(values):
            if value == ".":
                if previous is None or index >= len(previous):
                    findings.append(f"{here}: '.' at position {index} has no value to repeat")
                else:
                    values[index] = previous[index]
        expanded.append(values + ([options] if options is not None else []))
        previous = values
    return expanded, findings


def _metric_findings(array: list, here: str) -> list[str]:
    options = array[-1] if isinstance(array[-1], dict) else {}
    values = array[:-1] if options else array
    findings = [
        f"{here}: rendering option {key!r} is unknown" for key in sorted(set(options) - RENDERING_OPTIONS)
    ]
    if not values:
        if "expression" not in options:
            findings.append(f"{here}: an options-only entry must hold a metric math 'expression'")
        return findings
    if len(values) < 2 or len(values) % 2:
        findings.append(
            f"{here}: needs namespace, metric name, then dimension name/value pairs, got {values}"
        )
    if not all(isinstance(value, str) and value for value in values):
        findings.append(f"{here}: namespace, name and dimensions are non-empty strings, got {values}")
    if "stat" in options and (problem := aws_limits.statistic_problem(options["stat"])):
        findings.append(f"{here}: {problem}")
    if "period" in options and (problem := _period_problem(options["period"])):
        findings.append(f"{here}: {problem}")
    return findings


def _metric_widget_findings(properties: dict, where: str, region: str) -> list[str]:
    findings = []
    if properties.get("region") != region:
        findings.append(f"{where}: region {properties.get('region')!r} must be the stack's region {region!r}")
    if properties.get("view", "timeSeries") not in METRIC_VIEWS:
        findings.append(f"{where}: view {properties['view']!r} must be one of {sorted(METRIC_VIEWS)}")
    if "stat" in properties and (problem := aws_limits.statistic_problem(properties["stat"])):
        findings.append(f"{where}: {problem}")
    if "period" in properties and (problem := _period_problem(properties["period"])):
        findings.append(f"{where}: {problem}")
    metrics = properties.get("metrics")
    if not isinstance(metrics, list) or not metrics:
        return [*findings, f"{where}: a metric widget needs a non-empty 'metrics' array"]
    expanded, shorthand_findings = expand_metrics(metrics, where)
    findings += shorthand_findings
    for position, array in enumerate(expanded):
        findings += _metric_findings(array, f"{where} metric #{position}")
    return findings


def _alarm_widget_findings(properties: dict, where: str, alarm_arns: set[str]) -> list[str]:
    alarms = properties.get("alarms")
    if not isinstance(alarms, list) or not alarms:
        return [f"{where}: an alarm widget needs a non-empty 'alarms' array of alarm ARNs"]
    findings = [
        f"{where}: {arn!r} is not an alarm ARN arn:aws:cloudwatch:<region>:<account>:alarm:<name>"
        for arn in alarms
        if not re.fullmatch(r"arn:aws[a-z-]*:cloudwatch:[a-z0-9-]+:\d{12}:alarm:.+", str(arn))
    ]
    findings += [f"{where}: {arn!r} is no alarm of this stack" for arn in alarms if arn not in alarm_arns]
    if properties.get("sortBy", "default") not in ALARM_WIDGET_SORTS:
        findings.append(f"{where}: sortBy must be one of {sorted(ALARM_WIDGET_SORTS)}")
    if not set(properties.get("states", [])) <= ALARM_STATES:
        findings.append(f"{where}: states must be among {sorted(ALARM_STATES)}")
    return findings


def _layout_findings(widget: dict, where: str) -> list[str]:
    x, y = widget.get("x", 0), widget.get("y", 0)
    width, height = widget.get("width", 6), widget.get("height", 6)
    findings = []
    if not (_is_int(x) and 0 <= x < GRID_COLUMNS):
        findings.append(f"{where}: x {x!r} must be 0–{GRID_COLUMNS - 1}")
    if not (_is_int(y) and y >= 0):
        findings.append(f"{where}: y {y!r} must be an integer ≥ 0")
    if not (_is_int(width) and 1 <= width <= GRID_COLUMNS):
        findings.append(f"{where}: width {width!r} must be 1–{GRID_COLUMNS}")
    elif _is_int(x) and x + width > GRID_COLUMNS:
        findings.append(f"{where}: x + width = {x + width} overflows the {GRID_COLUMNS}-column grid")
    if not (_is_int(height) and 1 <= height <= MAX_HEIGHT):
        findings.append(f"{where}: height {height!r} must be 1–{MAX_HEIGHT}")
    return findings


def dashboard_findings(body: Any, region: str, alarm_arns: set[str]) -> list[str]:
    if not isinstance(body, dict) or not isinstance(body.get("widgets"), list):
        return [f"the body is an object with a 'widgets' array ({BODY_STRUCTURE})"]
    findings = [f"body element {key!r} is unknown" for key in sorted(set(body) - BODY_ELEMENTS)]
    if len(body["widgets"]) > MAX_WIDGETS:
        findings.append(f"{len(body['widgets'])} widgets, at most {MAX_WIDGETS}")
    for position, widget in enumerate(body["widgets"]):
        where = f"widget #{position}"
        if not isinstance(widget, dict):
            findings.append(f"{where}: a widget is an object")
            continue
        where = f"widget #{position} ({widget.get('type')})"
        findings += [f"{where}: element {key!r} is unknown" for key in sorted(set(widget) - WIDGET_ELEMENTS)]
        findings += _layout_findings(widget, where)
        properties = widget.get("properties")
        if widget.get("type") not in WIDGET_TYPES:
            findings.append(f"{where}: type must be one of {sorted(WIDGET_TYPES)}")
        elif not isinstance(properties, dict):
            findings.append(f"{where}: 'properties' is a required object")
        elif widget["type"] == "metric":
            findings += _metric_widget_findings(properties, where, region)
        elif widget["type"] == "alarm":
            findings += _alarm_widget_findings(properties, where, alarm_arns)
        elif widget["type"] == "text" and not isinstance(properties.get("markdown"), str):
            findings.append(f"{where}: a text widget needs 'markdown'")
    return findings


def dashboard_metrics(body: dict) -> list[tuple[str, str, dict[str, str], str]]:
    """(namespace, name, dimensions, where) of every metric of every metric widget, shorthand expanded."""
    metrics = []
    for position, widget in enumerate(body.get("widgets", [])):
        if widget.get("type") != "metric":
            continue
        where = f"widget #{position} {widget['properties'].get('title', '')!r}"
        expanded, _ = expand_metrics(widget["properties"].get("metrics", []), where)
        for array in expanded:
            values = [value for value in array if not isinstance(value, dict)]
            if len(values) >= 2:
                dimensions = dict(zip(values[2::2], values[3::2], strict=False))
                metrics.append((values[0], values[1], dimensions, where))
    return metrics
