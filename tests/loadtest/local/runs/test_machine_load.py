"""The noise guard: CPU used outside the run is counted as such, and a reading says when it was noisy."""

import os
import subprocess
import sys
import time

from loadtest.local.runs.machine_load import LoadReading, LoadWatch
from loadtest.local.runs.process_cpu import cpu_seconds


def test_a_process_outside_the_run_is_counted_as_other_load():
    # GIVEN a busy loop the run does not own (the run is this process alone)
    hog = subprocess.Popen(
        [sys.executable, "-c", "import time\nend = time.time() + 1.5\nwhile time.time() < end: pass"]
    )
    watch = LoadWatch(run_pids=lambda: {os.getpid()})
    hog_before = cpu_seconds(hog.pid)
    try:
        time.sleep(1.0)
        hog_used = cpu_seconds(hog.pid) - hog_before
        reading = watch.reading()
    finally:
        hog.kill()
        hog.wait()

    # THEN at least the hog's CPU is other processes' (anything else on the machine only adds to it)
    assert hog_used > 0.05
    assert reading.other_cores * reading.seconds >= hog_used * 0.9


def test_a_reading_is_noisy_when_others_kept_half_a_core_busy_or_the_load_passed_the_cores():
    quiet = LoadReading(10, 0.5, 0.8, 0.1, cores=2)
    busy_others = LoadReading(10, 0.5, 0.8, 0.9, cores=2)
    loaded = LoadReading(10, 3.5, 2.5, 0.2, cores=2)

    assert (quiet.noisy, busy_others.noisy, loaded.noisy) == (False, True, True)
    assert quiet.note() == ""
    assert busy_others.note() == "measured while other processes kept 0.9 of 2 cores busy (load 0.5 → 0.8)"
    assert loaded.as_dict() == {
        "seconds": 10,
        "load_average_start": 3.5,
        "load_average_end": 2.5,
        "other_processes_cores": 0.2,
        "cores": 2,
        "noisy": True,
    }
