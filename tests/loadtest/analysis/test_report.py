"""REPORT.md from report/data alone: exact figures, each section under its run's name and date, charts with
captions, no section lost when its data is missing, and a run that replaces only its own sections."""

import json
import re

from infra.settings import PROJECT_ROOT
from loadtest.analysis import report, report_data
from loadtest.analysis.report_sections import HEADINGS, drills_section
from loadtest.analysis.scaling_model import LambdaModel, SeedEc2Model, human
from tests.loadtest.analysis import records
from tests.loadtest.analysis.records import capacity_record, demo_record, drills, write_all

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def render(tmp_path):
    return report.render(tmp_path / "data", tmp_path / "report", tmp_path / "REPORT.md")


def sections_of(text: str) -> dict[str, str]:
    """Each `## ` section's text, by heading."""
    parts = re.split(r"^(## .*)$", text, flags=re.MULTILINE)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts), 2)}


def test_the_main_run_figures_charts_and_where_they_come_from(tmp_path):
    report_data.save(demo_record(), tmp_path / "data")

    text = render(tmp_path)

    result = sections_of(text)[HEADINGS["result"]]
    assert (
        "*From `make demo` on 2026-12-01 (2 cores, Python 3.12.1, Linux, load average 1.5 at the start,"
        " 2.5 at the end); data: [`report/data/demo-dev-lambda.json`](report/data/demo-dev-lambda.json).*"
        in result
    )
    ledger = "**`lost=0 pending=0 duplicated=0 in_dlq=0 stored=8000 accepted=8000`**"
    assert f"{ledger} — no message lost, pending or stored twice." in result
    assert (
        "| plateau offered (msgs/s) and where it comes from | 300 (1.3 × the sustained rate 231 msgs/s"
        in result
    )
    assert "| stored throughput / emulator ceiling | 0.5 |" in result
    assert "| largest backlog (messages) | 2,000 |" in result
    assert "| end-to-end latency p50 / p95 / p99 (ms) | 510 / 950 / 990 |" in result
    assert "| pollers: floor → max (maxConcurrency 10) | 5 → 10 |" in result
    assert "| SendMessageBatch | 800 | 0 | 13.3 | 30 | 60 | 80 |" in text
    charts = sorted(p.name for p in (tmp_path / "report").glob("*.png"))
    assert charts == [
        "cost_vs_volume.png",
        "latency.png",
        "queue_depth.png",
        "runner_concurrency.png",
        "users_and_send_rate.png",
    ]
    for name in charts:
        assert (tmp_path / "report" / name).read_bytes()[:8] == PNG_MAGIC
    # Each chart has its caption line right under it.
    lines = text.splitlines()
    for n, line in enumerate(lines):
        if line.startswith("![") and "cost_vs_volume" not in line:
            assert lines[n + 1].startswith("*") and lines[n + 1].endswith("*"), line
    assert "*The backlog peaks at 2,000 messages at 40 s and returns to 0;" in text


def test_no_section_disappears_when_its_data_is_missing(tmp_path):
    text = render(tmp_path)  # an empty data directory

    assert list(sections_of(text)) == list(HEADINGS.values())
    assert text.count("*Not measured yet: `make demo` measures it.*") == 6
    assert "*Not measured yet: `make capacity` measures it.*" in text
    assert "*Not measured yet: `make drills` measures it.*" in text


def test_every_section_of_the_committed_report_has_its_data():
    data = report_data.DATA_DIR
    for name in (f"{report_data.MAIN_RUN}.json", f"{report_data.CAPACITY_RUN}.json", "demo-dev-worker.json",
                 "demo-fifo-lambda.json", "demo-dev-chaos.json", "drills.json", "bench.json"):  # fmt: skip
        assert (data / name).exists(), name
    committed = (PROJECT_ROOT / "REPORT.md").read_text()
    assert list(sections_of(committed))[: len(HEADINGS)] == list(HEADINGS.values())
    assert "Not measured yet" not in committed


def test_the_committed_report_is_what_its_data_renders(tmp_path):
    text = report.render(report_data.DATA_DIR, tmp_path / "report", tmp_path / "REPORT.md")

    assert text == (PROJECT_ROOT / "REPORT.md").read_text(), (
        "regenerate it: python -m loadtest.analysis.report"
    )


