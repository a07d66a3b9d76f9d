"""The what-if's charts: for one stack and one load, standard against provisioned mode over seconds since
the load started: the rates offered and stored, the concurrency, the backlog, the oldest message's age.
Rates, counts and ages each get their own panel (never one axis for two kinds of figure)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from loadtest.analysis.whatif_model import Run

TIME_LABEL = "seconds since the load started"
STYLES = {"standard": "-", "provisioned": "--"}
COLOURS = {
    "offered": "tab:blue",
    "stored": "tab:green",
    "concurrency": "tab:purple",
    "backlog": "tab:red",
    "age": "tab:brown",
}


def chart_name(stack: str, profile: str) -> str:
    return f"whatif_{stack}_{re.sub(r'[^A-Za-z0-9]+', '-', profile).strip('-')}.png"


def draw(stack: str, profile: str, runs: Sequence[tuple[str, Run]], charts_dir: Path) -> str:
    """One PNG for `runs` (mode, run) of a stack under a load; returns its file name."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator, StrMethodFormatter

    figure, axes = plt.subplots(4, 1, figsize=(9.0, 9.5), sharex=True)
    figure.suptitle(f"{stack} under {profile}: standard against provisioned mode")
    rates, concurrency, backlog, age = axes
    for mode, run in runs:
        t = [s.t_s for s in run.seconds]
        style = STYLES.get(mode, ":")
        if mode == runs[0][0]:
            rates.plot(
                t, [s.offered_msgs_per_s for s in run.seconds], "-", color=COLOURS["offered"], label="offered"
            )
        rates.plot(
            t,
            [s.stored_msgs_per_s for s in run.seconds],
            style,
            color=COLOURS["stored"],
            label=f"stored, {mode}",
        )
        concurrency.plot(
            t,
            [s.running for s in run.seconds],
            style,
            color=COLOURS["concurrency"],
            label=f"{run.pipeline.name}",
        )
        backlog.plot(
            t,
            [s.queue_visible for s in run.seconds],
            style,
            color=COLOURS["backlog"],
            label=f"visible, {mode}",
        )
        age.plot(
            t,
            [s.oldest_age_s for s in run.seconds],
            style,
            color=COLOURS["age"],
            label=f"oldest message, {mode}",
        )
    # The mappings scale in one batch a second once drained (mapping_rules): show the load and the drain.
    ends = [run.drained_at_s or run.seconds[-1].t_s for _, run in runs]
    age.set_xlim(0, max(ends) + 30)
    rates.set_ylabel("msgs/s")
    concurrency.set_ylabel("batches running")
    backlog.set_ylabel("messages")
    age.set_ylabel("seconds")
    age.set_xlabel(TIME_LABEL)
    for axis in (rates, concurrency, backlog, age):
        axis.grid(True, color="0.9")
        axis.set_axisbelow(True)
        axis.set_ylim(bottom=0)
        axis.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
        axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    for axis in (concurrency, backlog):
        axis.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts: no fractional ticks
    charts_dir.mkdir(parents=True, exist_ok=True)
    name = chart_name(stack, profile)
    figure.tight_layout()
    figure.savefig(charts_dir / name, dpi=90, bbox_inches="tight")
    plt.close(figure)
    return name


def draw_calibration(calibration, charts_dir: Path) -> str:
    """The local run against the model on its parameters: backlog and pollers, second by second."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator, StrMethodFormatter

    run, model = calibration.run, calibration.model
    figure, (backlog, pollers) = plt.subplots(2, 1, figsize=(9.0, 5.2), sharex=True)
    figure.suptitle(f"Calibration: {run.name} (measured) against the model on its parameters (seed 1)")
    t_model = [0.0, *(s.t_s for s in model.seconds)]
    backlog.plot(run.t_s, run.queue_visible, "-", color=COLOURS["backlog"], label="visible, measured")
    backlog.plot(
        t_model,
        [run.initial_backlog, *(s.queue_visible for s in model.seconds)],
        "--",
        color="black",
        label="visible, model",
    )
    pollers.step(run.t_s, run.pollers, where="post", color=COLOURS["concurrency"], label="pollers, measured")
    pollers.step(
        t_model,
        [model.pipeline.scaling.floor, *(s.pollers for s in model.seconds)],
        "--",
        where="post",
        color="black",
        label="pollers, model",
    )
    backlog.set_ylabel("messages")
    pollers.set_ylabel("pollers")
    pollers.set_xlabel(TIME_LABEL)
    pollers.set_xlim(0, max(run.t_s[-1], model.drained_at_s or 0) + 5)
    for axis in (backlog, pollers):
        axis.grid(True, color="0.9")
        axis.set_axisbelow(True)
        axis.set_ylim(bottom=0)
        axis.yaxis.set_major_locator(MaxNLocator(integer=True))
        axis.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
        axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small", frameon=False)
    name = f"whatif_calibration_{run.name.removeprefix('whatif-calibration-')}.png"
    figure.tight_layout()
    figure.savefig(charts_dir / name, dpi=90, bbox_inches="tight")
    plt.close(figure)
    return name
