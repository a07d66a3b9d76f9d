"""The charts of one run's per-second series (a `RunRecord`): load, queue depth, consumers, latency; and the
one-chart summary another run gets. Every chart is on the same clock, seconds since the load started
(chart_style.py), so a moment can be found on each."""

from __future__ import annotations

from pathlib import Path

from loadtest.analysis import chart_style as style
from loadtest.analysis.chart_style import COLOURS, Chart
from loadtest.analysis.run_record import RunRecord, Series


def _peak(values: list[float | int | None]) -> float:
    return max((v for v in values if v is not None), default=0)


def load_chart(record: RunRecord, charts_dir: Path, name: str = "users_and_send_rate.png") -> Chart:
    """Offered and stored msgs/s (rates) above, Locust's users (a count) below."""
    s = record.series
    figure, (rates, users) = style.panels("Load: what the producer offered and the pipeline stored", 2)
    style.plot_gaps(rates, s.t_s, s.offered_msgs_per_s, color=COLOURS["offered"], label="offered msgs/s")
    style.plot_gaps(rates, s.t_s, s.stored_msgs_per_s, color=COLOURS["stored"], label="stored msgs/s")
    if record.ceiling_msgs_per_s:
        rates.axhline(
            record.ceiling_msgs_per_s, color=COLOURS["reference"], linestyle=":", label="emulator ceiling"
        )
    style.rate_axis(rates)
    style.legend(rates)
    users.step(s.t_s, [u or 0 for u in s.users], where="post", color=COLOURS["users"], label="Locust users")
    style.count_axis(users, "users")
    style.legend(users)
    style.time_axis(users)
    style.save(figure, charts_dir, name)
    return Chart(
        name,
        "Load: offered and stored msgs/s, Locust users",
        f"Offered rises with the users to {_peak(s.offered_msgs_per_s):,.0f} msgs/s at the plateau; stored"
        f" tops out at {_peak(s.stored_msgs_per_s):,.0f} msgs/s, and the gap between them is the backlog"
        " (next chart), drained once the users step down.",
    )


def queue_chart(record: RunRecord, charts_dir: Path, name: str = "queue_depth.png") -> Chart:
    s = record.series
    figure, (depth,) = style.panels("Queue and DLQ depth")
    depth.plot(s.t_s, s.queue_visible, color=COLOURS["backlog"], label="queue visible (backlog)")
    depth.plot(s.t_s, s.queue_in_flight, color=COLOURS["in_flight"], label="queue in flight")
    depth.plot(s.t_s, s.dlq_visible, color=COLOURS["dlq"], label="DLQ visible")
    style.count_axis(depth, "messages")
    style.legend(depth)
    style.time_axis(depth)
    style.save(figure, charts_dir, name)
    peak = _peak(s.queue_visible)
    at = s.t_s[s.queue_visible.index(peak)] if peak else 0
    return Chart(
        name,
        "Queue and DLQ depth",
        f"The backlog peaks at {peak:,.0f} messages at {at:.0f} s and returns to 0; in flight stays near"
        " pollers × batch size; a DLQ above 0 would be messages that failed maxReceiveCount times.",
    )


def pollers_chart(record: RunRecord, charts_dir: Path, name: str = "runner_concurrency.png") -> Chart:
    s = record.series
    figure, (pollers,) = style.panels("Event source mapping concurrency (scale-out and scale-in)")
    pollers.step(s.t_s, s.pollers, where="post", color=COLOURS["pollers"], label="pollers")
    maximum = record.settings.get("maxConcurrency")
    if maximum:
        pollers.axhline(maximum, color=COLOURS["reference"], linestyle=":", label="maxConcurrency")
    style.count_axis(pollers, "concurrent pollers")
    pollers.set_ylim(0, (maximum or _peak(s.pollers)) + 1)
    style.legend(pollers)
    style.time_axis(pollers)
    style.save(figure, charts_dir, name)
    known = [p for p in s.pollers if p is not None]
    first, top, last = (known[0], max(known), known[-1]) if known else (0, 0, 0)
    after = (
        f"back to {last} by the end of the drain"
        if last < top
        else "still there when the series ends with the drain (scale-in comes after it)"
    )
    return Chart(
        name,
        "Event source mapping concurrency",
        f"Pollers start at {first}, reach {top} once a backlog waits (AWS's rule: 5 at once, more while"
        f" messages wait) and are {after}.",
    )


def latency_chart(record: RunRecord, charts_dir: Path, name: str = "latency.png") -> Chart:
    s = record.series
    figure, (latency,) = style.panels("End-to-end latency (sentAt → stored), per second")
    style.plot_gaps(latency, s.t_s, s.latency_p50_ms, color=COLOURS["p50"], label="p50")
    style.plot_gaps(latency, s.t_s, s.latency_p99_ms, color=COLOURS["p99"], label="p99")
    style.rate_axis(latency, "ms")
    style.legend(latency)
    style.time_axis(latency)
    style.save(figure, charts_dir, name)
    return Chart(
        name,
        "End-to-end latency over time",
        f"Latency is the backlog's wait: it climbs while the queue grows (p99 up to"
        f" {_peak(s.latency_p99_ms):,.0f} ms) and falls back to milliseconds once the queue is empty.",
    )


def scaling_chart(record: RunRecord, charts_dir: Path) -> Chart:
    """Another run in one chart: its backlog above, its consumers below (both counts, each its own scale)."""
    s: Series = record.series
    consumers = record.consumers
    name = f"{record.run.removeprefix('demo-')}_scaling.png"
    figure, (backlog, pollers) = style.panels(f"{record.command}: backlog and {consumers}", 2, 1.6)
    backlog.plot(s.t_s, s.queue_visible, color=COLOURS["backlog"], label="queue visible")
    style.count_axis(backlog, "messages")
    style.legend(backlog)
    pollers.step(s.t_s, s.pollers, where="post", color=COLOURS["pollers"], label=consumers)
    style.count_axis(pollers, consumers)
    pollers.set_ylim(0, _peak(s.pollers) + 1)
    style.legend(pollers)
    style.time_axis(pollers)
    style.save(figure, charts_dir, name)
    return Chart(
        name,
        f"{record.run}: backlog and {consumers}",
        scaling_caption(consumers, list(s.pollers), _peak(s.queue_visible)),
    )


def scaling_caption(consumers: str, counts: list[float], backlog_peak: float) -> str:
    """What the scaling chart shows, read from its own series (which starts at the floor): a run that never
    queued says so, and one whose consumers had not stepped back down by its end says that."""
    floor, high, last = counts[0], max(counts), counts[-1]
    if backlog_peak <= 0:
        return f"No backlog formed (the pipeline kept up): {consumers} from {floor:.0f} up to {high:.0f}."
    ending = f"back to {last:.0f} once it drains" if last <= floor else f"still {last:.0f} at the end"
    return (
        f"{consumers.capitalize()} follow the backlog: up to {high:.0f} while up to {backlog_peak:,.0f}"
        f" messages wait, {ending}."
    )


def main_run_charts(record: RunRecord, charts_dir: Path) -> list[Chart]:
    if not len(record.series):
        return []
    return [
        load_chart(record, charts_dir),
        queue_chart(record, charts_dir),
        pollers_chart(record, charts_dir),
        latency_chart(record, charts_dir),
    ]
