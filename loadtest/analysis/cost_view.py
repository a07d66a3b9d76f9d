"""The cost model (cost_report.py) fed from committed records: the `make demo` run's measured usage and the
worker run's throughput, each from its own report/data file. The report's "What it costs" section and the
README's cost figures both come from here, so they cannot disagree."""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path
from typing import Any

from loadtest.analysis.cost_inputs import Line, Usage
from loadtest.analysis.report_sections import HEADINGS, not_measured, provenance
from loadtest.analysis.run_record import RunRecord

REFERENCE_EVENTS = 50e6


def usage_of(measured: dict[str, Any]) -> Usage:
    """A `Usage` from its asdict() form in a record (its fitted lines, its item sizes as a tuple)."""
    hints = typing.get_type_hints(Usage)
    values = {}
    for field in dataclasses.fields(Usage):
        if field.name not in measured:
            raise KeyError(f"the record's cost_usage has no {field.name}: regenerate it with make demo")
        value = measured[field.name]
        if hints[field.name] is Line:
            value = Line(**value)
        elif field.name == "item_bytes":
            value = tuple(value)
        values[field.name] = value
    return Usage(**values)


def fleet_measured(worker: RunRecord | None) -> tuple[Usage, str] | None:
    if worker is None or not worker.cost_usage:
        return None
    return usage_of(worker.cost_usage), f"`report/data/{worker.run}.json` (`{worker.command}`, {worker.date})"


def model_run(main: RunRecord) -> dict[str, Any]:
    """What the cost model reads of a run besides its usage: the stack, and the emulator's counts."""
    return {"stack": main.stack, "mode": main.mode, "request_counts": {"operations": main.measured_requests}}


def comparison(main: RunRecord, worker: RunRecord | None, events: float = REFERENCE_EVENTS):
    """The cost model's comparison of the four designs on the committed runs (`cost_report.Comparison`)."""
    from loadtest.analysis.aws_prices import load_prices
    from loadtest.analysis.cost_report import RUNS_DIR, compare

    return compare(
        model_run(main), usage_of(main.cost_usage), load_prices(), RUNS_DIR, events, fleet_measured(worker)
    )


def cost_lines(main: RunRecord | None, worker: RunRecord | None, charts_dir: Path, rel: str) -> list[str]:
    if main is None or not main.cost_usage:
        return not_measured(HEADINGS["cost"], "make demo")
    from loadtest.analysis.cost_report import cost_section

    lines = cost_section(
        model_run(main),
        charts_dir,
        rel=rel,
        usage=usage_of(main.cost_usage),
        fleet_measured=fleet_measured(worker),
    )
    heading, blank, *rest = lines
    return [heading, blank, *provenance(main), *rest]
