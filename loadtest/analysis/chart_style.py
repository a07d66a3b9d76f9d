"""One style for every chart the report draws (matplotlib, Agg), so any two can be read side by side:

- time runs along x as "seconds since the load started", on every chart of a run (`time_axis`);
- rates (msgs/s) and counts (messages, pollers, users) never share an axis: a chart that shows both has a
  panel for each, one above the other on the same time axis (`panels`);
- counts get integer ticks (`count_axis`): there is no such thing as 4.8 pollers;
- every chart with more than one series has a legend, outside the plotted area so it covers no data
  (`legend`), and a title that says what it shows; the report adds one caption line under it saying what to
  look at (`Chart.caption`);
- one colour per quantity on every chart (`COLOURS`).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

TIME_LABEL = "seconds since the load started"
DPI = 90
WIDTH_IN = 9.0
PANEL_HEIGHT_IN = 2.2
COLOURS = {
    "offered": "tab:blue",
    "stored": "tab:green",
    "backlog": "tab:red",
    "in_flight": "tab:orange",
    "dlq": "tab:brown",
    "pollers": "tab:purple",
    "users": "tab:cyan",
    "p50": "tab:blue",
    "p95": "tab:orange",
    "p99": "tab:red",
    "reference": "grey",
}


@dataclasses.dataclass(frozen=True)
class Chart:
    """A drawn chart: its file name under report/, its title and the line the report puts under it."""

    name: str
    title: str
    caption: str

    def markdown(self, rel: str) -> list[str]:
        return [f"![{self.title}]({rel}/{self.name})", f"*{self.caption}*", ""]


def pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def panels(title: str, count: int = 1, height_in: float = PANEL_HEIGHT_IN) -> tuple[Any, list[Any]]:
    """A figure of `count` panels stacked on one shared x axis, titled."""
    plt = pyplot()
    size = (WIDTH_IN, 0.7 + height_in * count)
    figure, grid = plt.subplots(count, 1, figsize=size, sharex=True, squeeze=False)
    axes = [row[0] for row in grid]
    figure.suptitle(title)
    for axis in axes:
        axis.grid(True, color="0.9")
        axis.set_axisbelow(True)
    return figure, axes


def time_axis(axis: Any) -> None:
    axis.set_xlabel(TIME_LABEL)


def count_axis(axis: Any, label: str) -> None:
    """A count (messages, pollers, users): integer ticks, from 0 (call it once the data is plotted)."""
    from matplotlib.ticker import MaxNLocator, StrMethodFormatter

    axis.set_ylabel(label)
    axis.yaxis.set_major_locator(MaxNLocator(integer=True))
    axis.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    axis.set_ylim(0, max(axis.get_ylim()[1], 1))  # an all-zero count still gets a 0 and a 1


def rate_axis(axis: Any, label: str = "msgs/s") -> None:
    from matplotlib.ticker import StrMethodFormatter

    axis.set_ylabel(label)
    axis.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    axis.set_ylim(bottom=0)


def legend(axis: Any, *others: Any) -> None:
    """One legend for `axis` and any twin axes, to the right of the plotted area (it covers no data)."""
    handles, labels = [], []
    for each in (axis, *others):
        h, lab = each.get_legend_handles_labels()
        handles += h
        labels += lab
    if handles:
        axis.legend(
            handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False
        )


def save(figure: Any, charts_dir: Path, name: str) -> None:
    charts_dir.mkdir(parents=True, exist_ok=True)
    figure.tight_layout()
    figure.savefig(charts_dir / name, dpi=DPI, bbox_inches="tight")
    pyplot().close(figure)


def plot_gaps(axis: Any, t: list[float], values: list[float | None], **style: Any) -> None:
    """A line that breaks where a value is missing (no point drawn as 0)."""
    axis.plot(t, [float("nan") if v is None else v for v in values], **style)
