"""The cost model's chart (report/cost_vs_volume.png) in the report's style (chart_style.py): monthly cost
against events a month, and below it each design's cost relative to one of them, so designs whose totals lie
within a few percent on a log scale (above 10^8 events the fleet and this design do) stay apart, and the
volume where one becomes cheaper is where its line crosses 1."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from loadtest.analysis import chart_style as style

NAME = "cost_vs_volume.png"
POINTS = 200


def draw(
    curves: dict[str, Callable[[float], float]],
    crossing: float | None,
    charts_dir: Path,
    events: float,
    volume_range: tuple[float, float],
    reference: str,
) -> str:
    """`curves`: design name -> USD a month for a number of events a month; `reference`: the design the lower
    panel divides by; `crossing`: where the fleet becomes cheaper, marked on both panels."""
    low, high = volume_range
    volumes = [low * (high / low) ** (i / POINTS) for i in range(POINTS + 1)]
    months = {name: [month(n) for n in volumes] for name, month in curves.items()}
    figure, (totals, relative) = style.panels("Monthly cost against volume (us-east-1 list prices)", 2, 2.6)
    for name, dollars in months.items():
        totals.plot(volumes, dollars, label=name)
        relative.plot(volumes, [d / r for d, r in zip(dollars, months[reference], strict=True)], label=name)
    totals.set_yscale("log")
    totals.set_ylabel("USD a month (log)")
    relative.set_ylabel(f"÷ {reference}")
    relative.axhline(1.0, color=style.COLOURS["reference"], linewidth=0.8)
    for axis in (totals, relative):
        axis.set_xscale("log")
        axis.axvline(events, color="lightgrey", linestyle=":", label=f"{events / 1e6:,.0f} M events a month")
        if crossing is not None and low <= crossing <= high:
            above = f"fleet cheaper above {crossing / 1e6:,.0f} M"
            axis.axvline(crossing, color="grey", linestyle="--", label=above)
        style.legend(axis)
    relative.set_xlabel("events per month (log)")
    style.save(figure, charts_dir, NAME)
    return NAME