def test_a_run_replaces_its_own_sections_and_leaves_the_others(tmp_path):
    write_all(tmp_path / "data")
    before = sections_of(render(tmp_path))
    others = {p.name: p.read_bytes() for p in (tmp_path / "data").iterdir() if p.name != "capacity-dev.json"}

    again = capacity_record()
    again.finished_at = "2026-12-03T09:00:00+00:00"
    again.capacity.sustained_msgs_per_s = 333.0
    report_data.save(again, tmp_path / "data")
    after = sections_of(render(tmp_path))

    assert {
        p.name: p.read_bytes() for p in (tmp_path / "data").iterdir() if p.name != "capacity-dev.json"
    } == others
    changed = [heading for heading in before if before[heading] != after[heading]]
    assert changed == [HEADINGS["capacity"]]
    assert "*From `make capacity` on 2026-12-03 " in after[HEADINGS["capacity"]]
    assert "| maximum sustained stored msgs/s (held 30 s) | 333 | |" in after[HEADINGS["capacity"]]


def test_capacity_section_reports_the_knee_the_goals_and_the_cpu(tmp_path):
    report_data.save(capacity_record(), tmp_path / "data")

    text = sections_of(render(tmp_path))[HEADINGS["capacity"]]

    assert "| sustained / ceiling | **0.80** | ≥ 0.75 |" in text
    assert "| queue bounded during the hold | yes | yes |" in text
    assert "| backlog drain rate / sustained rate | **1.04** | ≥ 0.8 |" in text
    assert (
        "| 2 | 344 | 290 | 0 → 20 | 40 | 5.5 / 6 | 900 / 1800 / 2100 | no: backlog grows 40 msgs/s |" in text
    )
    assert "| hold | 321 | 320 | 0 → 20 | 1 | 5.5 / 6 | 60 / 120 / 300 | yes |" in text
    assert "emulator 0.9, pollers 0.6, producer 0.2. The emulator is the largest consumer" in text
    assert "![Load against capacity](report/capacity_timeline.png)" in text
    assert "![Latency against throughput](report/capacity_latency.png)" in text


def test_the_report_never_prints_a_sustained_rate_above_its_ceiling(tmp_path):
    # GIVEN a run whose hold stored more than every ceiling it measured (the search's share says 1.10)
    record = capacity_record()
    capacity = record.capacity
    capacity.sustained_share_of_ceiling = 1.10
    capacity.ceiling_before = {
        "msgs_per_s": 290.0,
        "clients": 11,
        "seconds_per_round": 10,
        "rounds_msgs_per_s": [280.0, 290.0, 285.0],
        "median_msgs_per_s": 285.0,
        "min_msgs_per_s": 280.0,
        "max_msgs_per_s": 290.0,
    }
    capacity.ceiling_note = "the hold stored 320 msgs/s, above every ceiling measured (290, 291, 288)"
    capacity.noise = {"load_average": [3.1, 2.2], "other_processes_cores": 1.2, "cores": 2, "noisy": True}
    report_data.save(record, tmp_path / "data")

    text = sections_of(render(tmp_path))[HEADINGS["capacity"]]

    # THEN no share above 1 is printed: at most 1.00, with the run's reason, and the noise is marked
    shares = [float(x) for x in re.findall(r"\| sustained / ceiling \| \*\*(\d+\.\d+)", text)]
    assert shares == [1.0]
    assert "(at most: the hold stored 320 msgs/s, above every ceiling measured (290, 291, 288))" in text
    assert "before the search 290 (best of 3 rounds of 10 s: 280–290, 11 clients)" in text
    assert "**noisy**: other processes kept 1.2 of 2 cores busy" in text


def test_a_machine_that_slowed_under_the_run_is_marked_noisy_with_its_ceiling_rounds(tmp_path):
    # GIVEN a quiet run (no other process busy) whose emulator ceiling rounds ranged 407–643 msgs/s
    record = capacity_record()
    record.capacity.noise = {
        "load_average": [2.93, 2.62],
        "other_processes_cores": 0.0,
        "cores": 2,
        "others_busy": False,
        "ceiling_rounds_msgs_per_s": [407.0, 643.0],
        "speed_steady": False,
        "noisy": True,
    }
    report_data.save(record, tmp_path / "data")

    text = sections_of(render(tmp_path))[HEADINGS["capacity"]]

    # THEN the section says the other processes were quiet and the machine's speed was not
    assert (
        "The machine during the search and the hold: quiet: other processes kept 0.00 of 2 cores busy"
        " (load average 2.9 → 2.6). Its speed: the emulator's ceiling rounds ranged 407–643 msgs/s (0.63 of"
        " the best), so **noisy**: the shared host slowed the machine with no process here to show for it,"
        " and the share of the ceiling is uncertain by as much." in text
    )


