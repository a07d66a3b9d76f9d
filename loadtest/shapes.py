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
