"""Every chart the report draws keeps the one style (chart_style.py): a legend on every axis with more than
one series, integer ticks on every count axis, one time axis ("seconds since the load started") across a
run's charts, and rates never on a count's axis."""

import pytest

from loadtest.analysis import capacity_charts, chart_style, report
from loadtest.analysis.chart_style import TIME_LABEL
from loadtest.analysis.run_charts import scaling_caption
from tests.loadtest.analysis.records import capacity_record, write_all

COUNT_LABELS = {"messages", "pollers", "workers", "users", "concurrent pollers"}
TIME_CHARTS = {
    "users_and_send_rate.png",
    "queue_depth.png",
    "runner_concurrency.png",
    "latency.png",
    "capacity_timeline.png",
    "dev-worker_scaling.png",
    "fifo-lambda_scaling.png",
}


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    """Every chart of a report over synthetic data of every section, as matplotlib drew it."""
    drawn = {}
    save = chart_style.save

    def keep(figure, charts_dir, name):
        drawn[name] = figure
        figure.canvas.draw()  # ticks and legends as they are saved
        save(figure, charts_dir, name)

    tmp = tmp_path_factory.mktemp("report")
    write_all(tmp / "data")
    chart_style.save = keep
    try:
        report.render(tmp / "data", tmp / "report", tmp / "REPORT.md")
    finally:
        chart_style.save = save
    return drawn


def series_labels(axis) -> list[str]:
    return [
        artist.get_label()
        for artist in [*axis.lines, *axis.collections]
        if not artist.get_label().startswith("_")
    ]


def test_every_chart_of_the_report_is_drawn(figures):
    assert sorted(figures) == sorted({*TIME_CHARTS, "capacity_latency.png", "cost_vs_volume.png"})


def test_every_axis_with_more_than_one_series_has_a_legend(figures):
    missing = [
        (name, axis.get_ylabel())
        for name, figure in figures.items()
        for axis in figure.axes
        if len(series_labels(axis)) > 1 and axis.get_legend() is None
    ]
    assert missing == []


def test_count_axes_have_integer_ticks_from_zero(figures):
    counts = [
        (name, axis)
        for name, figure in figures.items()
        for axis in figure.axes
        if axis.get_ylabel() in COUNT_LABELS
    ]
    assert len(counts) >= 8
    for name, axis in counts:
        ticks = [t for t in axis.get_yticks() if axis.get_ylim()[0] <= t <= axis.get_ylim()[1]]
        assert all(float(t).is_integer() for t in ticks), (name, axis.get_ylabel(), ticks)
        assert axis.get_ylim()[0] == 0, (name, axis.get_ylabel())


def test_every_chart_of_a_run_has_one_time_axis(figures):
    for name in TIME_CHARTS:
        labels = [axis.get_xlabel() for axis in figures[name].axes if axis.get_xlabel()]
        assert labels == [TIME_LABEL], name


def test_rates_and_counts_never_share_an_axis(figures):
    for name, figure in figures.items():
        for axis in figure.axes:
            if axis.get_ylabel() in COUNT_LABELS:
                assert not any("/s" in label for label in series_labels(axis)), (name, series_labels(axis))


def test_latency_against_throughput_runs_in_order_of_throughput_with_each_step_labelled(figures):
    (axis,) = figures["capacity_latency.png"].axes

    throughput = list(axis.lines[0].get_xdata())
    assert throughput == sorted(throughput) == [290.0, 296.0, 320.0, 320.0]
    assert [text.get_text() for text in axis.texts] == ["2", "1", "3", "hold"]


def test_a_record_without_series_draws_no_chart(tmp_path):
    record = capacity_record()
    record.series = type(record.series)()

    assert capacity_charts.draw(record, tmp_path) == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("counts", "backlog_peak", "caption"),
    [
        (
            [1, 3, 5, 2, 1],
            350,
            "Workers follow the backlog: up to 5 while up to 350 messages wait, back to 1 once it drains.",
        ),
        (
            [5, 10, 10, 7],
            2_800,
            "Workers follow the backlog: up to 10 while up to 2,800 messages wait, still 7 at the end.",
        ),
        ([5, 5, 5], 0, "No backlog formed (the pipeline kept up): workers from 5 up to 5."),
    ],
)
def test_ascaling_caption_says_what_its_series_did(counts, backlog_peak, caption):
    assert scaling_caption("workers", counts, backlog_peak) == caption
