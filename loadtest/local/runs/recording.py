"""What the demo and the capacity search share when they write their `RunRecord`: the record's parts a local
run measures (the emulator's request counts, the table's items, the pollers' logs), the command a person
would type to run it again, and where the record goes: the whole of it in the run directory, the report's
copy in report/data/ (loadtest/analysis/report_data.py).
"""

from __future__ import annotations

import datetime
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from infra.resource_spec import StackSpec
from loadtest.analysis.aws_prices import load_prices
from loadtest.analysis.cost_inputs import consumer_log_bytes, usage_from_run
from loadtest.analysis.run_record import (
    BatchDurations,
    Latency,
    RunRecord,
    Series,
    latency_by_second,
    load_average,
    measured_requests,
)


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


# make's variables for a run's options, and the values make passes when the variable is not set.
MAKE_VARIABLES = {"--stack": ("STACK", "dev"), "--mode": ("MODE", "lambda"), "--run-dir": ("RUN_DIR", None)}


def make_command(target: str, module: str, argv: Sequence[str] | None, flags: Sequence[str] = ()) -> str:
    """How to run it again: `make demo STACK=fifo MODE=worker` when every option given is one a make variable
    sets (or one of `flags`, which the target itself passes: --chaos), else `python -m <module> <argv>`."""
    argv = list(sys.argv[1:] if argv is None else argv)
    words = [f"make {target}"]
    options = [part for word in argv for part in word.split("=", 1)]
    while options:
        option = options.pop(0)
        if option in flags:
            continue
        if option not in MAKE_VARIABLES or not options:
            return " ".join([f"python -m {module}", *argv])
        variable, default = MAKE_VARIABLES[option]
        value = options.pop(0)
        if default is not None and value != default:
            words.append(f"{variable}={value}")
    return " ".join(words)


def fill_latencies(series: Series, items: list[dict], load_started_ms: int) -> Latency:
    """The series' per-second p50/p99 and the whole run's latency, from the stored items' sentAt/storedAt."""
    pairs = [(int(i["storedAt"]), int(i["sentAt"])) for i in items if "sentAt" in i and "storedAt" in i]
    series.latency_p50_ms, series.latency_p99_ms = latency_by_second(pairs, load_started_ms, series.t_s)
    return Latency.of([stored - sent for stored, sent in pairs])


def measured_parts(record: RunRecord, spec: StackSpec, request_counts: dict, log_dir: Path) -> dict[str, Any]:
    """The emulator's counts into the record (per-operation rows, batch durations, the cost model's usage);
    returns the raw inputs the build copy keeps beside it."""
    logs = consumer_log_bytes(log_dir)
    record.measured_requests = measured_requests(request_counts)
    record.batch_durations = BatchDurations.of(request_counts.get("batches", []))
    raw = {"request_counts": request_counts, "consumer_logs": logs}
    try:
        usage = usage_from_run({**record.to_dict(), **raw}, load_prices(), spec)
    except (KeyError, ValueError):  # nothing sent (an aborted run): no usage to price
        record.cost_usage = None
    else:
        import dataclasses

        record.cost_usage = dataclasses.asdict(usage)
    return raw


def finish(record: RunRecord) -> None:
    record.finished_at = now()
    record.machine.load_average_end = load_average()
