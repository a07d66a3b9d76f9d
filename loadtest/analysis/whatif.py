"""What the deployed pipeline does at AWS scale: `make whatif` (python -m loadtest.analysis.whatif).

Simulates stacks under load profiles in standard and provisioned mode by AWS's documented rules
(whatif_model.py), prints a table per scenario (peak concurrency, backlog peak, oldest message, e2e p50/p99,
throttles, dead letters, drain time, cost) and the model's calibration against the committed local runs, and
draws one chart per stack and load. Without --stack, --profile, --mode or an override it runs the report's
study (dev and prod; 1k, 10k and 50k msgs/s bursts of 60 s; both modes) and writes report/data/whatif.json
and report/whatif_*.png; with any of them, build/whatif/. Deterministic: the same seed, the same figures.
"""

from __future__ import annotations

import argparse
import datetime
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from cli.command_line import OneLineParser, UsageError, entry_point, whole_number
from infra.settings import PROJECT_ROOT, ConfigError, ProvisionedPollers, from_stack_file, stack_file
from loadtest.analysis import whatif_calibration, whatif_charts, whatif_report
from loadtest.analysis.whatif_load import USAGE, ProfileError, parse_profile
from loadtest.analysis.whatif_scenarios import MODES, Overrides
from loadtest.analysis.whatif_study import DATA_DIR, measured_inputs, run_study

PROG = "make whatif"
REPORT_STACKS = ("dev", "prod")
REPORT_PROFILES = ("burst:1000:60", "burst:10000:60", "burst:50000:60")
REPORT_DIR = PROJECT_ROOT / "report"
CUSTOM_DIR = PROJECT_ROOT / "build" / "whatif"


def stack_name(value: str) -> str:
    """An argparse type: a Pulumi.<stack>.yaml here whose settings validate."""
    path = stack_file(value)
    if not path.is_file():
        stacks = sorted(p.name[len("Pulumi.") : -len(".yaml")] for p in PROJECT_ROOT.glob("Pulumi.*.yaml"))
        raise argparse.ArgumentTypeError(
            f"no stack {value!r}: there is no {path.name}; choose one of {', '.join(stacks)}"
        )
    try:
        from_stack_file(value)
    except ConfigError as error:
        problems = "; ".join(f"{key} = {bad!r}: {rule}" for key, bad, rule in error.problems)
        raise argparse.ArgumentTypeError(f"{path.name} is invalid: {problems}; fix the file") from None
    return value


def profile(value: str):
    try:
        return parse_profile(value)
    except ProfileError as error:
        raise argparse.ArgumentTypeError(f"{error}; give {USAGE}") from None


def pollers(value: str) -> ProvisionedPollers:
    low, _, high = value.partition(":")
    try:
        minimum, maximum = int(low), int(high)
    except ValueError:
        minimum = maximum = -1
    if not (2 <= minimum <= 200 and 2 <= maximum <= 2000 and minimum <= maximum):
        raise argparse.ArgumentTypeError(
            f"{value!r} is not MIN:MAX event pollers; give MIN 2–200 and MAX 2–2000, MIN ≤ MAX (e.g. 2:90)"
        )
    return ProvisionedPollers(minimum, maximum)


def parser() -> OneLineParser:
    p = OneLineParser(prog=PROG, description=__doc__.split("\n\n")[0])
    p.add_argument("--stack", type=stack_name, action="append", help="Pulumi.<stack>.yaml (repeatable)")
    p.add_argument("--profile", type=profile, action="append", help=f"load profile (repeatable): {USAGE}")
    p.add_argument("--mode", choices=MODES, action="append", help="mapping mode (repeatable; default both)")
    p.add_argument(
        "--max-concurrency", type=whole_number(2, 1000), help="standard mode's maximum concurrency"
    )
    p.add_argument("--pollers", type=pollers, help="provisioned mode's MIN:MAX event pollers")
    p.add_argument("--reserved", type=whole_number(0, 100_000), help="the function's reserved concurrency")
    p.add_argument(
        "--account-concurrency", type=whole_number(100, 1_000_000), default=1000, help="the account's quota"
    )
    p.add_argument(
        "--table-warm-wru",
        type=whole_number(1, 10_000_000),
        help="on-demand: the write units a second the table already served (default: a new table's 2,000)",
    )
    p.add_argument("--seed", type=whole_number(0), default=1)
    p.add_argument("--no-calibration", action="store_true", help="skip the check against the local runs")
    p.add_argument(
        "--out",
        type=Path,
        help="where the charts and whatif.json go (default: report/ for the "
        "report's study, build/whatif/ for any other)",
    )
    return p


def overrides(args) -> Overrides:
    return Overrides(
        max_concurrency=args.max_concurrency,
        pollers=args.pollers,
        reserved_concurrency=args.reserved,
        account_concurrency=args.account_concurrency,
        table_warm_wru=args.table_warm_wru,
    )


def is_report_study(args) -> bool:
    return not (
        args.stack or args.profile or args.mode or args.max_concurrency or args.pollers or args.reserved
    ) and (args.account_concurrency == 1000 and args.table_warm_wru is None and args.seed == 1)


def calibrations(data_dir: Path = DATA_DIR) -> list[whatif_calibration.Calibration]:
    return [
        whatif_calibration.calibrate(whatif_calibration.load(path))
        for path in whatif_calibration.committed_runs(data_dir)
    ]


@entry_point(PROG, aws_failures=False)
def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    started = time.monotonic()
    report_study = is_report_study(args)
    out = args.out or (REPORT_DIR if report_study else CUSTOM_DIR)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: is a file; give a directory (created if missing)")
    stacks = args.stack or list(REPORT_STACKS)
    curves = args.profile or [parse_profile(p) for p in REPORT_PROFILES]
    modes = args.mode or list(MODES)
    inputs = measured_inputs()
    print(f"[whatif] measured inputs: {inputs.cost.source}", flush=True)
    results = run_study(stacks, curves, modes, overrides(args), args.seed)
    outcomes = [outcome for _, _, outcome in results]
    print(whatif_report.terminal_table(outcomes), flush=True)
    charts = []
    for stack in stacks:
        for curve in curves:
            runs = [(s.mode, run) for s, run, _ in results if s.stack == stack and s.curve is curve]
            charts.append(whatif_charts.draw(stack, curve.name, runs, out))
    checked = [] if args.no_calibration else calibrations()
    charts += [whatif_charts.draw_calibration(c, out) for c in checked]
    for line in whatif_report.calibration_lines(checked):
        print(f"[whatif] calibration, {line}", flush=True)
    if not checked and not args.no_calibration:
        print(f"[whatif] calibration: no committed run record with a per-second series in {DATA_DIR}")
    command = "make whatif" if report_study else f"{PROG} {' '.join(argv or sys.argv[1:])}"
    payload = whatif_report.data(
        outcomes,
        checked,
        charts,
        command,
        datetime.datetime.now(datetime.UTC).date().isoformat(),
        args.seed,
        inputs.cost.source,
    )
    data_path = (args.out or (DATA_DIR if report_study else CUSTOM_DIR)) / "whatif.json"
    whatif_report.write(data_path, payload)
    print(
        f"[whatif] wrote {data_path} and {len(charts)} charts in {out} ({time.monotonic() - started:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
