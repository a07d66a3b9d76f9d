"""A run's terminal keeps its own lines; the handler's JSON, warnings and children's output go to the log."""

import subprocess
import sys

from loadtest.local.runs.output_to_log import output_to_log


def test_everything_but_the_runs_own_lines_goes_to_the_log(tmp_path, capfd):
    log = tmp_path / "build" / "handler.log"

    with output_to_log(log) as terminal:
        print('{"_aws": {"CloudWatchMetrics": []}}', flush=True)  # what Powertools Metrics prints
        print("a library's warning", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-c", "print('a child process')"], check=True)
        print("[bench] producer: {'ratio': 7.1}", file=terminal)

    terminal_out = capfd.readouterr()
    assert (terminal_out.out, terminal_out.err) == ("[bench] producer: {'ratio': 7.1}\n", "")
    assert log.read_text().splitlines() == [
        '{"_aws": {"CloudWatchMetrics": []}}',
        "a library's warning",
        "a child process",
    ]
    print("after the block")
    assert capfd.readouterr().out == "after the block\n"
