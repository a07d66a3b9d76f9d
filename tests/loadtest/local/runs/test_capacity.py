"""The capacity search as logic: the backlog slope, the verdict on a step, and the search's path to the knee
(up by the step factor, at most the ceiling, then bisecting, below the first step too), with the load itself
replaced by a pipeline whose knee is known."""

import argparse

import pytest

from loadtest.local.emulator.ceiling import Ceiling
from loadtest.local.runs import capacity
from loadtest.local.runs.capacity import Step, judge, slope


def test_slope_is_the_least_squares_fit():
    assert slope([(0, 10), (1, 12), (2, 14)]) == pytest.approx(2.0)
    assert slope([(0, 5)]) == 0.0


@pytest.mark.parametrize(
    ("step", "why"),
    [
        (Step(100, offered_msgs_per_s=100, stored_msgs_per_s=96, backlog_slope=4.9, p99_ms=100), ""),
        (
            Step(100, offered_msgs_per_s=100, stored_msgs_per_s=94, p99_ms=100),
            "stored 94 of 100 msgs/s offered",
        ),
        (Step(100, offered_msgs_per_s=100, backlog_slope=6, p99_ms=100), "backlog grows 6 msgs/s"),
        (Step(100, offered_msgs_per_s=100, stored_msgs_per_s=100, p99_ms=2500), "p99 2500 ms > 2000 ms"),
        (
            Step(100, offered_msgs_per_s=80, stored_msgs_per_s=80, p99_ms=10),
            "the producer placed only 80 of 100/s",
        ),
    ],
)
def test_a_step_is_sustainable_unless_the_backlog_grows_p99_passes_or_the_producer_lags(step, why):
    judged = judge(step, p99_bound_ms=2000)
    assert (judged.sustainable, judged.why) == (not why, why)


def search_with_knee(monkeypatch, knee: float) -> tuple[list[Step], list[int]]:
    """The search on a fake pipeline that sustains exactly `knee` msgs/s, against a 1,000 msgs/s ceiling."""
    offered = []

    def fake_step(step, seconds, runner, producer, progress):
        offered.append(step.target_msgs_per_s)
        step.offered_msgs_per_s = step.stored_msgs_per_s = step.target_msgs_per_s
        step.backlog_slope = 0.0 if step.target_msgs_per_s <= knee else 50.0
        return step

    monkeypatch.setattr(capacity, "run_step", fake_step)
    settled_after = []  # how many steps had run each time the queue was drained
    monkeypatch.setattr(capacity, "settle", lambda *_: settled_after.append(len(offered)))
    args = argparse.Namespace(
        start_share=0.4, step_factor=1.15, max_share=1.0, precision=0.05, step_seconds=1, p99_bound_ms=2000
    )

    class Progress:
        phase = ""

    steps = capacity.search(args, runner=None, producer=None, ceiling=1000.0, progress=Progress())
    return steps, settled_after


def test_search_climbs_by_the_factor_then_bisects_to_five_percent(monkeypatch):
    steps, settled_after = search_with_knee(monkeypatch, knee=560.0)

    assert [s.target_msgs_per_s for s in steps] == [400.0, 460.0, 529.0, 608.3, 568.7, 548.8]
    assert [s.sustainable for s in steps] == [True, True, True, False, False, True]
    assert settled_after == [4, 5]  # before each bisecting step: it starts without the last one's backlog


def test_search_goes_below_its_first_step_when_that_one_fails(monkeypatch):
    steps, _ = search_with_knee(monkeypatch, knee=150.0)

    assert [s.target_msgs_per_s for s in steps] == [400.0, 200.0, 100.0, 150.0, 175.0, 162.5, 156.3]
    assert max(s.target_msgs_per_s for s in steps if s.sustainable) == 150.0  # within 5% of the knee


def test_search_stops_at_the_ceiling_which_the_pipeline_cannot_beat(monkeypatch):
    steps, _ = search_with_knee(monkeypatch, knee=5000.0)

    targets = [s.target_msgs_per_s for s in steps]
    assert targets[-1] == 1000.0 and all(target <= 1000.0 for target in targets)
    assert all(s.sustainable for s in steps)


def test_a_hold_that_does_not_stay_bounded_falls_back_to_the_next_sustainable_rate(monkeypatch):
    def fake_step(step, seconds, runner, producer, progress):
        step.offered_msgs_per_s = step.stored_msgs_per_s = step.target_msgs_per_s
        step.backlog_slope = 0.0 if step.target_msgs_per_s <= 470 else 40.0  # the long hold finds the truth
        return step

    class Meter:
        def __init__(self, groups):
            self.groups = groups

        def cores(self):
            return {name: 0.5 for name in self.groups}

    class Runner:
        def pids(self):
            return [1]

    class Progress:
        phase = ""

    monkeypatch.setattr(capacity, "run_step", fake_step)
    monkeypatch.setattr(capacity, "settle", lambda *_: None)
    monkeypatch.setattr(capacity, "CpuMeter", Meter)
    steps = [Step(t, sustainable=ok) for t, ok in ((400, True), (460, True), (529, True), (608, False))]
    args = argparse.Namespace(hold_seconds=1, p99_bound_ms=2000)

    hold, cpu, failed = capacity.hold_the_knee(args, steps, Runner(), None, Progress(), moto_pid=1)

    assert (hold.target_msgs_per_s, hold.sustainable) == (460, True)
    assert [(h.target_msgs_per_s, h.why) for h in failed] == [(529, "backlog grows 40 msgs/s")]
    assert cpu == {"emulator": 0.5, "pollers": 0.5, "producer": 0.5}


def test_a_machine_that_changed_speed_under_the_run_marks_its_figures_noisy():
    # GIVEN the emulator's ceiling rounds before and after the search (make capacity on this shared host:
    # 635, 532, 571 before and 643, 537, 407 after, with other processes at 0.00 cores)
    before = Ceiling(clients=11, seconds=10, rounds_msgs_per_s=(635.0, 532.0, 571.0))
    after = Ceiling(clients=11, seconds=10, rounds_msgs_per_s=(643.0, 537.0, 407.0))
    steady = Ceiling(clients=11, seconds=10, rounds_msgs_per_s=(600.0, 560.0, 590.0))

    # THEN the slowest round against the fastest says whether the machine held its speed (0.8 of the best)
    speed = capacity.machine_speed([before, after])
    assert speed == {"ceiling_rounds_msgs_per_s": [407.0, 643.0], "speed_steady": False}
    assert capacity.speed_phrase(speed) == (
        "the emulator's own ceiling ranged 407–643 msgs/s over the run (0.63 of its best, below 0.8): "
        "the machine's speed changed under it"
    )
    assert capacity.machine_speed([before, steady]) == {
        "ceiling_rounds_msgs_per_s": [532.0, 635.0],
        "speed_steady": True,
    }
