"""`make tune` (loadtest/local/runs/tune.py) in its parts: the CPU share of a memory size, the three
strategies of aws-lambda-power-tuning, its output read (stats, or the visualization URL decoded), the
pricing of a size, the sampling a stack's handler runs with, and the throttle leaving its process running.

power_tuning_output.json is the state machine's output in the shape aws-lambda-power-tuning documents
(README, "State Machine Output": results.power, cost, duration, stateMachine.executionCost, lambdaCost,
visualization, and stats with includeOutputResults), its figures those the README's example visualization URL
encodes (6 sizes, 128–3008 MB). No test here times anything: `make tune` measures, the tests check the logic.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infra.settings import from_stack_file
from loadtest.analysis.aws_prices import load_prices
from loadtest.local.runs import tune
from tests.loadtest.analysis.test_cost_model import USAGE

SAMPLE = Path(__file__).with_name("power_tuning_output.json")
DOC_SIZES = [128, 256, 512, 1024, 1536, 3008]


def test_a_size_gets_its_share_of_one_vcpu_up_to_one():
    assert tune.cpu_share(128) == 128 / 1769
    assert tune.cpu_share(1769) == tune.cpu_share(3008) == 1.0


def test_the_power_tuning_output_is_read_from_its_stats():
    results, stats = tune.read_power_tuning(SAMPLE)
    assert (results["power"], [s.memory_mb for s in stats]) == ("1536", DOC_SIZES)
    assert stats[0].duration_ms == 37002.4 and stats[-1].cost == 0.000102648


def test_without_stats_the_visualization_url_is_decoded(tmp_path):
    data = json.loads(SAMPLE.read_text())
    with_stats = tune.read_power_tuning(SAMPLE)[1]
    del data["results"]["stats"]
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(data["results"]))  # the analyzer's output alone, without "results" around it

    _, decoded = tune.read_power_tuning(bare)
    assert [s.memory_mb for s in decoded] == DOC_SIZES
    for ours, theirs in zip(decoded, with_stats, strict=True):  # Float32 in the URL, 6 digits in stats
        assert ours.duration_ms == pytest.approx(theirs.duration_ms, rel=1e-5)
        assert ours.cost == pytest.approx(theirs.cost, rel=1e-5)


def test_another_json_is_refused_as_a_usage_error(tmp_path, capsys):
    other = tmp_path / "other.json"
    other.write_text('{"stats": []}')
    assert tune.main(["--power-tuning", str(other)]) == 2
    assert capsys.readouterr().err == (
        f"{tune.PROG}: --power-tuning {other}: not an aws-lambda-power-tuning output (no results.power);"
        " give the state machine's output JSON\n"
    )


def result(memory: int, duration_ms: float, per_million: float) -> tune.SizeResult:
    return tune.SizeResult(memory, 0, 0, duration_ms, duration_ms, duration_ms, duration_ms, per_million, 0)


def test_the_three_strategies_pick_as_aws_lambda_power_tuning_does():
    results = [result(128, 400, 1.00), result(256, 200, 1.00), result(512, 100, 1.10), result(1024, 90, 1.60)]
    picked = tune.strategies(results)
    # cheapest: a tie broken by speed; fastest; balanced: min 0.5 × cost/1.6 + 0.5 × duration/400
    assert {name: r.memory_mb for name, r in picked.items()} == {"cost": 256, "speed": 1024, "balanced": 512}


def test_a_size_is_priced_by_the_cost_model_and_per_invocation():
    dev, prices = from_stack_file("dev"), load_prices()
    quick = tune.price(dev, USAGE, prices, 1024, 10.0)
    slow = tune.price(dev, USAGE, prices, 1024, 40.0)
    assert quick[0] < slow[0]
    # one invocation: the request plus 10 ms at 1 GB on arm64
    assert quick[1] == pytest.approx(0.2 / 1e6 + 0.010 * 1.0 * 0.0000133334)


def test_the_handler_is_sampled_as_each_stack_samples_it():
    # dev: 50 M events in batches of 10 is 1.9 invocations a second, one in five traced
    assert tune.traced_every(from_stack_file("dev"), 10) == 5
    # prod: 0.19 a second, all within the reservoir of one a second
    assert tune.traced_every(from_stack_file("prod"), 100) == 1


def process_state(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def test_the_throttle_leaves_its_process_running():
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        with tune.throttled(sleeper.pid, 0.1):
            time.sleep(0.1)  # some cycles of SIGSTOP and SIGCONT
        assert process_state(sleeper.pid) != "T"  # not left stopped
        with tune.throttled(sleeper.pid, 1.0):  # a whole core: nothing to do
            assert process_state(sleeper.pid) != "T"
    finally:
        sleeper.kill()
        sleeper.wait()
