"""One percentile for every figure the runs report: nearest rank over the sorted values (0 for none)."""

from __future__ import annotations


def percentile(values: list[float], share: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]
