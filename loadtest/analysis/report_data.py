"""The report's inputs, committed: one small file per run in report/data/, written by the run that measured
it.

REPORT.md is rendered from these files alone (loadtest/analysis/report.py), so a fresh clone regenerates
the same report, and a run replaces only its own file: `make demo` its `demo-dev-lambda.json`, `make
capacity` its `capacity-dev.json`, … and every other section stays as it was, with its own date.

    demo-<stack>-<mode>.json   a demo run's `RunRecord` (mode lambda, worker or chaos)
    capacity-<stack>.json      the capacity search's `RunRecord` (its `capacity` part filled)
    aws-<stack>.json           a deployed stack's run, from CloudWatch (`report --source cloudwatch`)
    drills.json                {"drills": {name: the drill's figures, with its command and date}}
    bench.json                 {"benchmarks": {name: figures, with the command and date}}

A `RunRecord` file's format is run_record.py's docstring.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

from infra.settings import PROJECT_ROOT
from loadtest.analysis.run_record import RunRecord, compact_json

DATA_DIR = PROJECT_ROOT / "report" / "data"
MAIN_RUN = "demo-dev-lambda"  # `make demo`: the report's Result, Producer and Charts
CAPACITY_RUN = "capacity-dev"  # `make capacity`: the report's Capacity section


def save(record: RunRecord, data_dir: Path = DATA_DIR) -> Path:
    return record.save(data_dir / f"{record.run}.json")


def load(run: str, data_dir: Path = DATA_DIR) -> RunRecord | None:
    path = data_dir / f"{run}.json"
    return RunRecord.load(path) if path.exists() else None


def runs(prefix: str, data_dir: Path = DATA_DIR) -> list[RunRecord]:
    """Every record whose run name starts with `prefix` ("demo-", "aws-"), by name."""
    return [RunRecord.load(path) for path in sorted(data_dir.glob(f"{prefix}*.json"))]


def read_json(name: str, data_dir: Path = DATA_DIR) -> dict[str, Any]:
    path = data_dir / name
    return json.loads(path.read_text()) if path.exists() else {}


def _write_json(name: str, data: dict[str, Any], data_dir: Path) -> Path:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / name
    path.write_text(compact_json(data) + "\n")
    return path


def today() -> str:
    return datetime.datetime.now(datetime.UTC).date().isoformat()


def record_drills(records: list[dict[str, Any]], command: str, data_dir: Path = DATA_DIR) -> Path:
    """The drills just run replace their own rows of drills.json; the others keep theirs (and their date)."""
    data = read_json("drills.json", data_dir) or {"drills": {}}
    for record in records:
        data["drills"][record["name"]] = {**record, "command": command, "date": today()}
    return _write_json("drills.json", data, data_dir)


def record_bench(results: dict[str, Any], command: str = "make bench", data_dir: Path = DATA_DIR) -> Path:
    """The benchmarks just run replace their own rows of bench.json."""
    data = read_json("bench.json", data_dir) or {"benchmarks": {}}
    for name, figures in results.items():
        data["benchmarks"][name] = {**figures, "command": command, "date": today()}
    return _write_json("bench.json", data, data_dir)
