"""Ctrl-C that always stops Locust, whichever greenlet runs when it arrives.

Python raises KeyboardInterrupt in the greenlet that happens to run when SIGINT arrives. Locust's main
expects it in the main greenlet (`except KeyboardInterrupt:` around `main_greenlet.join()`, then its
shutdown), but Locust 2.47's stats-history greenlet (locust/stats.py, `stats_history`) catches
KeyboardInterrupt and only logs it at debug level: a Ctrl-C that lands there is lost and the test runs on.
Measured on this project's web UI with 20 users: 1 Ctrl-C in 40 ignored (the shape kept stepping up 30 s
later). gevent's signal_handler runs a handler in a greenlet of its own, from the event loop, so the
KeyboardInterrupt is thrown into the main greenlet where it waits, and Locust's own shutdown follows
(quitting listeners, the final statistics, exit status) as for any Ctrl-C that reached it.
"""

from __future__ import annotations

import signal
from typing import Any


def deliver_ctrl_c_to_the_main_greenlet(**_: Any) -> None:
    """An init listener: Locust fires init from its main greenlet, the one Ctrl-C has to reach."""
    import gevent
    import greenlet

    main = greenlet.getcurrent()
    gevent.signal_handler(signal.SIGINT, main.throw, KeyboardInterrupt)