def test_other_runs_get_a_row_with_their_date_and_a_chart(tmp_path):
    write_all(tmp_path / "data")

    text = sections_of(render(tmp_path))[HEADINGS["other_runs"]]

    figures = "lost=0 pending=0 duplicated=0 stored=8000 | 133.3 / 200.0 | 510 / 950 / 990 | 10"
    assert f"| `make demo MODE=worker` | 2026-12-01 | {figures} workers | — |" in text
    assert f"| `make demo STACK=fifo` | 2026-12-01 | {figures} pollers | 0 |" in text
    for name in ("dev-worker_scaling.png", "fifo-lambda_scaling.png"):
        assert f"(report/{name})" in text
        assert (tmp_path / "report" / name).read_bytes()[:8] == PNG_MAGIC
    assert "dev-chaos_scaling.png" not in text  # the chaos run has its own section


def test_standard_and_provisioned_mode_stand_side_by_side(tmp_path):
    # GIVEN make demo's run and a provisioned stack's on the same shape
    write_all(tmp_path / "data")
    provisioned = demo_record(
        "demo-provisioned-lambda",
        "make demo STACK=provisioned",
        settings=records.SETTINGS | {"maxConcurrency": None, "provisionedPollers": [2, 10]},
    )
    report_data.save(provisioned, tmp_path / "data")

    text = sections_of(render(tmp_path))[HEADINGS["other_runs"]]

    # THEN one table compares them: when each reached its most pollers, the backlog, p99 and the pollers' bill
    rows = [line for line in text.splitlines() if "| standard, " in line or "| provisioned, " in line]
    assert rows == [
        "| `make demo` | standard, maxConcurrency 10 | 300 | 5 → 10 | 22 | 2,000 | 990 | none (standard"
        " pollers are not billed) |",
        "| `make demo STACK=provisioned` | provisioned, 2–10 pollers (up to 100 concurrent batches; one"
        " machine runs 20) | 300 | 5 → 10 | 22 | 2,000 | 990 | $13.50 a month at its floor of 2 ($0.00925 a"
        " poller-hour) |",
    ]


def test_drills_section_has_a_row_per_drill_in_order_with_its_date():
    text = "\n".join(drills_section(drills()))

    rows = [line for line in text.splitlines() if line.startswith(("| outage |", "| poison |"))]
    assert [row.split(" | ")[0] for row in rows] == ["| outage", "| poison"]
    assert rows[0].endswith(
        "| seconds 80.0 | `lost=0 pending=0 duplicated=0 in_dlq=5 stored=95 accepted=100` | passed |"
        " `make drills`, 2026-12-01 |"
    )
    assert rows[1].endswith("| FAILED: valid p99 2.5× the clean stage's | `make drills`, 2026-12-01 |")


def test_drills_and_benchmarks_replace_their_own_rows(tmp_path):
    write_all(tmp_path / "data")

    report_data.record_drills(
        [{"name": "poison", "passed": True, "problems": [], "ledger": "x"}],
        "make drill NAME=poison",
        tmp_path / "data",
    )
    report_data.record_bench({"cold_start": {"ratio": 0.97}}, data_dir=tmp_path / "data")

    drills = json.loads((tmp_path / "data" / "drills.json").read_text())["drills"]
    assert (drills["outage"]["date"], drills["poison"]["command"]) == ("2026-12-01", "make drill NAME=poison")
    benchmarks = json.loads((tmp_path / "data" / "bench.json").read_text())["benchmarks"]
    assert sorted(benchmarks) == ["cold_start", "producer"]
    assert benchmarks["producer"]["date"] == "2026-12-01"


def test_lambda_ramp_and_seed_loop_drain_times():
    # 5 concurrent batches of 10 at 0.1 s each = 500 msgs/s in the first second, 3000+ from the second on
    assert LambdaModel(max_concurrency=5, batch_size=10).drain_seconds(1_000) == 2
    assert LambdaModel(max_concurrency=1000, batch_size=10, batch_seconds=1).drain_seconds(100) == 2
    # one instance (1,000 waiting → 1), ready at t=60, 10 messages per minute: 100 polls, the last at t=6,000
    assert SeedEc2Model().drain_seconds(1_000) == 6_001
    assert [human(s) for s in (59, 600, 7_200, 200_000, None)] == [
        "59 s",
        "10.0 min",
        "2.0 h",
        "2.3 d",
        "> 30 d",
    ]
