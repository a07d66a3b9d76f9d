"""REPORT.md from a synthetic run: exact figures, Locust rows, valid PNG charts; and the AWS drain model."""

import csv
import json

from loadtest.analysis import report
from loadtest.analysis.scaling_model import LambdaModel, SeedEc2Model, human

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def write_csv(path, rows):
    with open(path, "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def synthetic_run(run_dir, stack="dev", mode="lambda", order_violations=None):
    run_dir.mkdir()
    run = {
        "stack": stack,
        "mode": mode,
        "order_violations": order_violations,
        "started_at": "2026-01-01T00:00:00+00:00",
        "finished_at": "2026-01-01T00:02:00+00:00",
        "settings": {"maxConcurrency": 5, "batchSize": 10},
        "phases": [{"name": "run the Locust scale shape", "seconds": 100.0}],
        "shape": {"peak_users": 4},
        "emulator_ceiling": {"pipeline_mix_msgs_per_s": 400.0},
        "plan": {"peak_rate": 80.0, "source": "1.3 × sustained 61.5 msgs/s (make capacity)"},
        "ledger": {
            "accepted": 100,
            "stored": 99,
            "in_dlq": 1,
            "lost": 0,
            "pending": 0,
            "duplicated": 0,
            "poison_accepted": 1,
        },
        "runner": {
            "max_pollers": 3,
            "min_pollers": 1,
            "invocations": 12,
            "records": 101,
            "stored": 99,
            "failed_records": 2,
            "failed_invocations": 0,
        },
        "throughput": {"produced_msgs_per_s": 50.0, "stored_msgs_per_s": 48.0, "stored_vs_ceiling": 0.12},
    }
    (run_dir / "run.json").write_text(json.dumps(run))
    write_csv(
        run_dir / "latencies.csv",
        [
            {"eventId": f"e{i}", "sentAt": 1000 * i, "storedAt": 1000 * i + 10 * i, "latency_ms": 10 * i}
            for i in range(1, 101)
        ],
    )
    write_csv(
        run_dir / "samples.csv",
        [
            {
                "t_s": t,
                "queue_visible": t % 3,
                "queue_in_flight": 1,
                "dlq_visible": 0,
                "pollers": 1 + t // 4,
                "stored_total": t * 10,
            }
            for t in range(10)
        ],
    )
    stats = {
        "Type": "SQS",
        "Name": "SendMessageBatch",
        "Request Count": "10",
        "Failure Count": "0",
        "Requests/s": "2.5",
        "50%": "30",
        "95%": "60",
        "99%": "80",
    }
    write_csv(run_dir / "locust_stats.csv", [stats, stats | {"Type": "", "Name": "Aggregated"}])
    write_csv(
        run_dir / "locust_stats_history.csv",
        [
            {"Timestamp": 100 + t, "User Count": t, "Type": "", "Name": "Aggregated", "Requests/s": t / 2}
            for t in range(5)
        ],
    )


def test_report_holds_the_run_figures_and_valid_charts(tmp_path):
    synthetic_run(tmp_path / "run")
    out = tmp_path / "REPORT.md"

    text = report.render(tmp_path / "run", tmp_path / "report", out)

    ledger = "**`lost=0 pending=0 duplicated=0 in_dlq=1 stored=99 accepted=100`**"
    assert f"{ledger} — no message lost, pending or stored twice." in text
    assert "| stored throughput / emulator ceiling | 0.12 |" in text
    assert "| emulator ceiling for the pipeline's call mix, msgs/s (same run) | 400.0 |" in text
    assert "| plateau offered (msgs/s) and where it comes from | 80.0 (1.3 × sustained 61.5 msgs/s" in text
    assert "| pollers: floor → max (maxConcurrency 5) | 1 → 3 |" in text
    # latencies 10..1000 ms: p50 = 500 (index 50 of 100 → value 510 with rounding to nearest rank)
    assert "| end-to-end latency p50 / p95 / p99 (ms) | 510 / 950 / 990 |" in text
    assert "| SendMessageBatch | 10 | 0 | 2.5 | 30 | 60 | 80 |" in text
    charts = sorted(p.name for p in (tmp_path / "report").glob("*.png"))
    assert charts == ["latency.png", "queue_depth.png", "runner_concurrency.png", "users_and_send_rate.png"]
    for name in charts:
        assert f"(report/{name})" in text
        assert (tmp_path / "report" / name).read_bytes()[:8] == PNG_MAGIC


def test_runs_beside_the_main_one_get_a_row_and_a_scaling_chart(tmp_path):
    synthetic_run(tmp_path / "dev-lambda")
    synthetic_run(tmp_path / "fifo-lambda", stack="fifo", order_violations=0)
    synthetic_run(tmp_path / "dev-worker", mode="worker")

    text = report.render(tmp_path / "dev-lambda", tmp_path / "report", tmp_path / "REPORT.md")

    figures = "lost=0 pending=0 duplicated=0 stored=99 | 50.0 / 48.0 | 510 / 950 / 990 | 3"
    assert f"| `make demo STACK=dev MODE=worker` | {figures} workers | — |" in text
    assert f"| `make demo STACK=fifo` | {figures} pollers | 0 |" in text
    for name in ("dev-worker_scaling.png", "fifo-lambda_scaling.png"):
        assert f"(report/{name})" in text
        assert (tmp_path / "report" / name).read_bytes()[:8] == PNG_MAGIC
    assert "dev-lambda_scaling.png" not in text


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


def test_capacity_section_reports_the_knee_the_goals_and_the_cpu(tmp_path):
    synthetic_run(tmp_path / "dev-lambda")
    (tmp_path / "capacity").mkdir()
    step = {
        "target_msgs_per_s": 300.0,
        "offered_msgs_per_s": 298.0,
        "stored_msgs_per_s": 296.0,
        "backlog_start": 0,
        "backlog_end": 20,
        "backlog_slope": 1.0,
        "pollers_max": 6,
        "pollers_mean": 5.5,
        "p50_ms": 40.0,
        "p95_ms": 120.0,
        "p99_ms": 300.0,
        "sustainable": True,
        "why": "",
        "t_start_s": 10.0,
        "t_end_s": 25.0,
    }
    capacity = {
        "stack": "dev",
        "max_concurrency": 10,
        "batch_size": 10,
        "pipeline_mix_ceiling_msgs_per_s": 400.0,
        "steps": [
            step,
            step | {"sustainable": False, "why": "backlog grows 40 msgs/s", "backlog_slope": 40.0},
        ],
        "hold": step | {"t_start_s": 40.0, "t_end_s": 70.0},
        "sustained_msgs_per_s": 320.0,
        "sustained_share_of_ceiling": 0.8,
        "goal_sustained_share": 0.75,
        "backlog": 10000,
        "backlog_drain_seconds": 30.0,
        "backlog_drain_msgs_per_s": 333.3,
        "backlog_drain_share_of_sustained": 1.04,
        "goal_drain_share": 0.8,
        "cpu_cores_during_hold": {"emulator": 0.9, "pollers": 0.6, "producer": 0.2},
        "warm_start_seconds": 4.2,
        "ledger": {"lost": 0, "pending": 0, "duplicated": 0, "in_dlq": 0, "stored": 9, "accepted": 9},
        "p99_bound_ms": 2000,
    }
    (tmp_path / "capacity" / "capacity.json").write_text(json.dumps(capacity))

    text = report.render(tmp_path / "dev-lambda", tmp_path / "report", tmp_path / "REPORT.md")

    assert "| sustained / ceiling | **0.80** | ≥ 0.75 |" in text
    assert "| queue bounded during the hold | yes | yes |" in text
    assert "| maximum sustained stored msgs/s (held 30 s) | 320 | |" in text
    assert "| backlog drain rate / sustained rate | **1.04** | ≥ 0.8 |" in text
    assert "| 2 | 298 | 296 | 0 → 20 | 40 | 5.5 / 6 | 40 / 120 / 300 | no: backlog grows 40 msgs/s |" in text
    assert "emulator 0.9, pollers 0.6, producer 0.2. The emulator is the largest consumer" in text


def test_drills_section_has_a_row_per_drill_in_order(tmp_path):
    synthetic_run(tmp_path / "dev-lambda")
    for name, passed in (("poison", False), ("outage", True)):
        (tmp_path / "drills" / name).mkdir(parents=True)
        record = {
            "name": name,
            "passed": passed,
            "problems": [] if passed else ["valid p99 2.5× the clean stage's"],
            "ledger": "lost=0 pending=0 duplicated=0 in_dlq=5 stored=95 accepted=100",
            "seconds": 80.0,
        }
        (tmp_path / "drills" / name / f"{name}.json").write_text(json.dumps(record))

    text = report.render(tmp_path / "dev-lambda", tmp_path / "report", tmp_path / "REPORT.md")

    rows = [line for line in text.splitlines() if line.startswith(("| outage |", "| poison |"))]
    assert [row.split(" | ")[0] for row in rows] == ["| outage", "| poison"]
    assert rows[0].endswith(
        "| seconds 80.0 | `lost=0 pending=0 duplicated=0 in_dlq=5 stored=95 accepted=100` | passed |"
    )
    assert rows[1].endswith("| FAILED: valid p99 2.5× the clean stage's |")
