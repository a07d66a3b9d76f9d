"""The what-if simulation: deterministic for a seed, every message accounted for, load profiles as curves,
a stack as AWS would run it, and the study's figures as the report renders them."""

from __future__ import annotations

import dataclasses

import pytest

from infra.settings import from_stack_file
from loadtest.analysis import whatif_report
from loadtest.analysis.whatif_load import ProfileError, parse_profile, scale_curve
from loadtest.analysis.whatif_model import simulate
from loadtest.analysis.whatif_scenarios import TWIN_POLLERS, HandlerCost, Overrides, aws_pipeline
from loadtest.analysis.whatif_study import Scenario, measured_inputs, run_scenario

COST = HandlerCost(
    cpu_ms_per_record=0.25,
    batch_spread=0.5,
    message_bytes=400,
    write_units_per_event=1.0,
    index_write_units_per_event=1.0,
    source="test",
)


def dev(mode: str = "standard", **overrides):
    return aws_pipeline("dev", from_stack_file("dev"), mode, COST, Overrides(**overrides))


def test_the_same_seed_gives_the_same_run_and_another_seed_another():
    curve = parse_profile("burst:10000:20")
    first, again, other = (simulate(dev(), curve, seed=s) for s in (7, 7, 8))
    assert first.seconds == again.seconds
    assert first.latency_histogram == again.latency_histogram
    assert first.seconds != other.seconds


def test_every_message_is_stored_or_dead_lettered_once_the_queue_drained():
    run = simulate(dev("provisioned"), parse_profile("burst:20000:30"), seed=3)
    assert run.drained_at_s is not None
    accepted = sum(s.offered_msgs_per_s for s in run.seconds)  # seeded arrivals: what the run sent
    assert run.stored + run.dead_letters == pytest.approx(
        run.stored + run.dead_letters + run.seconds[-1].queue_visible
    )
    assert run.stored + run.dead_letters == pytest.approx(accepted, rel=0.02)
    assert run.deliveries >= run.stored


def test_a_stack_as_aws_runs_it():
    standard, provisioned = dev(), dev("provisioned")
    assert (standard.scaling.maximum, standard.function_limit) == (10, 10)
    assert (provisioned.scaling.floor, provisioned.scaling.maximum) == (TWIN_POLLERS.minimum, 900)
    assert provisioned.function_limit == 900  # what one function may reserve on a 1,000 account
    assert standard.visibility_timeout_s == 60 and standard.max_receive_count == 5
    # 256 MB is 0.145 of a vCPU: 0.25 ms of CPU a record takes 1.73 ms, and a chunk's write 8 ms.
    assert standard.timing.mean_seconds(10) == pytest.approx(10 * 0.25e-3 * 1769 / 256 + 0.008)
    prod = aws_pipeline("prod", from_stack_file("prod"), "standard", COST)
    assert prod.timing.mean_seconds(100) == pytest.approx(100 * 0.25e-3 * 1769 / 512 + 4 * 0.008)
    assert dev(max_concurrency=300).scaling.maximum == 300
    assert dev(reserved_concurrency=4).function_limit == 4


def test_load_profiles():
    assert parse_profile("burst:1000:60").segments == ((60, 1000),)
    assert parse_profile("steps:100@10,2000@5").segments == ((10, 100), (5, 2000))
    ramp = parse_profile("ramp:0:1000:10")
    assert len(ramp.segments) == 10 and ramp.messages == pytest.approx(5_000)
    scale = scale_curve(800)
    assert scale.peak_rate == 800 and scale.seconds == 100
    assert [rate for _, rate in scale.segments] == [
        160,
        400,
        640,
        800,
        800,
        640,
        400,
        160,
        0,
    ]  # users: round(10 × share)
    for bad in ("burst:1000", "burst:-5:10", "steps:100", "nonsense", "ramp:1:2:0"):
        with pytest.raises(ProfileError):
            parse_profile(bad)


def test_the_report_renders_the_study_from_its_data():
    inputs = dataclasses.replace(measured_inputs(), cost=COST)
    _, outcome = run_scenario(Scenario("dev", parse_profile("burst:5000:10"), "standard"), inputs, seed=1)
    payload = whatif_report.data(
        [outcome], [], ["whatif_dev_burst-5000-10.png"], "make whatif", "2026-12-04", 1, "test"
    )
    lines = whatif_report.section(payload)
    assert lines[0] == whatif_report.HEADING
    row = next(line for line in lines if line.startswith("| dev | burst:5000:10 |"))
    assert "standard (max 10)" in row
    assert "![whatif_dev_burst-5000-10.png](report/whatif_dev_burst-5000-10.png)" in lines
    assert whatif_report.section(None)[2] == "*Not computed yet: `make whatif` computes it.*"
