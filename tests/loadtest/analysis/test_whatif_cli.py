"""`make whatif` as a user types it: bad input is one line and exit 2, a study prints its table and writes its
chart and data where it was told, in seconds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from loadtest.analysis import whatif

REPO = Path(__file__).resolve().parents[3]
USAGE = whatif.USAGE


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            ["--profile", "burst:1000"],
            f"argument --profile: 'burst:1000' is not a load profile; give {USAGE}",
        ),
        (
            ["--profile", "burst:-1:60"],
            f"argument --profile: rate '-1' must be a number from 0 to 1e+06; give {USAGE}",
        ),
        (
            ["--stack", "nosuch"],
            "argument --stack: no stack 'nosuch': there is no Pulumi.nosuch.yaml; choose one of ",
        ),
        (
            ["--mode", "turbo"],
            "argument --mode: invalid choice: 'turbo' (choose from 'standard', 'provisioned')",
        ),
        (
            ["--pollers", "1:5"],
            "argument --pollers: '1:5' is not MIN:MAX event pollers; give MIN 2–200 and MAX 2–2000, "
            "MIN ≤ MAX (e.g. 2:90)",
        ),
        (
            ["--max-concurrency", "5000"],
            "argument --max-concurrency: '5000' is not a whole number from 2 to 1000",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, line, capsys):
    assert whatif.main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{whatif.PROG}: {line}")
    assert err.count("\n") == 1


def test_a_study_prints_its_table_and_writes_its_chart_and_data(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "loadtest.analysis.whatif",
            "--stack",
            "prod",
            "--profile",
            "burst:2000:20",
            "--mode",
            "standard",
            "--no-calibration",
            "--out",
            str(tmp_path),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "prod   burst:2000:20  standard (max 50)" in result.stdout
    data = json.loads((tmp_path / "whatif.json").read_text())
    assert [s["profile"] for s in data["scenarios"]] == ["burst:2000:20"]
    assert (tmp_path / data["charts"][0]).stat().st_size > 10_000
