"""The bench's repeated figures (loadtest/local/runs/noise_guard.py): the median of the rounds with min–max
beside it, and each round marked when the machine's load average passed its cores. Nothing is timed."""

from loadtest.local.runs.noise_guard import CORES, Noise, NoiseGuard, Spread


def test_a_figure_is_the_median_of_its_rounds_with_min_max_beside_it():
    quiet, busy = Noise(0.5, 0.7, 0.1, 10.0), Noise(CORES + 1.0, 0.9, 4.0, 10.0)
    spread = Spread.of([0.14, 0.11, 0.12, 0.16, 0.13], [quiet, quiet, busy, quiet, quiet])

    assert (spread.median, spread.low, spread.high, spread.rounds) == (0.13, 0.11, 0.16, 5)
    assert spread.text() == "0.130 (0.110–0.160)"
    # one round began with the load average above the core count: the figure says so
    assert spread.noisy_rounds == 1
    assert spread.machine() == (
        f"load average 0.5–{CORES + 1.0:.1f} on {CORES} cores, other processes 0.01 cores;"
        f" busier than its {CORES} cores in 1 of 5 rounds"
    )
    assert spread.as_dict()["load_average"] == [0.5, CORES + 1.0]


def test_a_round_records_the_load_and_the_other_processes_cpu():
    with NoiseGuard().round() as noise:
        sum(range(100_000))  # some CPU of our own, not counted as others'
    assert noise.load_start >= 0 and noise.load_end >= 0
    assert noise.wall_s > 0 and noise.others_cpu_s >= 0
