"""The what-if model against the local stack: given a committed local run's own measured parameters (its
batches, the emulator's capacity and variation), the model reproduces that run's backlog peak, drain time and
poller-seconds within 15% (loadtest/analysis/whatif_calibration.py), for `make demo` and `make capacity`.

The runs are the committed records in report/data/ (the run records when they keep a per-second series,
else the what-if's recording of an earlier run), so the test runs on a fresh clone."""

from __future__ import annotations

import dataclasses

import pytest

from loadtest.analysis import whatif_calibration
from loadtest.analysis.whatif_study import DATA_DIR

RUNS = whatif_calibration.committed_runs(DATA_DIR)


def test_both_runs_are_committed():
    kinds = sorted(
        path.stem.split("-")[-1] if "whatif" in path.stem else path.stem.split("-")[0] for path in RUNS
    )
    assert kinds == ["capacity", "demo"]


@pytest.mark.parametrize("path", RUNS, ids=lambda p: p.stem)
def test_the_model_reproduces_the_local_run(path):
    calibration = whatif_calibration.calibrate(whatif_calibration.load(path))
    held = [e for e in calibration.errors if e.held]
    assert [e.curve for e in held] == ["backlog peak", "drain time", "poller-seconds"]
    report = "; ".join(f"{e.curve} {e.measured} → {e.model} ({e.error:.1%})" for e in calibration.errors)
    assert calibration.passed, report


def test_the_emulator_capacity_is_measured_from_the_saturated_seconds_only():
    run = whatif_calibration.load(RUNS[0])
    rows = run.saturated()
    full = max(run.pollers)
    assert rows and all(run.pollers[i] == full for i in rows)
    assert all(
        run.queue_visible[i] > whatif_calibration.SATURATED_ROUNDS * full * run.settings.batch_size
        for i in rows
    )
    line = whatif_calibration.fit_emulator_capacity(run)
    assert line.at_zero > 0 and line.per_offered >= 0 and line.points == len(rows)


def test_a_backlog_peak_is_held_over_the_messages_that_built_it():
    run = whatif_calibration.load(RUNS[0])
    t_s = (0.0, 1.0, 2.0, 3.0, 4.0, 5.0)
    built = dataclasses.replace(
        run,
        t_s=t_s,
        offered_msgs_per_s=(0.0, 500.0, 600.0, 600.0, 600.0, 0.0),
        queue_visible=(0.0, 0.0, 100.0, 200.0, 300.0, 0.0),
    )
    # From the last empty second (t = 1) to the peak (t = 4): 600 + 600 + 600 offered.
    assert whatif_calibration.offered_into_peak(built) == 1800.0
    measured = whatif_calibration.measured_curves(built)
    model = dataclasses.replace(measured, backlog_peak=210.0)
    (peak, *_) = whatif_calibration.compare(measured, model)
    assert peak.curve == "backlog peak" and peak.error == 90.0 / 1800.0
    started_with = dataclasses.replace(built, queue_visible=(1000.0, 800.0, 600.0, 400.0, 200.0, 0.0))
    assert whatif_calibration.offered_into_peak(started_with) == 0.0  # its own relative error, as before


def test_one_slow_second_does_not_drag_the_emulator_capacity():
    # GIVEN make capacity's shape (2026-12-05): a 12-second drain storing 750 msgs/s with nothing offered,
    # 8 seconds at the knee (520 offered, 470 stored) and one slow second at a level of its own (227, 218)
    run = whatif_calibration.load(RUNS[0])
    offered = (0.0,) + (0.0,) * 12 + (520.0,) * 8 + (227.0,)
    stored = (0.0,) + (750.0,) * 12 + (470.0,) * 8 + (218.0,)
    rows = len(offered)
    full = max(run.pollers)
    saturated = dataclasses.replace(
        run,
        t_s=tuple(float(t) for t in range(rows)),
        offered_msgs_per_s=offered,
        stored_msgs_per_s=stored,
        queue_visible=(10_000.0,) * rows,
        queue_in_flight=(0.0,) * rows,
        pollers=(full,) * rows,
    )
    # THEN the line still meets the drain: each second one point, the slow one among 21
    line = whatif_calibration.fit_emulator_capacity(saturated)
    assert line.points == 21
    assert line(0.0) == pytest.approx(750.0, rel=0.05)
    assert line(520.0) == pytest.approx(470.0, rel=0.1)


def test_the_drain_is_timed_from_the_measured_backlog_start_for_model_and_run():
    # GIVEN a near-knee plateau whose top flickers: the run peaks late (t = 6), the model early (t = 3)
    run = whatif_calibration.load(RUNS[0])
    t_s = tuple(float(t) for t in range(11))
    measured_run = dataclasses.replace(
        run,
        t_s=t_s,
        offered_msgs_per_s=(0.0, 500.0, 500.0, 500.0, 500.0, 500.0, 500.0, 300.0, 300.0, 300.0, 0.0),
        queue_visible=(0.0, 0.0, 300.0, 500.0, 520.0, 540.0, 560.0, 300.0, 100.0, 0.0, 0.0),
        initial_backlog=0.0,
    )
    measured = whatif_calibration.measured_curves(measured_run)
    model = dataclasses.replace(measured, backlog_peak=600.0, emptied_at=8.0)
    # THEN both are counted from the last empty second before the run's peak (t = 1): 8 s against 7 s,
    # whatever second each one's top stood highest
    drain = next(e for e in whatif_calibration.compare(measured, model) if e.curve == "drain time")
    assert (measured.backlog_start, measured.emptied_at) == (1.0, 9.0)
    assert (drain.measured, drain.model, drain.error) == (8.0, 7.0, 1 / 8)
