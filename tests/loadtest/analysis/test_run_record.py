"""The run record: one spelling of every setting, a lossless round trip, a series thinned without losing its
totals, the command a person would type again."""

import dataclasses

from infra.settings import from_stack_file
from loadtest.analysis.run_record import BatchDurations, RunRecord, Series, settings_by_key
from loadtest.local.runs.recording import make_command
from tests.loadtest.analysis.records import capacity_record


def test_settings_keep_the_stack_files_spelling():
    settings = settings_by_key(from_stack_file("dev"))

    assert (settings["maxConcurrency"], settings["batchSize"]) == (10, 10)
    assert "max_concurrency" not in settings


def test_a_record_reads_back_as_it_was_written(tmp_path):
    record = capacity_record()

    back = RunRecord.load(record.save(tmp_path / "capacity-dev.json", max_points=None))

    assert back == record
    assert back.capacity.hold.seconds_held == 30.0


def test_the_series_rates_come_from_its_totals_and_thinning_keeps_them():
    series = Series()
    for t in range(10):
        series.append(t_s=float(t), offered_total=100 * t, stored_total=50 * t * t, pollers=5)

    thin = series.thinned(max_points=4)

    assert series.offered_msgs_per_s == [0.0] + [100.0] * 9
    assert (thin.t_s, thin.seconds_per_row) == ([0.0, 3.0, 6.0, 9.0], 3)
    assert thin.stored_total == [0, 450, 1800, 4050]
    assert thin.stored_msgs_per_s == [0.0, 150.0, 450.0, 750.0]
    assert thin.latency_p99_ms == [None] * 4


def test_batch_durations_summary_and_line():
    durations = BatchDurations.of([[10, 50.0], [10, 70.0], [5, 30.0], [5, 30.0]])

    assert dataclasses.astuple(durations) == (4, 7.5, 45.0, 50.0, 70.0, 70.0, 70.0, 0.0, 6.0)


def test_the_command_is_the_make_target_when_make_can_say_it():
    assert (
        make_command("demo", "loadtest.local.runs.demo", ["--stack", "dev", "--mode", "lambda"])
        == "make demo"
    )
    assert (
        make_command(
            "demo", "loadtest.local.runs.demo", ["--stack", "fifo", "--mode=worker", "--run-dir", "x"]
        )
        == "make demo STACK=fifo MODE=worker"
    )
    assert (
        make_command("chaos", "loadtest.local.runs.demo", ["--stack", "dev", "--chaos"], ("--chaos",))
        == "make chaos"
    )
    assert (
        make_command("demo", "loadtest.local.runs.demo", ["--peak-rate", "300"])
        == "python -m loadtest.local.runs.demo --peak-rate 300"
    )
