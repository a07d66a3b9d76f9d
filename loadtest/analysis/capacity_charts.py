"""The capacity run's two charts, from build/runs/capacity (capacity.json and samples.csv):

- load against capacity: offered and stored msgs/s, the backlog and the pollers on one time axis;
- latency against throughput: p50 / p95 / p99 end-to-end latency of each step against its stored msgs/s.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

from infra.settings import PROJECT_ROOT
from loadtest.analysis.report import read_csv

CHARTS_DIR = PROJECT_ROOT / "report"
TIMELINE = "capacity_timeline.png"
LATENCY = "capacity_latency.png"


def stored_rate(samples: list[dict]) -> list[tuple[float, float]]:
    """(t, stored msgs/s) between consecutive samples."""
    points = []
    for before, after in itertools.pairwise(samples):
        dt = float(after["t_s"]) - float(before["t_s"])
        if dt > 0:
            points.append(
                (float(after["t_s"]), (int(after["stored_total"]) - int(before["stored_total"])) / dt)
            )
    return points


def draw(run_dir: Path, charts_dir: Path = CHARTS_DIR) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    charts_dir.mkdir(parents=True, exist_ok=True)
    summary = json.loads((run_dir / "capacity.json").read_text())
    samples = read_csv(run_dir / "samples.csv")
    steps = [*summary["steps"], summary["hold"]]

    figure, rate_axis = plt.subplots(figsize=(10, 4.5))
    offered = [(s["t_start_s"], s["t_end_s"], s["target_msgs_per_s"]) for s in steps]
    for n, (start, end, rate) in enumerate(offered):
        rate_axis.hlines(
            rate, start, end, colors="tab:blue", linewidth=2, label="offered msgs/s" if n == 0 else None
        )
    stored = stored_rate(samples)
    rate_axis.plot([t for t, _ in stored], [r for _, r in stored], color="tab:green", label="stored msgs/s")
    rate_axis.plot(
        [float(s["t_s"]) for s in samples],
        [int(s["queue_visible"]) for s in samples],
        color="tab:red",
        label="backlog (visible)",
    )
    ceiling = summary["pipeline_mix_ceiling_msgs_per_s"]
    rate_axis.axhline(ceiling, color="grey", linestyle=":", label=f"emulator ceiling {ceiling:.0f}/s")
    rate_axis.set_xlabel("seconds")
    rate_axis.set_ylabel("msgs/s, messages")
    poller_axis = rate_axis.twinx()
    poller_axis.step(
        [float(s["t_s"]) for s in samples],
        [int(s["pollers"]) for s in samples],
        color="tab:purple",
        where="post",
        label="pollers",
    )
    poller_axis.set_ylabel("pollers")
    poller_axis.set_ylim(0, summary["max_concurrency"] + 1)
    handles = rate_axis.get_legend_handles_labels()[0] + poller_axis.get_legend_handles_labels()[0]
    rate_axis.legend(handles=handles, loc="upper left", fontsize="small")
    rate_axis.set_title("Load against capacity: backlog drain, stepped search, hold")
    figure.tight_layout()
    figure.savefig(charts_dir / TIMELINE, dpi=90)
    plt.close(figure)

    figure, axis = plt.subplots(figsize=(7, 4))
    by_rate = sorted(summary["steps"], key=lambda s: s["stored_msgs_per_s"])  # refined steps come last
    throughput = [s["stored_msgs_per_s"] for s in by_rate]
    for key, label in (("p50_ms", "p50"), ("p95_ms", "p95"), ("p99_ms", "p99")):
        axis.plot(throughput, [s[key] for s in by_rate], marker="o", label=label)
    axis.axhline(summary["p99_bound_ms"], color="grey", linestyle=":", label="p99 bound")
    axis.set_xlabel("stored msgs/s (per step)")
    axis.set_ylabel("end-to-end latency, ms")
    axis.set_yscale("log")
    axis.legend(fontsize="small")
    axis.set_title("Latency against throughput")
    figure.tight_layout()
    figure.savefig(charts_dir / LATENCY, dpi=90)
    plt.close(figure)
    return [TIMELINE, LATENCY]
