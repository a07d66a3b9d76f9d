"""The capacity run's two charts, from its record (report/data/capacity-<stack>.json):

- load against capacity: offered and stored msgs/s with each step's target (rates), the backlog and the
  pollers (counts), three panels on the series' clock;
- latency against throughput: each step's p50 / p95 / p99 against the msgs/s it stored, in order of
  throughput, each point labelled with its step (the refined steps and the hold fall between the others).
"""

from __future__ import annotations

from pathlib import Path

from loadtest.analysis import chart_style as style
from loadtest.analysis.chart_style import COLOURS, Chart
from loadtest.analysis.run_record import RunRecord, Step

TIMELINE = "capacity_timeline.png"
LATENCY = "capacity_latency.png"


def labelled_steps(record: RunRecord) -> list[tuple[str, Step]]:
    """("1", step), ("2", step), …, ("hold", the hold): the labels the report's step table uses."""
    search = record.capacity
    return [*((str(n), step) for n, step in enumerate(search.steps, 1)), ("hold", search.hold)]


def timeline(record: RunRecord, charts_dir: Path) -> Chart:
    s, search = record.series, record.capacity
    figure, (rates, backlog, pollers) = style.panels(
        "Load against capacity: backlog drain, stepped search, hold", 3, 1.9
    )
    for n, (label, step) in enumerate(labelled_steps(record)):
        rates.hlines(
            step.target_msgs_per_s,
            step.t_start_s,
            step.t_end_s,
            colors="black",
            linewidth=1,
            label="each step's target" if n == 0 else None,
        )
        rates.annotate(
            label,
            (step.t_start_s, step.target_msgs_per_s),
            xytext=(0, 3),
            textcoords="offset points",
            fontsize=7,
        )
    style.plot_gaps(rates, s.t_s, s.offered_msgs_per_s, color=COLOURS["offered"], label="offered msgs/s")
    style.plot_gaps(rates, s.t_s, s.stored_msgs_per_s, color=COLOURS["stored"], label="stored msgs/s")
    if record.ceiling_msgs_per_s:
        rates.axhline(
            record.ceiling_msgs_per_s,
            color=COLOURS["reference"],
            linestyle=":",
            label=f"emulator ceiling {record.ceiling_msgs_per_s:.0f}/s",
        )
    style.rate_axis(rates)
    style.legend(rates)
    backlog.plot(s.t_s, s.queue_visible, color=COLOURS["backlog"], label="queue visible (backlog)")
    style.count_axis(backlog, "messages")
    style.legend(backlog)
    pollers.step(s.t_s, s.pollers, where="post", color=COLOURS["pollers"], label="pollers")
    style.count_axis(pollers, "pollers")
    pollers.set_ylim(0, record.settings.get("maxConcurrency", max(s.pollers, default=0)) + 1)
    style.legend(pollers)
    style.time_axis(pollers)
    style.save(figure, charts_dir, TIMELINE)
    return Chart(
        TIMELINE,
        "Load against capacity",
        f"The {search.backlog:,}-message backlog drains first; then each step offers more until stored falls"
        " behind offered and the backlog grows; the hold keeps the highest bounded rate"
        f" ({search.sustained_msgs_per_s:,.0f} msgs/s stored).",
    )


def latency_against_throughput(record: RunRecord, charts_dir: Path) -> Chart:
    search = record.capacity
    by_throughput = sorted(labelled_steps(record), key=lambda pair: pair[1].stored_msgs_per_s)
    stored = [step.stored_msgs_per_s for _, step in by_throughput]
    figure, (axis,) = style.panels("Latency against throughput (each step)", 1, 3.4)
    for key, label in (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99")):
        axis.plot(
            stored,
            [getattr(step, key) for _, step in by_throughput],
            marker="o",
            markersize=4,
            linewidth=0.8,
            color=COLOURS[label],
            label=label,
        )
    for label, step in by_throughput:
        axis.annotate(
            label,
            (step.stored_msgs_per_s, max(step.p99_ms, 1)),
            xytext=(0, 5),
            textcoords="offset points",
            ha="center",
            fontsize=7,
        )
    axis.axhline(search.p99_bound_ms, color=COLOURS["reference"], linestyle=":", label="p99 bound")
    axis.set_yscale("log")
    axis.set_ylabel("end-to-end latency, ms (log)")
    axis.set_xlabel("stored msgs/s during the step (steps in order of throughput, labelled by step)")
    style.legend(axis)
    style.save(figure, charts_dir, LATENCY)
    return Chart(
        LATENCY,
        "Latency against throughput",
        "Latency stays in milliseconds while the pipeline keeps up and jumps by orders of magnitude past the"
        " knee, where a backlog forms: the steps right of the jump are the ones judged not sustainable.",
    )


def draw(record: RunRecord, charts_dir: Path) -> list[Chart]:
    if record.capacity is None or not len(record.series):
        return []
    return [timeline(record, charts_dir), latency_against_throughput(record, charts_dir)]
