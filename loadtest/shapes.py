"""Load shapes as data: `scale` steps users up, holds, steps down and idles; `constant` holds -u users.

Pure functions, no Locust import (importing locust monkey-patches the process with gevent): the locustfile
plays them, and the local pipeline reads how long a run lasts before starting it.
"""

from __future__ import annotations

import dataclasses

SCALE_OUT_STEPS = (0.25, 0.5, 0.75, 1.0)  # shares of the peak, one stage each


@dataclasses.dataclass(frozen=True)
class Stage:
    duration_s: float
    users: int
    spawn_rate: float


def scale_stages(peak_users: int, stage_seconds: float) -> list[Stage]:
    """Scale out in four steps, plateau for two stages, scale in through the same steps, idle tail at 0."""
    steps = [max(1, round(peak_users * share)) for share in SCALE_OUT_STEPS]
    rate = float(max(1, peak_users))
    return [
        *(Stage(stage_seconds, users, rate) for users in steps),
        Stage(2 * stage_seconds, peak_users, rate),
        *(Stage(stage_seconds, users, rate) for users in reversed(steps[:-1])),
        Stage(stage_seconds, 0, rate),
    ]


def total_seconds(stages: list[Stage]) -> float:
    return sum(stage.duration_s for stage in stages)


def users_at(stages: list[Stage], elapsed_s: float) -> tuple[int, float] | None:
    """(users, spawn rate) for the stage running at `elapsed_s`, or None once the last stage is over."""
    end = 0.0
    for stage in stages:
        end += stage.duration_s
        if elapsed_s < end:
            return stage.users, stage.spawn_rate
    return None


def backlog_gone_at(
    stages: list[Stage], peak_users: int, overshoot: float, step_s: float = 0.1
) -> float | None:
    """When the backlog the shape builds is gone (seconds since the load started), for a plateau offering
    `overshoot` × the rate the pipeline sustains, each stage offering its share of the plateau's users; None
    if it never builds one. A model in units of the sustained rate: the pipeline stores min(offered + backlog,
    1) a second, which holds once its consumers have scaled out (seconds, against stages of tens)."""
    backlog, t, built = 0.0, 0.0, False
    for stage in stages:
        offered = overshoot * stage.users / max(1, peak_users)
        for _ in range(round(stage.duration_s / step_s)):
            backlog = max(0.0, backlog + (offered - 1.0) * step_s)
            t += step_s
            if backlog > 0:
                built = True
            elif built:
                return t
    return float("inf") if built else None  # still waiting at the end of the shape, or never built


def plateau_overshoot(
    stages: list[Stage], peak_users: int, idle_margin: float = 0.0, low: float = 1.05, high: float = 2.0
) -> float:
    """The largest plateau ÷ sustained rate (in steps of 0.01, from `low` to `high`) whose backlog is gone
    before `idle_margin` of the idle stage has passed (by default when it starts): the backlog builds on the
    plateau and drains on the way down, and the idle tail shows the consumers stepping back in."""
    deadline = total_seconds(stages) - (1 - idle_margin) * stages[-1].duration_s
    best = low
    for hundredths in range(round(low * 100), round(high * 100) + 1):
        gone = backlog_gone_at(stages, peak_users, hundredths / 100)
        if gone is not None and gone <= deadline:
            best = hundredths / 100
    return best
