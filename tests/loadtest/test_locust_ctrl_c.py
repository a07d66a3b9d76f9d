"""Ctrl-C reaches Locust's main greenlet even when it lands in a greenlet that swallows KeyboardInterrupt,
as Locust's stats-history greenlet does (loadtest/locust_ctrl_c.py)."""

from __future__ import annotations

import subprocess
import sys

from infra.settings import PROJECT_ROOT

# A greenlet shaped like locust.stats.stats_history: Python code that catches KeyboardInterrupt. SIGINT is
# sent while it runs, so Python's own handler raises KeyboardInterrupt there. The main greenlet waits on it,
# as Locust's main waits on its runner; it says what reached it. Bounded: the greenlet gives up after 3 s.
PROGRAM = """
import os, signal, sys, time
import gevent
from loadtest.locust_ctrl_c import deliver_ctrl_c_to_the_main_greenlet

if sys.argv[1] == "with":
    deliver_ctrl_c_to_the_main_greenlet()

def stats_history_like():
    try:
        os.kill(os.getpid(), signal.SIGINT)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            sum(range(1000))
            gevent.sleep(0.01)
    except KeyboardInterrupt:
        print("swallowed by the history greenlet", flush=True)
        gevent.sleep(3)

try:
    gevent.spawn(stats_history_like).join()
    print("main ran on: Ctrl-C lost")
except KeyboardInterrupt:
    print("main got Ctrl-C")
"""


def run(mode: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", PROGRAM, mode],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout


def test_without_it_a_greenlet_that_catches_keyboard_interrupt_loses_ctrl_c():
    assert run("without") == "swallowed by the history greenlet\nmain ran on: Ctrl-C lost\n"


def test_with_it_ctrl_c_is_thrown_into_the_main_greenlet():
    assert run("with") == "main got Ctrl-C\n"
