"""AWS's scaling rules for an SQS event source mapping, as functions with exact values: standard mode (5 at
once, +300 a minute, maxConcurrency), provisioned mode (minimum pollers polling, 10 invokes each at once,
+1,000 a minute), the back-off on throttles and whole-batch failures, and scale-in to the floor."""

import pytest

from infra.settings import from_stack_file
from loadtest.analysis.mapping_rules import (
    MappingScaling,
    ScalingState,
    next_concurrency,
    seconds_to_scale_in,
)

STANDARD = MappingScaling.standard(max_concurrency=50)
PROVISIONED = MappingScaling.provisioned(minimum_pollers=2, maximum_pollers=10)


def run(
    rule: MappingScaling, visible: list[int], start: int, pushed_back: set[int] = frozenset()
) -> list[int]:
    """Concurrency second by second for a sequence of visible-message counts."""
    state, current, timeline = ScalingState(), start, []
    for second, waiting in enumerate(visible):
        current = next_concurrency(rule, state, current, waiting, 10, float(second), second in pushed_back)
        timeline.append(current)
    return timeline


def test_the_stacks_declare_their_mode():
    assert MappingScaling.for_stack(from_stack_file("dev")) == MappingScaling("standard", 5, 5, 10, 300)
    assert MappingScaling.for_stack(from_stack_file("provisioned")) == MappingScaling(
        "provisioned", 2, 20, 100, 1000
    )


def test_standard_mode_starts_at_five_and_adds_three_hundred_a_minute():
    assert run(STANDARD, [10_000] * 12, start=5) == [10, 15, 20, 25, 30, 35, 40, 45, 50, 50, 50, 50]


def test_provisioned_mode_drives_its_pollers_invokes_at_once_then_adds_a_thousand_a_minute():
    # Idle: the two minimum pollers poll; a backlog: their 20 invokes at once, then 16⅔ a second to 100.
    assert run(PROVISIONED, [0] + [10_000] * 6, start=2) == [2, 20, 36, 53, 70, 86, 100]
    wide = MappingScaling.provisioned(minimum_pollers=2, maximum_pollers=2000)
    assert run(wide, [10**7] * 61, start=2)[-1] == 20 + 1000  # exactly 1,000 more in a minute


def test_a_second_with_throttles_steps_down_one_and_adds_none():
    assert run(STANDARD, [10_000] * 6, start=20, pushed_back={1, 2, 3}) == [25, 24, 23, 22, 27, 32]


def test_back_off_stops_at_the_floor():
    assert run(STANDARD, [10_000] * 4, start=6, pushed_back={0, 1, 2, 3}) == [5, 5, 5, 5]


def test_scale_in_after_three_quiet_seconds_one_a_second_to_the_floor():
    assert run(STANDARD, [0] * 12, start=10) == [10, 10, 10, 9, 8, 7, 6, 5, 5, 5, 5, 5]
    assert seconds_to_scale_in(STANDARD, peak=10) == 8


@pytest.mark.parametrize(
    ("rule", "limit", "expected"),
    [
        (PROVISIONED, 20, MappingScaling("provisioned", 2, 20, 20, 1000)),
        (MappingScaling.standard(3), 20, MappingScaling("standard", 3, 3, 3, 300)),
    ],
)
def test_a_local_pool_caps_the_rule_without_changing_its_pace(rule, limit, expected):
    assert rule.capped(limit) == expected
