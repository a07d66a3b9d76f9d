"""The scale shape's plateau overshoot: a backlog that builds on the plateau and is gone as the idle stage
begins, in units of the rate the pipeline sustains."""

import pytest

from loadtest.shapes import backlog_gone_at, plateau_overshoot, scale_stages, total_seconds


def test_no_overshoot_builds_no_backlog():
    assert backlog_gone_at(scale_stages(10, 10), 10, overshoot=1.0) is None


def test_the_backlog_of_a_larger_overshoot_lasts_longer():
    stages = scale_stages(10, 10)
    gone = [backlog_gone_at(stages, 10, x) for x in (1.1, 1.3, 1.5)]
    assert gone == sorted(gone)
    assert backlog_gone_at(stages, 10, 2.0) == float("inf")  # still there when the shape ends


@pytest.mark.parametrize("stage_seconds", [5, 10, 15])
def test_the_chosen_overshoot_is_the_largest_whose_backlog_is_gone_as_the_idle_stage_begins(stage_seconds):
    stages = scale_stages(10, stage_seconds)
    idle_begins = total_seconds(stages) - stages[-1].duration_s

    chosen = plateau_overshoot(stages, 10)

    assert chosen == pytest.approx(1.31, abs=0.015)  # the shape, not the stage length, decides it
    assert backlog_gone_at(stages, 10, chosen) <= idle_begins
    assert backlog_gone_at(stages, 10, chosen + 0.01) > idle_begins
